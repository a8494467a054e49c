/**
 * SSF stream configurations Tether transmits on (SSF 1.0 §8): created by receivers through the
 * management API or configured statically (TETHER_SSF_RECEIVERS), kept in the store's database.
 */
import type Database from 'better-sqlite3';
import { createHash, randomUUID } from 'node:crypto';
import { EVENT_TYPES } from './set-claims';

/** RFC 8935 push delivery method URN. */
export const PUSH_METHOD = 'urn:ietf:rfc:8935';
/** RFC 8936 poll delivery method URN (not offered). */
export const POLL_METHOD = 'urn:ietf:rfc:8936';

/** Events this transmitter can send. */
export const EVENTS_SUPPORTED = [EVENT_TYPES.sessionRevoked, EVENT_TYPES.deviceComplianceChange, EVENT_TYPES.verification];

/** Stream status values. */
export type StreamStatus = 'enabled' | 'paused' | 'disabled';

/** A stream configuration as SSF returns it. */
export interface StreamConfig {
  stream_id: string;
  iss: string;
  aud: string | string[];
  events_supported: string[];
  events_requested: string[];
  events_delivered: string[];
  delivery: { method: string; endpoint_url: string; authorization_header?: string };
  description?: string;
  min_verification_interval: number;
}

/** A stored stream. */
export interface StoredStream {
  config: StreamConfig;
  status: StreamStatus;
  reason?: string;
  /** True for receivers from configuration (not deletable through the API). */
  static: boolean;
}

/** A receiver given in configuration. */
export interface StaticReceiver {
  endpoint_url: string;
  authorization_header?: string;
  aud?: string | string[];
  events_requested?: string[];
}

/** Events delivered: requested ∩ supported (all supported when none requested). */
export function eventsDelivered(requested: string[]): string[] {
  return requested.length === 0 ? [...EVENTS_SUPPORTED] : EVENTS_SUPPORTED.filter((e) => requested.includes(e));
}

/** Stream table access. */
export class StreamStore {
  private readonly st;

  constructor(db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS ssf_streams (
      stream_id TEXT PRIMARY KEY, config TEXT NOT NULL, status TEXT NOT NULL, reason TEXT, static INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL)`);
    this.st = {
      get: db.prepare<[string], { config: string; status: string; reason: string | null; static: number }>('SELECT * FROM ssf_streams WHERE stream_id = ?'),
      all: db.prepare<[], { config: string; status: string; reason: string | null; static: number }>('SELECT * FROM ssf_streams ORDER BY created_at, stream_id'),
      upsert: db.prepare(
        `INSERT INTO ssf_streams (stream_id, config, status, reason, static, created_at) VALUES (@stream_id, @config, @status, @reason, @static, @created_at)
         ON CONFLICT (stream_id) DO UPDATE SET config = excluded.config, status = excluded.status, reason = excluded.reason, static = excluded.static`,
      ),
      del: db.prepare('DELETE FROM ssf_streams WHERE stream_id = ?'),
    };
  }

  private toStored(row: { config: string; status: string; reason: string | null; static: number }): StoredStream {
    return { config: JSON.parse(row.config) as StreamConfig, status: row.status as StreamStatus, ...(row.reason ? { reason: row.reason } : {}), static: row.static === 1 };
  }

  /** A stream by id. */
  get(id: string): StoredStream | undefined {
    const row = this.st.get.get(id);
    return row ? this.toStored(row) : undefined;
  }

  /** All streams. */
  list(): StoredStream[] {
    return this.st.all.all().map((r) => this.toStored(r));
  }

  /** Creates or replaces a stream. */
  save(s: StoredStream): void {
    this.st.upsert.run({ stream_id: s.config.stream_id, config: JSON.stringify(s.config), status: s.status, reason: s.reason ?? null, static: s.static ? 1 : 0, created_at: new Date().toISOString() });
  }

  /** Deletes a stream; false when unknown. */
  delete(id: string): boolean {
    return this.st.del.run(id).changes > 0;
  }

  /** Builds a new push stream configuration. */
  static newConfig(iss: string, delivery: StreamConfig['delivery'], requested: string[], opts: { aud?: string | string[]; description?: string; id?: string } = {}): StreamConfig {
    return {
      stream_id: opts.id ?? randomUUID(),
      iss,
      aud: opts.aud ?? delivery.endpoint_url,
      events_supported: [...EVENTS_SUPPORTED],
      events_requested: requested,
      events_delivered: eventsDelivered(requested),
      delivery,
      ...(opts.description !== undefined && { description: opts.description }),
      min_verification_interval: 0,
    };
  }

  /** Stable id of a configured receiver (so restarts keep its queue). */
  static staticId(r: StaticReceiver): string {
    return 'static-' + createHash('sha256').update(r.endpoint_url).digest('hex').slice(0, 16);
  }
}
