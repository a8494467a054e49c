// Loads a policy directory (policies/*.rego without tests, plus data.json files) by compiling it
// with Tether's compiler, and returns a ready engine.
import { createHash } from 'node:crypto';
import { compile, formatDiagnostics, parseAll } from '../compiler';
import { loadEngine, type EngineOptions, type WasmEngine } from './engine';
import { EngineError } from './errors';
import { prepareOffThread, PrepareWorkerError, type OffThreadOptions, type PrepareReply, type PrepareRequest, type WarmupSample } from './off-thread';
import { collectSources, rulePaths, type PolicySources, type SourceFile } from './sources';

export interface DirLoadOptions extends EngineOptions {
  /** Entrypoints to export (slash paths); default: every rule the policies define. */
  entrypoints?: string[];
  /** Compile and warm on a worker thread (./off-thread.ts) instead of blocking the event loop. */
  offThread?: boolean | OffThreadOptions;
  /** Warm-up evaluations for an off-thread load, given the policies' base data. */
  warmup?: (data: Record<string, unknown>) => WarmupSample[];
}

/** Compiles and loads a directory of policies; throws EngineError('compile_error') with diagnostics. */
export async function loadPolicyDir(dir: string, opts: DirLoadOptions = {}): Promise<WasmEngine> {
  return (await loadPolicyDirWithData(dir, opts)).engine;
}

/** As loadPolicyDir, also returning the merged data.json document and a content revision. */
export function loadPolicyDirWithData(dir: string, opts: DirLoadOptions = {}): Promise<LoadedPolicies> {
  return loadPolicySources(collectSources([dir]), dir, opts);
}

/** What loadPolicySources gives back. */
export interface LoadedPolicies {
  engine: WasmEngine;
  data: Record<string, unknown>;
  warmed?: PrepareReply['warmed'];
}

/** The revision of a policy set: names the sources and data, so a data.json edit is a new revision too. */
export function policyRevision(src: PolicySources): string {
  const hash = createHash('sha256');
  for (const f of src.files) hash.update(f.name).update('\0').update(f.text).update('\0');
  hash.update(JSON.stringify(src.data));
  return hash.digest('hex').slice(0, 16);
}

/** Compiles and loads sources already read from `dir` (named in errors). */
export async function loadPolicySources(src: PolicySources, dir: string, opts: DirLoadOptions = {}): Promise<LoadedPolicies> {
  if (src.files.length === 0) throw new EngineError('compile_error', `no .rego policies found in ${dir}`);
  const data = opts.data ?? src.data;
  const printStatements = opts.print !== undefined;
  const built = opts.offThread
    ? await prepareEngine({ files: src.files, entrypoints: opts.entrypoints, printStatements, data, samples: opts.warmup?.(src.data) }, opts)
    : await compileHere(src.files, opts.entrypoints, printStatements);
  if (!built.ok || !built.wasm) {
    const sources = Object.fromEntries(src.files.map((f) => [f.name, f.text]));
    throw new EngineError('compile_error', formatDiagnostics(built.diagnostics, sources), built.diagnostics);
  }
  const revision = opts.revision ?? policyRevision(src);
  return { engine: loadEngine(built.wasm, { ...opts, revision, data, module: built.module }), data: src.data, warmed: built.warmed };
}

async function compileHere(files: SourceFile[], entrypoints: string[] | undefined, printStatements: boolean) {
  const eps = entrypoints ?? rulePaths(parseAll({ files, entrypoints: [] }).modules);
  const r = await compile({ files, entrypoints: eps, printStatements });
  return { ok: r.ok, wasm: r.wasm, diagnostics: r.diagnostics, module: undefined, warmed: undefined };
}

/**
 * Compiles (or takes `req.wasm`) and warms on a worker thread with the engine options of `opts`. A worker
 * that gives no answer (timeout, crash, heap cap) is a compile_error like a bad policy: the old engine
 * keeps serving.
 */
export async function prepareEngine(req: PrepareRequest, opts: DirLoadOptions) {
  try {
    const off = typeof opts.offThread === 'object' ? opts.offThread : {};
    return await prepareOffThread({ ...req, strictBuiltinErrors: opts.strictBuiltinErrors, memoryPages: opts.memoryPages }, off);
  } catch (e) {
    if (e instanceof PrepareWorkerError) throw new EngineError('compile_error', e.message, []);
    throw e;
  }
}
