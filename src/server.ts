// serve(): open the durable store, build the context, start background services, listen, and shut down
// gracefully on SIGTERM/SIGINT (stop accepting, finish in-flight requests, run shutdown hooks such as
// decision-log and outbox flushes, then close the store). SIGHUP reopens the decision log file at its
// path (log rotation); it never stops the server.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { apiTokenPath, loadConfig, resolveApiToken, type Config } from './config';
import { createApp, type TetherApp } from './api/app';
import { createContext, createLogger, type AppContext, type Logger } from './api/context';
import { Metrics } from './api/metrics';
import { serviceModules, type ServiceModule } from './api/routes';
import { openSqliteStore } from './state/store';
import { warmUp } from './api/warmup';
import { exposedGc, HeapSettler, type HeapSettlerOptions, type SettleReport } from './api/heap-settle';
import type { LifecycleService } from './lifecycle/service';
import type { DecisionLog } from './engine/decision-log';
import { dropEarlyHangupGuard } from './cli/early-hangup';
import { CommandError, HelpRequested, UsageError } from './cli/args';

/** Options of serve(); all optional (the CLI passes none). */
export interface ServeOptions {
  /** Environment to read configuration from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** A ready configuration (overrides env). */
  config?: Config;
  logger?: Logger;
  /** Background services to start (default: serviceModules of api/routes). */
  services?: ServiceModule[];
  /**
   * Install SIGTERM/SIGINT handlers that shut down and exit, and a SIGHUP handler that reopens the
   * decision log file (default true).
   */
  handleSignals?: boolean;
  /** Overrides of the heap settle's gc and heap reading (tests). */
  heapSettle?: Partial<Pick<HeapSettlerOptions, 'gc' | 'heapUsed'>>;
}

/** A running server. */
export interface RunningServer {
  ctx: AppContext;
  server: http.Server;
  port: number;
  url: string;
  /** Graceful shutdown (idempotent): resolves once the store is closed. */
  shutdown(reason?: string): Promise<void>;
}

const FLAGS: Record<string, string> = { '--port': 'PORT', '--host': 'HOST', '--data-dir': 'TETHER_DATA_DIR', '--policy-dir': 'TETHER_POLICY_DIR' };

export const SERVE_USAGE =
  'usage: tether serve [--port N] [--host H] [--data-dir DIR] [--policy-dir DIR]   (each overrides its env variable: PORT, HOST, TETHER_DATA_DIR, TETHER_POLICY_DIR; see the README for the others)';

/** Turns `tether serve` flags (--port, --host, --data-dir, --policy-dir) into env overrides. */
export function serveArgsToEnv(argv: string[], env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out = { ...env };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    if (flag === '-h' || flag === '--help') throw new HelpRequested(SERVE_USAGE);
    const name = FLAGS[flag];
    if (!name) throw new UsageError(`unknown option ${argv[i]}\n${SERVE_USAGE}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`${flag} needs a value\n${SERVE_USAGE}`);
    out[name] = value;
  }
  return out;
}

/** Starts Tether: store under TETHER_DATA_DIR, services, HTTP on PORT. Accepts options or `tether serve` argv. */
export async function serve(optsOrArgv: ServeOptions | string[] = {}): Promise<RunningServer> {
  const opts: ServeOptions = Array.isArray(optsOrArgv) ? { env: serveArgsToEnv(optsOrArgv) } : optsOrArgv;
  const config = opts.config ?? loadConfig(opts.env ?? process.env);
  const logger = opts.logger ?? createLogger(config.logLevel);
  const { token, generated } = prepareDataDir(config);
  if (generated) {
    // Printed once, on stdout only, never logged: the operator copies it from here or the file.
    process.stdout.write(`tether: generated API token (stored in ${apiTokenPath(config)}):\n${token}\n`);
  }

  // Declared before the store so its resident fills reach it; it settles once before listening, then checks.
  let settler: HeapSettler | undefined;
  const store = openSqliteStore({
    path: path.join(config.dataDir, 'tether.db'),
    synchronous: config.sqliteSync,
    mmapBytes: config.sqliteMmapBytes,
    cacheSize: config.cacheSize,
    residentBytes: config.residentBytes,
    releaseFileCache: true,
    onResidentEvent: (event, fields) => {
      if (event === 'filled') {
        logger.info('resident copy filled', fields);
        settler?.noteBulk();
      } else if (event === 'released') logger.info("resident copy complete: dropped the store file's pages from the OS page cache", fields);
      else if (event === 'full') logger.warn('resident memory full: the rest of the records are read from SQLite (raise TETHER_RESIDENT_MEMORY)', fields);
      else logger.warn('resident copy: background read failed, retrying', fields);
    },
    onFailure: (err) => logger.error('state store failed', { error: err.message }),
    onMigrate: (phase, report) =>
      logger.info(phase === 'start' ? 'state store: migrating its tables to the current layout (once; a large store takes a while)' : 'state store: tables migrated', report),
    maxExceptionHours: config.maxExceptionHours,
    maxBreakGlassMinutes: config.maxBreakGlassMinutes,
    maxClockSkewSeconds: config.maxClockSkewSeconds,
  });
  const ctx = createContext({ config, store, logger, metrics: new Metrics({ defaultMetrics: true }) });
  settler = heapSettler(ctx, opts.heapSettle);

  // SIGHUP (logrotate's `postrotate kill -HUP`): reopen the decision log file at its configured path.
  // Installed before anything starts, as Node's default action for SIGHUP is to end the process.
  const handleSignals = opts.handleSignals ?? true;
  const onHangup = () => {
    if (!(ctx.decisionLog as DecisionLog | undefined)?.reopen('signal')) logger.info('SIGHUP: no decision log file to reopen', { decision_log: config.decisionLog });
  };
  if (handleSignals) process.on('SIGHUP', onHangup);
  dropEarlyHangupGuard();

  // Anything failing before we listen (a service, a bad callers config in createApp, a port in use)
  // stops what already started and closes the store, so a failed start leaks nothing.
  let server: http.Server;
  let closing: Promise<void> | undefined;
  const inFlight = new Set<http.ServerResponse>();
  try {
    for (const svc of opts.services ?? serviceModules) {
      await svc.start(ctx);
      if (svc.stop) ctx.onShutdown(() => svc.stop!(ctx), svc.name);
      logger.info('service started', { service: svc.name });
    }
    const app = createApp(ctx);
    if (config.warmupRequests > 0) await warmUpQuietly(app, ctx);
    if (settler) {
      const r = settler.start();
      logger.info('heap settled before listening', settleFields(r));
    }
    // Once shutdown starts, answers say Connection: close, so keep-alive clients do not send another
    // request on a socket that is about to be closed (they would see a reset, not knowing if it ran).
    server = http.createServer((req, res) => {
      if (closing) res.setHeader('Connection', 'close');
      else {
        inFlight.add(res);
        res.once('close', () => inFlight.delete(res));
      }
      app(req, res);
    });
    server.keepAliveTimeout = 65_000; // longer than common proxy idle timeouts, so proxies close first
    // Node's 5-minute default would cut multi-million-line imports; headersTimeout (60 s) still bounds
    // slow-header clients and body sizes are limited.
    server.requestTimeout = config.requestTimeoutMs;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    const said = startError(err, config);
    logger.error('service failed to start', { error: String((said as Error)?.message ?? said) });
    process.off('SIGHUP', onHangup);
    await runHooks(ctx);
    store.close();
    throw said;
  }
  const port = (server.address() as AddressInfo).port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  logger.info('listening', { port, host: config.host, data_dir: config.dataDir, sqlite_sync: config.sqliteSync, resident_memory_bytes: config.residentBytes });

  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      // A repeated SIGTERM (a supervisor, or two) must not cut the graceful shutdown short; a second
      // Ctrl-C is a person asking to stop now.
      if (signal !== 'SIGINT') return logger.info('already shutting down', { signal });
      logger.warn('second SIGINT: exiting without finishing the shutdown');
      process.exit(130);
    }
    logger.info('shutting down', { signal });
    shutdown(signal).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  const shutdown = (reason = 'shutdown'): Promise<void> => {
    closing ??= (async () => {
      for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
      inFlight.clear();
      await closeServer(server, config.shutdownTimeoutMs, logger);
      await runHooks(ctx);
      store.close();
      logger.info('stopped', { reason });
    })();
    return closing;
  };
  if (handleSignals) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
  return { ctx, server, port, url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`, shutdown };
}

// The data dir and the API token in it: a data dir the user cannot write is said as such (exit 1), not a crash.
function prepareDataDir(config: Config): ReturnType<typeof resolveApiToken> {
  try {
    fs.mkdirSync(config.dataDir, { recursive: true });
    fs.accessSync(config.dataDir, fs.constants.W_OK);
    return resolveApiToken(config);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException)?.code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw new CommandError(`TETHER_DATA_DIR ${config.dataDir} is not writable (${code})`);
    if (code === 'ENOTDIR' || code === 'EEXIST') throw new CommandError(`TETHER_DATA_DIR ${config.dataDir} is not a directory (${code})`);
    if (code === 'ENOENT') throw new CommandError(`TETHER_DATA_DIR ${config.dataDir} cannot be created (ENOENT)`);
    throw err;
  }
}

// What a failed start means for the operator, for the errors they cause (the port is taken or privileged).
function startError(err: unknown, config: Config): unknown {
  const e = err as NodeJS.ErrnoException;
  if (e?.syscall !== 'listen') return err;
  if (e.code === 'EADDRINUSE') return new CommandError(`port ${config.port} is in use (set PORT or --port)`);
  if (e.code === 'EACCES') return new CommandError(`port ${config.port} needs privileges (EACCES); set PORT or --port to a port above 1023`);
  if (e.code === 'EADDRNOTAVAIL') return new CommandError(`host ${config.host} is not an address of this machine (EADDRNOTAVAIL); set HOST or --host`);
  return err;
}

// The start-up warm-up (src/api/warmup.ts) before the port opens: its synthetic decisions are kept out of
// the decision log and the request metrics, and a failure only costs the warm-up, never the start.
async function warmUpQuietly(app: TetherApp, ctx: AppContext): Promise<void> {
  const log = ctx.decisionLog as DecisionLog | undefined;
  log?.mute(true);
  try {
    const r = await warmUp(app, app.warmup, { requests: ctx.config.warmupRequests });
    ctx.logger.info('warmed up', { requests: r.requests, ms: Math.round(r.ms), statuses: r.statuses });
  } catch (err) {
    ctx.logger.warn('warm-up failed; serving without it', { error: String((err as Error)?.message ?? err) });
  } finally {
    log?.mute(false);
    ctx.metrics.resetRequestCounts();
  }
}

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
const settleFields = (r: SettleReport) => ({ ms: Math.round(r.ms), heap_before_mb: mb(r.beforeBytes), heap_after_mb: mb(r.afterBytes) });

// One full GC once bulk work is over (src/api/heap-settle.ts), when node exposes gc and it is not off.
function heapSettler(ctx: AppContext, over: ServeOptions['heapSettle'] = {}): HeapSettler | undefined {
  const { config, store, logger } = ctx;
  if (config.heapSettleBytes === 0) return undefined;
  const gc = over.gc ?? exposedGc();
  if (!gc) {
    logger.debug('heap settle off: node runs without --expose-gc');
    return undefined;
  }
  const settler = new HeapSettler({
    gc,
    ...(over.heapUsed ? { heapUsed: over.heapUsed } : {}),
    minGrowthBytes: config.heapSettleBytes,
    busy: () => (ctx.lifecycle as LifecycleService | undefined)?.catchingUp === true || store.residentStats().some((r) => r.busy),
    onSettle: (r) => logger.info('heap settled after bulk work', settleFields(r)),
  });
  const unsubscribe = store.onChange(() => settler.noteWrite());
  ctx.onShutdown(() => {
    settler.stop();
    unsubscribe();
  }, 'heap-settle');
  return settler;
}

// Stops accepting, lets in-flight requests finish (closing keep-alive sockets as they go idle), and
// force-closes whatever is left after `timeoutMs`.
function closeServer(server: http.Server, timeoutMs: number, logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    const force = setTimeout(() => {
      logger.warn('shutdown timeout: closing remaining connections', { timeout_ms: timeoutMs });
      server.closeAllConnections();
    }, timeoutMs);
    server.close(() => {
      clearInterval(idle);
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}

// Shutdown hooks run in reverse registration order (last started, first stopped); one failing or
// hanging hook does not stop the others or keep the store open: all hooks share one time budget.
async function runHooks(ctx: AppContext): Promise<void> {
  const deadline = Date.now() + ctx.config.shutdownTimeoutMs;
  for (const hook of [...ctx.shutdownHooks].reverse()) {
    const name = hook.hookName ?? 'anonymous';
    let timer: NodeJS.Timeout | undefined;
    try {
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()));
      });
      const result = await Promise.race([Promise.resolve().then(hook), timedOut]);
      if (result === 'timeout') ctx.logger.error('shutdown hook timed out', { hook: name, timeout_ms: ctx.config.shutdownTimeoutMs });
    } catch (err) {
      ctx.logger.error('shutdown hook failed', { hook: name, error: String((err as Error)?.message ?? err) });
    } finally {
      clearTimeout(timer);
    }
  }
}
