// Numbers that must keep all their digits on the way back into wasm (nanosecond times, big integers).
// The SDK passes an ArrayBuffer result to opa_json_parse verbatim, so exact JSON text survives.

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A JSON text the SDK loads as-is (exact big numbers). */
export function rawJson(text: string): ArrayBuffer {
  const bytes = enc.encode(text);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** A bigint as an exact JSON number. */
export function rawInt(n: bigint): ArrayBuffer {
  return rawJson(n.toString());
}

/** Reads a host built-in result as a plain JSON value (raw results are parsed; digits beyond float64 are lost). */
export function toPlain(v: unknown): unknown {
  if (v instanceof ArrayBuffer) return JSON.parse(dec.decode(new Uint8Array(v)));
  return v;
}

/** Reads a host built-in result as JSON text (raw results verbatim). */
export function toJsonText(v: unknown): string | undefined {
  if (v instanceof ArrayBuffer) return dec.decode(new Uint8Array(v));
  return v === undefined ? undefined : JSON.stringify(v);
}
