// Service configuration from the environment: one table, defaults, validation, and the API token
// bootstrap (generated once under the data dir when TETHER_API_TOKEN is unset).
//
// | variable                        | default              | meaning                                                        |
// |---------------------------------|----------------------|----------------------------------------------------------------|
// | PORT                            | 8181                 | HTTP port (OPA's)                                              |
// | HOST                            | 0.0.0.0              | listen address                                                 |
// | TETHER_DATA_DIR                 | ./data               | durable state (tether.db + WAL), generated api-token           |
// | TETHER_API_TOKEN                | generated            | bearer token for state writes and admin reads; if unset, read  |
// |                                 |                      | from <data>/api-token or generated there and printed once      |
// | TETHER_DECISION_TOKEN           | unset (open)         | bearer token for decision routes; unset = open (sidecar use)   |
// | TETHER_POLICY_DIR               | ./policies           | Rego policies + data.json compiled at start                    |
// | TETHER_POLICY_WATCH             | true                 | recompile and swap on changes under the policy dir             |
// | TETHER_POLICY_PRINT             | false                | compile print(...) calls and log their lines (info, "policy    |
// |                                 |                      | print"); off, they are dropped at compile time                 |
// | TETHER_POLICY_BUNDLE            | unset                | serve this OPA bundle (.tar.gz, `tether build` or `opa build   |
// |                                 |                      | -t wasm`) instead of compiling TETHER_POLICY_DIR               |
// | TETHER_BODY_LIMIT               | 1mb                  | largest JSON request body (413 payload_too_large beyond)       |
// | TETHER_IMPORT_LIMIT             | 2gb                  | largest NDJSON bulk import body                                |
// | TETHER_IMPORT_BATCH             | 1000                 | NDJSON lines per import transaction (one ack per batch)        |
// | TETHER_CACHE_SIZE               | 100000               | entries in the decision-path LRU cache                         |
// | TETHER_RESIDENT_MEMORY          | 2gb, at most half    | memory for resident, off-heap copies of what decisions read    |
// |                                 | the memory limit     |                                                                |
// |                                 |                      | (identities, aliases, devices by owner, lifecycle status       |
// |                                 |                      | starts; ~1.1 KB per identity with two devices); 0 = off. When  |
// |                                 |                      | full, the rest is read from SQLite through the LRU cache       |
// | TETHER_SQLITE_SYNC              | full                 | full: acked writes survive power loss; normal: kill -9 only    |
// | TETHER_SQLITE_MMAP              | 0                    | bytes of the database read through mmap (0 = off; see README) |
// | TETHER_MAX_EXCEPTION_HOURS      | 72                   | longest exception (expires_at bound)                           |
// | TETHER_MAX_BREAK_GLASS_MINUTES  | 240                  | longest break-glass window                                     |
// | TETHER_MAX_CLOCK_SKEW_SECONDS   | 300                  | observed_at/activated_at further ahead of this clock: 400      |
// | TETHER_DECISION_LOG             | <data>/decisions.log | decision log (JSON lines); "-" = stdout, "off" = disabled      |
// | TETHER_DECISION_LOG_BUFFER      | 10000                | decision log buffer entries before dropping allows             |
// | TETHER_LOG_LEVEL                | info                 | debug, info, warn, error                                       |
// | TETHER_SHUTDOWN_TIMEOUT_MS      | 10000                | graceful shutdown: wait this long for in-flight requests, and  |
// |                                 |                      | as long again for shutdown hooks (log/outbox flush)            |
// | TETHER_REQUEST_TIMEOUT_MS       | 3600000              | longest time to receive one request (bulk imports stream long) |
// | TETHER_LIFECYCLE_SWEEP_SECONDS  | 86400                | safety-net full lifecycle sweep period (0 = off); time-driven  |
// |                                 |                      | changes are found by per-identity deadlines, not by this sweep |
// | TETHER_LIFECYCLE_CATCHUP_PERCENT| 10                   | share of one core a long lifecycle backlog (bulk import,       |
// |                                 |                      | policy change, sweep) may use; 100 = back to back, fastest     |
// | TETHER_WARMUP_REQUESTS          | 5000                 | sample decisions a server serves itself before it listens, so  |
// |                                 |                      | its first real requests run warm (not logged or counted); 0=off|
// | TETHER_HEAP_SETTLE              | 16mb                 | once bulk work (import, catch-up, resident fill) is over, run  |
// |                                 |                      | one full GC if the heap grew this much (needs --expose-gc); 0=off|
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Log levels, least to most severe. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Resolved service configuration. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** Undefined until resolveApiToken() ran (serve does it); tests set it directly. */
  apiToken?: string;
  decisionToken?: string;
  policyDir: string;
  policyWatch: boolean;
  policyPrint: boolean;
  /** An OPA bundle to serve instead of compiling policyDir. */
  policyBundle?: string;
  bodyLimitBytes: number;
  importLimitBytes: number;
  importBatchSize: number;
  cacheSize: number;
  /** Bytes for resident copies of the decision path's records (0 = off). */
  residentBytes: number;
  sqliteSync: 'full' | 'normal';
  /** Bytes of the database file read through mmap (0 = off). */
  sqliteMmapBytes: number;
  maxExceptionHours: number;
  maxClockSkewSeconds: number;
  maxBreakGlassMinutes: number;
  decisionLog: string;
  decisionLogBuffer: number;
  logLevel: LogLevel;
  shutdownTimeoutMs: number;
  requestTimeoutMs: number;
  /** Safety-net full lifecycle sweep period, seconds (0 = never; deadlines drive time-based changes). */
  lifecycleSweepSeconds: number;
  /** Share of one core (1–100 %) a long lifecycle recheck backlog or a sweep may use. */
  lifecycleCatchupPercent: number;
  /** Requests of the start-up warm-up (src/api/warmup.ts); 0 = none. */
  warmupRequests: number;
  /** Heap growth after bulk work that makes serve() run one full GC (src/api/heap-settle.ts); 0 = off. */
  heapSettleBytes: number;
}

/** A configuration value that cannot be used; names the variable. */
/**
 * JSON.parse for configuration that may hold secrets (callers and adapters files, SSF env lists): a syntax
 * error says where, never what: V8's message quotes the text around the error, which may be a secret.
 */
export function parseConfigJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const m = /^(.*) in JSON at position (\d+)/.exec((err as Error).message);
    if (!m) throw new Error(`${what} is not valid JSON (an unexpected character or the end of the text)`);
    const before = text.slice(0, Number(m[2])).split('\n');
    throw new Error(`${what} is not valid JSON (${m[1]} at line ${before.length}, column ${before[before.length - 1].length + 1})`);
  }
}

export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

/**
 * 2 GiB, or half the memory this process may use if that is less (a container's cgroup limit, else the
 * machine's): the resident copy must never be what gets a small container OOM-killed.
 */
export function defaultResidentBytes(limit = Math.min(process.constrainedMemory?.() || Infinity, os.totalmem())): number {
  return Math.min(2 * 1024 ** 3, Math.floor(limit / 2));
}

/** Parses "512kb", "1mb", "2gb", "1024" into bytes. */
export function parseBytes(value: string, variable = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(value);
  if (!m) throw new ConfigError(variable, `"${value}" is not a size (e.g. 512kb, 1mb)`);
  const mult = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] ?? 'b').toLowerCase() as 'b'];
  return Math.floor(Number(m[1]) * mult);
}

function int(env: NodeJS.ProcessEnv, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(name, `"${raw}" must be an integer in [${min}, ${max}]`);
  return n;
}

function bool(env: NodeJS.ProcessEnv, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, `"${raw}" must be true or false`);
}

function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, def: T, allowed: readonly T[]): T {
  const raw = (env[name] ?? '').toLowerCase();
  if (raw === '') return def;
  if (!allowed.includes(raw as T)) throw new ConfigError(name, `"${raw}" must be one of ${allowed.join(', ')}`);
  return raw as T;
}

/** Reads the configuration from `env` (default process.env); throws ConfigError on a bad value. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = path.resolve(env.TETHER_DATA_DIR || './data');
  return {
    port: int(env, 'PORT', 8181, 0, 65535),
    host: env.HOST || '0.0.0.0',
    dataDir,
    apiToken: env.TETHER_API_TOKEN || undefined,
    decisionToken: env.TETHER_DECISION_TOKEN || undefined,
    policyDir: path.resolve(env.TETHER_POLICY_DIR || './policies'),
    policyWatch: bool(env, 'TETHER_POLICY_WATCH', true),
    policyPrint: bool(env, 'TETHER_POLICY_PRINT', false),
    policyBundle: env.TETHER_POLICY_BUNDLE ? path.resolve(env.TETHER_POLICY_BUNDLE) : undefined,
    bodyLimitBytes: parseBytes(env.TETHER_BODY_LIMIT || '1mb', 'TETHER_BODY_LIMIT'),
    importLimitBytes: parseBytes(env.TETHER_IMPORT_LIMIT || '2gb', 'TETHER_IMPORT_LIMIT'),
    importBatchSize: int(env, 'TETHER_IMPORT_BATCH', 1000, 1, 100_000),
    cacheSize: int(env, 'TETHER_CACHE_SIZE', 100_000, 16, 100_000_000),
    residentBytes: env.TETHER_RESIDENT_MEMORY ? parseBytes(env.TETHER_RESIDENT_MEMORY, 'TETHER_RESIDENT_MEMORY') : defaultResidentBytes(),
    sqliteSync: oneOf(env, 'TETHER_SQLITE_SYNC', 'full', ['full', 'normal'] as const),
    sqliteMmapBytes: parseBytes(env.TETHER_SQLITE_MMAP || '0', 'TETHER_SQLITE_MMAP'),
    maxExceptionHours: int(env, 'TETHER_MAX_EXCEPTION_HOURS', 72, 1, 24 * 365),
    maxBreakGlassMinutes: int(env, 'TETHER_MAX_BREAK_GLASS_MINUTES', 240, 1, 24 * 60),
    maxClockSkewSeconds: int(env, 'TETHER_MAX_CLOCK_SKEW_SECONDS', 300, 0, 86_400),
    decisionLog: env.TETHER_DECISION_LOG || path.join(dataDir, 'decisions.log'),
    decisionLogBuffer: int(env, 'TETHER_DECISION_LOG_BUFFER', 10_000, 1, 10_000_000),
    logLevel: oneOf(env, 'TETHER_LOG_LEVEL', 'info', ['debug', 'info', 'warn', 'error'] as const),
    shutdownTimeoutMs: int(env, 'TETHER_SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    requestTimeoutMs: int(env, 'TETHER_REQUEST_TIMEOUT_MS', 3_600_000, 1_000, 86_400_000),
    lifecycleSweepSeconds: int(env, 'TETHER_LIFECYCLE_SWEEP_SECONDS', 86_400, 0, 30 * 86_400),
    lifecycleCatchupPercent: int(env, 'TETHER_LIFECYCLE_CATCHUP_PERCENT', 10, 1, 100),
    warmupRequests: int(env, 'TETHER_WARMUP_REQUESTS', 5000, 0, 1_000_000),
    heapSettleBytes: parseBytes(env.TETHER_HEAP_SETTLE || '16mb', 'TETHER_HEAP_SETTLE'),
  };
}

/** Path of the generated API token file. */
export function apiTokenPath(config: Pick<Config, 'dataDir'>): string {
  return path.join(config.dataDir, 'api-token');
}

/**
 * Ensures config.apiToken is set: the env value, else the token stored under the data dir, else a new
 * random token written there (mode 0600). Returns whether a token was generated now, so the caller
 * prints it exactly once (it is never logged).
 */
export function resolveApiToken(config: Config): { token: string; generated: boolean } {
  if (config.apiToken) return { token: config.apiToken, generated: false };
  const file = apiTokenPath(config);
  try {
    const stored = fs.readFileSync(file, 'utf8').trim();
    if (stored) {
      config.apiToken = stored;
      return { token: stored, generated: false };
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(config.dataDir, { recursive: true });
  const token = 'tether_' + randomBytes(32).toString('base64url');
  fs.writeFileSync(file, token + '\n', { mode: 0o600, flag: 'wx' });
  config.apiToken = token;
  return { token, generated: true };
}
