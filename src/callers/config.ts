// Configuration of the caller front doors (proxies, Okta hook, Entra provider): one JSON file, its JSON
// Schema (every key documented in its `description`), env-var overrides, and validation at start.
import * as fs from 'node:fs';
import Ajv, { type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { parseConfigJson } from '../config';

/** Verification settings for a bearer JWT (signature via JWKS, issuer, audience). */
export interface JwtVerifierConfig {
  issuer: string | string[];
  audience: string | string[];
  jwks_uri?: string;
  jwks?: { keys: Array<Record<string, unknown>> };
  algorithms?: string[];
  clock_tolerance_s: number;
  /** Background refresh period of `jwks_uri`, seconds (unset: 300). */
  jwks_refresh_seconds?: number;
}

/** Which decision value an upstream header carries on allow. */
export type UpstreamField =
  | 'subject' | 'device' | 'app' | 'lifecycle' | 'limited' | 'obligations' | 'policy_revision' | 'exception';

/** A host/path → app rule for proxy checks; the first matching rule wins. */
export interface AppRule { host?: string; path_prefix?: string; app: string }

/** The proxy (Envoy, nginx, Traefik) part of the configuration. */
export interface ProxyConfig {
  subject_header?: string;
  /** Shared secret every proxy check must carry in `caller_secret_header` (unset: checks are not authenticated). */
  caller_secret?: string;
  /** Header carrying `caller_secret` (default X-Tether-Proxy-Secret). */
  caller_secret_header: string;
  jwt?: JwtVerifierConfig & { subject_claim: string };
  device_header: string;
  client_cert_header?: string;
  envoy_prefix: string;
  apps: AppRule[];
  default_app?: string;
  upstream_headers: Record<string, UpstreamField>;
  timeout_ms: number;
  nginx: NginxConfig;
}

/** nginx auth_request specifics. */
export interface NginxConfig {
  /** Deny (403 original_method_missing) a check without X-Original-Method instead of assuming GET. */
  require_original_method: boolean;
}

/** How Okta authenticates to the hook: the static header it was registered with, or an OAuth 2.0 JWT. */
export type OktaAuthConfig =
  | { type: 'header'; header: string; secret: string }
  | ({ type: 'jwt' } & JwtVerifierConfig);

/** The Okta token inline hook part of the configuration. */
export interface OktaConfig {
  auth?: OktaAuthConfig;
  client_apps: Record<string, string>;
  default_app?: string;
  timeout_ms: number;
}

/** How Entra authenticates to the custom claims provider. */
export type EntraAuthConfig =
  | ({ type: 'jwt'; allowed_callers: string[] } & JwtVerifierConfig)
  | { type: 'none' };

/** The Entra custom claims provider part of the configuration. */
export interface EntraConfig {
  auth?: EntraAuthConfig;
  app_map: Record<string, string>;
  default_app?: string;
  deny_mode: 'claim' | 'fail';
  timeout_ms: number;
}

/** The whole caller configuration after defaults and env overrides. */
export interface CallersConfig {
  proxy: ProxyConfig;
  okta: OktaConfig;
  entra: EntraConfig;
}

/** Application id of the Entra authentication events service, the only legitimate caller (protocols.md §6.3). */
export const ENTRA_EVENTS_APP_ID = '99045fe1-7639-4a75-9d4a-577b6ca3810f';

/** Default of `proxy.caller_secret_header`. */
export const DEFAULT_CALLER_SECRET_HEADER = 'X-Tether-Proxy-Secret';
// A header value compares as sent only when it is visible ASCII without leading or trailing blanks (HTTP
// strips those): any other secret could never match and would deny every check.
const CALLER_SECRET_PATTERN = '^[\\x21-\\x7e](?:[\\x20-\\x7e]*[\\x21-\\x7e])?$';
const headerName = { type: 'string', pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" };
const stringOrList = (what: string) => ({
  description: what,
  anyOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 }],
});
const jwtProps = {
  issuer: stringOrList('Expected `iss` (one value or a list).'),
  audience: stringOrList('Expected `aud` (one value or a list).'),
  jwks_uri: { type: 'string', format: 'uri', description: 'URL of the issuer JWKS (fetched and cached by jose).' },
  jwks: {
    type: 'object', required: ['keys'], additionalProperties: false,
    properties: { keys: { type: 'array', items: { type: 'object' } } },
    description: 'Inline JWKS, instead of jwks_uri (offline setups and tests).',
  },
  algorithms: { type: 'array', items: { type: 'string' }, description: 'Allowed JWS algorithms (default: any asymmetric alg the key supports).' },
  clock_tolerance_s: { type: 'integer', minimum: 0, maximum: 300, default: 30, description: 'Allowed clock skew for exp/nbf, seconds.' },
  jwks_refresh_seconds: {
    type: 'integer', minimum: 10, maximum: 43200,
    description: 'How often jwks_uri is refetched in the background, seconds (default 300; 10 s to 12 h, so a failing endpoint is retried before the cached keys expire after 24 h). Requests never wait on it; only a kid the cached set lacks makes a request refetch, at most once per 30 s per JWKS. Ignored with inline jwks.',
  },
};
const jwtOneKeySource = { oneOf: [{ required: ['jwks_uri'] }, { required: ['jwks'] }] };

/** JSON Schema of the caller configuration file; the `description`s are its documentation. */
export const callersConfigSchema = {
  $id: 'https://tether.dev/schemas/callers-config.json',
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    proxy: {
      type: 'object', additionalProperties: false, default: {},
      description: 'Envoy ext_authz, nginx auth_request and Traefik ForwardAuth checks.',
      properties: {
        subject_header: { ...headerName, description: 'Trusted header carrying the subject, set by an upstream authenticator (e.g. X-Auth-Request-Email from oauth2-proxy). Env TETHER_PROXY_SUBJECT_HEADER. Only set it when the proxy strips this header from client requests.' },
        caller_secret: {
          type: 'string', minLength: 16, pattern: CALLER_SECRET_PATTERN,
          description: 'Shared secret that authenticates the proxy itself: when set, every check under /v1/authz/* must carry caller_secret_header with exactly this value (compared in constant time) before its subject or bearer token is looked at; a missing or wrong value is a 403 with reason caller_unauthenticated (never a 401, which nginx error_page 401 would turn into a sign-in). At least 16 visible ASCII characters. Strongly advised with subject_header, which anyone who can reach Tether could otherwise send. Env TETHER_PROXY_SECRET.',
        },
        caller_secret_header: { ...headerName, default: DEFAULT_CALLER_SECRET_HEADER, description: 'Header the proxy sends caller_secret in (Envoy authorization_request.headers_to_add, nginx proxy_set_header in the auth location, Traefik a headers middleware before forwardAuth). Must not be Authorization nor a header the proxy checks read or answer. Env TETHER_PROXY_SECRET_HEADER.' },
        jwt: {
          type: 'object', additionalProperties: false, required: ['issuer', 'audience'], ...jwtOneKeySource,
          description: 'Verify `Authorization: Bearer <JWT>` and take the subject from it.',
          properties: { ...jwtProps, subject_claim: { type: 'string', minLength: 1, default: 'sub', description: 'Claim naming the subject (sub, email, preferred_username, upn…).' } },
        },
        device_header: { ...headerName, default: 'X-Device-Id', description: 'Header carrying the device id. Env TETHER_PROXY_DEVICE_HEADER.' },
        client_cert_header: { ...headerName, description: 'Header carrying the client-certificate SHA-256 fingerprint (x-forwarded-client-cert is parsed for the nearest hop Hash=). When set, the device comes only from it and device_header is ignored (an mTLS device binding). Env TETHER_PROXY_CLIENT_CERT_HEADER.' },
        envoy_prefix: { type: 'string', pattern: '^/v1/authz/envoy(/[A-Za-z0-9._~-]+)*$', default: '/v1/authz/envoy', description: 'Envoy http_service.path_prefix; everything after it is the original :path. Env TETHER_ENVOY_PREFIX.' },
        apps: {
          type: 'array', default: [],
          description: 'Host/path rules naming the app when the check URL has no ?app=; first match wins.',
          items: {
            type: 'object', additionalProperties: false, required: ['app'],
            properties: {
              host: { type: 'string', minLength: 1, description: 'Exact host, or *.example.com for any subdomain; port ignored.' },
              path_prefix: { type: 'string', pattern: '^/', description: 'Original path must start with this.' },
              app: { type: 'string', minLength: 1, description: 'App catalog id.' },
            },
          },
        },
        default_app: { type: 'string', minLength: 1, description: 'App when neither ?app= nor a rule names one (unset: deny app_unknown).' },
        upstream_headers: {
          type: 'object', default: { 'X-Tether-Subject': 'subject', 'X-Tether-Lifecycle': 'lifecycle', 'X-Tether-Limited': 'limited' },
          description: 'Headers returned on allow for the proxy to pass upstream: header name → decision field. X-Tether-Decision-Id is always sent.',
          propertyNames: headerName,
          additionalProperties: { enum: ['subject', 'device', 'app', 'lifecycle', 'limited', 'obligations', 'policy_revision', 'exception'] },
        },
        timeout_ms: { type: 'integer', minimum: 10, maximum: 10000, default: 150, description: 'Decision budget; past it the check denies (403 decision_unavailable). Envoy defaults to a 200 ms timeout.' },
        nginx: {
          type: 'object', additionalProperties: false, default: {},
          description: 'nginx auth_request (GET /v1/authz/nginx).',
          properties: {
            require_original_method: {
              type: 'boolean', default: true,
              description: 'Deny (403, X-Tether-Reasons: original_method_missing) a check that carries no X-Original-Method, or one that is not an HTTP method token, instead of deciding it as a GET. A missing header means the auth location does not set it (proxy_set_header X-Original-Method $request_method), so clients can send their own: failing closed makes that misconfiguration visible at once. false restores the GET default (only for locations that serve nothing but GET/HEAD).',
            },
          },
        },
      },
    },
    okta: {
      type: 'object', additionalProperties: false, default: {},
      description: 'Okta token inline hook (com.okta.oauth2.tokens.transform) at POST /v1/hooks/okta/token.',
      properties: {
        auth: {
          type: 'object', required: ['type'], additionalProperties: false,
          description: 'How Okta authenticates; the hook answers 404 caller_not_configured while unset.',
          properties: {
            type: { enum: ['header', 'jwt'] },
            header: { ...headerName, default: 'Authorization' },
            secret: { type: 'string', minLength: 16, description: 'Static header value registered in Okta (sent verbatim). Env TETHER_OKTA_HOOK_SECRET.' },
            ...jwtProps,
          },
          allOf: [
            { if: { properties: { type: { const: 'header' } } }, then: { required: ['secret'] } },
            { if: { properties: { type: { const: 'jwt' } } }, then: { required: ['issuer', 'audience'], ...jwtOneKeySource } },
          ],
        },
        client_apps: { type: 'object', default: {}, additionalProperties: { type: 'string', minLength: 1 }, description: 'Okta client_id → Tether app id (unmapped clients use default_app, else the client_id itself).' },
        default_app: { type: 'string', minLength: 1 },
        timeout_ms: { type: 'integer', minimum: 50, maximum: 2500, default: 1500, description: 'Decision budget; Okta waits 3 s and fails open, so past this the hook denies.' },
      },
    },
    entra: {
      type: 'object', additionalProperties: false, default: {},
      description: 'Entra ID custom claims provider (OnTokenIssuanceStart) at POST /v1/hooks/entra/token-issuance-start.',
      properties: {
        auth: {
          type: 'object', required: ['type'], additionalProperties: false,
          description: 'How Entra authenticates; the provider answers 404 caller_not_configured while unset. type none is for local development only.',
          properties: {
            type: { enum: ['jwt', 'none'] },
            allowed_callers: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, default: [ENTRA_EVENTS_APP_ID], description: 'Allowed azp (v2) / appid (v1) of the caller.' },
            ...jwtProps,
          },
          allOf: [{ if: { properties: { type: { const: 'jwt' } } }, then: { required: ['issuer', 'audience'], ...jwtOneKeySource } }],
        },
        app_map: { type: 'object', default: {}, additionalProperties: { type: 'string', minLength: 1 }, description: 'Entra application (client) id → Tether app id.' },
        default_app: { type: 'string', minLength: 1 },
        deny_mode: { enum: ['claim', 'fail'], default: 'claim', description: "claim: issue the token with tether_decision=deny for the resource to enforce (Entra's only documented behaviour); fail: answer 403 so Entra fails closed and issues no token (works, not documented by Microsoft). Env TETHER_ENTRA_DENY_MODE." },
        timeout_ms: { type: 'integer', minimum: 50, maximum: 1800, default: 700, description: 'Decision budget; Entra allows 200–2000 ms and fails closed.' },
      },
    },
  },
} as const;

/** One configuration problem, naming the offending key as a dotted path. */
export interface ConfigProblem { key: string; message: string }

/** Thrown at start when the caller configuration is invalid; `problems` names every bad key. */
export class CallersConfigError extends Error {
  readonly code = 'invalid_config';
  constructor(readonly problems: ConfigProblem[]) {
    super(`invalid callers configuration: ${problems.map((p) => `${p.key}: ${p.message}`).join('; ')}`);
  }
}

type EnvOverride = { env: string; path: string[]; parse?: (v: string) => unknown };
const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
const oneOrList = (v: string) => (v.includes(',') ? list(v) : v);

/** Environment variables that override file keys (applied before validation, so their errors name the key). */
export const CALLERS_ENV_OVERRIDES: readonly EnvOverride[] = [
  { env: 'TETHER_PROXY_SUBJECT_HEADER', path: ['proxy', 'subject_header'] },
  { env: 'TETHER_PROXY_SECRET', path: ['proxy', 'caller_secret'] },
  { env: 'TETHER_PROXY_SECRET_HEADER', path: ['proxy', 'caller_secret_header'] },
  { env: 'TETHER_PROXY_DEVICE_HEADER', path: ['proxy', 'device_header'] },
  { env: 'TETHER_PROXY_CLIENT_CERT_HEADER', path: ['proxy', 'client_cert_header'] },
  { env: 'TETHER_PROXY_JWT_ISSUER', path: ['proxy', 'jwt', 'issuer'], parse: oneOrList },
  { env: 'TETHER_PROXY_JWT_AUDIENCE', path: ['proxy', 'jwt', 'audience'], parse: oneOrList },
  { env: 'TETHER_PROXY_JWKS_URI', path: ['proxy', 'jwt', 'jwks_uri'] },
  { env: 'TETHER_PROXY_DEFAULT_APP', path: ['proxy', 'default_app'] },
  { env: 'TETHER_ENVOY_PREFIX', path: ['proxy', 'envoy_prefix'] },
  { env: 'TETHER_OKTA_HOOK_SECRET', path: ['okta', 'auth', 'secret'] },
  { env: 'TETHER_ENTRA_DENY_MODE', path: ['entra', 'deny_mode'] },
  { env: 'TETHER_ENTRA_JWT_ISSUER', path: ['entra', 'auth', 'issuer'], parse: oneOrList },
  { env: 'TETHER_ENTRA_JWT_AUDIENCE', path: ['entra', 'auth', 'audience'], parse: oneOrList },
  { env: 'TETHER_ENTRA_JWKS_URI', path: ['entra', 'auth', 'jwks_uri'] },
];

let validator: ReturnType<Ajv['compile']> | undefined;
function validate(doc: unknown): ErrorObject[] {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, strictRequired: false, allowUnionTypes: true });
    addFormats(ajv);
    validator = ajv.compile(callersConfigSchema);
  }
  return validator(doc) ? [] : [...(validator.errors ?? [])];
}

function keyOf(e: ErrorObject): string {
  const parts = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (e.keyword === 'additionalProperties') parts.push(String(e.params.additionalProperty));
  if (e.keyword === 'required') parts.push(String(e.params.missingProperty));
  if (e.keyword === 'propertyNames') parts.push(String(e.params.propertyName));
  return parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '') || '(root)';
}

function messageOf(e: ErrorObject): string {
  if (e.keyword === 'additionalProperties') return 'unknown key';
  if (e.keyword === 'required') return 'is required';
  if (e.keyword === 'oneOf' && e.schemaPath.endsWith('/oneOf')) return 'set exactly one of jwks_uri or jwks';
  if (e.keyword === 'propertyNames') return 'is not a valid header name';
  if (e.keyword === 'enum') return `must be one of ${(e.params.allowedValues as unknown[]).join(', ')}`;
  if (e.keyword === 'pattern' && e.instancePath === '/proxy/caller_secret') return 'must be visible ASCII characters, without leading or trailing spaces';
  return e.message ?? 'is invalid';
}

function setPath(doc: Record<string, unknown>, path: string[], value: unknown): void {
  let node = doc;
  for (const p of path.slice(0, -1)) {
    if (typeof node[p] !== 'object' || node[p] === null) node[p] = {};
    node = node[p] as Record<string, unknown>;
  }
  node[path[path.length - 1]] = value;
}

/** Validates a parsed configuration document (file content plus env overrides) and fills defaults. */
export function parseCallersConfig(doc: unknown, env: NodeJS.ProcessEnv = {}): CallersConfig {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new CallersConfigError([{ key: '(root)', message: 'must be a JSON object' }]);
  }
  const merged = structuredClone(doc) as Record<string, unknown>;
  const fromEnv = new Map<string, string>();
  for (const o of CALLERS_ENV_OVERRIDES) {
    const v = env[o.env];
    if (v === undefined || v === '') continue;
    setPath(merged, o.path, o.parse ? o.parse(v) : v);
    fromEnv.set(o.path.join('.'), o.env);
  }
  // An Okta secret from env alone implies the static-header scheme.
  const okta = merged.okta as Record<string, unknown> | undefined;
  const oktaAuth = okta?.auth as Record<string, unknown> | undefined;
  if (oktaAuth && oktaAuth.type === undefined && fromEnv.has('okta.auth.secret')) oktaAuth.type = 'header';
  const entraAuth = (merged.entra as Record<string, unknown> | undefined)?.auth as Record<string, unknown> | undefined;
  if (entraAuth && entraAuth.type === undefined && [...fromEnv.keys()].some((k) => k.startsWith('entra.auth.'))) entraAuth.type = 'jwt';

  const errors = validate(merged);
  if (errors.length) {
    const seen = new Set<string>();
    const problems: ConfigProblem[] = [];
    for (const e of errors) {
      if (e.keyword === 'if') continue; // the failing `then` branch is reported on its own
      if (e.schemaPath.includes('/oneOf/')) continue; // summarised by the oneOf error itself
      if (e.propertyName !== undefined && e.keyword !== 'propertyNames') continue; // reported as propertyNames
      const key = keyOf(e);
      const envName = fromEnv.get(key);
      const message = messageOf(e) + (envName ? ` (set by ${envName})` : '');
      const id = `${key}|${message}`;
      if (!seen.has(id)) { seen.add(id); problems.push({ key, message }); }
    }
    throw new CallersConfigError(problems);
  }
  const config = merged as unknown as CallersConfig;
  const clash = callerSecretHeaderClash(config.proxy);
  if (clash) {
    const envName = fromEnv.get('proxy.caller_secret_header');
    throw new CallersConfigError([{ key: 'proxy.caller_secret_header', message: clash + (envName ? ` (set by ${envName})` : '') }]);
  }
  return config;
}

// Request headers the proxy checks read for the original request (proxy-request.ts), plus the user's credential.
const CHECK_REQUEST_HEADERS = [
  'authorization', 'host', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto',
  'x-forwarded-method', 'x-forwarded-uri', 'x-original-url', 'x-original-uri', 'x-original-method', 'x-real-ip',
  'x-envoy-external-address', 'x-scheme',
];

/**
 * Why `proxy.caller_secret_header` cannot be used (undefined: it can). With a secret configured it must be
 * a header of its own: one the checks also read as the subject or device would put the secret into the
 * decision (and the decision log and upstream headers), and one they answer with would be copied upstream.
 */
function callerSecretHeaderClash(p: ProxyConfig): string | undefined {
  if (p.caller_secret === undefined) return undefined;
  const name = p.caller_secret_header.toLowerCase();
  const named: Array<[string | undefined, string]> = [
    [p.subject_header, 'proxy.subject_header'],
    [p.device_header, 'proxy.device_header'],
    [p.client_cert_header, 'proxy.client_cert_header'],
  ];
  for (const [other, key] of named) if (other?.toLowerCase() === name) return `must differ from ${key}`;
  const answered = ['x-tether-decision-id', 'x-tether-reasons', 'x-envoy-auth-headers-to-remove', ...Object.keys(p.upstream_headers)];
  if (answered.some((h) => h.toLowerCase() === name)) return 'must not be a header the proxy checks answer with (proxy.upstream_headers, X-Tether-Decision-Id, X-Tether-Reasons)';
  if (CHECK_REQUEST_HEADERS.includes(name)) return `must not be ${p.caller_secret_header}, which the proxy checks read for the user or the original request`;
  return undefined;
}

/**
 * Warnings about the caller configuration, logged once at start (each a complete message, never carrying a
 * secret): an unauthenticated Entra hook, and a trusted subject header without `proxy.caller_secret`, which
 * lets anyone who can reach /v1/authz/* ask for any subject's decision.
 */
export function callersStartWarnings(config: CallersConfig): string[] {
  const p = config.proxy;
  const warnings: string[] = [];
  if (config.entra.auth?.type === 'none') warnings.push('entra custom claims provider accepts unauthenticated calls (entra.auth.type=none); development only');
  if (p.subject_header !== undefined && p.caller_secret === undefined) {
    warnings.push(
      "proxy.subject_header is set without proxy.caller_secret: anyone who can reach /v1/authz/* can ask for any subject's decision; "
      + `set TETHER_PROXY_SECRET and send it from the proxy (${p.caller_secret_header})`,
    );
  }
  return warnings;
}

/**
 * Loads the caller configuration at start: the JSON file named by `file` (or env TETHER_CALLERS_CONFIG;
 * none = defaults), then env overrides, then schema validation. Throws CallersConfigError naming bad keys.
 */
export function loadCallersConfig(opts: { file?: string; env?: NodeJS.ProcessEnv } = {}): CallersConfig {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.TETHER_CALLERS_CONFIG;
  let doc: unknown = {};
  if (file) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new CallersConfigError([{ key: '(file)', message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}` }]);
    }
    try {
      doc = parseConfigJson(text, file);
    } catch (err) {
      throw new CallersConfigError([{ key: '(file)', message: (err as Error).message }]);
    }
  }
  return parseCallersConfig(doc, env);
}
