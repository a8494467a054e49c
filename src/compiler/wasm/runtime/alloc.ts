// Owns the runtime's bump allocator, which IS the OPA heap pointer (reset per evaluation from
// opa_eval's heapPtr and per setData by the SDK), plus aborting with a static message.
// AssemblyScript, compiled by asc (see ../runtime-build.ts); never type-checked by tsc.

@external("env", "opa_abort")
export declare function opa_abort(addr: usize): void;

export let heapPtr: usize = __heap_base;

// @ts-ignore: decorator
@inline
export function align8(p: usize): usize {
  return (p + 7) & ~(<usize>7);
}

// Bytes of linear memory known to exist. Memory never shrinks (the SDK may grow it behind our
// back, which only makes this an underestimate), so allocations below it skip memory.size().
export let memTop: usize = 0;

export function ensureMemory(top: usize): void {
  if (top <= memTop) return;
  const have = (<usize>memory.size()) << 16;
  if (top > have) {
    const pages = <i32>((top - have + 0xffff) >> 16);
    if (memory.grow(pages) < 0) {
      abortStatic("internal_error: out of memory");
    }
  }
  memTop = (<usize>memory.size()) << 16;
}

export function setHeap(p: usize): void {
  heapPtr = align8(p);
}

// @ts-ignore: decorator
@inline
export function malloc(size: usize): usize {
  const p = align8(heapPtr);
  const top = p + size;
  if (top > memTop) ensureMemory(top);
  heapPtr = top;
  return p;
}

// Aborts with an AssemblyScript string literal (static UTF-16 data), narrowed to bytes.
export function abortStatic(msg: string): void {
  const n = msg.length;
  // Not malloc: it is inlined, and ensureMemory (which it calls) calls back here.
  const p = align8(heapPtr);
  ensureMemory(p + <usize>n + 1);
  heapPtr = p + <usize>n + 1;
  for (let i = 0; i < n; i++) store<u8>(p + <usize>i, <u8>msg.charCodeAt(i));
  store<u8>(p + <usize>n, 0);
  opa_abort(p);
  unreachable();
}

