/**
 * Signatures of the generic MDM webhook. The sender signs the Unix time it sends at together with the raw
 * body: `X-Tether-Timestamp: <seconds>`, `X-Tether-Signature: sha256=<hex HMAC-SHA256 of "<seconds>." + body>`.
 * Signing the time bounds how long a captured delivery can be replayed (see webhook.ts), the scheme
 * Stripe and Slack use for the same reason.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header carrying the signature. */
export const SIGNATURE_HEADER = 'x-tether-signature';
/** Header carrying the signed send time, Unix seconds. */
export const TIMESTAMP_HEADER = 'x-tether-timestamp';

const mac = (secret: string, at: string, body: Buffer | string) => createHmac('sha256', secret).update(at + '.').update(body).digest();

/** The headers a sender attaches to `body` sent at `atSeconds` (what an MDM integration, or a test, sends). */
export function signWebhook(secret: string, body: Buffer | string, atSeconds = Math.floor(Date.now() / 1000)): Record<string, string> {
  const at = String(atSeconds);
  return { 'X-Tether-Timestamp': at, 'X-Tether-Signature': 'sha256=' + mac(secret, at, body).toString('hex') };
}

/** Outcome of checking a delivery's headers. */
export type WebhookVerdict = { ok: true; atMs: number; signature: string } | { ok: false; problem: string };

/**
 * Checks a delivery: a valid signature (constant-time; bare hex accepted too) over the timestamp and
 * body, with the timestamp within `toleranceMs` of `nowMs`.
 */
export function verifyWebhook(secret: string, body: Buffer, signature: string | undefined, timestamp: string | undefined, nowMs: number, toleranceMs: number): WebhookVerdict {
  const hex = (signature ?? '').trim().replace(/^sha256=/i, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) return { ok: false, problem: 'missing or invalid X-Tether-Signature' };
  const at = (timestamp ?? '').trim();
  if (!/^\d{1,12}$/.test(at)) return { ok: false, problem: 'missing or invalid X-Tether-Timestamp (Unix seconds, signed with the body)' };
  if (!timingSafeEqual(mac(secret, at, body), Buffer.from(hex, 'hex'))) return { ok: false, problem: 'missing or invalid X-Tether-Signature' };
  const atMs = Number(at) * 1000;
  if (Math.abs(nowMs - atMs) > toleranceMs)
    return { ok: false, problem: `X-Tether-Timestamp is ${Math.round((nowMs - atMs) / 1000)} s from this server's clock (at most ${toleranceMs / 1000} s allowed)` };
  return { ok: true, atMs, signature: hex };
}
