// The wasm policy engine: one compiled module loaded through @open-policy-agent/opa-wasm with
// Tether's host built-ins; implements the PolicyEngine contract of ./types.
import { createHash } from 'node:crypto';
import { loadPolicySync } from '@open-policy-agent/opa-wasm';
import { makeHostBuiltins } from './builtins';
import { BuiltinError } from './builtins/errors';
import { EngineError, toEngineError } from './errors';
import { beginExact, endExact, toPlainNumbers } from './exact-json';
import type { PolicyEngine, ResultSet } from './types';

export interface EngineOptions {
  /** Revision label; defaults to a hash of the wasm bytes. */
  revision?: string;
  /** OPA's strict built-in errors mode: built-in failures raise instead of being undefined. */
  strictBuiltinErrors?: boolean;
  /** Initial base data document. */
  data?: unknown;
  /** Initial wasm memory pages (default: the SDK's 5). */
  memoryPages?: number;
  /** Receives print(...) lines of policies compiled with print statements. */
  print?: (line: string) => void;
  /** The same wasm already compiled (e.g. on a worker thread, ./off-thread.ts): only instantiated here. */
  module?: WebAssembly.Module;
}

type LoadedPolicy = ReturnType<typeof loadPolicySync>;

const encoder = new TextEncoder();

/**
 * Exact ArrayBuffer of a JSON value. The SDK would do the same for objects, but with a new
 * TextEncoder per call; falsy inputs it would treat as absent.
 */
function jsonBytes(v: unknown): ArrayBuffer {
  const b = encoder.encode(JSON.stringify(v));
  if (b.byteOffset === 0 && b.buffer.byteLength === b.byteLength) return b.buffer as ArrayBuffer;
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/**
 * Whether the module calls host built-ins (its `builtins()` map is non-empty). Only then can the
 * SDK hand big integers to JS mid-evaluation, which is what the exact-JSON mode is for: the result
 * itself reaches callers as plain numbers either way. Unknown counts as yes.
 */
function usesHostBuiltins(policy: LoadedPolicy): boolean {
  const p = policy as unknown as { mem: { buffer: ArrayBuffer }; wasmInstance: { exports: Record<string, unknown> } };
  const ex = p.wasmInstance.exports as Record<string, (...a: number[]) => number>;
  if (typeof ex.builtins !== 'function' || typeof ex.opa_json_dump !== 'function') return true;
  const heap = ex.opa_heap_ptr_get();
  try {
    const addr = ex.opa_json_dump(ex.builtins());
    const mem = new Uint8Array(p.mem.buffer);
    let end = addr;
    while (end < mem.length && mem[end] !== 0) end++;
    const ids: unknown = JSON.parse(new TextDecoder().decode(mem.subarray(addr, end)));
    return !(ids !== null && typeof ids === 'object' && Object.keys(ids).length === 0);
  } catch {
    return true;
  } finally {
    // Leave the heap as the SDK set it up (its data and input live above this pointer).
    ex.opa_heap_ptr_set(heap);
  }
}

/** A loaded wasm policy. Not re-entrant: one evaluate() at a time per engine (Node is single-threaded). */
export class WasmEngine implements PolicyEngine {
  readonly revision: string;
  readonly entrypoints: string[];
  private readonly policy: LoadedPolicy;
  private readonly context: { nowNs?: bigint };
  private readonly ids: Map<string, number>;
  private readonly exact: boolean;

  constructor(wasm: Uint8Array, opts: EngineOptions = {}) {
    const host = makeHostBuiltins({ strict: opts.strictBuiltinErrors, context: opts.print ? { print: opts.print } : undefined });
    this.context = host.context;
    try {
      const bytes = opts.module ?? (wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer);
      this.policy = loadPolicySync(bytes, opts.memoryPages ? { initial: opts.memoryPages } : {}, host.builtins);
    } catch (e) {
      throw new EngineError('policy_load_error', `cannot load policy wasm: ${toEngineError(e).message}`);
    }
    const ids = (this.policy as unknown as { entrypoints: Record<string, number> }).entrypoints ?? {};
    this.entrypoints = Object.keys(ids);
    this.ids = new Map(Object.entries(ids));
    this.exact = usesHostBuiltins(this.policy);
    this.revision = opts.revision ?? createHash('sha256').update(wasm).digest('hex').slice(0, 16);
    if (opts.data !== undefined) this.setData(opts.data);
  }

  evaluate(entrypoint: string, input: unknown): ResultSet {
    const id = this.ids.get(entrypoint);
    if (id === undefined) {
      throw new EngineError('entrypoint_not_found', `entrypoint ${entrypoint} not found (have: ${this.entrypoints.join(', ') || 'none'})`);
    }
    this.context.nowNs = undefined;
    // Objects and falsy inputs (which the SDK treats as "no input") go over as JSON bytes.
    const arg =
      input === undefined || input instanceof ArrayBuffer || (input && typeof input !== 'object') ? input : jsonBytes(input);
    if (!this.exact) {
      // No host built-ins: nothing but the result crosses as JSON, and callers get plain numbers.
      try {
        return this.policy.evaluate(arg, id) as ResultSet;
      } catch (e) {
        throw toEngineError(e);
      }
    }
    let rs: ResultSet;
    let big = false;
    // Exact big integers into host built-ins while the (synchronous) evaluation runs.
    beginExact();
    try {
      rs = this.policy.evaluate(arg, id) as ResultSet;
    } catch (e) {
      endExact();
      if (e instanceof BuiltinError) {
        // OPA prefixes strict built-in errors with the call site ("p.rego:4: eval_type_error: ...").
        const site = this.callSite();
        if (site) throw new EngineError(e.code, `${site}: ${e.code}: ${e.message}`);
      }
      throw toEngineError(e);
    }
    big = endExact();
    // Callers get plain JSON numbers.
    return big ? (toPlainNumbers(rs) as ResultSet) : rs;
  }

  setData(data: unknown): void {
    if (data === undefined) throw new EngineError('data_invalid', 'data must be a JSON value');
    try {
      this.policy.setData(data as object);
    } catch (e) {
      throw new EngineError('data_invalid', `cannot load data: ${toEngineError(e).message}`);
    }
  }

  /** Bytes of wasm linear memory now (for leak checks). */
  memoryBytes(): number {
    return (this.policy as unknown as { mem: { buffer: ArrayBuffer } }).mem.buffer.byteLength;
  }

  /**
   * The Rego location ("file:row") of the host built-in call in progress, when the module exports
   * it: Tether's emitter exports `tether_call_location()` returning the address of a NUL-terminated
   * string (0 = unknown). Modules from other compilers (opa build) lack it.
   */
  private callSite(): string | undefined {
    const exp = (this.policy as unknown as { wasmInstance: { exports: Record<string, unknown> } }).wasmInstance.exports;
    const fn = exp.tether_call_location;
    if (typeof fn !== 'function') return undefined;
    let addr: number;
    try {
      addr = (fn as () => number)();
    } catch {
      return undefined;
    }
    if (!addr) return undefined;
    const mem = new Uint8Array((this.policy as unknown as { mem: { buffer: ArrayBuffer } }).mem.buffer);
    let end = addr;
    while (end < mem.length && mem[end] !== 0 && end - addr < 4096) end++;
    return new TextDecoder().decode(mem.subarray(addr, end)) || undefined;
  }

}

/** Loads compiled wasm bytes as a PolicyEngine. */
export function loadEngine(wasm: Uint8Array, opts: EngineOptions = {}): WasmEngine {
  return new WasmEngine(wasm, opts);
}
