// Worker-thread entry of ./off-thread.ts: for each request, compiles a policy set (the same compile() as
// everywhere, so the wasm is byte-for-byte the inline build), compiles the module, warms it, and posts both back.
import { parentPort } from 'node:worker_threads';
import { compile, parseAll } from '../compiler';
import { WasmEngine } from './engine';
import type { PrepareReply, PrepareRequest } from './off-thread';
import { rulePaths } from './sources';

const WARMUP_MAX_MS = 250;

async function wasmOf(req: PrepareRequest): Promise<PrepareReply> {
  if (req.wasm) return { ok: true, wasm: req.wasm, diagnostics: [] };
  const files = req.files ?? [];
  const entrypoints = req.entrypoints ?? rulePaths(parseAll({ files, entrypoints: [] }).modules);
  const r = await compile({ files, entrypoints, printStatements: req.printStatements });
  return { ok: r.ok && !!r.wasm, wasm: r.wasm, diagnostics: r.diagnostics };
}

// Evaluating here compiles the functions the serving thread will call (V8 compiles wasm lazily) and
// lets the hot ones tier up, in the module both threads share. Failures are the policy's business: the
// serving thread reports them when they happen there.
function warm(req: PrepareRequest, wasm: Uint8Array, module: WebAssembly.Module): PrepareReply['warmed'] {
  const started = performance.now();
  const engine = new WasmEngine(wasm, {
    module,
    data: req.data,
    strictBuiltinErrors: req.strictBuiltinErrors,
    memoryPages: req.memoryPages,
    print: req.printStatements ? () => undefined : undefined,
  });
  const attempt = (entrypoint: string, input: unknown) => {
    try {
      engine.evaluate(entrypoint, input);
    } catch {
      // See above.
    }
  };
  for (const ep of engine.entrypoints) attempt(ep, {});
  const samples = (req.samples ?? []).filter((s) => engine.entrypoints.includes(s.entrypoint));
  const total = samples.length ? req.warmupEvaluations ?? 2000 : 0;
  let n = 0;
  for (; n < total; n++) {
    if (n % 100 === 0 && performance.now() - started >= WARMUP_MAX_MS) break;
    const s = samples[n % samples.length];
    attempt(s.entrypoint, s.input);
  }
  return { evaluations: n, ms: performance.now() - started };
}

async function run(req: PrepareRequest): Promise<PrepareReply> {
  const built = await wasmOf(req);
  if (!built.ok || !built.wasm) return built;
  // Wasm that does not compile or instantiate (a bad bundle) goes back without a module: the serving
  // thread's own load then fails with the same error an inline load gives.
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(built.wasm);
  } catch {
    return built;
  }
  try {
    return { ...built, module, warmed: warm(req, built.wasm, module) };
  } catch {
    return built;
  }
}

// One request at a time, in order: run() is asynchronous only in name (the compiler's emit step).
let queue = Promise.resolve();
parentPort!.on('message', ({ id, req }: { id: number; req: PrepareRequest }) => {
  queue = queue.then(() =>
    run(req).then(
      (reply) => parentPort!.postMessage({ id, reply }),
      (e: unknown) => parentPort!.postMessage({ id, crashed: e instanceof Error ? e.message : String(e) }),
    ),
  );
});
