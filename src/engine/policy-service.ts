// The "policies" service module: compiles TETHER_POLICY_DIR (or loads TETHER_POLICY_BUNDLE) at start
// into ctx.engine (a PolicyReloader, which the decider reads on every decision), marks the service
// ready, and hot-reloads on file changes.
// A reload that fails keeps the previous policies serving and is reported in /v1/policies, metrics and
// the log.
import type { AppContext, PolicyHandle } from '../api/context';
import type { ServiceModule } from '../api/routes';
import type { Diagnostic } from '../compiler/diagnostics';
import { PolicyReloader, type ReloadResult } from './reload';
import { decisionSamples } from './sample-inputs';
import { EngineWorker } from './off-thread';
import { existsSync } from 'node:fs';
import { ConfigError } from '../config';
import { DECISION_ENTRYPOINT } from './decider';

/** What lifecycle tracking evaluates (src/lifecycle/tracker.ts); optional: without it only lifecycle stops. */
const LIFECYCLE_ENTRYPOINT = 'tether/lifecycle/report';

/** What GET /v1/policies reports about the last load or reload. */
export interface ReloadReport {
  ok: boolean;
  at: string;
  ms: number;
  revision?: string;
  /** The sources were those already serving: nothing was compiled. */
  unchanged?: boolean;
  /** Sample decisions the new engine ran on the compile thread before it was swapped in (reloads). */
  warmup?: { evaluations: number; ms: number };
  error?: { code: string; message: string; diagnostics: Diagnostic[] };
}

/** The serving policy set: the reloader plus the history /v1/policies shows. */
export interface PolicyService extends PolicyHandle {
  readonly reloader: PolicyReloader;
  /** The policy directory, or the bundle file being served. */
  readonly dir: string;
  lastReload?: ReloadReport;
  current(): ReturnType<PolicyReloader['current']>;
  baseData(): unknown;
  /** Policy files serving now. */
  modules(): string[];
  /** Recompiles now (as a file change would) and returns the outcome. */
  reload(): Promise<ReloadResult>;
  stop(): void;
}

function report(r: ReloadResult): ReloadReport {
  return {
    ok: r.ok,
    at: new Date().toISOString(),
    ms: Math.round(r.ms),
    ...(r.revision && { revision: r.revision }),
    ...(r.unchanged && { unchanged: true }),
    ...(r.warmed && { warmup: { evaluations: r.warmed.evaluations, ms: Math.round(r.warmed.ms) } }),
    ...(r.error && { error: { code: r.error.code, message: r.error.message, diagnostics: (r.error.details as Diagnostic[] | undefined) ?? [] } }),
  };
}

/** Loads the policy directory once and (optionally) watches it; never throws on a policy error. */
export async function startPolicyService(ctx: AppContext, opts: { watch?: boolean } = {}): Promise<PolicyService> {
  const bundle = ctx.config.policyBundle;
  const dir = bundle ?? ctx.config.policyDir;
  // A path that is not there is a configuration mistake, not a policy error: refuse to start (exit 78).
  if (!existsSync(dir)) {
    const variable = bundle ? 'TETHER_POLICY_BUNDLE' : 'TETHER_POLICY_DIR';
    const err = new ConfigError(variable, `${dir} does not exist`);
    err.message = `${variable} ${dir} does not exist`;
    throw err;
  }
  // print(...) lines, when asked for, go to the log with the serving policy revision.
  const print = ctx.config.policyPrint ? (line: string) => ctx.logger.info('policy print', { line, revision: reloader.current()?.revision }) : undefined;
  // Reloads compile and warm the new engine on this service's worker thread (./off-thread.ts) with
  // synthetic decisions; stop() ends the worker.
  const worker = new EngineWorker();
  // Without tether/decision every decision would fail closed: such a policy set is a failed load (not ready).
  const shared = { print, offThread: { worker }, requiredEntrypoints: [DECISION_ENTRYPOINT], warmup: (data: Record<string, unknown>) => decisionSamples(data, Date.now()) };
  const reloader = new PolicyReloader(bundle ? { bundle, ...shared } : { dir, ...shared });
  let stopWatch: (() => void) | undefined;
  const service: PolicyService = {
    reloader,
    dir,
    get revision() {
      return reloader.current()?.revision ?? '';
    },
    current: () => reloader.current(),
    baseData: () => reloader.baseData(),
    modules: () => reloader.modules(),
    stop: () => {
      stopWatch?.();
      worker.close();
    },
    reload: async () => {
      const r = await reloader.reload();
      apply(r, false);
      return r;
    },
  };
  const apply = (r: ReloadResult, first: boolean) => {
    service.lastReload = report(r);
    if (r.ok) {
      ctx.readiness.policiesLoaded = true;
      ctx.metrics.setPolicyRevision(r.revision ?? '');
      if (r.unchanged) ctx.logger.debug('policies unchanged; nothing to reload', { revision: r.revision });
      else {
        ctx.logger.info(first ? 'policies loaded' : 'policies reloaded', { revision: r.revision, ms: Math.round(r.ms), ...(r.warmed && { warmup_evaluations: r.warmed.evaluations }) });
        const entrypoints = reloader.current()?.entrypoints ?? [];
        if (!entrypoints.includes(LIFECYCLE_ENTRYPOINT)) {
          ctx.logger.warn(`policies define no ${LIFECYCLE_ENTRYPOINT} entrypoint: lifecycle tracking cannot run (decisions are served)`, { revision: r.revision });
        }
      }
    } else {
      ctx.metrics.policyReloadFailed();
      if (first) ctx.readiness.policiesLoaded = false;
      const what = r.error?.code === 'entrypoint_not_found' ? 'policies are incomplete' : 'policies failed to compile';
      ctx.logger.error(first ? `${what}; not ready` : `policy reload failed (${what}); previous policies keep serving`, {
        code: r.error?.code,
        diagnostics: r.error?.message,
      });
    }
  };
  ctx.engine = service;
  apply(await reloader.reload(), true);
  if (opts.watch ?? ctx.config.policyWatch) stopWatch = reloader.watch((r) => apply(r, false));
  return service;
}

/** The service module of routes/index.ts: runs first, so decisions have an engine to read. */
export const policiesServiceModule: ServiceModule = {
  name: 'policies',
  async start(ctx) {
    await startPolicyService(ctx);
  },
  stop(ctx) {
    (ctx.engine as PolicyService | undefined)?.stop?.();
  },
};
