// Owns the public entry of the wasm back end: ir.Policy -> wasm module bytes implementing OPA's
// ABI 1.2, loadable unmodified by @open-policy-agent/opa-wasm.
import type { Policy, Stmt } from '../ir/ir';
import { nativeBuiltins } from '../builtins/native';
import { generate, type CodegenOptions } from './codegen';
import { inspectRuntime, link, type RuntimeInfo } from './linker';
import { cachedRuntime, runtime, runtimeSync } from './runtime-build';

export type EmitOptions = CodegenOptions;
export { CodegenError } from './codegen';
export { LinkError } from './linker';
export { RuntimeBuildError } from './runtime-build';

let inspected: { wasm: Uint8Array; info: RuntimeInfo } | undefined;

function info(wasm: Uint8Array): RuntimeInfo {
  if (!inspected || inspected.wasm !== wasm) inspected = { wasm, info: inspectRuntime(wasm) };
  return inspected.info;
}

function emitWith(rt: Uint8Array, policy: Policy, opts: EmitOptions): Uint8Array {
  const ri = info(rt);
  const g = generate(policy, ri, opts);
  return link(rt, ri, g.funcs, g.data, g.startFunc);
}

/** Compiles a planned policy to a wasm module (builds and caches the runtime on first use). */
export async function emitWasm(policy: Policy, opts: EmitOptions = {}): Promise<Uint8Array> {
  return emitWith(await runtime(), policy, opts);
}

/** Synchronous emitWasm; builds the runtime in a blocking child process if it is not cached yet. */
export function emitWasmSync(policy: Policy, opts: EmitOptions = {}): Uint8Array {
  return emitWith(runtimeSync(), policy, opts);
}

/** True when emitWasmSync will not need to build the runtime. */
export function runtimeReady(): boolean {
  return cachedRuntime() !== undefined;
}

/**
 * The HOST built-ins a policy calls (not planned functions, not native): what the engine must
 * provide as customBuiltins (or the SDK provides itself, e.g. sprintf).
 */
export function hostBuiltinsOf(policy: Policy, opts: EmitOptions = {}): string[] {
  const funcs = new Set(policy.funcs.map((f) => f.name));
  const isNative = opts.isNative ?? ((n: string) => nativeBuiltins.has(n));
  const out = new Set<string>();
  const walk = (stmts: Stmt[]): void => {
    for (const s of stmts) {
      if (s.type === 'CallStmt' && !funcs.has(s.func)) {
        const nat = isNative(s.func) ? nativeBuiltins.get(s.func) : undefined;
        if (!nat || nat.hostFallback) out.add(s.func);
      } else if (s.type === 'BlockStmt') s.blocks.forEach((b) => walk(b.stmts));
      else if (s.type === 'ScanStmt' || s.type === 'NotStmt' || s.type === 'WithStmt') walk(s.block.stmts);
    }
  };
  for (const f of policy.funcs) f.blocks.forEach((b) => walk(b.stmts));
  for (const p of policy.plans) p.blocks.forEach((b) => walk(b.stmts));
  return [...out].sort();
}

/**
 * Where the last host built-in call of a loaded module was made, as "file:row" (OPA's error
 * prefix), or undefined. For engines placing a host built-in's error after evaluate() threw.
 */
export function lastHostCallLocation(loaded: {
  wasmInstance: { exports: Record<string, unknown> };
  mem: { buffer: ArrayBuffer };
}): string | undefined {
  const fn = loaded.wasmInstance.exports.tether_call_location;
  if (typeof fn !== 'function') return undefined;
  const addr = (fn as () => number)();
  if (!addr) return undefined;
  const bytes = new Uint8Array(loaded.mem.buffer);
  let end = addr;
  while (end < bytes.length && bytes[end] !== 0) end++;
  return Buffer.from(bytes.subarray(addr, end)).toString('utf8');
}
