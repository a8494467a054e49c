// Owns building the AssemblyScript runtime (runtime/*.ts) into wasm: once per source hash, cached
// in memory and on disk (node_modules/.cache/tether/runtime-<hash>.wasm), so policy compiles only
// link. This is the compiler's one I/O point, by design: asc takes ~1-5 s, linking milliseconds.
import { createHash } from 'node:crypto';
import { execFileSync, execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export class RuntimeBuildError extends Error {
  readonly code = 'wasm_runtime_build_error';
}

function findRepoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'node_modules', 'assemblyscript'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new RuntimeBuildError('wasm_runtime_build_error: assemblyscript is not installed');
    dir = up;
  }
}

function runtimeDir(root: string): string {
  const local = path.join(__dirname, 'runtime');
  if (fs.existsSync(path.join(local, 'index.ts'))) return local;
  return path.join(root, 'src', 'compiler', 'wasm', 'runtime');
}

const ASC_FLAGS = [
  '--runtime', 'stub', '--importMemory', '--noExportMemory', '--initialMemory', '2',
  '--use', 'abort=index/rtAbort', '-O3', '--noAssert',
];

interface Plan {
  root: string;
  dir: string;
  hash: string;
  cacheFile: string;
}

function plan(): Plan {
  const root = findRepoRoot();
  const dir = runtimeDir(root);
  const h = createHash('sha256');
  let ascVersion = '';
  try {
    ascVersion = JSON.parse(fs.readFileSync(path.join(root, 'node_modules', 'assemblyscript', 'package.json'), 'utf8')).version;
  } catch {
    /* version only salts the hash */
  }
  h.update(ascVersion + '\0' + ASC_FLAGS.join(' ') + '\0');
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.ts')).sort()) {
    h.update(f + '\0');
    h.update(fs.readFileSync(path.join(dir, f)));
  }
  const hash = h.digest('hex').slice(0, 16);
  return { root, dir, hash, cacheFile: path.join(cacheDir(root), `runtime-${hash}.wasm`) };
}

/** node_modules/.cache/tether, or a temp directory when node_modules is read-only. */
function cacheDir(root: string): string {
  const preferred = path.join(root, 'node_modules', '.cache', 'tether');
  try {
    fs.mkdirSync(preferred, { recursive: true });
    fs.accessSync(preferred, fs.constants.W_OK);
    return preferred;
  } catch {
    const fallback = path.join(os.tmpdir(), 'tether-cache');
    fs.mkdirSync(fallback, { recursive: true });
    return fallback;
  }
}

let memo: { hash: string; wasm: Uint8Array } | undefined;

function readCached(p: Plan): Uint8Array | undefined {
  if (memo && memo.hash === p.hash) return memo.wasm;
  if (fs.existsSync(p.cacheFile)) {
    memo = { hash: p.hash, wasm: new Uint8Array(fs.readFileSync(p.cacheFile)) };
    return memo.wasm;
  }
  return undefined;
}

function ascArgs(p: Plan, out: string): string[] {
  return [path.join(p.root, 'node_modules', 'assemblyscript', 'bin', 'asc.js'), 'index.ts', '-o', out, '--baseDir', p.dir, ...ASC_FLAGS];
}

function tmpOut(p: Plan): string {
  fs.mkdirSync(path.dirname(p.cacheFile), { recursive: true });
  return `${p.cacheFile}.${process.pid}.${Date.now()}.tmp`;
}

function adopt(p: Plan, tmp: string): Uint8Array {
  // rename is atomic: concurrent builders of the same hash write identical bytes.
  fs.renameSync(tmp, p.cacheFile);
  memo = { hash: p.hash, wasm: new Uint8Array(fs.readFileSync(p.cacheFile)) };
  // Runtimes built from older sources are dead weight now.
  const dir = path.dirname(p.cacheFile);
  for (const f of fs.readdirSync(dir)) {
    if (/^runtime-[0-9a-f]{16}\.wasm$/.test(f) && path.join(dir, f) !== p.cacheFile) {
      try {
        fs.unlinkSync(path.join(dir, f));
      } catch {
        /* another process may have removed it */
      }
    }
  }
  return memo.wasm;
}

/** The runtime wasm if it is already built (memory or disk cache), without building it. */
export function cachedRuntime(): Uint8Array | undefined {
  return readCached(plan());
}

/** The runtime wasm, building it synchronously with asc in a child process if needed. */
export function runtimeSync(): Uint8Array {
  const p = plan();
  const hit = readCached(p);
  if (hit) return hit;
  const tmp = tmpOut(p);
  try {
    execFileSync(process.execPath, ascArgs(p, tmp), { cwd: p.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer };
    throw new RuntimeBuildError(`wasm_runtime_build_error: ${err.stderr?.toString() ?? String(e)}`);
  }
  return adopt(p, tmp);
}

/** The runtime wasm, building it with asc in a child process (off the event loop) if needed. */
export async function runtime(): Promise<Uint8Array> {
  const p = plan();
  const hit = readCached(p);
  if (hit) return hit;
  const tmp = tmpOut(p);
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, ascArgs(p, tmp), { cwd: p.dir }, (err, _out, stderr) => {
      if (err) reject(new RuntimeBuildError(`wasm_runtime_build_error: ${stderr || err.message}`));
      else resolve();
    });
  });
  return adopt(p, tmp);
}
