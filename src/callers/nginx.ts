// nginx auth_request front door (GET subrequest; original URI/method in X-Original-* headers). nginx
// maps anything but 2xx/401/403 to 500, so this handler answers only 200, 401 or 403 (protocols.md §3.4),
// and with headers only: the decision id, the upstream headers, X-Tether-Reasons and WWW-Authenticate
// carry everything nginx can use, and a body would cost nginx its keepalive connection (send.ts).
// With proxy.caller_secret, the auth location sends it with proxy_set_header (which replaces a client's
// copy and applies to the auth subrequest only); ingress-nginx: the auth-proxy-set-headers ConfigMap.
import type { IncomingHttpHeaders } from 'node:http';
import type { DirectHandler } from '../api/direct/routes';
import type { ProxyConfig } from './config';
import { callerRefusal, denyAnswer, proxyCheck, type ProxyDeps } from './proxy-check';
import { header, readNginx } from './proxy-request';
import { sendHeadersOnly, toCheckRequest } from './send';

/** An HTTP method is a token (RFC 9110 §9.1, §5.6.2). */
const METHOD_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;

/**
 * Why a check must be refused before deciding, given `proxy.nginx`: with `require_original_method`
 * (the default) a missing X-Original-Method — the auth location does not set it, so whatever a client
 * sends would reach Tether — or a value that is not a method is refused rather than decided as a GET.
 */
export function nginxRefusal(cfg: ProxyConfig, headers: IncomingHttpHeaders): string | undefined {
  if (cfg.nginx?.require_original_method === false) return undefined;
  const method = header(headers, 'x-original-method');
  if (method === undefined) return 'original_method_missing';
  if (!METHOD_TOKEN.test(method)) return 'original_method_invalid';
  return undefined;
}

/** Handler for /v1/authz/nginx (`?app=` names the app for one nginx location). */
export function nginxHandler(deps: ProxyDeps): DirectHandler {
  return async (req, res) => {
    const check = toCheckRequest(req);
    const unauthenticated = callerRefusal(deps.config, check.headers);
    if (unauthenticated) return sendHeadersOnly(res, unauthenticated);
    const refused = nginxRefusal(deps.config, check.headers);
    if (refused) return sendHeadersOnly(res, denyAnswer([refused]));
    sendHeadersOnly(res, await proxyCheck(deps, check, readNginx(check)));
  };
}
