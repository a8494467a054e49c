// Safe-to-log forms of what may carry credentials: URLs with credentials (scheme://user:password@host) as
// they may appear in error texts and logged URIs, and why a fetch of such a URL failed.

/** `text` with the `user:password@` of every URL in it replaced by `***@`. */
export function withoutCredentials(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi, '$1***@');
}

/**
 * Why a fetch failed, as a code safe to log and to answer: the error's own code (jose's ERR_JWKS_TIMEOUT),
 * else its cause's (ECONNREFUSED, ENOTFOUND: what fetch's bare "TypeError: fetch failed" hides), else its
 * name. Never its message: for a URL with credentials (user:password@, which fetch refuses) that quotes the
 * URL, password included.
 */
export function fetchErrorCode(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown; cause?: { code?: unknown } } | undefined;
  const code = e?.code ?? e?.cause?.code ?? e?.name;
  return typeof code === 'string' ? code : 'fetch_failed';
}
