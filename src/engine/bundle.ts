// OPA bundles (.tar.gz): /.manifest {revision, roots, wasm: [{entrypoint, module}]}, /policy.wasm,
// data.json files (each merged at its directory's path), and optional .rego sources. Reads bundles
// written by `tether build` and by OPA's `opa build -t wasm`.
import { readFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { EngineError } from './errors';
import { loadEngine, type EngineOptions, type WasmEngine } from './engine';
import { readTar, writeTar, type TarEntry } from './tar';

export interface WasmResolver {
  entrypoint: string;
  module: string;
}

export interface BundleManifest {
  revision?: string;
  roots?: string[];
  wasm?: WasmResolver[];
  metadata?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface Bundle {
  manifest: BundleManifest;
  /** The policy module (the first in the manifest, or /policy.wasm). */
  wasm: Uint8Array;
  /** Entrypoints named by the manifest for this module (may be empty for manifest-less bundles). */
  entrypoints: string[];
  /** All data.json files merged into one document. */
  data: Record<string, unknown>;
  /** .rego sources carried in the bundle, by path. */
  sources: Record<string, string>;
}

export interface BundleInput {
  wasm: Uint8Array;
  entrypoints: string[];
  data?: unknown;
  revision?: string;
  roots?: string[];
  sources?: Record<string, string>;
}

const norm = (name: string): string => '/' + name.replace(/^\.?\/+/, '');

/** Writes an OPA bundle and returns its .tar.gz bytes. */
export function writeBundle(b: BundleInput): Buffer {
  const manifest: BundleManifest = {
    revision: b.revision ?? '',
    roots: b.roots ?? [''],
    wasm: b.entrypoints.map((entrypoint) => ({ entrypoint, module: '/policy.wasm' })),
  };
  const entries: TarEntry[] = [
    { name: '/.manifest', data: Buffer.from(JSON.stringify(manifest)) },
    { name: '/data.json', data: Buffer.from(JSON.stringify(b.data ?? {})) },
    { name: '/policy.wasm', data: b.wasm },
  ];
  for (const [path, text] of Object.entries(b.sources ?? {}).sort(([x], [y]) => (x < y ? -1 : 1))) {
    entries.push({ name: norm(path), data: Buffer.from(text) });
  }
  return gzipSync(writeTar(entries));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Places `value` at `path` inside `root`, merging objects (a conflict on a non-object is an error). */
function mergeAt(root: Record<string, unknown>, path: string[], value: unknown, file: string): void {
  let node = root;
  for (const key of path) {
    if (!(key in node)) node[key] = {};
    const next = node[key];
    if (!isPlainObject(next)) throw new EngineError('bundle_invalid', `${file}: data path ${path.join('/')} conflicts with a non-object value`);
    node = next;
  }
  if (!isPlainObject(value)) {
    if (path.length === 0) throw new EngineError('bundle_invalid', `${file}: root data document must be an object`);
    const parent = path.slice(0, -1).reduce<Record<string, unknown>>((n, k) => n[k] as Record<string, unknown>, root);
    parent[path[path.length - 1]] = value;
    return;
  }
  deepMerge(node, value, file);
}

function deepMerge(into: Record<string, unknown>, from: Record<string, unknown>, file: string): void {
  for (const [k, v] of Object.entries(from)) {
    if (isPlainObject(into[k]) && isPlainObject(v)) deepMerge(into[k] as Record<string, unknown>, v, file);
    else if (k in into && JSON.stringify(into[k]) !== JSON.stringify(v)) throw new EngineError('bundle_invalid', `${file}: data conflict at key ${k}`);
    else into[k] = v;
  }
}

/** Parses .tar.gz bundle bytes. */
export function readBundle(bytes: Uint8Array): Bundle {
  let entries: TarEntry[];
  try {
    entries = readTar(gunzipSync(bytes));
  } catch (e) {
    throw new EngineError('bundle_invalid', `not a gzipped tar bundle: ${(e as Error).message}`);
  }
  const files = new Map(entries.map((e) => [norm(e.name), e.data]));
  let manifest: BundleManifest = {};
  const mf = files.get('/.manifest');
  if (mf) {
    try {
      manifest = JSON.parse(Buffer.from(mf).toString('utf8')) as BundleManifest;
    } catch {
      throw new EngineError('bundle_invalid', '/.manifest is not valid JSON');
    }
  }
  const modules = [...new Set((manifest.wasm ?? []).map((w) => norm(w.module)))];
  if (modules.length > 1) throw new EngineError('bundle_invalid', `bundles with several wasm modules are not supported (${modules.join(', ')})`);
  const modulePath = modules[0] ?? '/policy.wasm';
  const wasm = files.get(modulePath);
  if (!wasm) throw new EngineError('bundle_invalid', `bundle has no wasm module ${modulePath}`);
  const data: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  for (const [name, content] of [...files].sort(([a], [b]) => a.length - b.length)) {
    if (name === '/data.json' || name.endsWith('/data.json')) {
      let value: unknown;
      try {
        value = JSON.parse(Buffer.from(content).toString('utf8'));
      } catch {
        throw new EngineError('bundle_invalid', `${name} is not valid JSON`);
      }
      const dir = name.split('/').slice(1, -1).filter(Boolean);
      mergeAt(data, dir, value, name);
    } else if (name.endsWith('.rego')) {
      sources[name] = Buffer.from(content).toString('utf8');
    }
  }
  const entrypoints = (manifest.wasm ?? []).filter((w) => norm(w.module) === modulePath).map((w) => w.entrypoint);
  return { manifest, wasm, entrypoints, data, sources };
}

/** Loads a bundle (bytes or a file path) as an engine with its data set. */
export function loadBundle(src: Uint8Array | string, opts: EngineOptions = {}): WasmEngine {
  let bytes: Uint8Array;
  if (typeof src === 'string') {
    try {
      bytes = readFileSync(src);
    } catch (e) {
      throw new EngineError('bundle_not_found', `cannot read bundle ${src}: ${(e as Error).message}`);
    }
  } else bytes = src;
  const b = readBundle(bytes);
  return loadEngine(b.wasm, { ...opts, revision: opts.revision ?? (b.manifest.revision || undefined), data: opts.data ?? b.data });
}
