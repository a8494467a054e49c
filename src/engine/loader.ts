// Loads a policy directory (policies/*.rego without tests, plus data.json files) by compiling it
// with Tether's compiler, and returns a ready engine.
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
  const src = collectSources([dir]);
  if (src.files.length === 0) throw new EngineError('compile_error', `no .rego policies found in ${dir}`);
  let entrypoints = opts.entrypoints;
  if (!entrypoints) {
    const parsed = parseAll({ files: src.files, entrypoints: [] });
    entrypoints = rulePaths(parsed.modules);
  }
  const r = await compile({ files: src.files, entrypoints });
  if (!r.ok || !r.wasm) {
    const sources = Object.fromEntries(src.files.map((f) => [f.name, f.text]));
    throw new EngineError('compile_error', formatDiagnostics(r.diagnostics, sources), r.diagnostics);
  }
  return loadEngine(r.wasm, { ...opts, data: opts.data ?? src.data });
}
