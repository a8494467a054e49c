/**
 * SCIM operations on top of the SCIM repository and the Tether state store: every User write and
 * the identity write it implies commit in one transaction, so a rejected request changes nothing.
 */
import type { StateStore } from '../../state/store';
import { AliasConflictError, StateError, StaleUpdateError } from '../../state/errors';
import type { Identity } from '../../state/types';
import { badRequest, ScimError } from './errors';
import { compileFilter } from './filter';
import { applyPatch } from './patch';
import { ScimRepo, type ScimResourceType, type StoredResource } from './repo';
import { GROUP_SCHEMA } from './schema-names';
import { normaliseUser, userToIdentityFields, type ScimMappingConfig, type ScimResourceBody } from './user';
import { MAX_RESULTS } from './discovery';

/** Source name written on identities the SCIM server maintains. */
export const SCIM_SOURCE = 'scim';

/** Options of the SCIM service. */
export interface ScimServiceOptions extends ScimMappingConfig {
  /** Source label on identities (default "scim"). */
  source?: string;
  /** Clock, for tests. */
  now?: () => Date;
  /** Called after each successful write (freshness). */
  onWrite?: () => void;
}

/** Parsed list query (`filter`, `startIndex`, `count`). */
export interface ListQuery {
  filter?: string;
  startIndex?: number;
  count?: number;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The SCIM server's business logic (no HTTP): Users mapped to identities, minimal Groups. */
export class ScimService {
  readonly repo: ScimRepo;
  private readonly source: string;
  private readonly now: () => Date;

  constructor(
    private readonly store: StateStore,
    private readonly opts: ScimServiceOptions = {},
  ) {
    this.repo = new ScimRepo(store.db);
    this.source = opts.source ?? SCIM_SOURCE;
    this.now = opts.now ?? (() => new Date());
  }

  /** Creates a User (POST /Users) and its identity. */
  createUser(body: unknown): StoredResource {
    const user = normaliseUser(body);
    return this.write(() => {
      const now = this.now().toISOString();
      if (this.repo.getByName('User', user.userName as string)) {
        throw new ScimError(409, 'uniqueness', `userName ${String(user.userName)} already exists`);
      }
      const identityId = this.pickIdentityId(user);
      const aliases = this.syncIdentity(identityId, user, [], undefined);
      return this.repo.create('User', user, identityId, aliases, now);
    });
  }

  /** A User by id; 404 when unknown. */
  getUser(id: string): StoredResource {
    return this.mustGet('User', id);
  }

  /** Replaces a User (PUT); `ifMatch` is the request's If-Match header. */
  replaceUser(id: string, body: unknown, ifMatch?: string): StoredResource {
    const user = normaliseUser(body);
    return this.write(() => {
      const prev = this.mustGet('User', id);
      checkIfMatch(prev, ifMatch);
      return this.updateUser(prev, user);
    });
  }

  /** Applies a PatchOp to a User (PATCH); atomic. */
  patchUser(id: string, body: unknown, ifMatch?: string): StoredResource {
    return this.write(() => {
      const prev = this.mustGet('User', id);
      checkIfMatch(prev, ifMatch);
      const patched = applyPatch(prev.body, body, { id: prev.id });
      const user = normaliseUser(patched);
      return this.updateUser(prev, user);
    });
  }

  /** Deletes a User: the identity becomes `deprovisioned` (kept, so its aliases still resolve and deny). */
  deleteUser(id: string, ifMatch?: string): void {
    this.write(() => {
      const prev = this.mustGet('User', id);
      checkIfMatch(prev, ifMatch);
      if (prev.identityId) {
        const existing = this.store.getIdentity(prev.identityId);
        if (existing && existing.id === prev.identityId) {
          this.putIdentity(existing.id, { ...identityInput(existing), status: 'deprovisioned', source: this.source, observed_at: this.now().toISOString() });
        }
      }
      this.repo.delete('User', id);
    });
  }

  /** Lists Users or Groups with filter and 1-based pagination. */
  list(type: ScimResourceType, q: ListQuery): { total: number; startIndex: number; items: StoredResource[] } {
    const startIndex = q.startIndex === undefined || q.startIndex < 1 ? 1 : Math.floor(q.startIndex);
    const count = q.count === undefined ? MAX_RESULTS : Math.max(0, Math.min(MAX_RESULTS, Math.floor(q.count)));
    const filter = q.filter !== undefined && q.filter.trim() !== '' ? compileFilter(q.filter) : undefined;
    const { total, items } = this.repo.list(type, filter, startIndex, count);
    return { total, startIndex, items };
  }

  /** Creates a Group (POST /Groups); groups are kept for IdP health only and do not affect decisions. */
  createGroup(body: unknown): StoredResource {
    const group = normaliseGroup(body);
    return this.write(() => this.repo.create('Group', group, null, [], this.now().toISOString()));
  }

  /** A Group by id; 404 when unknown. */
  getGroup(id: string): StoredResource {
    return this.mustGet('Group', id);
  }

  /** Replaces a Group (PUT). */
  replaceGroup(id: string, body: unknown, ifMatch?: string): StoredResource {
    const group = normaliseGroup(body);
    return this.write(() => {
      const prev = this.mustGet('Group', id);
      checkIfMatch(prev, ifMatch);
      return this.repo.replace(prev, group, null, [], this.now().toISOString());
    });
  }

  /** Patches a Group (Entra adds/removes members with PATCH). */
  patchGroup(id: string, body: unknown, ifMatch?: string): StoredResource {
    return this.write(() => {
      const prev = this.mustGet('Group', id);
      checkIfMatch(prev, ifMatch);
      const group = normaliseGroup({ ...applyPatch({ ...prev.body, schemas: [GROUP_SCHEMA] }, body, { id: prev.id }) });
      return this.repo.replace(prev, group, null, [], this.now().toISOString());
    });
  }

  /** Deletes a Group. */
  deleteGroup(id: string, ifMatch?: string): void {
    this.write(() => {
      const prev = this.mustGet('Group', id);
      checkIfMatch(prev, ifMatch);
      this.repo.delete('Group', id);
    });
  }

  private write<T>(fn: () => T): T {
    let out: T;
    try {
      out = this.store.transaction(fn);
    } catch (err) {
      throw toScimError(err);
    }
    this.opts.onWrite?.();
    return out;
  }

  private mustGet(type: ScimResourceType, id: string): StoredResource {
    const r = this.repo.get(type, id);
    if (!r) throw new ScimError(404, undefined, `${type} ${id} not found`);
    return r;
  }

  private updateUser(prev: StoredResource, user: ScimResourceBody): StoredResource {
    const identityId = prev.identityId ?? this.pickIdentityId(user);
    const aliases = this.syncIdentity(identityId, user, prev.aliases, prev.id);
    return this.repo.replace(prev, user, identityId, aliases, this.now().toISOString());
  }

  /** An existing identity any of the user's aliases names (one person, several IdPs), else the userName. */
  private pickIdentityId(user: ScimResourceBody): string {
    const fields = userToIdentityFields(user, this.opts);
    for (const alias of fields.aliases) {
      const id = this.store.resolveIdentityId(alias);
      if (id) return id;
    }
    return (user.userName as string).toLowerCase();
  }

  /**
   * Writes the identity the user maps to, merging with what other sources said: aliases this user
   * contributed before are replaced, others kept; proofed/type/tier kept unless mapped. Returns the
   * aliases contributed now.
   */
  private syncIdentity(identityId: string, user: ScimResourceBody, prevAliases: string[], scimId: string | undefined): string[] {
    const fields = userToIdentityFields(user, this.opts);
    const existing = this.store.getIdentity(identityId);
    const base = existing && existing.id === identityId ? identityInput(existing) : undefined;
    const kept = ((base?.aliases as string[] | undefined) ?? []).filter((a) => !prevAliases.includes(a));
    const aliases = [...new Set([...kept, ...fields.aliases])].filter((a) => a.toLowerCase() !== identityId.toLowerCase());
    const input: Record<string, unknown> = {
      ...(base ?? {}),
      status: fields.status,
      aliases,
      source: this.source,
      observed_at: this.now().toISOString(),
      attributes: {
        ...((base?.attributes as Record<string, unknown> | undefined) ?? {}),
        scim: { id: scimId ?? null, userName: user.userName, displayName: user.displayName ?? null },
      },
    };
    if (fields.type) input.type = fields.type;
    if (fields.risk_tier) input.risk_tier = fields.risk_tier;
    this.putIdentity(identityId, input);
    return fields.aliases;
  }

  private putIdentity(id: string, input: Record<string, unknown>): Identity {
    return this.store.putIdentity(id, input).record;
  }
}

/** The writable fields of a stored identity (version/updated_at are the store's). */
function identityInput(i: Identity): Record<string, unknown> {
  const out: Record<string, unknown> = {
    status: i.status,
    type: i.type,
    risk_tier: i.risk_tier,
    proofed: i.proofed,
    aliases: [...i.aliases],
  };
  if (i.attributes) out.attributes = i.attributes;
  return out;
}

function normaliseGroup(body: unknown): ScimResourceBody {
  if (!isPlainObject(body)) throw badRequest('invalidSyntax', 'request body must be a JSON object');
  const group: ScimResourceBody = {};
  for (const [k, v] of Object.entries(body)) group[k.toLowerCase() === 'displayname' ? 'displayName' : k.toLowerCase() === 'members' ? 'members' : k] = v;
  if (typeof group.displayName !== 'string' || group.displayName.trim() === '') {
    throw badRequest('invalidValue', 'displayName is required and must be a non-empty string');
  }
  if (group.members !== undefined && (!Array.isArray(group.members) || !group.members.every((m) => isPlainObject(m) && typeof m.value === 'string'))) {
    throw badRequest('invalidValue', 'members must be an array of {value}');
  }
  delete group.id;
  delete group.meta;
  group.schemas = [GROUP_SCHEMA];
  return group;
}

/** The ETag of a stored resource (weak, from its version). */
export function etagOf(r: StoredResource): string {
  return `W/"${r.version}"`;
}

function checkIfMatch(r: StoredResource, ifMatch: string | undefined): void {
  if (ifMatch === undefined || ifMatch.trim() === '*' || ifMatch.trim() === '') return;
  const tags = ifMatch.split(',').map((t) => t.trim().replace(/^W\//, ''));
  if (!tags.includes(`"${r.version}"`)) throw new ScimError(412, undefined, `version mismatch: current is ${etagOf(r)}`);
}

/** Converts state-store errors into SCIM errors (nothing was stored: the transaction rolled back). */
export function toScimError(err: unknown): unknown {
  if (err instanceof ScimError) return err;
  if (err instanceof AliasConflictError) return new ScimError(409, 'uniqueness', err.message);
  if (err instanceof StaleUpdateError) return new ScimError(409, undefined, err.message);
  if (err instanceof StateError && err.code === 'invalid_input') return badRequest('invalidValue', err.message);
  if (err instanceof StateError && err.code === 'state_unavailable') return new ScimError(503, undefined, 'state store unavailable');
  return err;
}
