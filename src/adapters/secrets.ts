/** Constant-time comparison of shared secrets (bearer tokens, Basic credentials) for adapter endpoints. */
import { createHash, timingSafeEqual } from 'node:crypto';

/** True when `given` equals `expected`, in constant time (hashing first hides the length too). */
export function safeEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && given.length === expected.length;
}
