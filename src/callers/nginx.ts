// nginx auth_request front door (GET subrequest; original URI/method in X-Original-* headers). nginx
// maps anything but 2xx/401/403 to 500, so this handler answers only 200, 401 or 403 (protocols.md §3.4),
// and with headers only: the decision id, the upstream headers, X-Tether-Reasons and WWW-Authenticate
// carry everything nginx can use, and a body would cost nginx its keepalive connection (send.ts).
import type { DirectHandler } from '../api/direct/routes';
import { proxyCheck, type ProxyDeps } from './proxy-check';
import { readNginx } from './proxy-request';
import { sendHeadersOnly, toCheckRequest } from './send';

/** Handler for /v1/authz/nginx (`?app=` names the app for one nginx location). */
export function nginxHandler(deps: ProxyDeps): DirectHandler {
  return async (req, res) => {
    const check = toCheckRequest(req);
    sendHeadersOnly(res, await proxyCheck(deps, check, readNginx(check)));
  };
}
