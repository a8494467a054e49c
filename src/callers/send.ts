// Reads a proxy check off node:http and writes its ProxyAnswer (shared by the three proxy front doors).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { closeAfterResponse, hasBody } from '../api/direct/body';
import { setStatus, writeJson } from '../api/direct/reply';
import type { ProxyAnswer } from './proxy-check';
import type { CheckRequest } from './proxy-request';

/** The request as the protocol-neutral CheckRequest. Proxies may forward a client body: it is discarded. */
export function toCheckRequest(req: IncomingMessage): CheckRequest {
  req.resume();
  return { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, remoteAddress: req.socket.remoteAddress };
}

/**
 * Ends the connection after the answer when the check declared a body that has not fully arrived. nginx's
 * auth subrequest runs before nginx reads the client's body, so it sends none, yet it carries the client's
 * Content-Length unless the location sets `proxy_set_header Content-Length ""` (protocols.md §3.4 gotcha 3).
 * Answered at once on a kept-alive connection, the bytes of nginx's next check on it were read as that
 * missing body: the next check hung until nginx's proxy_read_timeout or was garbled, a 500 to the client
 * either way. `Connection: close` makes the proxy use another connection; a body that does arrive (Envoy's
 * with_request_body) has usually arrived with the headers by the time of the answer, so its connection stays.
 */
function closeIfBodyPending(res: ServerResponse): void {
  const req = res.req;
  if (req && hasBody(req) && !req.complete) closeAfterResponse(req, res);
}

/** Sends the answer; decisions are per request, so nothing may cache them unless the proxy is told to. */
export function sendAnswer(res: ServerResponse, answer: ProxyAnswer): void {
  closeIfBodyPending(res);
  writeJson(res, answer.status, answer.body, { ...answer.headers, 'Cache-Control': 'no-store' });
}

/**
 * Sends the answer's status and headers with an empty body, for nginx: it never shows an auth
 * subrequest's body to the client (protocols.md §3.2) and reads only its headers, so a response with a
 * body makes nginx close the connection instead of returning it to the upstream keepalive pool —
 * a new TCP connection per checked request, measured at twice Tether's CPU per check.
 */
export function sendHeadersOnly(res: ServerResponse, answer: ProxyAnswer): void {
  closeIfBodyPending(res);
  setStatus(res, answer.status, answer.headers);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', '0');
  res.end();
}
