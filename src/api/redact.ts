// URLs with credentials (scheme://user:password@host) as they may appear in error texts and logged URIs:
// the credentials part is masked, wherever in the text a URL stands.

/** `text` with the `user:password@` of every URL in it replaced by `***@`. */
export function withoutCredentials(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi, '$1***@');
}
