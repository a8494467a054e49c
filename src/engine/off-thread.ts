// Prepares a policy engine on a worker thread, so a hot reload never stops the event loop: compiles
// Rego to wasm (or takes a bundle's wasm), compiles the wasm module, and warms it with sample
// evaluations. The serving thread then only instantiates the finished module and swaps it in.
//
// Why (bench/README "Policy hot reload"): on the serving thread a reload of the shipped policies blocked
// decisions for 50–150 ms (our compiler), and then the new module's first evaluations were slow too:
// V8 compiles wasm functions lazily on first call and tiers them up later, 2–25 ms in all. A
// WebAssembly.Module posted between threads shares its compiled code, so the functions the worker's
// warm-up compiled (and tiered up) are ready for the serving thread. The worker also keeps the
// compiler's garbage off the serving heap, and a runaway compile can be ended (timeout, heap cap)
// without taking the server with it.
import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Diagnostic } from '../compiler/diagnostics';
import type { SourceFile } from './sources';

/** One warm-up evaluation: an entrypoint and an input. */
export interface WarmupSample {
  entrypoint: string;
  input: unknown;
}

/** What the worker does: compile `files` (or take `wasm`), then warm the module. */
export interface PrepareRequest {
  files?: SourceFile[];
  /** Entrypoints to export; default: every rule the policies define. */
  entrypoints?: string[];
  printStatements?: boolean;
  /** Already compiled wasm (an OPA bundle's), instead of `files`. */
  wasm?: Uint8Array;
  /** Base data for the warm-up engine, and its options. */
  data?: unknown;
  strictBuiltinErrors?: boolean;
  memoryPages?: number;
  /** Evaluated round-robin after every entrypoint once with `{}` (default: none). */
  samples?: WarmupSample[];
  /** Sample evaluations in all (default 2,000; the worker also stops after 250 ms of them). */
  warmupEvaluations?: number;
}

/** What the worker answers: wasm and its compiled module when ok, else the compiler's diagnostics. */
export interface PrepareReply {
  ok: boolean;
  wasm?: Uint8Array;
  module?: WebAssembly.Module;
  diagnostics: Diagnostic[];
  /** Warm-up evaluations done, and their milliseconds. */
  warmed?: { evaluations: number; ms: number };
}

/** Why the worker produced no answer at all (a policy error is a reply, not this). */
export class PrepareWorkerError extends Error {
  constructor(
    readonly reason: 'timeout' | 'crashed' | 'out_of_memory',
    message: string,
  ) {
    super(message);
    this.name = 'PrepareWorkerError';
  }
}

export interface OffThreadOptions {
  /** Ends the worker (and fails this request) after this long (default 60 s). */
  timeoutMs?: number;
  /** The worker to use (default: one shared by the process). */
  worker?: EngineWorker;
}

/** Options of an EngineWorker. */
export interface EngineWorkerOptions {
  /** The worker exits after this long without work (default 60 s), so a quiet server holds no idle compiler. */
  idleMs?: number;
  /** The worker's old-generation cap, MB (default 1024). */
  maxHeapMb?: number;
}

// The worker's first step: the lowest CPU priority for its own thread (on Linux a thread id is a valid
// setpriority target), before loading the compiler, so on a busy host the scheduler runs decisions first
// and the compile in the time left over. Then, under tsx or ts-jest this file is TypeScript and a worker
// starts with no loader, so it registers tsx itself; from the compiled dist/ it is plain JavaScript.
const ext = extname(__filename);
const entry = join(__dirname, `off-thread-worker${ext}`);
const bootstrap = [
  "try { require('node:os').setPriority(Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop()), 19); } catch {}",
  ext === '.ts' ? "require('tsx/cjs');" : '',
  `require(${JSON.stringify(entry)});`,
].join('\n');

interface Pending {
  resolve(r: PrepareReply): void;
  reject(e: PrepareWorkerError): void;
  timer: NodeJS.Timeout;
}

/**
 * One worker thread, started on first use and kept for the next request until idle: loading the compiler
 * costs a new thread 250–300 ms of CPU here, about three times the compile itself. Requests run one at a
 * time in arrival order. A request that times out, or a worker that crashes or runs out of memory, ends
 * the thread and fails what it held; the next request starts a new one.
 */
export class EngineWorker {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly idleMs: number;
  private readonly maxHeapMb: number;

  constructor(opts: EngineWorkerOptions = {}) {
    this.idleMs = opts.idleMs ?? 60_000;
    this.maxHeapMb = opts.maxHeapMb ?? 1024;
  }

  /** The worker's thread id while one runs (tests, logs). */
  get threadId(): number | undefined {
    return this.worker?.threadId;
  }

  /** Runs `req` on the worker; rejects with PrepareWorkerError when it gives no answer. */
  run(req: PrepareRequest, opts: OffThreadOptions = {}): Promise<PrepareReply> {
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const worker = this.ensureWorker();
    const id = this.nextId++;
    clearTimeout(this.idleTimer);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.end(worker, new PrepareWorkerError('timeout', `policy compilation did not finish within ${timeoutMs} ms`)), timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      worker.postMessage({ id, req });
    });
  }

  /** Ends the worker now (pending requests fail). */
  close(): void {
    if (this.worker) this.end(this.worker, new PrepareWorkerError('crashed', 'policy compiler stopped'));
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    // execArgv: [] so the server's own node flags (e.g. --expose-gc) do not apply to the worker.
    const worker = new Worker(bootstrap, { eval: true, execArgv: [], resourceLimits: { maxOldGenerationSizeMb: this.maxHeapMb } });
    worker.on('message', (m: { id: number; reply?: PrepareReply; crashed?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.reply) p.resolve(m.reply);
      else p.reject(new PrepareWorkerError('crashed', `policy compiler failed: ${m.crashed}`));
      if (this.pending.size === 0 && this.worker === worker) this.idleTimer = setTimeout(() => this.end(worker), this.idleMs).unref();
    });
    worker.on('error', (e: Error & { code?: string }) =>
      this.end(
        worker,
        e.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? new PrepareWorkerError('out_of_memory', `policy compilation ran out of memory (worker heap cap ${this.maxHeapMb} MB)`)
          : new PrepareWorkerError('crashed', `policy compiler failed: ${e.message}`),
      ),
    );
    worker.on('exit', (code) => this.end(worker, new PrepareWorkerError('crashed', `policy compiler exited with code ${code} before answering`)));
    // After the listeners: adding a 'message' listener refs the worker's port again.
    worker.unref(); // an idle compiler never keeps the process alive
    this.worker = worker;
    return worker;
  }

  /** Stops `worker` (if it is still the current one) and fails what it held with `why`. */
  private end(worker: Worker, why?: PrepareWorkerError): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    clearTimeout(this.idleTimer);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(why ?? new PrepareWorkerError('crashed', 'policy compiler stopped'));
    }
    this.pending.clear();
    void worker.terminate();
  }
}

let shared: EngineWorker | undefined;

/** Runs `req` on `opts.worker`, or on an EngineWorker shared by the process. */
export function prepareOffThread(req: PrepareRequest, opts: OffThreadOptions = {}): Promise<PrepareReply> {
  return (opts.worker ?? (shared ??= new EngineWorker())).run(req, opts);
}
