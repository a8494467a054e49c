/**
 * Durable SCIM resources (Users and Groups): server-assigned ids, case-insensitive unique names,
 * externalId/email indexes for the lookups IdPs send, monotonic versions for ETags, stable order.
 */
import type Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { ScimError } from './errors';
import type { CompiledFilter } from './filter';
import type { ScimResourceBody } from './user';

/** Resource types this server stores. */
export type ScimResourceType = 'User' | 'Group';

/** A stored resource with its server attributes. */
export interface StoredResource {
  type: ScimResourceType;
  id: string;
  body: ScimResourceBody;
  version: number;
  created: string;
  lastModified: string;
  /** Tether identity the User maps to (Users only). */
  identityId: string | null;
  /** Aliases this User contributed to its identity last time (so stale ones can be removed). */
  aliases: string[];
}

interface Row {
  type: ScimResourceType;
  id: string;
  body: string;
  version: number;
  created: string;
  modified: string;
  identity_id: string | null;
  aliases: string;
}

function nameOf(type: ScimResourceType, body: ScimResourceBody): string {
  const v = type === 'User' ? body.userName : body.displayName;
  return typeof v === 'string' ? v.toLowerCase() : '';
}

function emailsOf(body: ScimResourceBody): string[] {
  if (!Array.isArray(body.emails)) return [];
  return [...new Set((body.emails as Record<string, unknown>[]).map((e) => (typeof e.value === 'string' ? e.value.toLowerCase() : '')).filter(Boolean))];
}

/** SQLite-backed SCIM resource repository (shares the adapters database). */
export class ScimRepo {
  private readonly stmts;

  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS scim_resources (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        type TEXT NOT NULL, id TEXT NOT NULL, name_lc TEXT NOT NULL, external_id TEXT,
        body TEXT NOT NULL, version INTEGER NOT NULL, created TEXT NOT NULL, modified TEXT NOT NULL,
        identity_id TEXT, aliases TEXT NOT NULL DEFAULT '[]'
      );
      CREATE UNIQUE INDEX IF NOT EXISTS scim_resources_id ON scim_resources(type, id);
      CREATE UNIQUE INDEX IF NOT EXISTS scim_resources_name ON scim_resources(type, name_lc);
      CREATE INDEX IF NOT EXISTS scim_resources_ext ON scim_resources(type, external_id);
      CREATE TABLE IF NOT EXISTS scim_emails (type TEXT NOT NULL, id TEXT NOT NULL, email_lc TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS scim_emails_email ON scim_emails(type, email_lc);
      CREATE INDEX IF NOT EXISTS scim_emails_id ON scim_emails(type, id);
    `);
    this.stmts = {
      get: db.prepare<[string, string], Row>('SELECT * FROM scim_resources WHERE type = ? AND id = ?'),
      byName: db.prepare<[string, string], Row>('SELECT * FROM scim_resources WHERE type = ? AND name_lc = ?'),
      byExt: db.prepare<[string, string], Row>('SELECT * FROM scim_resources WHERE type = ? AND external_id = ? ORDER BY seq'),
      byEmail: db.prepare<[string, string], Row>(
        'SELECT r.* FROM scim_emails e JOIN scim_resources r ON r.type = e.type AND r.id = e.id WHERE e.type = ? AND e.email_lc = ? ORDER BY r.seq',
      ),
      all: db.prepare<[string], Row>('SELECT * FROM scim_resources WHERE type = ? ORDER BY seq'),
      page: db.prepare<[string, number, number], Row>('SELECT * FROM scim_resources WHERE type = ? ORDER BY seq LIMIT ? OFFSET ?'),
      count: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM scim_resources WHERE type = ?'),
      insert: db.prepare(
        `INSERT INTO scim_resources (type, id, name_lc, external_id, body, version, created, modified, identity_id, aliases)
         VALUES (@type, @id, @name_lc, @external_id, @body, @version, @created, @modified, @identity_id, @aliases)`,
      ),
      update: db.prepare(
        `UPDATE scim_resources SET name_lc = @name_lc, external_id = @external_id, body = @body, version = @version,
         modified = @modified, identity_id = @identity_id, aliases = @aliases WHERE type = @type AND id = @id`,
      ),
      del: db.prepare('DELETE FROM scim_resources WHERE type = ? AND id = ?'),
      delEmails: db.prepare('DELETE FROM scim_emails WHERE type = ? AND id = ?'),
      addEmail: db.prepare('INSERT INTO scim_emails (type, id, email_lc) VALUES (?, ?, ?)'),
    };
  }

  private toStored(row: Row): StoredResource {
    return {
      type: row.type,
      id: row.id,
      body: JSON.parse(row.body) as ScimResourceBody,
      version: row.version,
      created: row.created,
      lastModified: row.modified,
      identityId: row.identity_id,
      aliases: JSON.parse(row.aliases) as string[],
    };
  }

  /** The resource with that id, or undefined. */
  get(type: ScimResourceType, id: string): StoredResource | undefined {
    const row = this.stmts.get.get(type, id);
    return row ? this.toStored(row) : undefined;
  }

  /** The resource whose userName/displayName equals `name` case-insensitively. */
  getByName(type: ScimResourceType, name: string): StoredResource | undefined {
    const row = this.stmts.byName.get(type, name.toLowerCase());
    return row ? this.toStored(row) : undefined;
  }

  private assertUniqueName(type: ScimResourceType, body: ScimResourceBody, selfId?: string): void {
    const existing = this.stmts.byName.get(type, nameOf(type, body));
    if (existing && existing.id !== selfId) {
      const attr = type === 'User' ? 'userName' : 'displayName';
      throw new ScimError(409, 'uniqueness', `${attr} ${String(type === 'User' ? body.userName : body.displayName)} already exists`);
    }
  }

  private writeEmails(type: ScimResourceType, id: string, body: ScimResourceBody): void {
    this.stmts.delEmails.run(type, id);
    for (const e of emailsOf(body)) this.stmts.addEmail.run(type, id, e);
  }

  /** Runs `fn` in one SQLite transaction (so a failed identity write rolls the SCIM write back). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** Creates a resource; 409 uniqueness if the name is taken. */
  create(type: ScimResourceType, body: ScimResourceBody, identityId: string | null, aliases: string[], now: string): StoredResource {
    this.assertUniqueName(type, body);
    const stored: StoredResource = { type, id: randomUUID(), body, version: 1, created: now, lastModified: now, identityId, aliases };
    this.stmts.insert.run(this.params(stored));
    this.writeEmails(type, stored.id, body);
    return stored;
  }

  /** Replaces a resource's body (version + 1); 409 uniqueness if renamed onto another resource. */
  replace(prev: StoredResource, body: ScimResourceBody, identityId: string | null, aliases: string[], now: string): StoredResource {
    this.assertUniqueName(prev.type, body, prev.id);
    const stored: StoredResource = { ...prev, body, version: prev.version + 1, lastModified: now, identityId, aliases };
    this.stmts.update.run(this.params(stored));
    this.writeEmails(prev.type, prev.id, body);
    return stored;
  }

  /** Deletes a resource; false when it did not exist. */
  delete(type: ScimResourceType, id: string): boolean {
    this.stmts.delEmails.run(type, id);
    return this.stmts.del.run(type, id).changes > 0;
  }

  /**
   * Lists resources matching `filter` (all when undefined), 1-based `startIndex`, at most `count`,
   * in creation order (stable across pages).
   */
  list(type: ScimResourceType, filter: CompiledFilter | undefined, startIndex: number, count: number): { total: number; items: StoredResource[] } {
    const offset = Math.max(0, startIndex - 1);
    if (!filter) {
      const total = this.stmts.count.get(type)!.n;
      const items = count === 0 ? [] : this.stmts.page.all(type, count, offset).map((r) => this.toStored(r));
      return { total, items };
    }
    let rows: Row[];
    const idx = filter.indexed;
    if (idx?.attribute === 'userName' || idx?.attribute === 'displayName') {
      const expected = type === 'User' ? 'userName' : 'displayName';
      const row = idx.attribute === expected ? this.stmts.byName.get(type, idx.value.toLowerCase()) : undefined;
      rows = idx.attribute === expected ? (row ? [row] : []) : this.stmts.all.all(type);
    } else if (idx?.attribute === 'externalId') {
      rows = this.stmts.byExt.all(type, idx.value);
    } else if (idx?.attribute === 'id') {
      const row = this.stmts.get.get(type, idx.value);
      rows = row ? [row] : [];
    } else if (idx?.attribute === 'email') {
      rows = this.stmts.byEmail.all(type, idx.value.toLowerCase());
    } else {
      rows = this.stmts.all.all(type);
    }
    // Filters may name server attributes too (id, meta.created, meta.lastModified).
    const matched = rows
      .map((r) => this.toStored(r))
      .filter((s) => filter.test({ ...s.body, id: s.id, meta: { resourceType: s.type, created: s.created, lastModified: s.lastModified } }));
    return { total: matched.length, items: matched.slice(offset, offset + count) };
  }

  private params(s: StoredResource): Record<string, unknown> {
    const ext = s.body.externalId;
    return {
      type: s.type,
      id: s.id,
      name_lc: nameOf(s.type, s.body),
      external_id: typeof ext === 'string' ? ext : null,
      body: JSON.stringify(s.body),
      version: s.version,
      created: s.created,
      modified: s.lastModified,
      identity_id: s.identityId,
      aliases: JSON.stringify(s.aliases),
    };
  }
}
