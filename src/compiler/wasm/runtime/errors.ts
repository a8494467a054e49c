// Owns built-in error reporting: a native built-in that fails records an OPA-style message
// ("eval_type_error: plus: operand 2 must be number but got string") and returns 0 (undefined).
// Modules compiled with strict built-in errors turn a recorded error into an opa_abort.
import { malloc, vtype, T_NULL, T_BOOL, T_NUM, T_STR, T_ARR, T_OBJ, T_SET, ensureMemory } from "./value";

let errMsg: usize = 0;
let wp: usize = 0;

function lit(s: string): void {
  const n = s.length;
  ensureMemory(wp + <usize>n + 1);
  for (let i = 0; i < n; i++) store<u8>(wp + <usize>i, <u8>s.charCodeAt(i));
  wp += <usize>n;
}

function typeName(v: usize): string {
  if (v == 0) return "undefined";
  switch (vtype(v)) {
    case T_NULL: return "null";
    case T_BOOL: return "boolean";
    case T_NUM: return "number";
    case T_STR: return "string";
    case T_ARR: return "array";
    case T_OBJ: return "object";
    case T_SET: return "set";
  }
  return "unknown";
}

// Messages are short: reserve a fixed buffer so no other allocation interleaves.
function begin(): void {
  wp = malloc(256);
}

function finish(): usize {
  store<u8>(wp, 0);
  return 0;
}

/** Records "eval_type_error: <fn>: operand <n> must be <want> but got <type of got>"; returns 0. */
export function typeError(fn: string, operand: i32, want: string, got: usize): usize {
  begin();
  errMsg = wp;
  lit("eval_type_error: ");
  lit(fn);
  lit(": operand ");
  store<u8>(wp, <u8>(0x30 + operand));
  wp++;
  lit(" must be ");
  lit(want);
  lit(" but got ");
  lit(typeName(got));
  return finish();
}

/** Records "eval_builtin_error: <fn>: <msg>"; returns 0. */
export function builtinError(fn: string, msg: string): usize {
  begin();
  errMsg = wp;
  lit("eval_builtin_error: ");
  lit(fn);
  lit(": ");
  lit(msg);
  return finish();
}

/** The pending error message (0 if none), clearing it. */
export function takeError(): usize {
  const m = errMsg;
  errMsg = 0;
  return m;
}
