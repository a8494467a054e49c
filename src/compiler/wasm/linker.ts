// Owns linking: reads the prebuilt runtime module and appends generated functions, exports, a
// static data segment and a start function, without touching the runtime's own code.
import { ByteReader, ByteWriter } from './encoding';

/** A wasm function signature over numeric value types. */
export interface FuncType {
  params: number[];
  results: number[];
}

/** What the linker knows about the runtime module. */
export interface RuntimeInfo {
  /** Function index of each exported runtime function, by export name. */
  exports: Map<string, number>;
  /** Function index of each function import, by field name (e.g. "opa_abort"). */
  imports: Map<string, number>;
  /** Number of functions (imported + defined) in the runtime. */
  funcCount: number;
  /** Where the runtime's static data ends: the first address free for ours. */
  heapBase: number;
  /** Number of data segments in the runtime (ours is appended as the next, passive, one). */
  dataSegments: number;
}

interface Section {
  id: number;
  body: Uint8Array;
}

/** A function to append: its signature, locals (beyond params) and body (without the final end). */
export interface NewFunc {
  type: FuncType;
  localsI32: number;
  body: Uint8Array;
  exportName?: string;
}

export class LinkError extends Error {
  readonly code = 'wasm_link_error';
}

function sections(wasm: Uint8Array): Section[] {
  const r = new ByteReader(wasm, 8);
  const out: Section[] = [];
  while (r.pos < wasm.length) {
    const id = r.byte();
    const size = r.u32();
    out.push({ id, body: r.bytes(size) });
  }
  return out;
}

/** Inspects a runtime module once; the result is reused by every link against it. */
export function inspectRuntime(wasm: Uint8Array): RuntimeInfo {
  const secs = sections(wasm);
  const imports = new Map<string, number>();
  const exports = new Map<string, number>();
  let importFuncs = 0;
  let definedFuncs = 0;
  let codeBody: Uint8Array | undefined;
  let dataSegments = 0;
  for (const s of secs) {
    const r = new ByteReader(s.body);
    if (s.id === 2) {
      const n = r.u32();
      for (let i = 0; i < n; i++) {
        r.name();
        const field = r.name();
        const kind = r.byte();
        if (kind === 0) {
          r.u32();
          imports.set(field, importFuncs++);
        } else if (kind === 1) {
          r.byte();
          const flags = r.byte();
          r.u32();
          if (flags & 1) r.u32();
        } else if (kind === 2) {
          const flags = r.byte();
          r.u32();
          if (flags & 1) r.u32();
        } else if (kind === 3) {
          r.byte();
          r.byte();
        }
      }
    } else if (s.id === 3) {
      definedFuncs = r.u32();
    } else if (s.id === 7) {
      const n = r.u32();
      for (let i = 0; i < n; i++) {
        const name = r.name();
        const kind = r.byte();
        const idx = r.u32();
        if (kind === 0) exports.set(name, idx);
      }
    } else if (s.id === 10) {
      codeBody = s.body;
    } else if (s.id === 11) {
      dataSegments = r.u32();
    }
  }
  const hb = exports.get('t_heap_base');
  if (hb === undefined || !codeBody) throw new LinkError('wasm_link_error: runtime lacks t_heap_base');
  // t_heap_base's body is a single i32.const after -O3: read the constant.
  const r = new ByteReader(codeBody);
  const n = r.u32();
  let heapBase = -1;
  for (let i = 0; i < n; i++) {
    const size = r.u32();
    const start = r.pos;
    if (i === hb - importFuncs) {
      const locals = r.u32();
      if (locals === 0 && r.byte() === 0x41) heapBase = r.s32();
    }
    r.pos = start + size;
  }
  if (heapBase < 0) throw new LinkError('wasm_link_error: cannot read the runtime heap base');
  return { exports, imports, funcCount: importFuncs + definedFuncs, heapBase, dataSegments };
}

function typeKey(t: FuncType): string {
  return `${t.params.join(',')}>${t.results.join(',')}`;
}

/**
 * Appends funcs (indices runtime.funcCount + i), a PASSIVE data segment (index
 * info.dataSegments; startFunc copies it to its address with memory.init after growing memory,
 * so static data of any size fits the SDK's default memory), and a start function calling
 * startFunc after the runtime's own start, if any.
 */
export function link(
  runtime: Uint8Array,
  info: RuntimeInfo,
  funcs: NewFunc[],
  data: { addr: number; bytes: Uint8Array },
  startFunc: number,
): Uint8Array {
  const secs = sections(runtime);
  const get = (id: number) => secs.find((s) => s.id === id);

  // Types: append ours after the runtime's.
  const typeSec = get(1);
  const tr = new ByteReader(typeSec ? typeSec.body : new Uint8Array([0]));
  const baseTypeCount = tr.u32();
  const typeRest = tr.bytes(tr.buf.length - tr.pos);
  const newTypes: FuncType[] = [];
  const typeIndex = new Map<string, number>();
  const typeOf = (t: FuncType) => {
    const k = typeKey(t);
    let i = typeIndex.get(k);
    if (i === undefined) {
      i = baseTypeCount + newTypes.length;
      newTypes.push(t);
      typeIndex.set(k, i);
    }
    return i;
  };
  const funcTypeIdx = funcs.map((f) => typeOf(f.type));

  // Start: chain the runtime's start function (AssemblyScript's global initialisers) first.
  const startSec = get(8);
  const oldStart = startSec ? new ByteReader(startSec.body).u32() : -1;
  const startBody = new ByteWriter();
  startBody.u32(0);
  if (oldStart >= 0) startBody.byte(0x10).u32(oldStart);
  startBody.byte(0x10).u32(startFunc).byte(0x0b);
  const startIdx = info.funcCount + funcs.length;
  const startType = typeOf({ params: [], results: [] });

  const out = new ByteWriter(runtime.length + 65536);
  out.bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const emit = (id: number, body: Uint8Array) => {
    out.byte(id).u32(body.length).bytes(body);
  };

  const order = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 10, 11];
  for (const id of order) {
    const s = get(id);
    if (id === 1) {
      const w = new ByteWriter();
      w.u32(baseTypeCount + newTypes.length).bytes(typeRest);
      for (const t of newTypes) {
        w.byte(0x60).u32(t.params.length).bytes(t.params).u32(t.results.length).bytes(t.results);
      }
      emit(1, w.finish());
    } else if (id === 3) {
      const r = new ByteReader(s ? s.body : new Uint8Array([0]));
      const n = r.u32();
      const w = new ByteWriter();
      w.u32(n + funcs.length + 1).bytes(r.bytes(r.buf.length - r.pos));
      for (const t of funcTypeIdx) w.u32(t);
      w.u32(startType);
      emit(3, w.finish());
    } else if (id === 7) {
      const r = new ByteReader(s ? s.body : new Uint8Array([0]));
      const n = r.u32();
      const exported = funcs.map((f, i) => ({ f, i })).filter((x) => x.f.exportName);
      const w = new ByteWriter();
      w.u32(n + exported.length).bytes(r.bytes(r.buf.length - r.pos));
      for (const { f, i } of exported) w.name(f.exportName!).byte(0).u32(info.funcCount + i);
      emit(7, w.finish());
    } else if (id === 8) {
      emit(8, new ByteWriter().u32(startIdx).finish());
    } else if (id === 12) {
      // memory.init needs a data count section.
      emit(12, new ByteWriter().u32(info.dataSegments + 1).finish());
    } else if (id === 10) {
      const r = new ByteReader(s ? s.body : new Uint8Array([0]));
      const n = r.u32();
      const w = new ByteWriter();
      w.u32(n + funcs.length + 1).bytes(r.bytes(r.buf.length - r.pos));
      for (const f of funcs) {
        const body = new ByteWriter(f.body.length + 16);
        if (f.localsI32 > 0) body.u32(1).u32(f.localsI32).byte(0x7f);
        else body.u32(0);
        body.bytes(f.body).byte(0x0b);
        w.vec(body.finish());
      }
      w.vec(startBody.finish());
      emit(10, w.finish());
    } else if (id === 11) {
      const r = new ByteReader(s ? s.body : new Uint8Array([0]));
      const n = r.u32();
      const w = new ByteWriter();
      w.u32(n + 1).bytes(r.bytes(r.buf.length - r.pos));
      w.byte(1).vec(data.bytes);
      emit(11, w.finish());
    } else if (s) {
      emit(id, s.body);
    }
  }
  return out.finish();
}
