// Owns the generated module's static data: constant values (booleans, null, strings in the
// runtime's value layout), messages and JSON texts, laid out after the runtime's own data.
import { ByteWriter } from './encoding';

/** Static data placed right after the runtime's own static data. */
export class StaticData {
  private w = new ByteWriter(1024);
  constructor(readonly base: number) {}

  get end(): number {
    return this.base + this.w.length;
  }

  alloc(bytes: ArrayLike<number>, align = 8): number {
    while ((this.base + this.w.length) % align !== 0) this.w.byte(0);
    const addr = this.end;
    this.w.bytes(bytes);
    return addr;
  }

  u32s(vals: number[]): number[] {
    const out: number[] = [];
    for (const v of vals) out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
    return out;
  }

  /** A runtime string value (tag 4, len, ptr) followed by its UTF-8 bytes. */
  stringValue(s: string): number {
    const bytes = Buffer.from(s, 'utf8');
    this.alloc([], 8);
    // Header (tag, len, ptr) padded to 16 bytes; the UTF-8 bytes follow it.
    const addr = this.alloc([...this.u32s([4, bytes.length, this.end + 16]), 0, 0, 0, 0], 8);
    this.alloc(bytes, 1);
    return addr;
  }

  /** Raw bytes with a NUL terminator (messages, JSON text). */
  cstring(s: string): { addr: number; len: number } {
    const bytes = Buffer.from(s, 'utf8');
    const addr = this.alloc([...bytes, 0], 8);
    return { addr, len: bytes.length };
  }

  finish(): Uint8Array {
    return this.w.finish();
  }
}
