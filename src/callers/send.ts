// Reads a proxy check off node:http and writes its ProxyAnswer (shared by the three proxy front doors).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setStatus, writeJson } from '../api/direct/reply';
import type { ProxyAnswer } from './proxy-check';
import type { CheckRequest } from './proxy-request';

/** The request as the protocol-neutral CheckRequest. Proxies may forward a client body: it is discarded. */
export function toCheckRequest(req: IncomingMessage): CheckRequest {
  req.resume();
  return { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, remoteAddress: req.socket.remoteAddress };
}

/** Sends the answer; decisions are per request, so nothing may cache them unless the proxy is told to. */
export function sendAnswer(res: ServerResponse, answer: ProxyAnswer): void {
  writeJson(res, answer.status, answer.body, { ...answer.headers, 'Cache-Control': 'no-store' });
}

/**
 * Sends the answer's status and headers with an empty body, for nginx: it never shows an auth
 * subrequest's body to the client (protocols.md §3.2) and reads only its headers, so a response with a
 * body makes nginx close the connection instead of returning it to the upstream keepalive pool —
 * a new TCP connection per checked request, measured at twice Tether's CPU per check.
 */
export function sendHeadersOnly(res: ServerResponse, answer: ProxyAnswer): void {
  setStatus(res, answer.status, answer.headers);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', '0');
  res.end();
}
