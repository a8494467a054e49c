// Okta token inline hook (com.okta.oauth2.tokens.transform, protocols.md §5). Okta fails OPEN on any
// non-200, timeout or invalid command set, so every deny — unknown user, inactive user, malformed body,
// missing state, slow decider — is a 200 with an `error` object, answered well inside Okta's 3 s.
import type { DirectHandler } from '../api/direct/routes';
import { DecisionUnavailable } from './budget';
import type { OktaConfig } from './config';
import { decideForAliases, deviceTrust, type HookDeps } from './hook-decide';
import { oktaAuthenticator } from './hook-auth';
import { hookHandler } from './hook-http';
import type { Decision } from './types';

export const OKTA_EVENT_TYPE = 'com.okta.oauth2.tokens.transform';

/** What the hook needs from Okta's request. */
export interface OktaHookInput {
  eventId?: string;
  userId?: string;
  login?: string;
  clientId?: string;
  ip?: string;
  /** Which tokens are being minted: patches for a token not requested void every command. */
  identityToken: boolean;
  accessToken: boolean;
}

/** One JSON Patch op of an Okta command. */
export interface OktaPatchOp { op: 'add' | 'replace' | 'remove'; path: string; value?: unknown }

/** The hook's answer body (allow: commands; deny: error). */
export interface OktaHookResponse {
  commands?: Array<{ type: 'com.okta.identity.patch' | 'com.okta.access.patch'; value: OktaPatchOp[] }>;
  error?: { errorSummary: string; errorCauses?: Array<{ errorSummary: string; reason: string; locationType: string; location: string; domain: string }> };
  debugContext?: Record<string, unknown>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

/** Parses Okta's request; returns a reason code instead when the body is not a token-transform event. */
export function parseOktaHook(body: unknown): OktaHookInput | { invalid: string } {
  if (!isObj(body)) return { invalid: 'body must be a JSON object' };
  if (body.eventType !== OKTA_EVENT_TYPE) return { invalid: `eventType must be ${OKTA_EVENT_TYPE}` };
  const data = body.data;
  if (!isObj(data) || !isObj(data.context)) return { invalid: 'data.context is missing' };
  const ctx = data.context;
  const user = isObj(ctx.user) ? ctx.user : undefined;
  const session = isObj(ctx.session) ? ctx.session : undefined;
  const profile = user && isObj(user.profile) ? user.profile : undefined;
  const protocol = isObj(ctx.protocol) ? ctx.protocol : undefined;
  const client = protocol && isObj(protocol.client) ? protocol.client : undefined;
  const preq = protocol && isObj(protocol.request) ? protocol.request : undefined;
  const request = isObj(ctx.request) ? ctx.request : undefined;
  return {
    eventId: str(body.eventId),
    userId: str(user?.id) ?? str(session?.userId),
    login: str(profile?.login) ?? str(session?.login),
    clientId: str(client?.id) ?? str(preq?.client_id),
    ip: str(request?.ipAddress),
    identityToken: isObj(data.identity),
    accessToken: isObj(data.access),
  };
}

/** Deny: a 200 whose `error` makes Okta fail the token request (error_description = errorSummary). */
export function oktaDeny(reasons: string[], decisionId?: string): OktaHookResponse {
  return {
    error: {
      errorSummary: `Tether denied token issuance: ${reasons.join(', ')}`,
      errorCauses: reasons.map((r) => ({ errorSummary: r, reason: r, locationType: 'body', location: 'data.context.user', domain: 'tether' })),
    },
    debugContext: { tether_decision_id: decisionId ?? null, tether_reasons: reasons.join(',') },
  };
}

/** Allow: add tether_device_trust and tether_lifecycle to exactly the tokens being minted. */
export function oktaAllow(input: OktaHookInput, d: Decision): OktaHookResponse {
  const ops: OktaPatchOp[] = [
    { op: 'add', path: '/claims/tether_device_trust', value: deviceTrust(d) },
    { op: 'add', path: '/claims/tether_lifecycle', value: d.lifecycle ?? 'unknown' },
  ];
  const commands: NonNullable<OktaHookResponse['commands']> = [];
  if (input.identityToken) commands.push({ type: 'com.okta.identity.patch', value: ops });
  if (input.accessToken) commands.push({ type: 'com.okta.access.patch', value: ops });
  return { commands, debugContext: { tether_decision_id: d.decision_id, tether_reasons: d.reasons.join(',') } };
}

/** Decides one hook call; never throws: every failure is an Okta deny. */
export async function answerOktaHook(deps: HookDeps, cfg: OktaConfig, body: unknown, budgetMs = cfg.timeout_ms): Promise<OktaHookResponse> {
  const input = parseOktaHook(body);
  if ('invalid' in input) return oktaDeny(['invalid_hook_request']);
  const aliases = [input.userId, input.login].filter((a): a is string => a !== undefined);
  if (aliases.length === 0) return oktaDeny(['user_missing']);
  const app = (input.clientId && Object.hasOwn(cfg.client_apps, input.clientId) ? cfg.client_apps[input.clientId] : undefined) ?? cfg.default_app ?? input.clientId;
  if (!app) return oktaDeny(['app_unknown']);
  try {
    const { decision } = await decideForAliases(deps.decide, aliases, {
      resource: { app },
      context: { caller: 'okta', ip: input.ip },
    }, budgetMs, deps.ownedDevices);
    return decision.allow ? oktaAllow(input, decision) : oktaDeny(decision.reasons.length ? decision.reasons : ['denied'], decision.decision_id);
  } catch (err) {
    return oktaDeny([err instanceof DecisionUnavailable ? err.code : 'decision_unavailable']);
  }
}

/** The handler of POST /v1/hooks/okta/token: authenticate, parse, answer (always 200 once authentic). */
export function oktaHookHandler(deps: HookDeps, cfg: OktaConfig): DirectHandler {
  return hookHandler({
    authenticate: cfg.auth ? oktaAuthenticator(cfg.auth, deps.keyFetch) : undefined,
    notConfiguredMessage: 'the Okta token hook is not configured (okta.auth)',
    onAuthError: (err) => ({ status: 401, body: { code: 'unauthorized', message: 'hook request not authenticated', reason: err.code } }),
    // Okta fails open on non-200: an unreadable body is a deny in Okta's shape.
    onBodyError: () => ({ status: 200, body: oktaDeny(['invalid_hook_request']) }),
    budgetMs: cfg.timeout_ms,
    // Okta fails open on a 401 too: keys we cannot fetch in time are a deny, in Okta's shape.
    onUnavailable: () => ({ status: 200, body: oktaDeny(['decision_unavailable']) }),
    answer: async (body, budgetMs) => ({ status: 200, body: await answerOktaHook(deps, cfg, body, budgetMs) }),
  });
}
