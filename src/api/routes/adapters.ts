// GET /v1/adapters (each sync adapter's status, admin read) and the adapters' own endpoints
// (/scim/v2, the MDM webhooks, SSF/CAEP), plus the service module that starts and stops them.
import { Router } from 'express';
import { adaptersFor, ADAPTER_RAW_BODY_PATHS, startAdapters, stopAdapters } from '../../adapters';
import { requireApiToken } from '../auth';
import type { AppContext } from '../context';
import type { RouteModule, ServiceModule } from './index';

/** The adapters router: status listing plus every configured adapter's routes. */
export function adaptersRouter(ctx: AppContext): Router {
  const r = Router();
  r.get('/v1/adapters', requireApiToken(ctx), (_req, res) => {
    res.json({ adapters: adaptersFor(ctx).registry.list() });
  });
  r.use(adaptersFor(ctx).router);
  return r;
}

/** Route module for routes/index.ts. */
export const adaptersRouteModule: RouteModule = { name: 'adapters', create: adaptersRouter, rawBodyPaths: ADAPTER_RAW_BODY_PATHS };

/** Service module for routes/index.ts: starts pollers/receivers before listening, stops them on shutdown. */
export const adaptersServiceModule: ServiceModule = {
  name: 'adapters',
  start: async (ctx) => {
    await startAdapters(ctx);
  },
  stop: (ctx) => stopAdapters(ctx),
};
