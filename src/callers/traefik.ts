// Traefik ForwardAuth front door: a GET to the configured address; the original request is described by
// X-Forwarded-Method/-Proto/-Host/-Uri/-For. Any 2xx allows; anything else goes to the client as is.
// forwardAuth has no option to add a static header to the auth request, but it copies the request's
// headers as they are when it runs: with proxy.caller_secret, a `headers` middleware placed before it in
// the chain sets the secret (customRequestHeaders, replacing any client copy), and listing the secret
// header in forwardAuth's authResponseHeaders deletes it from the request before it goes upstream
// (Tether never answers with it). With authRequestHeaders set, list the secret header there too.
import type { DirectHandler } from '../api/direct/routes';
import { callerRefusal, proxyCheck, type ProxyDeps } from './proxy-check';
import { readTraefik } from './proxy-request';
import { sendAnswer, toCheckRequest } from './send';

/** Handler for /v1/authz/traefik (`?app=` in the middleware address names the app). */
export function traefikHandler(deps: ProxyDeps): DirectHandler {
  return async (req, res) => {
    const check = toCheckRequest(req);
    const unauthenticated = callerRefusal(deps.config, check.headers);
    if (unauthenticated) return sendAnswer(res, unauthenticated);
    sendAnswer(res, await proxyCheck(deps, check, readTraefik(check)));
  };
}
