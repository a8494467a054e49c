// AppContext: what every router and service component receives (config, store, logger, metrics,
// readiness), plus slots the decision/lifecycle/adapter components fill in at start.
//
// The slot interfaces below are deliberately small; owners extend them by declaration merging, e.g.
//   declare module '../api/context' { interface DeciderHandle { decide(req: DecideRequest): Decision } }
import type { Config, LogLevel } from '../config';
import type { StateStore } from '../state/store';
import { Metrics } from './metrics';

/** Structured logger: one JSON line per entry on stderr. Never pass secrets in `fields`. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Creates a JSON-lines logger writing to `out` (default stderr) at `level` and above. */
export function createLogger(level: LogLevel | 'silent' = 'info', out: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const min = level === 'silent' ? Infinity : LEVELS[level];
  const log = (lvl: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[lvl] < min) return;
    out(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields }) + '\n');
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** OPA plugin-style status of a sync adapter or other background component. */
export type ComponentStatus = 'NOT_READY' | 'OK' | 'WARN' | 'ERROR';

/** A sync adapter (SCIM, MDM, SSF...) as /health/ready sees it. */
export interface AdapterHandle {
  readonly name: string;
  /** NOT_READY until its initial sync is done; ERROR when it cannot reach its source. */
  status(): ComponentStatus;
}

/** The loaded policy set (filled by the policy/engine owner). Extend by declaration merging. */
export interface PolicyHandle {
  /** Revision of the policy set serving decisions. */
  readonly revision: string;
}

/** The decision service (filled by the decision-path owner). Extend by declaration merging. */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface DeciderHandle {}

/** The lifecycle engine (filled by the lifecycle owner). Extend by declaration merging. */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface LifecycleHandle {}

/** The durable event outbox (filled by the lifecycle owner). Extend by declaration merging. */
export interface OutboxHandle {
  /** Events waiting for delivery. */
  depth(): number;
}

/** The decision log (filled by the decision-path owner). Extend by declaration merging. */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface DecisionLogHandle {}

/** Flags components flip as they become ready. */
export interface Readiness {
  /** Set true once policies compiled and loaded (the policy owner's service start sets it). */
  policiesLoaded: boolean;
}

/** Called on graceful shutdown after the HTTP server stopped accepting and in-flight requests ended. */
export type ShutdownHook = (() => void | Promise<void>) & { hookName?: string };

/** Everything routers and services share. */
export interface AppContext {
  config: Config;
  store: StateStore;
  logger: Logger;
  metrics: Metrics;
  readiness: Readiness;
  /** Registered sync adapters; all must be OK/WARN for /health/ready. */
  adapters: AdapterHandle[];
  engine?: PolicyHandle;
  decider?: DeciderHandle;
  lifecycle?: LifecycleHandle;
  outbox?: OutboxHandle;
  decisionLog?: DecisionLogHandle;
  /** Hooks run in reverse registration order on shutdown, before the store closes (flush log, outbox). */
  readonly shutdownHooks: ShutdownHook[];
  /** Registers a shutdown hook (`name` appears in the log if it fails or times out). */
  onShutdown(hook: ShutdownHook, name?: string): void;
}

/** Builds a context around an open store (serve() and tests). */
export function createContext(opts: {
  config: Config;
  store: StateStore;
  logger?: Logger;
  metrics?: Metrics;
}): AppContext {
  const metrics = opts.metrics ?? new Metrics();
  metrics.attachStore(opts.store);
  const shutdownHooks: ShutdownHook[] = [];
  return {
    config: opts.config,
    store: opts.store,
    logger: opts.logger ?? createLogger(opts.config.logLevel),
    metrics,
    readiness: { policiesLoaded: false },
    adapters: [],
    shutdownHooks,
    onShutdown(hook, name) {
      if (name) hook.hookName = name;
      shutdownHooks.push(hook);
    },
  };
}
