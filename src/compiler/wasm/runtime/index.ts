// Entry of the Tether wasm runtime: OPA ABI 1.2 exports the SDK calls, plus "t_*" helpers and
// "b_*" native built-ins the emitter's generated code calls by export name (the emitter appends
// opa_eval, eval, builtins, entrypoints and a start function that copies its static data in and
// calls t_set_heap with the address past it).
import {
  heapPtr, malloc, align8, abortStatic, intV, compare, valueGet, valueIter, valueLength, arrV, arrPush,
  objV, setV, mapPut, setAdd, merge, shallowCopy, upsert, strLen, strPtr, vtype, T_STR, setHeap,
  ensureMemory, mapGet, T_OBJ, T_SET,
} from "./value";
import { jsonParse, jsonDump, numberFromText } from "./json";
import { takeError } from "./errors";
import { opa_abort } from "./value";

export const opa_wasm_abi_version: i32 = 1;
export const opa_wasm_abi_minor_version: i32 = 2;

// ---------------------------------------------------------------- ABI

export function opa_malloc(size: usize): usize {
  return malloc(size);
}
export function opa_free(ptr: usize): void {}
export function opa_json_parse(ptr: usize, len: usize): usize {
  return jsonParse(ptr, len);
}
export function opa_value_parse(ptr: usize, len: usize): usize {
  return jsonParse(ptr, len);
}
export function opa_json_dump(v: usize): usize {
  return jsonDump(v);
}
export function opa_value_dump(v: usize): usize {
  return jsonDump(v);
}
export function opa_heap_ptr_get(): usize {
  return heapPtr;
}
export function opa_heap_ptr_set(p: usize): void {
  t_set_heap(p);
}

// Evaluation context for ABI minor < 2 clients: input, data, entrypoint, result.
export function opa_eval_ctx_new(): usize {
  const c = malloc(16);
  store<u32>(c, 0);
  store<u32>(c, 0, 4);
  store<u32>(c, 0, 8);
  store<u32>(c, 0, 12);
  return c;
}
export function opa_eval_ctx_set_input(c: usize, v: usize): void {
  store<u32>(c, <u32>v);
}
export function opa_eval_ctx_set_data(c: usize, v: usize): void {
  store<u32>(c, <u32>v, 4);
}
export function opa_eval_ctx_set_entrypoint(c: usize, ep: i32): void {
  store<i32>(c, ep, 8);
}
export function opa_eval_ctx_get_result(c: usize): usize {
  return <usize>load<u32>(c, 12);
}

// ---------------------------------------------------------------- helpers for generated code

export function t_heap_base(): usize {
  return __heap_base;
}
export function t_set_heap(p: usize): void {
  // Imports mutate the allocator through its owning module.
  setHeap(p);
}
export function t_eval_input(ptr: usize, len: usize, heap: usize): usize {
  setHeap(align8(heap));
  takeError();
  if (ptr == 0) return 0;
  const v = jsonParse(ptr, len);
  if (v == 0) abortStatic("invalid_argument: input is not valid JSON");
  return v;
}
/** Strict built-in errors: aborts with the error a native built-in just recorded, if any. */
export function t_check_error(): void {
  const m = takeError();
  if (m != 0) {
    opa_abort(m);
    unreachable();
  }
}
/** Grows memory to cover top (the start function copies static data there). */
export function t_ensure_memory(top: usize): void {
  ensureMemory(top);
}

/** Zeroed memory (memo tables of generated code). */
export function t_calloc(n: usize): usize {
  const p = malloc(n);
  memory.fill(p, 0, n);
  return p;
}
export function t_int(i: i64): usize {
  return intV(i);
}
export function t_set_int(v: usize, i: i64): void {
  store<u32>(v, 0x0003);
  store<u32>(v, 0, 4);
  store<i64>(v, i, 8);
}
export function t_number_ref(s: usize): usize {
  if (vtype(s) != T_STR) return 0;
  return numberFromText(strPtr(s), strLen(s));
}
/** DotStmt with a constant string key (field access, the common case): no generic dispatch. */
export function t_get_str(v: usize, key: usize): usize {
  if (v == 0) return 0;
  const t = vtype(v);
  return t == T_OBJ || t == T_SET ? mapGet(v, key) : 0;
}
export function t_len(v: usize): usize {
  const n = v == 0 ? -1 : valueLength(v);
  return intV(<i64>(n < 0 ? 0 : n));
}

export {
  compare as t_compare, valueGet as t_get, valueIter as t_iter, arrV as t_array, arrPush as t_array_append,
  objV as t_object, setV as t_set, mapPut as t_object_insert, setAdd as t_set_add, merge as t_merge,
  shallowCopy as t_shallow_copy, upsert as t_upsert, jsonDump as t_dump,
};

export {
  b_equal, b_neq, b_lt, b_lte, b_gt, b_gte, b_plus, b_minus, b_mul, b_div, b_rem, b_abs, b_round, b_ceil,
  b_floor, b_and, b_or, b_union, b_intersection, b_member2, b_member3, b_count, b_sum, b_product, b_max,
  b_min, b_sort, b_array_concat, b_array_slice, b_numbers_range, b_object_get, b_object_keys,
  b_object_union, b_object_remove, b_object_filter, b_is_number, b_is_string, b_is_boolean, b_is_array,
  b_is_set, b_is_object, b_is_null, b_type_name, b_concat, b_contains, b_startswith, b_endswith, b_lower,
  b_upper,
} from "./builtins";

/** Target of asc's --use abort=...: std-library failures surface as OPA aborts. */
export function rtAbort(msg: string | null, file: string | null, line: u32, col: u32): void {
  abortStatic("internal_error: runtime abort");
}

// The SDK's host built-in dispatchers. Generated code calls these imports directly; the wrappers
// exist only so the imports stay in the prebuilt runtime (adding imports later would shift every
// function index in it).
@external("env", "opa_builtin0")
declare function opa_builtin0(id: i32, ctx: i32): usize;
@external("env", "opa_builtin1")
declare function opa_builtin1(id: i32, ctx: i32, a: usize): usize;
@external("env", "opa_builtin2")
declare function opa_builtin2(id: i32, ctx: i32, a: usize, b: usize): usize;
@external("env", "opa_builtin3")
declare function opa_builtin3(id: i32, ctx: i32, a: usize, b: usize, c: usize): usize;
@external("env", "opa_builtin4")
declare function opa_builtin4(id: i32, ctx: i32, a: usize, b: usize, c: usize, d: usize): usize;
@external("env", "opa_println")
declare function opa_println(addr: usize): void;

export function t_builtin0(id: i32): usize {
  return opa_builtin0(id, 0);
}
export function t_builtin1(id: i32, a: usize): usize {
  return opa_builtin1(id, 0, a);
}
export function t_builtin2(id: i32, a: usize, b: usize): usize {
  return opa_builtin2(id, 0, a, b);
}
export function t_builtin3(id: i32, a: usize, b: usize, c: usize): usize {
  return opa_builtin3(id, 0, a, b, c);
}
export function t_builtin4(id: i32, a: usize, b: usize, c: usize, d: usize): usize {
  return opa_builtin4(id, 0, a, b, c, d);
}
export function t_println(addr: usize): void {
  opa_println(addr);
}
