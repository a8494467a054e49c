// The Decider: answers /v1/decide (and the OPA Data API) by composing the policy input from the
// state store and evaluating data.tether.decision through the PolicyEngine. It fails closed: a
// missing engine, a policy error, an undefined or malformed result, or an unreadable store all
// answer allow=false with reason `policy_error` or `state_unavailable`.
import { randomUUID } from 'node:crypto';
import type { StateStore } from '../state/store';
import { composeInput, composePolicyData, type PolicyInput } from './decision-input';
import type { DecisionLog } from './decision-log';
import type { PolicyEngine } from './types';

/** The actions decisions are counted under in metrics (anything else: "unknown"). */
const METRIC_ACTIONS = new Set(['access', 'token', 'entitle', 'activate']);

/** The decision entrypoint. */
export const DECISION_ENTRYPOINT = 'tether/decision';

/** The answer of /v1/decide (api.md "Decisions"). */
export interface Decision {
  decision_id: string;
  allow: boolean;
  limited: boolean;
  reasons: string[];
  obligations: string[];
  lifecycle: string;
  exception: Record<string, unknown> | null;
  policy_revision: string;
}

/** Where the decider gets the engine serving now (hot reload swaps it) and its data.json. */
export interface EngineSource {
  /** The engine serving now, or undefined before the first successful load. */
  current(): PolicyEngine | undefined;
  /** The policies' base data document (data.json files merged), without stored apps. */
  baseData(): unknown;
}

/** Metrics the decider records (src/api/metrics.ts Metrics satisfies it). */
export interface DeciderMetrics {
  observeDecision(action: string, allow: boolean, reasons: readonly string[], seconds: number): void;
}

/** Options of Decider. */
export interface DeciderOptions {
  store: StateStore;
  engines: EngineSource;
  log?: DecisionLog;
  metrics?: DeciderMetrics;
  /** Wall clock in ms (tests pin it). */
  now?: () => number;
  /** When an identity's current status began (lifecycle tracker), for the provisioned tolerance. */
  statusSince?: (identityId: string) => string | undefined;
  /** Called with unexpected failures (never with secrets). */
  onError?: (what: string, err: unknown) => void;
}

/** Result of evaluating an arbitrary data path (OPA Data API). */
export interface DataResult {
  /** False when the path is undefined (the Data API then answers `{}`). */
  defined: boolean;
  result?: unknown;
  decision_id: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const stringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** Makes decisions through the current policy engine. */
export class Decider {
  private readonly store: StateStore;
  private readonly engines: EngineSource;
  private readonly log?: DecisionLog;
  private readonly metrics?: DeciderMetrics;
  private readonly now: () => number;
  private readonly statusSince?: (identityId: string) => string | undefined;
  private readonly onError: (what: string, err: unknown) => void;
  // The engine whose data was last set, and whether stored apps changed since (read-your-writes).
  private syncedEngine?: PolicyEngine;
  private appsDirty = true;
  private readonly unsubscribe: () => void;

  constructor(opts: DeciderOptions) {
    this.store = opts.store;
    this.engines = opts.engines;
    this.log = opts.log;
    this.metrics = opts.metrics;
    this.now = opts.now ?? Date.now;
    this.statusSince = opts.statusSince;
    this.onError = opts.onError ?? (() => undefined);
    // onChange runs inside the write's transaction, so the very next decision already sees the app.
    this.unsubscribe = this.store.onChange((e) => {
      if (e.kind === 'app') this.appsDirty = true;
    });
  }

  /** Stops listening to the store. */
  close(): void {
    this.unsubscribe();
  }

  /** Revision of the policies serving now ("" when none is loaded). */
  get revision(): string {
    return this.engines.current()?.revision ?? '';
  }

  /** The engine serving now with the current policy data set, or undefined (fail closed). */
  engine(): PolicyEngine | undefined {
    const engine = this.engines.current();
    if (!engine) return undefined;
    if (engine !== this.syncedEngine || this.appsDirty) {
      // Clear the flag first: a write racing with setData marks it dirty again.
      this.appsDirty = false;
      engine.setData(composePolicyData(this.engines.baseData(), this.store.listApps()));
      this.syncedEngine = engine;
    }
    return engine;
  }

  /** Composes the policy input of a decide-shaped body at `nowMs`. */
  input(body: unknown, nowMs: number = this.now()): PolicyInput {
    return composeInput(this.store, body, { nowMs, statusSince: this.statusSince });
  }

  /** One decision for a /v1/decide body (validated by the route). Never throws. */
  decide(body: unknown, nowMs: number = this.now()): Decision {
    const started = process.hrtime.bigint();
    const decisionId = randomUUID();
    let decision: Decision;
    let input: PolicyInput | undefined;
    try {
      input = this.input(body, nowMs);
    } catch (err) {
      this.onError('state_unavailable', err);
      decision = this.denied(decisionId, 'state_unavailable');
      return this.finish(decision, body, input, started, nowMs);
    }
    try {
      const engine = this.engine();
      if (!engine) decision = this.denied(decisionId, 'policy_error');
      else {
        const rs = engine.evaluate(DECISION_ENTRYPOINT, input);
        decision = this.fromResult(decisionId, rs[0]?.result, engine.revision);
      }
    } catch (err) {
      // The app catalog read for the policy data can fail like any store read.
      const reason = (err as { code?: unknown })?.code === 'state_unavailable' ? 'state_unavailable' : 'policy_error';
      this.onError(reason, err);
      // A setData failure right after an app write: retry the sync on the next decision.
      this.appsDirty = true;
      decision = this.denied(decisionId, reason);
    }
    return this.finish(decision, body, input, started, nowMs);
  }

  /** Decisions for many bodies, in order, at one instant. */
  decideBatch(bodies: readonly unknown[]): Decision[] {
    const nowMs = this.now();
    return bodies.map((b) => this.decide(b, nowMs));
  }

  /** data.config of the serving policy's data: limits the service also enforces on writes (empty without a policy). */
  policyConfig(): Record<string, unknown> {
    const config = (this.engines.baseData() as { config?: unknown } | undefined)?.config;
    return config && typeof config === 'object' && !Array.isArray(config) ? (config as Record<string, unknown>) : {};
  }

  /** The app catalog decisions use: policy data's `apps` with the apps stored through PUT /v1/apps over them. */
  appCatalog(): Record<string, unknown> {
    return composePolicyData(this.engines.baseData(), this.store.listApps()).apps as Record<string, unknown>;
  }

  /**
   * Evaluates an OPA data path (slash-separated, e.g. "tether/decision") for the Data API.
   * Paths under tether/ get the composed decision input (clients send a /v1/decide-shaped body);
   * other paths get the client's input unchanged. A path that is not an entrypoint answers from
   * the base data document or by assembling the entrypoints below it. Throws on policy errors.
   */
  evaluatePath(path: string, rawInput: unknown): DataResult {
    const decisionId = randomUUID();
    const segments = path.split('/').filter((s) => s !== '');
    if (segments.join('/') === DECISION_ENTRYPOINT) {
      // The /v1/decide answer; its decision_id goes in the envelope, as OPA puts it.
      const { decision_id, ...result } = this.decide(rawInput ?? {});
      return { defined: true, result, decision_id };
    }
    const engine = this.engine();
    const data = composePolicyData(this.engines.baseData(), this.store.listApps());
    // tether/* rules always see state from the store, never client-supplied state (no spoofing).
    let composed: PolicyInput | undefined;
    const inputFor = (entrypoint: string): unknown =>
      entrypoint === 'tether' || entrypoint.startsWith('tether/') ? (composed ??= this.input(rawInput ?? {})) : rawInput;
    const value = this.valueAt(engine, data, segments, inputFor);
    return value === undefined ? { defined: false, decision_id: decisionId } : { defined: true, result: value, decision_id: decisionId };
  }

  // The value of data at `segments`: an entrypoint, base data, or an object assembled below it.
  private valueAt(engine: PolicyEngine | undefined, data: Record<string, unknown>, segments: string[], inputFor: (entrypoint: string) => unknown): unknown {
    const path = segments.join('/');
    if (engine && engine.entrypoints.includes(path)) {
      const rs = engine.evaluate(path, inputFor(path));
      if (rs.length > 0 && 'result' in rs[0]) return rs[0].result;
      return undefined;
    }
    // Base data (data.json + apps).
    let base: unknown = data;
    for (const s of segments) {
      base = child(base, s);
      if (base === undefined) break;
    }
    // Virtual documents below this path (entrypoints whose path extends it).
    const prefix = path === '' ? '' : path + '/';
    const below = engine ? engine.entrypoints.filter((e) => e.startsWith(prefix) && e !== path) : [];
    if (below.length === 0) return base !== undefined ? base : this.insideEntrypoint(engine, segments, inputFor);
    const out: Record<string, unknown> = isObject(base) ? structuredClone(base) : {};
    const children = new Set(below.map((e) => e.slice(prefix.length).split('/')[0]));
    for (const child of [...children].sort()) {
      const v = this.valueAt(engine, data, [...segments, child], inputFor);
      if (v !== undefined) out[child] = v;
    }
    if (base === undefined && Object.keys(out).length === 0) return undefined;
    return out;
  }

  // A path inside a rule's value (e.g. tether/decision/allow): evaluate the rule, then index into it.
  private insideEntrypoint(engine: PolicyEngine | undefined, segments: string[], inputFor: (entrypoint: string) => unknown): unknown {
    if (!engine) return undefined;
    for (let i = segments.length - 1; i > 0; i--) {
      const ep = segments.slice(0, i).join('/');
      if (!engine.entrypoints.includes(ep)) continue;
      const rs = engine.evaluate(ep, inputFor(ep));
      let v: unknown = rs.length > 0 ? rs[0].result : undefined;
      for (const s of segments.slice(i)) {
        v = child(v, s);
        if (v === undefined) return undefined;
      }
      return v;
    }
    return undefined;
  }

  private fromResult(decisionId: string, result: unknown, revision: string): Decision {
    if (!isObject(result) || typeof result.allow !== 'boolean' || !stringArray(result.reasons)) {
      this.onError('policy_error', new Error('tether/decision returned no decision object with boolean allow and string reasons'));
      return this.denied(decisionId, 'policy_error', revision);
    }
    const allow = result.allow === true;
    const reasons = [...result.reasons];
    // Fail closed: an "allow" that still carries no reason list is fine; a deny must say why.
    if (!allow && reasons.length === 0) reasons.push('policy_error');
    return {
      decision_id: decisionId,
      allow,
      limited: result.limited === true,
      reasons,
      obligations: stringArray(result.obligations) ? [...result.obligations] : [],
      lifecycle: typeof result.lifecycle === 'string' ? result.lifecycle : 'unknown',
      exception: isObject(result.exception) ? result.exception : null,
      policy_revision: revision,
    };
  }

  private denied(decisionId: string, reason: string, revision = this.revision): Decision {
    return {
      decision_id: decisionId,
      allow: false,
      limited: false,
      reasons: [reason],
      obligations: [],
      lifecycle: 'unknown',
      exception: null,
      policy_revision: revision,
    };
  }

  private finish(decision: Decision, body: unknown, input: PolicyInput | undefined, started: bigint, nowMs: number): Decision {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const b = (isObject(body) ? body : {}) as Record<string, unknown>;
    const action = typeof b.action === 'string' ? b.action : null;
    try {
      // The action label is one of the four actions or "unknown": the Data API and OPA's v0 endpoints pass
      // any input through, and a client-chosen string as a label would add series without bound.
      this.metrics?.observeDecision(action !== null && METRIC_ACTIONS.has(action) ? action : 'unknown', decision.allow, decision.reasons, seconds);
      this.log?.record({
        decision_id: decision.decision_id,
        time: new Date(nowMs).toISOString(),
        action,
        subject: input?.subject?.id ?? (typeof b.subject === 'string' ? b.subject : null),
        device: typeof b.device === 'string' ? b.device : null,
        app: input?.app ?? null,
        allow: decision.allow,
        reasons: decision.reasons,
        revision: decision.policy_revision,
        duration: seconds * 1000,
        break_glass: input?.subject?.type === 'break_glass' || decision.obligations.includes('alert'),
      });
    } catch (err) {
      this.onError('decision_log', err);
    }
    return decision;
  }
}

// One step down a data path as OPA takes it: an object's key, or an array's index when the segment is an integer.
function child(v: unknown, segment: string): unknown {
  if (Array.isArray(v)) return /^\d+$/.test(segment) ? v[Number(segment)] : undefined;
  return isObject(v) && Object.hasOwn(v, segment) ? v[segment] : undefined;
}
