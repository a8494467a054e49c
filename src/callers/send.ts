// Writes a ProxyAnswer onto an express response (shared by the three proxy front doors).
import type { Request, Response } from 'express';
import type { ProxyAnswer } from './proxy-check';
import type { CheckRequest } from './proxy-request';

/** The express request as the protocol-neutral CheckRequest (full URL, not the router-relative one). */
export function toCheckRequest(req: Request): CheckRequest {
  return { method: req.method, url: req.originalUrl, headers: req.headers, remoteAddress: req.socket.remoteAddress };
}

/** Sends the answer; decisions are per request, so nothing may cache them unless the proxy is told to. */
export function sendAnswer(res: Response, answer: ProxyAnswer): void {
  res.status(answer.status).set(answer.headers).set('Cache-Control', 'no-store').json(answer.body);
}
