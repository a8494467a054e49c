// Small helpers to hand-build ir.Policy values for the wasm emitter tests, plus SDK loading.
import type * as ir from '../../../src/compiler/ir/ir';
import { emitWasm } from '../../../src/compiler/wasm';
// The SDK ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const opa = require('@open-policy-agent/opa-wasm');

// The first emit in a fresh checkout builds the runtime with asc (tens of seconds on a busy machine).
if (typeof jest !== 'undefined') jest.setTimeout(180_000);

export interface LoadedPolicy {
  evaluate(input: unknown, entrypoint?: string | number): Array<{ result: unknown }>;
  setData(data: unknown): void;
  entrypoints: Record<string, number>;
  mem: { buffer: ArrayBuffer };
  minorVersion: number;
  wasmInstance: { exports: Record<string, unknown> };
}

export const L = (value: number): ir.Operand => ({ type: 'local', value });
export const B = (value: boolean): ir.Operand => ({ type: 'bool', value });

/** Interns strings into a static table while a test builds statements. */
export class Strings {
  readonly list: string[] = [];
  s(text: string): ir.Operand {
    let i = this.list.indexOf(text);
    if (i < 0) {
      i = this.list.length;
      this.list.push(text);
    }
    return { type: 'string_index', value: i };
  }
  index(text: string): number {
    return (this.s(text) as { value: number }).value;
  }
}

/** A plan whose single block runs stmts and adds {"result": local resultLocal} to the result set. */
export function resultPlan(str: Strings, name: string, stmts: ir.Stmt[], resultLocal: number, scratch = 900): ir.Plan {
  return {
    name,
    blocks: [
      {
        stmts: [
          ...stmts,
          { type: 'MakeObjectStmt', target: scratch },
          { type: 'ObjectInsertStmt', key: str.s('result'), value: L(resultLocal), object: scratch },
          { type: 'ResultSetAddStmt', value: scratch },
        ],
      },
    ],
  };
}

export function policyOf(str: Strings, plans: ir.Plan[], funcs: ir.Func[] = []): ir.Policy {
  return { static: { strings: str.list, builtinFuncs: [], files: ['test.rego'] }, plans, funcs };
}

export async function load(policy: ir.Policy, customBuiltins: Record<string, (...a: unknown[]) => unknown> = {}): Promise<LoadedPolicy> {
  const wasm = await emitWasm(policy);
  return opa.loadPolicy(wasm, undefined, customBuiltins);
}

export async function loadModule(wasm: Uint8Array): Promise<LoadedPolicy> {
  return opa.loadPolicy(wasm);
}

export function loadSync(wasm: Uint8Array, customBuiltins: Record<string, (...a: unknown[]) => unknown> = {}): LoadedPolicy {
  return opa.loadPolicySync(wasm, undefined, customBuiltins);
}
