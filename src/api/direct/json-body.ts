// JSON request bodies for direct routes, answering like the express app's JSON parser: 415 for a
// non-JSON type or a charset other than UTF-8, 413 over the limit, 400 naming the body when unparsable.
// A refused body is not read to its end (refuseBody in body.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from '../errors';
import { hasBody, readBody, refuseBody } from './body';

/** True when the request's content type is JSON: application/json or any application/*+json (e.g. SCIM's). */
export function isJsonRequest(req: IncomingMessage): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.!#$&^_-]+\+json$/.test(type);
}

/** The 415 for a body that is not JSON. */
export function notJson(req: IncomingMessage): ApiError {
  return new ApiError('unsupported_media_type', `request bodies must be application/json, got ${req.headers['content-type'] ?? 'none'}`);
}

/** The parsed JSON body, or undefined when the request has none. Throws ApiError/BodyError. */
export async function readJsonBody(req: IncomingMessage, limitBytes: number, res?: ServerResponse): Promise<unknown> {
  if (!hasBody(req)) return undefined;
  if (!isJsonRequest(req)) {
    refuseBody(req, limitBytes, res);
    throw notJson(req);
  }
  // RFC 8259: JSON exchanged between systems is UTF-8.
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1].toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    refuseBody(req, limitBytes, res);
    throw new ApiError('unsupported_media_type', `unsupported charset "${charset.toUpperCase()}" (JSON bodies must be UTF-8)`);
  }
  const bytes = await readBody(req, limitBytes, res);
  if (bytes.length === 0) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ApiError('invalid_input', 'request body is not valid JSON', [{ path: '', message: 'is not valid JSON' }]);
  }
}
