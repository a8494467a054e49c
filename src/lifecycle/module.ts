// The "decisions" service module serve() starts: the decision log, the Decider and the lifecycle
// service (which needs the Decider's engine), filling ctx.decider, ctx.decisionLog, ctx.lifecycle
// and ctx.outbox. The policy engine itself comes from ctx.engine, looked up on every decision so a
// hot reload (or a late first load) is picked up without restarting anything.
import fs from 'node:fs';
import path from 'node:path';
import type { AppContext } from '../api/context';
import type { ServiceModule } from '../api/routes';
import { Decider, type EngineSource } from '../engine/decider';
import { DecisionLog } from '../engine/decision-log';
import type { PolicyEngine } from '../engine/types';
import { LifecycleService } from './service';

type Loose = Record<string, unknown> & { current?: () => unknown; baseData?: () => unknown };

const isEngine = (v: unknown): v is PolicyEngine =>
  !!v && typeof (v as PolicyEngine).evaluate === 'function' && Array.isArray((v as PolicyEngine).entrypoints);

/**
 * Adapts whatever the engine owner put in ctx.engine: an object with current()/baseData(), one
 * holding `engine` and `data`, or a PolicyEngine itself. Base data falls back to
 * <policyDir>/data.json.
 */
export function contextEngineSource(ctx: AppContext): EngineSource {
  let fallbackData: unknown;
  const readFallback = () => {
    if (fallbackData === undefined) {
      try {
        fallbackData = JSON.parse(fs.readFileSync(path.join(ctx.config.policyDir, 'data.json'), 'utf8'));
      } catch {
        fallbackData = {};
      }
    }
    return fallbackData;
  };
  return {
    current() {
      const h = ctx.engine as unknown as Loose | undefined;
      if (!h) return undefined;
      if (typeof h.current === 'function') {
        const c = h.current();
        return isEngine(c) ? c : undefined;
      }
      if (isEngine(h.engine)) return h.engine;
      return isEngine(h) ? h : undefined;
    },
    baseData() {
      const h = ctx.engine as unknown as Loose | undefined;
      if (h && typeof h.baseData === 'function') return h.baseData();
      if (h && h.data !== undefined && typeof h.data === 'object') return h.data;
      return readFallback();
    },
  };
}

/** Builds and wires the decision path and lifecycle around ctx (used by the module and by tests). */
export function startDecisions(ctx: AppContext, engines: EngineSource = contextEngineSource(ctx), opts: { start?: boolean } = {}): { decider: Decider; lifecycle: LifecycleService; log?: DecisionLog } {
  const cfg = ctx.config;
  const log =
    cfg.decisionLog === 'off'
      ? undefined
      : new DecisionLog({
          sink: cfg.decisionLog,
          capacity: cfg.decisionLogBuffer,
          metrics: ctx.metrics,
          closeTimeoutMs: Math.min(5000, cfg.shutdownTimeoutMs / 2), // within the shutdown hooks' budget, so its report is logged
          // Sink failures (retried for a file), hard-cap drops of denies and lines lost at shutdown; never entry contents.
          onError: (err, info) =>
            ctx.logger.error('decision log error', {
              kind: info.kind,
              error: err.message,
              code: (err as NodeJS.ErrnoException).code,
              buffered: info.buffered,
              dropped_allows: info.dropped,
              dropped_protected: info.droppedProtected,
              retry_in_ms: info.retryInMs,
              unwritten: info.unwritten,
            }),
          onRecover: (info) => ctx.logger.info('decision log writing again', { buffered: info.buffered, failed_for_ms: info.failedForMs, failures: info.failures }),
          // Rotation: SIGHUP (src/server.ts) or the file moved/removed under it (a periodic check).
          onReopen: (info) => ctx.logger.info('decision log reopened', { reason: info.reason, file: cfg.decisionLog, buffered: info.buffered }),
        });
  let lifecycle: LifecycleService | undefined;
  const onError = (what: string, err: unknown) => ctx.logger.warn('decision failed closed', { reason: what, error: String((err as Error)?.message ?? err) });
  const decider = new Decider({ store: ctx.store, engines, log, metrics: ctx.metrics, onError, statusSince: (id) => lifecycle?.statusSince(id) });
  // Time-driven changes come from per-identity deadlines computed from data.config; the full sweep
  // (TETHER_LIFECYCLE_SWEEP_SECONDS, default daily, 0 = off) is only a safety net.
  lifecycle = new LifecycleService({
    store: ctx.store,
    sweepMs: cfg.lifecycleSweepSeconds * 1000,
    catchupPercent: cfg.lifecycleCatchupPercent,
    policyData: () => engines.baseData(),
    engine: () => decider.engine(),
    metrics: ctx.metrics,
    onError: (msg, fields) => ctx.logger.warn(msg, fields),
  });
  ctx.decider = decider;
  ctx.decisionLog = log;
  ctx.lifecycle = lifecycle;
  ctx.outbox = lifecycle.outbox;
  if (opts.start ?? true) lifecycle.start();
  return { decider, lifecycle, log };
}

/** The service module of routes/index.ts. */
export const decisionsServiceModule: ServiceModule = {
  name: 'decisions',
  start(ctx) {
    startDecisions(ctx);
  },
  async stop(ctx) {
    await (ctx.lifecycle as LifecycleService | undefined)?.stop();
    (ctx.decider as Decider | undefined)?.close();
    await (ctx.decisionLog as DecisionLog | undefined)?.close();
  },
};
