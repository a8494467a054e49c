// The callers router: proxy checks (Envoy ext_authz, nginx auth_request, Traefik ForwardAuth) under
// /v1/authz and IdP token hooks (Okta inline hook, Entra custom claims provider) under /v1/hooks.
// Both prefixes are raw-body paths: proxies may forward client bodies we must ignore, and the hooks
// authenticate first and parse JSON themselves, so a bad body still gets the IdP's own error shape.
import { Router } from 'express';
import { loadCallersConfig, type CallersConfig } from '../../callers/config';
import { entraHookHandlers } from '../../callers/entra';
import { envoyHandler } from '../../callers/envoy';
import type { HookDeps, OwnedDevicesFn } from '../../callers/hook-decide';
import { nginxHandler } from '../../callers/nginx';
import { oktaHookHandlers } from '../../callers/okta';
import { opaDefaultDecisionHandler, type DataEvaluator } from '../../callers/opa-default';
import type { ProxyDeps } from '../../callers/proxy-check';
import { SubjectResolver } from '../../callers/subject';
import { traefikHandler } from '../../callers/traefik';
import type { DecideFn } from '../../callers/types';
import type { StateStore } from '../../state/store';
import { requireDecisionToken } from '../auth';
import type { AppContext } from '../context';
import type { RouteModule } from './index';

/** Absolute prefixes whose bodies this router reads itself (RouteModule.rawBodyPaths). */
export const CALLERS_RAW_BODY_PATHS = ['/v1/authz', '/v1/hooks'];

/** The service's decider as the callers use it; looked up per request so start-up order does not matter. */
export function contextDecide(ctx: AppContext): DecideFn {
  return (req) => {
    const decider = ctx.decider as { decide?: DecideFn } | undefined;
    if (!decider?.decide) throw Object.assign(new Error('decider not started'), { code: 'not_ready' });
    return decider.decide(req);
  };
}

/** Devices of the identity an alias names (undefined: unknown): enrolled+compliant first, then most recently observed. */
export function storeOwnedDevices(store: StateStore): OwnedDevicesFn {
  const seen = (iso?: string) => (iso ? Date.parse(iso) || 0 : 0);
  return (idOrAlias) => {
    const id = store.resolveIdentityId(idOrAlias);
    if (!id) return undefined;
    return store.listDevicesByOwner(id)
      .map((d) => ({ id: d.id, good: d.enrolled && d.compliant ? 1 : 0, at: seen(d.observed_at) }))
      .sort((a, b) => b.good - a.good || b.at - a.at)
      .map((d) => d.id);
  };
}

/** Builds the callers router from explicit parts (tests and embedders). */
export function buildCallersRouter(deps: HookDeps, config: CallersConfig): Router {
  const router = Router();
  const proxy: ProxyDeps = { decide: deps.decide, config: config.proxy, subjects: new SubjectResolver(config.proxy) };
  const envoy = envoyHandler(proxy);
  router.all('/v1/authz/envoy', envoy);
  router.all('/v1/authz/envoy/*rest', envoy);
  router.all('/v1/authz/nginx', nginxHandler(proxy));
  router.all('/v1/authz/traefik', traefikHandler(proxy));
  router.post('/v1/hooks/okta/token', ...oktaHookHandlers(deps, config.okta));
  router.post('/v1/hooks/entra/token-issuance-start', ...entraHookHandlers(deps, config.entra));
  return router;
}

/** The RouteModule factory: loads and validates the callers configuration at start (throws naming bad keys). */
export function callersRouter(ctx: AppContext, config: CallersConfig = loadCallersConfig()): Router {
  if (config.entra.auth?.type === 'none') {
    ctx.logger.warn('entra custom claims provider accepts unauthenticated calls (entra.auth.type=none); development only');
  }
  const router = buildCallersRouter({ decide: contextDecide(ctx), ownedDevices: storeOwnedDevices(ctx.store) }, config);
  // OPA clients' evaluateDefault(): POST / is OPA's default-decision endpoint (a decision route).
  router.post('/', requireDecisionToken(ctx), opaDefaultDecisionHandler(() => {
    const d = ctx.decider as Partial<DataEvaluator> | undefined;
    return typeof d?.evaluatePath === 'function' ? (d as DataEvaluator) : undefined;
  }));
  return router;
}

/** The entry for routes/index.ts routeModules. */
export const callersRouteModule: RouteModule = { name: 'callers', create: (ctx) => callersRouter(ctx), rawBodyPaths: CALLERS_RAW_BODY_PATHS };
