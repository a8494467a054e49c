// Collects policy sources from files and directories: .rego files (tests kept apart) and data.json
// files, each merged at its directory's path below the root given (as `opa build`/`opa eval -d`).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import type { Module } from '../compiler/ast';
import { EngineError } from './errors';

export interface SourceFile {
  name: string;
  text: string;
}

export interface PolicySources {
  /** Policy modules (not *_test.rego). */
  files: SourceFile[];
  /** *_test.rego modules. */
  tests: SourceFile[];
  /** All data.json documents merged. */
  data: Record<string, unknown>;
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function mergeInto(into: Record<string, unknown>, from: Record<string, unknown>, file: string): void {
  for (const [k, v] of Object.entries(from)) {
    if (isObj(into[k]) && isObj(v)) mergeInto(into[k] as Record<string, unknown>, v, file);
    else if (k in into) throw new EngineError('data_invalid', `${file}: data conflict at key ${k}`);
    else into[k] = v;
  }
}

function addData(data: Record<string, unknown>, path: string[], file: string): void {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new EngineError('data_invalid', `${file}: ${(e as Error).message}`);
  }
  let wrapped: unknown = value;
  for (let i = path.length - 1; i >= 0; i--) wrapped = { [path[i]]: wrapped };
  if (!isObj(wrapped)) throw new EngineError('data_invalid', `${file}: root data document must be an object`);
  mergeInto(data, wrapped, file);
}

/** Reads .rego and data.json files from the given files/directories (recursively, skipping dot dirs and node_modules). */
export function collectSources(paths: string[]): PolicySources {
  const out: PolicySources = { files: [], tests: [], data: {} };
  const addRego = (file: string): void => {
    const f = { name: file, text: readFileSync(file, 'utf8') };
    (basename(file).endsWith('_test.rego') ? out.tests : out.files).push(f);
  };
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      // Not a bundle: a policy path (eval -d, test, build, TETHER_POLICY_DIR) that is not there.
      throw new EngineError('policy_load_error', `policy ${/\.(rego|json)$/.test(p) ? 'file' : 'directory'} not found: ${p}`);
    }
    if (st.isFile()) {
      if (p.endsWith('.rego')) addRego(p);
      else if (p.endsWith('.json')) addData(out.data, [], p);
      continue;
    }
    const walk = (d: string): void => {
      for (const name of readdirSync(d).sort()) {
        if (name.startsWith('.') || name === 'node_modules') continue;
        const full = join(d, name);
        const s = statSync(full);
        if (s.isDirectory()) walk(full);
        else if (name.endsWith('.rego')) addRego(full);
        else if (name === 'data.json') {
          const rel = relative(p, d);
          addData(out.data, rel ? rel.split(sep) : [], full);
        }
      }
    };
    walk(p);
  }
  return out;
}

/** Slash path of a module's package ("app/rbac"). */
export function packagePath(m: Module): string[] {
  return m.package.path.slice(1).map((t) => (t.value.type === 'string' ? t.value.value : '?'));
}

/** Every document path the modules define ("pkg/rule", ground ref-head prefixes), functions excluded. */
export function rulePaths(modules: Module[], filter: (name: string) => boolean = () => true): string[] {
  const out = new Set<string>();
  for (const m of modules) {
    const pkg = packagePath(m);
    for (const r of m.rules) {
      if (r.head.kind === 'function' || !filter(r.head.name)) continue;
      const parts = [r.head.name];
      for (const t of r.head.ref.slice(1)) {
        if (t.value.type !== 'string') break;
        parts.push(t.value.value);
      }
      // Partial object/set rules define the whole document at their ground prefix.
      out.add([...pkg, ...parts].join('/'));
    }
  }
  return [...out].sort();
}
