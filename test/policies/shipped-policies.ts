// Test helper (not a test): compiles the shipped policies/ with our compiler, every rule path as an
// entrypoint, and loads them through the real engine, as the service does.
import fs from 'node:fs';
import path from 'node:path';
import { compile, formatDiagnostics } from '../../src/compiler';
import type { EngineSource } from '../../src/engine/decider';
import { loadEngine } from '../../src/engine/engine';
import type { PolicyEngine } from '../../src/engine/types';

export const POLICY_DIR = path.resolve(__dirname, '../../policies');

/** Every .rego file under dir (recursively), tests included or not. */
export function regoFiles(dir = POLICY_DIR, tests = false): Array<{ name: string; text: string }> {
  const out: Array<{ name: string; text: string }> = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.rego') && (tests || !e.name.endsWith('_test.rego')))
        out.push({ name: path.relative(path.dirname(dir), p), text: fs.readFileSync(p, 'utf8') });
    }
  };
  walk(dir);
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** Rule paths ("tether/decision") of the given sources; functions are not entrypoints. */
export function rulePaths(files: Array<{ text: string }>): string[] {
  const out = new Set<string>();
  for (const f of files) {
    const pkg = /^package\s+([\w.]+)/m.exec(f.text)?.[1];
    if (!pkg) continue;
    for (const m of f.text.matchAll(/^(?:default\s+)?([A-Za-z_]\w*)\s*(?::=|=|contains\b|if\b|\[)/gm)) {
      if (m[1] === 'import' || m[1] === 'package') continue;
      out.add(`${pkg.replace(/\./g, '/')}/${m[1]}`);
    }
  }
  return [...out].sort();
}

/** The shipped data.json. */
export function shippedData(): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(POLICY_DIR, 'data.json'), 'utf8'));
}

let cached: Promise<Uint8Array> | undefined;
let cachedEntrypoints: string[] = [];

/** Compiled wasm of the shipped policies (compiled once per test file). */
export function shippedWasm(): Promise<Uint8Array> {
  cached ??= (async () => {
    const files = regoFiles();
    cachedEntrypoints = rulePaths(files);
    const r = await compile({ files, entrypoints: cachedEntrypoints });
    if (!r.ok || !r.wasm) throw new Error('shipped policies do not compile:\n' + formatDiagnostics(r.diagnostics));
    return r.wasm;
  })();
  return cached;
}

/** A fresh engine over the shipped policies, with the shipped data set. */
export async function shippedEngine(): Promise<PolicyEngine> {
  const wasm = await shippedWasm();
  return loadEngine(wasm, { data: shippedData(), revision: 'test-revision' });
}

/** A switchable EngineSource over the shipped policies (set `engine` undefined to simulate none loaded). */
export class TestEngines implements EngineSource {
  constructor(public engine: PolicyEngine | undefined, public data: unknown = shippedData()) {}
  current(): PolicyEngine | undefined {
    return this.engine;
  }
  baseData(): unknown {
    return this.data;
  }
}
