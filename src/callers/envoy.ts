// Envoy ext_authz (HTTP service) front door: any method on any path under the configured prefix
// (Envoy's http_service.path_prefix + the original :path). Only an exact 200 allows (protocols.md §2.6).
// With proxy.caller_secret, Envoy sends the secret with http_service.authorization_request.headers_to_add
// (Istio: the extension provider's includeAdditionalHeadersInCheck); it goes to the check request only.
import type { DirectHandler } from '../api/direct/routes';
import { callerRefusal, denyAnswer, proxyCheck, type ProxyDeps } from './proxy-check';
import { readEnvoy } from './proxy-request';
import { sendAnswer, toCheckRequest } from './send';

/** Handler for `<envoy_prefix>/*`; mount it on every method under /v1/authz/envoy. */
export function envoyHandler(deps: ProxyDeps): DirectHandler {
  return async (req, res) => {
    const check = toCheckRequest(req);
    const unauthenticated = callerRefusal(deps.config, check.headers);
    if (unauthenticated) return sendAnswer(res, unauthenticated);
    const orig = readEnvoy(check, deps.config.envoy_prefix);
    // A path outside the configured prefix is a misrouted check: deny, never 404 (Envoy would forward it).
    if (!orig) return sendAnswer(res, denyAnswer(['check_path_unknown']));
    sendAnswer(res, await proxyCheck(deps, check, orig));
  };
}
