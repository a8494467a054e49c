// Traefik ForwardAuth front door: a GET to the configured address; the original request is described by
// X-Forwarded-Method/-Proto/-Host/-Uri/-For. Any 2xx allows; anything else goes to the client as is.
import type { DirectHandler } from '../api/direct/routes';
import { proxyCheck, type ProxyDeps } from './proxy-check';
import { readTraefik } from './proxy-request';
import { sendAnswer, toCheckRequest } from './send';

/** Handler for /v1/authz/traefik (`?app=` in the middleware address names the app). */
export function traefikHandler(deps: ProxyDeps): DirectHandler {
  return async (req, res) => {
    const check = toCheckRequest(req);
    sendAnswer(res, await proxyCheck(deps, check, readTraefik(check)));
  };
}
