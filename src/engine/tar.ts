// A minimal POSIX tar (ustar) writer and reader: enough for OPA bundles, including the PAX and GNU
// long-name headers Go's archive/tar writes. Regular files only; directories are skipped.

export interface TarEntry {
  name: string;
  data: Uint8Array;
}

const BLOCK = 512;

function writeString(buf: Buffer, off: number, len: number, s: string): void {
  buf.write(s, off, Math.min(len, Buffer.byteLength(s)), 'utf8');
}

function writeOctal(buf: Buffer, off: number, len: number, n: number): void {
  writeString(buf, off, len, n.toString(8).padStart(len - 1, '0') + '\0');
}

function header(name: string, size: number, type: string, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  writeString(h, 0, 100, name);
  writeOctal(h, 100, 8, 0o644);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, mtime);
  h.fill(' ', 148, 156);
  writeString(h, 156, 1, type);
  writeString(h, 257, 6, 'ustar\0');
  writeString(h, 263, 2, '00');
  let sum = 0;
  for (const b of h) sum += b;
  writeString(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

const padding = (n: number): Buffer => Buffer.alloc((BLOCK - (n % BLOCK)) % BLOCK);

/** Writes entries as a tar archive; names longer than 100 bytes get a PAX `path` record. */
export function writeTar(entries: TarEntry[], mtime = 0): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    if (Buffer.byteLength(e.name) > 99) {
      const rec = paxRecord('path', e.name);
      parts.push(header('PaxHeader', rec.length, 'x', mtime), rec, padding(rec.length));
    }
    parts.push(header(e.name.slice(0, 99), e.data.length, '0', mtime), Buffer.from(e.data), padding(e.data.length));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body);
  len += String(len).length;
  if (String(len).length !== String(len - String(len).length).length) len++;
  return Buffer.from(`${len}${body}`);
}

function readString(buf: Buffer, off: number, len: number): string {
  const end = buf.indexOf(0, off);
  return buf.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}

function readOctal(buf: Buffer, off: number, len: number): number {
  const s = readString(buf, off, len).trim();
  return s ? parseInt(s, 8) : 0;
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(data.toString('utf8', i, sp), 10);
    if (!len) break;
    const rec = data.toString('utf8', sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/** Reads the regular files of a tar archive; throws on a truncated or corrupt archive. */
export function readTar(buf: Buffer): TarEntry[] {
  const out: TarEntry[] = [];
  let off = 0;
  let longName: string | undefined;
  while (off + BLOCK <= buf.length) {
    const h = buf.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    if (sum !== readOctal(h, 148, 8)) throw new Error(`tar header checksum mismatch at offset ${off}`);
    const size = readOctal(h, 124, 12);
    const type = String.fromCharCode(h[156] || 0x30);
    const prefix = readString(h, 345, 155);
    let name = readString(h, 0, 100);
    if (prefix && h.toString('utf8', 257, 262) === 'ustar') name = `${prefix}/${name}`;
    const start = off + BLOCK;
    if (start + size > buf.length) throw new Error('tar archive is truncated');
    const data = buf.subarray(start, start + size);
    off = start + size + ((BLOCK - (size % BLOCK)) % BLOCK);
    if (type === 'x') {
      longName = parsePax(data).path ?? longName;
      continue;
    }
    if (type === 'g') continue;
    if (type === 'L') {
      longName = data.toString('utf8').replace(/\0+$/, '');
      continue;
    }
    if (longName !== undefined) {
      name = longName;
      longName = undefined;
    }
    if (type === '0' || type === '\0' || type === '7') out.push({ name, data: new Uint8Array(data) });
  }
  return out;
}
