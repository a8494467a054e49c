// The wasm policy engine: one compiled module loaded through @open-policy-agent/opa-wasm with
// Tether's host built-ins; implements the PolicyEngine contract of ./types.
import { createHash } from 'node:crypto';
import { loadPolicySync } from '@open-policy-agent/opa-wasm';
import { makeHostBuiltins } from './builtins';
import { EngineError, toEngineError } from './errors';
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
}

type LoadedPolicy = ReturnType<typeof loadPolicySync>;

const encoder = new TextEncoder();

/** Exact ArrayBuffer of a JSON value (the SDK treats falsy inputs as absent, so we always pass bytes). */
function jsonBytes(v: unknown): ArrayBuffer {
  const b = encoder.encode(JSON.stringify(v));
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** A loaded wasm policy. Not re-entrant: one evaluate() at a time per engine (Node is single-threaded). */
export class WasmEngine implements PolicyEngine {
  readonly revision: string;
  readonly entrypoints: string[];
  private readonly policy: LoadedPolicy;
  private readonly context: { nowNs?: bigint };

  constructor(wasm: Uint8Array, opts: EngineOptions = {}) {
    const host = makeHostBuiltins({ strict: opts.strictBuiltinErrors });
    this.context = host.context;
    try {
      const bytes = wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer;
      this.policy = loadPolicySync(bytes, opts.memoryPages ? { initial: opts.memoryPages } : {}, host.builtins);
    } catch (e) {
      throw new EngineError('policy_load_error', `cannot load policy wasm: ${toEngineError(e).message}`);
    }
    this.entrypoints = Object.keys((this.policy as unknown as { entrypoints: Record<string, number> }).entrypoints ?? {});
    this.revision = opts.revision ?? createHash('sha256').update(wasm).digest('hex').slice(0, 16);
    if (opts.data !== undefined) this.setData(opts.data);
  }

  evaluate(entrypoint: string, input: unknown): ResultSet {
    if (!this.entrypoints.includes(entrypoint)) {
      throw new EngineError('entrypoint_not_found', `entrypoint ${entrypoint} not found (have: ${this.entrypoints.join(', ') || 'none'})`);
    }
    this.context.nowNs = undefined;
    try {
      const arg = input === undefined ? undefined : input instanceof ArrayBuffer ? input : jsonBytes(input);
      return this.policy.evaluate(arg, entrypoint) as ResultSet;
    } catch (e) {
      throw toEngineError(e);
    }
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
}

/** Loads compiled wasm bytes as a PolicyEngine. */
export function loadEngine(wasm: Uint8Array, opts: EngineOptions = {}): WasmEngine {
  return new WasmEngine(wasm, opts);
}
