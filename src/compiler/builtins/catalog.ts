// The one list of built-ins a policy may call: native (inside the wasm runtime, ./native.ts) merged
// with host (called back through opa_builtinN, ./host-decls.ts). Native wins when both exist.
import { HOST_BUILTIN_ARITY } from './host-decls';
import { nativeBuiltins } from './native';

/** Arity of a built-in, or undefined when Tether does not have it (→ rego_type_error at compile time). */
export function builtinArity(name: string): number | undefined {
  const native = nativeBuiltins.get(name);
  if (native) return native.arity;
  return Object.prototype.hasOwnProperty.call(HOST_BUILTIN_ARITY, name) ? HOST_BUILTIN_ARITY[name] : undefined;
}

/** True when calls to `name` go to the host (not implemented natively, or native with a host fallback). */
export function isHostBuiltin(name: string): boolean {
  const native = nativeBuiltins.get(name);
  if (native) return native.hostFallback === true;
  return Object.prototype.hasOwnProperty.call(HOST_BUILTIN_ARITY, name);
}

/** Every built-in name Tether accepts, sorted (for docs and `tether` diagnostics). */
export function allBuiltinNames(): string[] {
  return [...new Set([...nativeBuiltins.keys(), ...Object.keys(HOST_BUILTIN_ARITY)])].sort();
}

/** name → arity for every built-in (the shape checkModules/planPolicy take). */
export function builtinArityMap(): Map<string, number> {
  const m = new Map<string, number>();
  for (const n of allBuiltinNames()) m.set(n, builtinArity(n)!);
  return m;
}
