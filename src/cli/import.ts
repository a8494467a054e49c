// `tether import file.ndjson [--url URL] [--token T] [--direct] [--data-dir D] [--batch N]`:
// bulk-loads NDJSON state lines, either by streaming them to a running server (default) or by writing
// straight into the store under the data dir (--direct; only while no server uses that store, since a
// server would not see the writes in its cache). Progress goes to stderr, the summary JSON to stdout.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import readline from 'node:readline';
import { StringDecoder } from 'node:string_decoder';
import { apiTokenPath, loadConfig } from '../config';
import { openSqliteStore, type ImportLine, type ImportLineError } from '../state/store';
import { HelpRequested, stdio, UsageError, type CommandIO } from './args';
import { LineOffsets, Progress, type ProgressOptions } from './import-progress';

/** Parsed command line of `tether import`. */
export interface ImportArgs {
  file: string;
  url?: string;
  token?: string;
  direct: boolean;
  dataDir?: string;
  batch?: number;
  quiet: boolean;
}

/** Summary printed on stdout. */
export interface ImportSummary {
  imported: number;
  rejected: number;
  errors: ImportLineError[];
  done: boolean;
  seconds: number;
  records_per_second: number;
}

export const IMPORT_USAGE = 'usage: tether import <file.ndjson|-> [--url http://127.0.0.1:8181] [--token TOKEN] [--direct] [--data-dir DIR] [--batch N] [--quiet]';

/**
 * Parses argv (the arguments after `import`); `--flag value` and `--flag=value` both work. Throws a
 * UsageError with the usage on bad input, HelpRequested for -h/--help.
 */
export function parseImportArgs(argv: string[]): ImportArgs {
  const args: ImportArgs = { file: '', direct: false, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i];
    const eq = raw.startsWith('--') ? raw.indexOf('=') : -1;
    const a = eq > 0 ? raw.slice(0, eq) : raw;
    const value = () => {
      const v = eq > 0 ? raw.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value\n${IMPORT_USAGE}`);
      return v;
    };
    const noValue = () => {
      if (eq > 0) throw new UsageError(`${a} takes no value\n${IMPORT_USAGE}`);
    };
    if (a === '--url') args.url = value();
    else if (a === '--token') args.token = value();
    else if (a === '--data-dir') args.dataDir = value();
    else if (a === '--batch') args.batch = Number(value());
    else if (a === '--direct') (noValue(), (args.direct = true));
    else if (a === '--quiet' || a === '-q') (noValue(), (args.quiet = true));
    else if (a === '-h' || a === '--help') throw new HelpRequested(IMPORT_USAGE);
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option ${raw}\n${IMPORT_USAGE}`);
    else if (!args.file) args.file = a;
    else throw new UsageError(`unexpected argument ${a}\n${IMPORT_USAGE}`);
  }
  if (!args.file) throw new UsageError(IMPORT_USAGE);
  if (args.batch !== undefined && (!Number.isInteger(args.batch) || args.batch < 1)) throw new UsageError(`--batch must be a positive integer\n${IMPORT_USAGE}`);
  if (args.url !== undefined) checkUrl(args.url);
  return args;
}

// `--url localhost:8181` parses as a URL of scheme "localhost:"; say what is wrong with the flag instead.
function checkUrl(value: string): void {
  let u: URL | undefined;
  try {
    u = new URL(value);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || !u.host) {
    throw new UsageError(`--url ${value}: not an http(s) URL (e.g. --url http://127.0.0.1:8181)\n${IMPORT_USAGE}`);
  }
}

/**
 * Runs `tether import`; resolves to the process exit code: 0 all imported, 2 some lines rejected or a
 * usage error, 1 failure. Usage errors and -h/--help are handled here too (when not run through main()).
 * `progressOpts` overrides where and how often progress is drawn (tests).
 */
export async function runImport(argv: string[], io: CommandIO = stdio, progressOpts: Pick<ProgressOptions, 'stream' | 'intervalMs'> = {}): Promise<number> {
  let args: ImportArgs;
  try {
    args = parseImportArgs(argv);
  } catch (err) {
    if (err instanceof HelpRequested) {
      io.out(err.usage);
      return 0;
    }
    io.err((err as Error).message);
    return 2;
  }
  const progress = new Progress({ ...progressOpts, quiet: args.quiet, total: args.file === '-' ? undefined : fileSize(args.file) });
  try {
    const summary = args.direct ? await importDirect(args, progress) : await importHttp(args, progress);
    progress.finish(summary);
    io.out(JSON.stringify(summary));
    return !summary.done ? 1 : summary.rejected > 0 ? 2 : 0;
  } catch (err) {
    progress.clear();
    io.err(`tether import: ${(err as Error).message}`);
    return 1;
  }
}

/** What a failed connection means for the user (which server, and what to check). */
function connectError(err: NodeJS.ErrnoException, base: string, url?: string): Error {
  const where = url ?? base;
  if (err.code === 'ECONNREFUSED') return new Error(`cannot connect to ${where} (ECONNREFUSED): is \`tether serve\` running? pass --url`);
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return new Error(`cannot resolve the host of ${where} (${err.code}); check --url`);
  if (err.code === 'ECONNRESET') return new Error(`${where} closed the connection (ECONNRESET)`);
  return err;
}

function fileSize(file: string): number | undefined {
  try {
    return fs.statSync(file).size;
  } catch {
    return undefined;
  }
}

function openInput(file: string): NodeJS.ReadableStream {
  return file === '-' ? process.stdin : fs.createReadStream(file);
}

// Streams the file to POST /v1/state/import?progress=true and follows the per-batch acknowledgements.
async function importHttp(args: ImportArgs, progress: Progress): Promise<ImportSummary> {
  const env = process.env;
  const base = args.url ?? `http://127.0.0.1:${env.PORT || 8181}`;
  const token = args.token ?? env.TETHER_API_TOKEN ?? readTokenFile(args.dataDir);
  if (!token) throw new Error('no API token: pass --token, set TETHER_API_TOKEN, or run next to the data dir');
  const url = new URL('/v1/state/import?progress=true', base);
  const started = Date.now();
  const client = url.protocol === 'https:' ? https : http;
  // Line ends of what was sent, to turn each committed_through_line into bytes acknowledged.
  const offsets = new LineOffsets();
  return new Promise<ImportSummary>((resolve, reject) => {
    const req = client.request(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-ndjson', Accept: 'application/x-ndjson', Authorization: `Bearer ${token}` },
    });
    req.on('error', (err: NodeJS.ErrnoException) => reject(connectError(err, base, args.url)));
    req.on('response', (res) => {
      // Anything but Tether's NDJSON progress stream (a web page, another service on that port) is said
      // plainly instead of failing in JSON.parse below.
      const type = String(res.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      const ours = /json/.test(type);
      if (res.statusCode === 200 && !ours) {
        let head = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          if (head.length < 200) head += c;
        });
        res.on('end', () => reject(notTether(base, type, head)));
        return;
      }
      if (res.statusCode !== 200) {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => reject(new Error(`server answered ${res.statusCode}: ${body.slice(0, 500)}`)));
        return;
      }
      let last: Record<string, unknown> | undefined;
      const rl = readline.createInterface({ input: res, crlfDelay: Infinity });
      let failed = false;
      rl.on('line', (line) => {
        if (!line.trim() || failed) return;
        let doc: unknown;
        try {
          doc = JSON.parse(line);
        } catch {
          doc = undefined;
        }
        if (!doc || typeof doc !== 'object') {
          failed = true;
          res.destroy();
          req.destroy();
          return reject(notTether(base, type, line));
        }
        last = doc as Record<string, unknown>;
        if (!('done' in last)) {
          const line = Number(last.committed_through_line);
          progress.update({ imported: Number(last.imported), rejected: Number(last.rejected), line, acked: offsets.ack(line), errors: last.errors });
        }
      });
      rl.on('close', () => {
        if (failed) return;
        if (!last || !('done' in last)) return reject(new Error('connection closed before the import finished (batches acknowledged so far are stored)'));
        const seconds = (Date.now() - started) / 1000;
        const imported = Number(last.imported);
        if (last.done !== true) progress.note(`tether import: server stopped the import: ${String(last.message)}`);
        resolve({
          imported,
          rejected: Number(last.rejected),
          errors: (last.errors as ImportLineError[]) ?? [],
          done: last.done === true,
          seconds,
          records_per_second: Math.round(imported / Math.max(seconds, 0.001)),
        });
      });
    });
    const input = openInput(args.file);
    input.on('error', (err) => {
      req.destroy(err as Error);
      reject(err);
    });
    // Registered before pipe(), so a line is counted before the server can acknowledge it.
    input.on('data', (chunk) => offsets.push(chunk as Buffer));
    input.on('end', () => offsets.end());
    input.pipe(req);
  });
}

function notTether(base: string, type: string, body: string): Error {
  const head = body.replace(/\s+/g, ' ').trim();
  const quoted = JSON.stringify(head.length > 60 ? `${head.slice(0, 60)}…` : head);
  return new Error(`${base} did not answer as Tether (got ${type || 'no content type'}: ${quoted}); check --url`);
}

function readTokenFile(dataDir?: string): string | undefined {
  try {
    const cfg = loadConfig(dataDir ? { ...process.env, TETHER_DATA_DIR: dataDir } : process.env);
    return fs.readFileSync(apiTokenPath(cfg), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

// Writes batches straight into the SQLite store (same transactions and checks as the HTTP route).
async function importDirect(args: ImportArgs, progress: Progress): Promise<ImportSummary> {
  const cfg = loadConfig(args.dataDir ? { ...process.env, TETHER_DATA_DIR: args.dataDir } : process.env);
  fs.mkdirSync(cfg.dataDir, { recursive: true });
  const store = openSqliteStore({ path: path.join(cfg.dataDir, 'tether.db'), synchronous: cfg.sqliteSync, cacheSize: 1024, maxClockSkewSeconds: cfg.maxClockSkewSeconds });
  const batchSize = args.batch ?? cfg.importBatchSize;
  const started = Date.now();
  const totals = { imported: 0, rejected: 0, errors: [] as ImportLineError[] };
  let batch: ImportLine[] = [];
  let lineNo = 0;
  const offsets = new LineOffsets();
  const commit = () => {
    if (!batch.length) return;
    const r = store.importBatch(batch);
    totals.imported += r.imported;
    totals.rejected += r.rejected;
    for (const e of r.errors) if (totals.errors.length < 1000) totals.errors.push(e);
    progress.update({ imported: totals.imported, rejected: totals.rejected, line: lineNo, acked: offsets.ack(lineNo), errors: r.errors });
    batch = [];
  };
  const add = (text: string) => {
    lineNo++;
    if (text.trim()) batch.push({ line: lineNo, text });
    if (batch.length >= batchSize) commit();
  };
  try {
    // Lines split as the HTTP route splits them (only "\n" ends a line, a final blank one is none), so
    // line numbers match between both modes and LineOffsets maps each commit point to its byte offset.
    const decoder = new StringDecoder('utf8');
    let partial = '';
    for await (const chunk of openInput(args.file) as AsyncIterable<Buffer>) {
      offsets.push(chunk);
      const text = decoder.write(chunk);
      let start = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        add((partial + text.slice(start, nl)).replace(/\r$/, ''));
        partial = '';
        start = nl + 1;
      }
      partial += text.slice(start);
    }
    offsets.end();
    const rest = (partial + decoder.end()).replace(/\r$/, '');
    if (rest.trim()) add(rest);
    commit();
  } finally {
    store.close();
  }
  const seconds = (Date.now() - started) / 1000;
  return { ...totals, done: true, seconds, records_per_second: Math.round(totals.imported / Math.max(seconds, 0.001)) };
}
