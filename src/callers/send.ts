// Reads a proxy check off node:http and writes its ProxyAnswer (shared by the three proxy front doors).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { writeJson } from '../api/direct/reply';
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
