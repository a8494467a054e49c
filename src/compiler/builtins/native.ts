// Owns the list of NATIVE built-ins: Rego functions implemented inside the wasm runtime
// (src/compiler/wasm/runtime/builtins.ts) rather than called back into the host through
// opa_builtinN. Everything not listed here is a HOST built-in.

/** How the emitter calls one native built-in. */
export interface NativeBuiltin {
  /** Export name of the runtime function (takes and returns value addresses; 0 = undefined). */
  export: string;
  arity: number;
  /** The runtime may answer "ask the host" (non-ASCII lower/upper): the host built-in is also registered. */
  hostFallback?: boolean;
}

/** Rego built-in name -> runtime implementation. */
export const nativeBuiltins: ReadonlyMap<string, NativeBuiltin> = new Map<string, NativeBuiltin>([
  ['equal', { export: 'b_equal', arity: 2 }],
  ['neq', { export: 'b_neq', arity: 2 }],
  ['lt', { export: 'b_lt', arity: 2 }],
  ['lte', { export: 'b_lte', arity: 2 }],
  ['gt', { export: 'b_gt', arity: 2 }],
  ['gte', { export: 'b_gte', arity: 2 }],
  ['plus', { export: 'b_plus', arity: 2 }],
  ['minus', { export: 'b_minus', arity: 2 }],
  ['mul', { export: 'b_mul', arity: 2 }],
  ['div', { export: 'b_div', arity: 2 }],
  ['rem', { export: 'b_rem', arity: 2 }],
  ['abs', { export: 'b_abs', arity: 1 }],
  ['round', { export: 'b_round', arity: 1 }],
  ['ceil', { export: 'b_ceil', arity: 1 }],
  ['floor', { export: 'b_floor', arity: 1 }],
  ['and', { export: 'b_and', arity: 2 }],
  ['or', { export: 'b_or', arity: 2 }],
  ['union', { export: 'b_union', arity: 1 }],
  ['intersection', { export: 'b_intersection', arity: 1 }],
  ['internal.member_2', { export: 'b_member2', arity: 2 }],
  ['internal.member_3', { export: 'b_member3', arity: 3 }],
  ['count', { export: 'b_count', arity: 1 }],
  ['sum', { export: 'b_sum', arity: 1 }],
  ['product', { export: 'b_product', arity: 1 }],
  ['max', { export: 'b_max', arity: 1 }],
  ['min', { export: 'b_min', arity: 1 }],
  ['sort', { export: 'b_sort', arity: 1 }],
  ['array.concat', { export: 'b_array_concat', arity: 2 }],
  ['array.slice', { export: 'b_array_slice', arity: 3 }],
  ['numbers.range', { export: 'b_numbers_range', arity: 2 }],
  ['object.get', { export: 'b_object_get', arity: 3 }],
  ['object.keys', { export: 'b_object_keys', arity: 1 }],
  ['object.union', { export: 'b_object_union', arity: 2 }],
  ['object.remove', { export: 'b_object_remove', arity: 2 }],
  ['object.filter', { export: 'b_object_filter', arity: 2 }],
  ['is_number', { export: 'b_is_number', arity: 1 }],
  ['is_string', { export: 'b_is_string', arity: 1 }],
  ['is_boolean', { export: 'b_is_boolean', arity: 1 }],
  ['is_array', { export: 'b_is_array', arity: 1 }],
  ['is_set', { export: 'b_is_set', arity: 1 }],
  ['is_object', { export: 'b_is_object', arity: 1 }],
  ['is_null', { export: 'b_is_null', arity: 1 }],
  ['type_name', { export: 'b_type_name', arity: 1 }],
  ['concat', { export: 'b_concat', arity: 2 }],
  ['contains', { export: 'b_contains', arity: 2 }],
  ['startswith', { export: 'b_startswith', arity: 2 }],
  ['endswith', { export: 'b_endswith', arity: 2 }],
  ['lower', { export: 'b_lower', arity: 1, hostFallback: true }],
  ['upper', { export: 'b_upper', arity: 1, hostFallback: true }],
]);

/** True when the Rego built-in runs inside the wasm runtime. */
export function isNativeBuiltin(name: string): boolean {
  return nativeBuiltins.has(name);
}
