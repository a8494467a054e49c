// Operations routes: /health (process up), /health/ready (store open, policies loaded, adapters OK)
// and /metrics (Prometheus text). Open, like OPA's: they carry no state or secrets.
import { Router } from 'express';
import type { AppContext } from '../context';

/** Readiness checks as reported by /health/ready. */
export function readiness(ctx: AppContext): { ready: boolean; checks: Record<string, unknown> } {
  const adapters: Record<string, string> = {};
  let adaptersOk = true;
  for (const a of ctx.adapters) {
    let s: string;
    try {
      s = a.status();
    } catch {
      s = 'ERROR';
    }
    adapters[a.name] = s;
    if (s !== 'OK' && s !== 'WARN') adaptersOk = false;
  }
  const failed = ctx.store.failed;
  const store = ctx.store.isOpen && failed === undefined;
  const policies = ctx.readiness.policiesLoaded;
  return {
    ready: store && policies && adaptersOk,
    checks: { store: store ? 'OK' : 'ERROR', ...(failed !== undefined && { store_error: failed }), policies: policies ? 'OK' : 'NOT_READY', adapters },
  };
}

/** The health and metrics router. */
export function healthRouter(ctx: AppContext): Router {
  const r = Router();
  r.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  r.get('/health/ready', (_req, res) => {
    const { ready, checks } = readiness(ctx);
    if (ready) res.json({ status: 'ready', checks });
    else res.status(503).json({ code: 'not_ready', message: 'service is not ready', checks });
  });
  r.get('/metrics', async (_req, res, next) => {
    try {
      const text = await ctx.metrics.text();
      res.setHeader('Content-Type', ctx.metrics.registry.contentType);
      res.send(text);
    } catch (err) {
      next(err);
    }
  });
  return r;
}
