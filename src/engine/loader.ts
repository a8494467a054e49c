// Loads a policy directory (policies/*.rego without tests, plus data.json files) by compiling it
// with Tether's compiler, and returns a ready engine.
import { createHash } from 'node:crypto';
import { compile, formatDiagnostics } from '../compiler';
import { parseAll } from '../compiler';
import { loadEngine, type EngineOptions, type WasmEngine } from './engine';
import { EngineError } from './errors';
import { collectSources, rulePaths } from './sources';

export interface DirLoadOptions extends EngineOptions {
  /** Entrypoints to export (slash paths); default: every rule the policies define. */
  entrypoints?: string[];
}

/** Compiles and loads a directory of policies; throws EngineError('compile_error') with diagnostics. */
export async function loadPolicyDir(dir: string, opts: DirLoadOptions = {}): Promise<WasmEngine> {
  return (await loadPolicyDirWithData(dir, opts)).engine;
}

/** As loadPolicyDir, also returning the merged data.json document and a content revision. */
export async function loadPolicyDirWithData(dir: string, opts: DirLoadOptions = {}): Promise<{ engine: WasmEngine; data: Record<string, unknown> }> {
  const src = collectSources([dir]);
  if (src.files.length === 0) throw new EngineError('compile_error', `no .rego policies found in ${dir}`);
  let entrypoints = opts.entrypoints;
  if (!entrypoints) {
    const parsed = parseAll({ files: src.files, entrypoints: [] });
    entrypoints = rulePaths(parsed.modules);
  }
  const r = await compile({ files: src.files, entrypoints, printStatements: opts.print !== undefined });
  if (!r.ok || !r.wasm) {
    const sources = Object.fromEntries(src.files.map((f) => [f.name, f.text]));
    throw new EngineError('compile_error', formatDiagnostics(r.diagnostics, sources), r.diagnostics);
  }
  // The revision names the sources and data, so a data.json edit is a new revision too.
  const hash = createHash('sha256');
  for (const f of src.files) hash.update(f.name).update('\0').update(f.text).update('\0');
  hash.update(JSON.stringify(src.data));
  const revision = opts.revision ?? hash.digest('hex').slice(0, 16);
  return { engine: loadEngine(r.wasm, { ...opts, revision, data: opts.data ?? src.data }), data: src.data };
}
