// Microsoft Entra ID custom claims provider (OnTokenIssuanceStart, protocols.md §6): answers
// provideClaimsForToken with string / string-array claims only.
//
// Deny: Entra documents no deny action for this event (§6.4). What it does support is (a) claims, so the
// default `deny_mode: "claim"` issues the token with tether_decision="deny", tether_device_trust="untrusted"
// and the reasons, for the resource to enforce; and (b) it fails CLOSED on any non-200 (§6.5: no token),
// so `deny_mode: "fail"` answers 403 to stop issuance outright — effective, but not a documented Microsoft
// mechanism, and the user sees only a generic error. Malformed requests get 400 (Entra fails closed).
import type { DirectHandler } from '../api/direct/routes';
import { DecisionUnavailable } from './budget';
import type { EntraConfig } from './config';
import { decideForAliases, deviceTrust, type HookDeps } from './hook-decide';
import { entraAuthenticator } from './hook-auth';
import { hookHandler } from './hook-http';
import type { Decision } from './types';

export const ENTRA_EVENT_TYPE = 'microsoft.graph.authenticationEvent.tokenIssuanceStart';
export const ENTRA_RESPONSE_TYPE = 'microsoft.graph.onTokenIssuanceStartResponseData';
export const ENTRA_ACTION_TYPE = 'microsoft.graph.tokenIssuanceStart.provideClaimsForToken';
/** Entra's limit on keys + values of the returned claims. */
const CLAIMS_BUDGET_BYTES = 3072;

/** What the provider needs from Entra's request. */
export interface EntraHookInput {
  userId: string;
  upn?: string;
  mail?: string;
  appIds: string[];
  ip?: string;
  correlationId?: string;
}

/** Claims Entra accepts: strings or string arrays only (booleans and objects fail the call). */
export type EntraClaims = Record<string, string | string[]>;

/** The provideClaimsForToken response body. */
export interface EntraClaimsResponse {
  data: {
    '@odata.type': typeof ENTRA_RESPONSE_TYPE;
    actions: Array<{ '@odata.type': typeof ENTRA_ACTION_TYPE; claims: EntraClaims }>;
  };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

/** Parses Entra's request; returns the bad field instead when it is not a usable tokenIssuanceStart. */
export function parseEntraHook(body: unknown): EntraHookInput | { invalid: string; path: string } {
  if (!isObj(body)) return { invalid: 'body must be a JSON object', path: '' };
  if (body.type !== ENTRA_EVENT_TYPE) return { invalid: `must be ${ENTRA_EVENT_TYPE}`, path: '/type' };
  if (!isObj(body.data)) return { invalid: 'is required', path: '/data' };
  const ctx = body.data.authenticationContext;
  if (!isObj(ctx)) return { invalid: 'is required', path: '/data/authenticationContext' };
  if (!isObj(ctx.user)) return { invalid: 'is required', path: '/data/authenticationContext/user' };
  const userId = str(ctx.user.id);
  if (!userId) return { invalid: 'is required', path: '/data/authenticationContext/user/id' };
  const appIds: string[] = [];
  for (const sp of [ctx.clientServicePrincipal, ctx.resourceServicePrincipal]) {
    const id = isObj(sp) ? str(sp.appId) : undefined;
    if (id) appIds.push(id);
  }
  const fromSource = typeof body.source === 'string' ? /\/applications\/([^/]+)$/.exec(body.source)?.[1] : undefined;
  if (fromSource) appIds.push(fromSource);
  const uniqueAppIds = [...new Set(appIds)];
  return {
    userId,
    upn: str(ctx.user.userPrincipalName),
    mail: str(ctx.user.mail),
    appIds: uniqueAppIds,
    ip: isObj(ctx.client) ? str(ctx.client.ip) : undefined,
    correlationId: str(ctx.correlationId),
  };
}

/** Wraps claims in the one provideClaimsForToken action Entra requires. */
export function entraClaimsResponse(claims: EntraClaims): EntraClaimsResponse {
  return {
    data: {
      '@odata.type': ENTRA_RESPONSE_TYPE,
      actions: [{ '@odata.type': ENTRA_ACTION_TYPE, claims }],
    },
  };
}

function claimsSize(c: EntraClaims): number {
  return Object.entries(c).reduce((n, [k, v]) => n + Buffer.byteLength(k) + (Array.isArray(v) ? v.reduce((m, s) => m + Buffer.byteLength(s), 0) : Buffer.byteLength(v)), 0);
}

/** The Tether claims for one decision (or for a decision that could not be made: deny). */
export function entraClaims(d: Decision | undefined, reasons: string[]): EntraClaims {
  const claims: EntraClaims = {
    tether_decision: d?.allow ? 'allow' : 'deny',
    tether_device_trust: d ? deviceTrust(d) : 'untrusted',
    tether_lifecycle: d?.lifecycle ?? 'unknown',
  };
  if (d) claims.tether_decision_id = d.decision_id;
  if (reasons.length) claims.tether_reasons = [...reasons];
  // Stay inside Entra's 3 KB: drop trailing reasons rather than fail sign-in.
  while (claimsSize(claims) > CLAIMS_BUDGET_BYTES && Array.isArray(claims.tether_reasons) && claims.tether_reasons.length > 1) {
    claims.tether_reasons.pop();
  }
  return claims;
}

/** The HTTP answer for one provider call. */
export interface EntraAnswer { status: 200 | 400 | 403; body: unknown }

/** Decides one provider call; never throws. */
export async function answerEntraHook(deps: HookDeps, cfg: EntraConfig, body: unknown, budgetMs = cfg.timeout_ms): Promise<EntraAnswer> {
  const input = parseEntraHook(body);
  if ('invalid' in input) {
    return { status: 400, body: { code: 'invalid_input', message: 'not an OnTokenIssuanceStart request', errors: [{ path: input.path, message: input.invalid }] } };
  }
  const mapped = input.appIds.find((id) => Object.hasOwn(cfg.app_map, id));
  const app = (mapped ? cfg.app_map[mapped] : undefined) ?? cfg.default_app ?? input.appIds[0];
  let decision: Decision | undefined;
  let reasons: string[];
  if (!app) {
    reasons = ['app_unknown'];
  } else {
    try {
      decision = (await decideForAliases(deps.decide, [input.userId, input.upn, input.mail].filter((a): a is string => !!a), {
        resource: { app },
        context: { caller: 'entra', ip: input.ip },
      }, budgetMs, deps.ownedDevices)).decision;
      reasons = decision.allow ? decision.reasons : decision.reasons.length ? decision.reasons : ['denied'];
    } catch (err) {
      reasons = [err instanceof DecisionUnavailable ? err.code : 'decision_unavailable'];
    }
  }
  if (decision?.allow) return { status: 200, body: entraClaimsResponse(entraClaims(decision, reasons)) };
  return entraDeny(cfg, decision, reasons);
}

/** A deny as `entra.deny_mode` defines it: deny claims (claim) or a 403 that stops issuance (fail). */
export function entraDeny(cfg: EntraConfig, decision: Decision | undefined, reasons: string[]): EntraAnswer {
  if (cfg.deny_mode === 'fail') {
    return { status: 403, body: { code: 'access_denied', message: `access denied: ${reasons.join(', ')}`, decision_id: decision?.decision_id ?? null, reasons } };
  }
  return { status: 200, body: entraClaimsResponse(entraClaims(decision, reasons)) };
}

/** The handler of POST /v1/hooks/entra/token-issuance-start: authenticate, parse, answer. */
export function entraHookHandler(deps: HookDeps, cfg: EntraConfig): DirectHandler {
  return hookHandler({
    authenticate: cfg.auth ? entraAuthenticator(cfg.auth, deps.keyFetch) : undefined,
    notConfiguredMessage: 'the Entra custom claims provider is not configured (entra.auth)',
    onAuthError: (err) => err.code === 'caller_not_allowed'
      ? { status: 403, body: { code: 'forbidden', message: 'caller is not the Entra authentication events service', reason: err.code } }
      : { status: 401, body: { code: 'unauthorized', message: 'provider request not authenticated', reason: err.code } },
    // Entra fails closed on non-200, which is right for a body we cannot read.
    onBodyError: (kind) => kind === 'too_large'
      ? { status: 413, body: { code: 'payload_too_large', message: 'request body too large', errors: [{ path: '', message: 'is too large' }] } }
      : { status: 400, body: { code: 'invalid_input', message: 'request body is not valid JSON', errors: [{ path: '', message: 'is not valid JSON' }] } },
    budgetMs: cfg.timeout_ms,
    onUnavailable: () => entraDeny(cfg, undefined, ['decision_unavailable']),
    answer: (body, budgetMs) => answerEntraHook(deps, cfg, body, budgetMs),
  });
}
