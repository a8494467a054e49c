/**
 * Other names MDMs and transmitters use for one device (Intune azureADDeviceId = Entra deviceId,
 * serial numbers, Jamf udid/jssID), kept in the store's database so CAEP device subjects resolve.
 */
import type Database from 'better-sqlite3';
import type { StateStore } from '../state/store';

/** Alias → device id table, maintained by the MDM adapters. */
export class DeviceAliases {
  private readonly put: Database.Statement;
  private readonly get: Database.Statement<[string], { device_id: string }>;
  private readonly del: Database.Statement;

  constructor(db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS adapter_device_aliases (alias_lc TEXT PRIMARY KEY, device_id TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS adapter_device_aliases_device ON adapter_device_aliases(device_id);`);
    this.put = db.prepare('INSERT OR REPLACE INTO adapter_device_aliases (alias_lc, device_id) VALUES (?, ?)');
    this.get = db.prepare('SELECT device_id FROM adapter_device_aliases WHERE alias_lc = ?');
    this.del = db.prepare('DELETE FROM adapter_device_aliases WHERE device_id = ?');
  }

  /** Replaces the aliases of `deviceId` (empty/duplicate values ignored). */
  set(deviceId: string, aliases: Array<string | number | null | undefined>): void {
    this.del.run(deviceId);
    for (const a of aliases) {
      if (a === null || a === undefined || a === '') continue;
      this.put.run(String(a).toLowerCase(), deviceId);
    }
  }

  /** The device id an alias names, if any. */
  resolve(alias: string): string | undefined {
    return this.get.get(alias.toLowerCase())?.device_id;
  }

  /** A stored device's id from its id or any alias. */
  resolveDevice(store: StateStore, idOrAlias: string): string | undefined {
    if (store.getDevice(idOrAlias)) return idOrAlias;
    const id = this.resolve(idOrAlias);
    return id && store.getDevice(id) ? id : undefined;
  }
}

const perDb = new WeakMap<Database.Database, DeviceAliases>();

/** The alias table of a store (one instance per database). */
export function deviceAliases(store: StateStore): DeviceAliases {
  let a = perDb.get(store.db);
  if (!a) {
    a = new DeviceAliases(store.db);
    perDb.set(store.db, a);
  }
  return a;
}
