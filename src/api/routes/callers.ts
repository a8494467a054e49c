// The callers' routes: proxy checks (Envoy ext_authz, nginx auth_request, Traefik ForwardAuth) under
// /v1/authz and IdP token hooks (Okta inline hook, Entra custom claims provider) under /v1/hooks, all
// served directly on node:http (src/api/direct: they sit on every proxied request and every token
// issuance). Proxies may forward client bodies, which are discarded; the hooks authenticate first and
// parse JSON themselves, so a bad body still gets the IdP's own error shape. OPA's v0 endpoints (POST /,
// the default decision, and POST /v0/data/{path}) are direct routes too (src/callers/opa-default.ts).
import { callersStartWarnings, loadCallersConfig, type CallersConfig } from '../../callers/config';
import { entraHookHandler } from '../../callers/entra';
import { envoyHandler } from '../../callers/envoy';
import type { HookDeps, OwnedDevicesFn } from '../../callers/hook-decide';
import { KEY_CACHE_MAX_AGE_MS, type KeyFetchHooks } from '../../callers/jwt';
import { nginxHandler } from '../../callers/nginx';
import { oktaHookHandler } from '../../callers/okta';
import { oktaBodyFor } from '../../callers/okta-example';
import { opaDefaultDecisionHandler, opaV0DataHandler, V0_DATA_PATH, type DataEvaluator, type OpaV0Deps } from '../../callers/opa-default';
import type { ProxyDeps } from '../../callers/proxy-check';
import { SubjectResolver } from '../../callers/subject';
import { traefikHandler } from '../../callers/traefik';
import type { DecideFn } from '../../callers/types';
import type { StateStore } from '../../state/store';
import { checkDecisionToken } from '../auth';
import type { AppContext } from '../context';
import type { DirectRoute } from '../direct/routes';
import { withoutCredentials } from '../redact';
import type { WarmupRequest } from '../warmup';
import { WARMUP_SUBJECT } from './decide';
import type { ModuleRoutes, RouteModule } from './index';

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

/** The proxy check and IdP hook routes from explicit parts (tests and embedders). */
export function callersDirectRoutes(deps: HookDeps, config: CallersConfig): DirectRoute[] {
  const proxy: ProxyDeps = { decide: deps.decide, config: config.proxy, subjects: new SubjectResolver(config.proxy, deps.keyFetch) };
  return [
    { path: '/v1/authz/envoy', prefix: true, label: '/v1/authz/envoy/*rest', handle: envoyHandler(proxy) },
    { path: '/v1/authz/nginx', handle: nginxHandler(proxy) },
    { path: '/v1/authz/traefik', handle: traefikHandler(proxy) },
    { method: 'POST', path: '/v1/hooks/okta/token', handle: oktaHookHandler(deps, config.okta) },
    { method: 'POST', path: '/v1/hooks/entra/token-issuance-start', handle: entraHookHandler(deps, config.entra) },
  ];
}

/** The RouteModule factory: loads and validates the callers configuration at start (throws naming bad keys). */
export function callersRoutes(ctx: AppContext, config: CallersConfig = loadCallersConfig()): ModuleRoutes {
  for (const warning of callersStartWarnings(config)) ctx.logger.warn(warning);
  const keyFetch: KeyFetchHooks = {
    // The URI says which key set; credentials in it (user:password@, which fetch refuses anyway) are not logged.
    onFetchError: (f) =>
      ctx.logger.warn('JWKS fetch failed', { jwks_uri: withoutCredentials(f.uri), error: f.code, keys_age_seconds: f.keysAgeSeconds, keys_expire_after_seconds: KEY_CACHE_MAX_AGE_MS / 1000 }),
    // Background JWKS refreshes belong to this server: stopped on shutdown and when start fails.
    closeWith: (close) => ctx.onShutdown(close, 'jwks-refresh'),
  };
  const direct = callersDirectRoutes({ decide: contextDecide(ctx), ownedDevices: storeOwnedDevices(ctx.store), keyFetch }, config);
  // OPA's v0 endpoints (decision routes): POST / is the default decision (OPA clients' evaluateDefault()),
  // POST /v0/data/{path} the webhook variant; bare input bodies of any content type, as OPA reads them.
  const opa: OpaV0Deps = {
    evaluator: () => {
      const d = ctx.decider as Partial<DataEvaluator> | undefined;
      return typeof d?.evaluatePath === 'function' ? (d as DataEvaluator) : undefined;
    },
    authorize: (req) => checkDecisionToken(ctx, req),
    bodyLimitBytes: ctx.config.bodyLimitBytes,
  };
  direct.push(
    { method: 'POST', path: '/', handle: opaDefaultDecisionHandler(opa) },
    { method: 'POST', path: V0_DATA_PATH, prefix: true, label: `${V0_DATA_PATH}/*path`, handle: opaV0DataHandler(opa) },
  );
  return { direct, warmup: callersWarmup(config) };
}

/**
 * Warm-up samples shaped as each proxy and Okta send them, for a subject no store holds. Proxy checks are
 * included when a trusted subject header is configured (a JWT we cannot sign would only warm the 401 path),
 * the Okta hook when it authenticates with a static header; Entra's JWT-authenticated calls are left out.
 */
export function callersWarmup(config: CallersConfig): WarmupRequest[] {
  const samples: WarmupRequest[] = [];
  const p = config.proxy;
  if (p.subject_header) {
    const who = {
      [p.subject_header.toLowerCase()]: WARMUP_SUBJECT,
      [p.device_header.toLowerCase()]: 'tether-warmup-device',
      // With a caller secret the samples carry it, or they would only warm the 403 path.
      ...(p.caller_secret !== undefined && { [p.caller_secret_header.toLowerCase()]: p.caller_secret }),
    };
    const fwd = { ...who, 'x-forwarded-host': 'tether-warmup.invalid', 'x-forwarded-proto': 'https', 'x-forwarded-for': '127.0.0.1' };
    samples.push(
      { method: 'GET', path: '/v1/authz/nginx?app=tether-warmup', headers: { ...fwd, 'x-original-uri': '/warmup?q=1', 'x-original-method': 'GET' } },
      { method: 'GET', path: '/v1/authz/nginx?app=tether-warmup', headers: { ...fwd, 'x-original-uri': '/warmup/page', 'x-original-method': 'POST' } },
      { method: 'GET', path: '/v1/authz/traefik?app=tether-warmup', headers: { ...fwd, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/warmup' } },
      { method: 'GET', path: `${p.envoy_prefix}/warmup?app=tether-warmup`, headers: fwd },
    );
  }
  const auth = config.okta.auth;
  if (auth?.type === 'header') {
    const body = oktaBodyFor('00utetherwarmup00000', WARMUP_SUBJECT);
    samples.push({ method: 'POST', path: '/v1/hooks/okta/token', headers: { [auth.header.toLowerCase()]: auth.secret, accept: 'application/json' }, body });
  }
  return samples;
}

/** The entry for routes/index.ts routeModules. */
export const callersRouteModule: RouteModule = { name: 'callers', create: (ctx) => callersRoutes(ctx) };
