// Reads what each proxy tells us about the original request (protocols.md §2–4) into one shape, and
// resolves the device and the app from it. Pure: no I/O, no decisions.
import type { IncomingHttpHeaders } from 'node:http';
import type { AppRule, ProxyConfig } from './config';

/** Which proxy asked. */
export type ProxyKind = 'envoy' | 'nginx' | 'traefik';

/** The original client request as reconstructed from a proxy's check request. */
export interface OriginalRequest {
  proxy: ProxyKind;
  method: string;
  host: string | undefined;
  /** Path without the query string. */
  path: string;
  /** Path with the query string, as the client sent it. */
  uri: string;
  proto: string | undefined;
  ip: string | undefined;
}

/** A check request reduced to what the front doors need (independent of express). */
export interface CheckRequest {
  method: string;
  /** The check request's own URL (path + query) as received by Tether. */
  url: string;
  headers: IncomingHttpHeaders;
  remoteAddress?: string;
}

/** First value of a header (node lowercases names; repeated headers arrive as arrays for some names). */
export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined) return undefined;
  const t = s.trim();
  return t === '' ? undefined : t;
}

function splitUri(uri: string): { path: string; uri: string } {
  const u = uri.startsWith('/') ? uri : `/${uri}`;
  const q = u.indexOf('?');
  return { path: q < 0 ? u : u.slice(0, q), uri: u };
}

/** The proxy appends the address it saw last in X-Forwarded-For; earlier entries are client-supplied. */
function clientIp(headers: IncomingHttpHeaders, remote?: string): string | undefined {
  const xff = header(headers, 'x-forwarded-for');
  if (xff) {
    const parts = xff.split(',').map((s) => s.trim()).filter(Boolean);
    if (parts.length) return parts[parts.length - 1];
  }
  return header(headers, 'x-real-ip') ?? header(headers, 'x-envoy-external-address') ?? remote;
}

/** Envoy ext_authz HTTP: method is the client's, path = path_prefix + original :path (with query). */
export function readEnvoy(req: CheckRequest, prefix: string): OriginalRequest | undefined {
  // Case-insensitive, as the router that sent the check here (src/api/direct/routes.ts) matches paths.
  if (req.url.slice(0, prefix.length).toLowerCase() !== prefix.toLowerCase()) return undefined;
  const rest = req.url.slice(prefix.length);
  if (rest !== '' && !rest.startsWith('/') && !rest.startsWith('?')) return undefined; // /v1/authz/envoyX is not ours
  const { path, uri } = splitUri(rest === '' ? '/' : rest);
  return {
    proxy: 'envoy',
    method: req.method.toUpperCase(),
    host: header(req.headers, 'host'),
    path,
    uri,
    proto: header(req.headers, 'x-forwarded-proto'),
    ip: clientIp(req.headers, req.remoteAddress),
  };
}

/**
 * nginx auth_request: a GET subrequest; the original URI/method travel in X-Original-* headers. The
 * subrequest inherits the client's headers (protocols.md §3.2), so only headers the auth location sets
 * with proxy_set_header (which replaces a client's copy) can be trusted. `X-Original-URL` (ingress-nginx,
 * Authelia-style snippets) decides host, path and scheme whenever it is present and parses; only without
 * it are `X-Original-URI` and `X-Forwarded-Host` / `X-Forwarded-Proto` read, and those must then be set
 * by the auth location (README: the nginx configuration).
 */
export function readNginx(req: CheckRequest): OriginalRequest {
  const h = req.headers;
  let host: string | undefined;
  let uri: string | undefined;
  let proto: string | undefined;
  let fromUrl = false;
  const full = header(h, 'x-original-url'); // ingress-nginx: $scheme://$http_host$request_uri
  if (full) {
    try {
      const u = new URL(full);
      if (u.host !== '') {
        host = u.host;
        uri = u.pathname + u.search;
        proto = u.protocol.replace(/:$/, '');
        fromUrl = true;
      }
    } catch {
      // not a URL: ignore it rather than guess
    }
  }
  if (!fromUrl) {
    host = header(h, 'x-forwarded-host');
    uri = header(h, 'x-original-uri');
    proto = header(h, 'x-forwarded-proto') ?? header(h, 'x-scheme');
  }
  const parts = splitUri(uri ?? '/');
  return {
    proxy: 'nginx',
    method: (header(h, 'x-original-method') ?? 'GET').toUpperCase(),
    host: host ?? header(h, 'host'),
    ...parts,
    proto,
    ip: clientIp(h, req.remoteAddress),
  };
}

/** Traefik ForwardAuth: always a GET to the address; the original request is in X-Forwarded-*. */
export function readTraefik(req: CheckRequest): OriginalRequest {
  const h = req.headers;
  const parts = splitUri(header(h, 'x-forwarded-uri') ?? '/');
  return {
    proxy: 'traefik',
    method: (header(h, 'x-forwarded-method') ?? 'GET').toUpperCase(),
    host: header(h, 'x-forwarded-host') ?? header(h, 'host'),
    ...parts,
    proto: header(h, 'x-forwarded-proto'),
    ip: clientIp(h, req.remoteAddress),
  };
}

/** `app` from the check URL's own query (nginx/Traefik only: Envoy's query belongs to the client). */
export function queryApp(checkUrl: string): string | undefined {
  const q = checkUrl.indexOf('?');
  if (q < 0) return undefined;
  const v = new URLSearchParams(checkUrl.slice(q + 1)).get('app');
  return v && v.trim() ? v.trim() : undefined;
}

function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  if (p.startsWith('*.')) return host.endsWith(p.slice(1)) && host.length > p.length - 1;
  return host === p;
}

/** The first rule whose host and path prefix match the original request, else undefined. */
export function ruleApp(rules: AppRule[], orig: Pick<OriginalRequest, 'host' | 'path'>): string | undefined {
  const host = (orig.host ?? '').toLowerCase().replace(/:\d+$/, '');
  for (const r of rules) {
    if (r.host !== undefined && !hostMatches(r.host, host)) continue;
    if (r.path_prefix !== undefined && !pathHasPrefix(orig.path, r.path_prefix)) continue;
    return r.app;
  }
  return undefined;
}

/** Prefix match on whole segments: /pay matches /pay and /pay/x but not /payroll. */
function pathHasPrefix(path: string, prefix: string): boolean {
  if (prefix === '/' || prefix.endsWith('/')) return path.startsWith(prefix);
  return path === prefix || path.startsWith(`${prefix}/`);
}

/** Resolves the app: ?app= on the check URL, then host/path rules, then the configured default. */
export function resolveApp(cfg: ProxyConfig, req: CheckRequest, orig: OriginalRequest): string | undefined {
  return (orig.proxy === 'envoy' ? undefined : queryApp(req.url)) ?? ruleApp(cfg.apps, orig) ?? cfg.default_app;
}

/** One key=value pair of an XFCC element: key lowercased, value unquoted and unescaped. */
export interface XfccPair { key: string; value: string; quoted: boolean }
/** One XFCC element (one hop). */
export type XfccElement = XfccPair[];

/**
 * Parses Envoy's `x-forwarded-client-cert`: elements (hops) separated by commas, key=value pairs by
 * semicolons, both only outside double quotes; a quoted value may contain `,` `;` `=` and the escapes
 * `\"` and `\\`. Returns undefined for a malformed value (unterminated quote, pair without `=`, text
 * after a closing quote), so a crafted value never yields a fingerprint.
 */
export function parseXfcc(value: string): XfccElement[] | undefined {
  const elements: XfccElement[] = [];
  let pairs: XfccElement = [];
  let i = 0;
  const n = value.length;
  for (;;) {
    // one pair: key '=' value
    while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
    const eq = value.indexOf('=', i);
    const keyEnd = eq < 0 ? n : eq;
    const key = value.slice(i, keyEnd).trim();
    if (eq < 0 || key === '' || /[,;"\\]/.test(key)) return undefined;
    i = eq + 1;
    let v = '';
    const quoted = value[i] === '"';
    if (quoted) {
      i++;
      let closed = false;
      while (i < n) {
        const c = value[i];
        if (c === '\\') {
          if (i + 1 >= n) return undefined;
          v += value[i + 1];
          i += 2;
        } else if (c === '"') {
          i++;
          closed = true;
          break;
        } else {
          v += c;
          i++;
        }
      }
      if (!closed) return undefined;
      while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
      if (i < n && value[i] !== ';' && value[i] !== ',') return undefined;
    } else {
      const start = i;
      while (i < n && value[i] !== ';' && value[i] !== ',') {
        if (value[i] === '"' || value[i] === '\\') return undefined;
        i++;
      }
      v = value.slice(start, i).trim();
    }
    pairs.push({ key: key.toLowerCase(), value: v, quoted });
    if (i >= n) break;
    if (value[i] === ',') {
      elements.push(pairs);
      pairs = [];
    }
    i++; // past ';' or ','
  }
  elements.push(pairs);
  return elements;
}

/**
 * SHA-256 fingerprint from a client-cert header: Envoy's XFCC `Hash=` of the nearest hop (the last
 * element, the one the Envoy in front of Tether added), or a bare hex value.
 */
export function certFingerprint(value: string): string | undefined {
  let v = value;
  if (value.includes('=')) {
    const elements = parseXfcc(value);
    if (!elements) return undefined;
    const nearest = elements[elements.length - 1];
    const hashes = nearest.filter((p) => p.key === 'hash');
    if (hashes.length !== 1) return undefined; // none, or an ambiguous element: fail closed
    // Envoy writes URI= and DNS= SANs unquoted, and a certificate's SAN may itself contain `,Hash=…`:
    // a hop boundary right after an unquoted URI/DNS value may be part of that SAN. Fail closed.
    const before = elements.length > 1 ? elements[elements.length - 2] : undefined;
    const last = before?.[before.length - 1];
    if (last && !last.quoted && (last.key === 'uri' || last.key === 'dns') && last.value !== '') return undefined;
    v = hashes[0].value;
  }
  const hex = v.replace(/:/g, '').toLowerCase();
  return /^[0-9a-f]{40,128}$/.test(hex) ? hex : undefined;
}

/**
 * The device id. With `client_cert_header` configured the device comes only from the client
 * certificate (an mTLS device binding): the device header is ignored, since any client can send it.
 * Otherwise the device header, else none.
 */
export function resolveDevice(cfg: ProxyConfig, headers: IncomingHttpHeaders): string | undefined {
  if (cfg.client_cert_header) {
    const raw = header(headers, cfg.client_cert_header);
    return raw === undefined ? undefined : certFingerprint(raw);
  }
  const id = header(headers, cfg.device_header);
  return id === undefined ? undefined : id.slice(0, 256);
}
