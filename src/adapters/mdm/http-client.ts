/**
 * A small JSON API client for MDM pollers: OAuth 2.0 client-credentials tokens (cached, refreshed
 * on expiry and on 401), and throttling (429/503 with Retry-After, bounded), with timeouts.
 */

/** A failure talking to an MDM API; `message` carries no secrets. */
export class MdmApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'MdmApiError';
  }
}

/** How to get a bearer token. */
export interface TokenSource {
  /** Token endpoint URL. */
  url: string;
  /** Form fields (client_id, client_secret, scope, grant_type…). */
  form: Record<string, string>;
  /** Extra headers (e.g. Basic auth for Jamf's /api/v1/auth/token). */
  headers?: Record<string, string>;
}

/** Client options. */
export interface ApiClientOptions {
  token: TokenSource;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  /** Most throttled retries of one request (default 5). */
  maxRetries?: number;
  /** Longest Retry-After honoured in one wait (default 60 s); longer ones fail this poll. */
  maxRetryAfterMs?: number;
  /** Sleep, for tests. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** Parses Retry-After (seconds or HTTP date) into ms; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, nowMs = Date.now()): number | undefined {
  if (!header) return undefined;
  const secs = Number(header.trim());
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}

/** OAuth-authenticated JSON GETs with retry rules. */
export class ApiClient {
  private token?: { value: string; expiresAt: number };
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  /** Token fetches and throttled waits so far (tests, diagnostics). */
  tokenFetches = 0;
  throttledWaits = 0;

  constructor(private readonly opts: ApiClientOptions) {
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.now = opts.now ?? Date.now;
  }

  private async fetchToken(): Promise<string> {
    this.tokenFetches++;
    const res = await fetch(this.opts.token.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...this.opts.token.headers },
      body: new URLSearchParams(this.opts.token.form).toString(),
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new MdmApiError(`token endpoint answered HTTP ${res.status}`, res.status);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new MdmApiError('token endpoint answered non-JSON');
    }
    // OAuth: access_token + expires_in (s); Jamf's classic endpoint: token + expires (date).
    const value = (body.access_token ?? body.token) as string | undefined;
    if (typeof value !== 'string' || value === '') throw new MdmApiError('token endpoint answered no access_token');
    const expiresIn = typeof body.expires_in === 'number' ? body.expires_in * 1000 : typeof body.expires === 'string' ? Date.parse(body.expires) - this.now() : 300_000;
    // Refresh a minute early so a poll never starts with a token about to expire.
    this.token = { value, expiresAt: this.now() + Math.max(0, expiresIn - 60_000) };
    return value;
  }

  private async bearer(force = false): Promise<string> {
    if (!force && this.token && this.token.expiresAt > this.now()) return this.token.value;
    return this.fetchToken();
  }

  /** GETs a JSON document: refreshes the token once on 401, waits out 429/503 Retry-After. */
  async getJson<T = unknown>(url: string, headers: Record<string, string> = {}): Promise<T> {
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      const token = await this.bearer();
      let res: Response;
      try {
        res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...headers }, signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000) });
      } catch (err) {
        throw new MdmApiError(`request failed: ${(err as Error).name}`);
      }
      if (res.status === 401 && !refreshed) {
        await res.arrayBuffer().catch(() => undefined);
        refreshed = true;
        this.token = undefined; // revoked or expired early: get a new one and retry once
        continue;
      }
      if ((res.status === 429 || res.status === 503) && attempt < (this.opts.maxRetries ?? 5)) {
        await res.arrayBuffer().catch(() => undefined);
        const wait = retryAfterMs(res.headers.get('retry-after'), this.now()) ?? Math.min(30_000, 1000 * 2 ** attempt);
        if (wait > (this.opts.maxRetryAfterMs ?? 60_000)) throw new MdmApiError(`throttled for ${Math.round(wait / 1000)}s`, res.status);
        this.throttledWaits++;
        await this.sleep(wait);
        continue;
      }
      const text = await res.text();
      if (!res.ok) throw new MdmApiError(`GET answered HTTP ${res.status}`, res.status);
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new MdmApiError('GET answered non-JSON');
      }
    }
  }
}
