// Checks a SQLite write-ahead log before SQLite opens it. SQLite's recovery silently treats a WAL with a
// damaged header as empty, and stops replaying at the first frame that fails its checksum: acknowledged
// commits not yet checkpointed into the database file are then gone without any error. Format:
// https://www.sqlite.org/fileformat2.html#walformat (header and frame-header fields are big-endian).
//
// The rule. A damaged header (bad magic, version, page size or checksum; a non-empty file shorter than
// one) is damage: SQLite would ignore the whole log. A crash cannot cause it: SQLite writes the header in
// one 32-byte write and fsyncs it before writing any frame, so a crash leaves the old header, the new one,
// or, in a file that was empty, zeros: an all-zero file holds no commit and passes.
// The valid log is what SQLite replays: frames with the header's salts, a non-zero page number and a
// cumulative checksum that verifies, up to the last commit frame among them. Where it ends early, the WAL
// is damaged only if the rest of the file proves a later commit was acknowledged: some commit frame whose
// NEXT frame has the header's salts and a checksum seeded from that commit frame's stored checksum (or,
// for the first failing frame, from the checksum it should have had). SQLite writes past a commit frame
// only once that commit returned (synchronous=FULL: after its fsync), so that transaction was acknowledged
// and opening would lose it. (With synchronous=NORMAL a power loss can leave such a gap too; those writes
// were acknowledged as well, so it is flagged.)
// A crash's torn tail is never flagged: only the transaction being written can be torn, and nothing was
// written past its commit frame. Leftovers of an earlier WAL generation carry other salts; leftovers of an
// earlier torn transaction, partly overwritten after recovery, do not chain from the frame before them.
// What this cannot see: damage confined to the log's final transaction looks exactly like a torn write
// (power loss may persist its commit frame but not an earlier frame), so it is let through, as SQLite does.
import fs from 'node:fs';
import os from 'node:os';

const HEADER = 32;
const FRAME_HEADER = 24;
const MAGIC = 0x377f0682; // 0x377f0683 (low bit set): checksum words are big-endian
const VERSION = 3007000;
const CHUNK = 1 << 20; // read about 1 MiB of whole frames at a time: WALs can be hundreds of MB
const BIG_ENDIAN_HOST = os.endianness() === 'BE';

export type WalCheck =
  /** Missing, empty, or SQLite would replay every acknowledged commit in it. */
  | { state: 'intact' }
  /** The file changed while it was read (another process is writing it): no verdict. */
  | { state: 'changing' }
  | {
      state: 'damaged';
      part: 'header' | 'frame';
      /** What is wrong, with frame numbers (1-based, as SQLite counts) and byte offsets. */
      detail: string;
      /** Size of the WAL file. */
      size: number;
      /** Bytes SQLite would replay (the header and the valid log); 0 when the header is damaged. */
      keepBytes: number;
    };

type Pair = readonly [number, number];

/** Reads the WAL at `walPath` and says whether opening it would silently drop acknowledged commits. */
export function checkWal(walPath: string): WalCheck {
  let fd: number;
  try {
    fd = fs.openSync(walPath, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'intact' };
    throw err;
  }
  try {
    // A live writer (another Tether holding the lock) can be seen mid-write; opening will fail on its lock.
    const before = fs.fstatSync(fd, { bigint: true });
    const changed = () => {
      const after = fs.fstatSync(fd, { bigint: true });
      return after.size !== before.size || after.mtimeNs !== before.mtimeNs;
    };
    let verdict: WalCheck;
    try {
      verdict = scan(fd, Number(before.size));
    } catch (err) {
      if (changed()) return { state: 'changing' };
      throw err;
    }
    return verdict.state === 'damaged' && changed() ? { state: 'changing' } : verdict;
  } finally {
    fs.closeSync(fd);
  }
}

/** The operator's explanation of a damaged WAL, with a copy-pasteable way to accept the loss on purpose. */
export function describeWalDamage(walPath: string, check: Extract<WalCheck, { state: 'damaged' }>): string {
  const [wal, aside] = [shellQuote(walPath), shellQuote(`${walPath}.damaged`)];
  const since = 'since the last checkpoint into the database file';
  if (check.part === 'header')
    return (
      `its write-ahead log ${walPath} has a damaged header (${check.detail}): SQLite would ignore all ${check.size} bytes of it, ` +
      `silently dropping every acknowledged write ${since}. Restore the data dir from a backup, or accept that loss on purpose: ` +
      `mv ${wal} ${aside}, then restart`
    );
  return (
    `its write-ahead log ${walPath} is damaged (${check.detail}): SQLite would replay only its first ${check.keepBytes} bytes, ` +
    `silently dropping the acknowledged writes after them (made ${since}). Restore the data dir from a backup, or accept that ` +
    `loss on purpose: cp ${wal} ${aside} && truncate -s ${check.keepBytes} ${wal}, then restart`
  );
}

function scan(fd: number, size: number): WalCheck {
  if (size === 0) return { state: 'intact' };
  // All zeros: the log's first write was cut off (its new size persisted, its data not); no frame followed.
  const header = (detail: string): WalCheck =>
    allZero(fd, size) ? { state: 'intact' } : { state: 'damaged', part: 'header', detail, size, keepBytes: 0 };
  if (size < HEADER) return header(`${size} bytes, shorter than its ${HEADER}-byte header`);
  const h = readAt(fd, Buffer.alloc(HEADER), 0);
  const magic = h.readUInt32BE(0);
  if ((magic & ~1) >>> 0 !== MAGIC) return header(`bad magic number 0x${magic.toString(16)}`);
  const be = (magic & 1) === 1;
  const version = h.readUInt32BE(4);
  if (version !== VERSION) return header(`unknown format version ${version}`);
  const pageSize = h.readUInt32BE(8);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return header(`bad page size ${pageSize}`);
  let running = checksum(h, 0, 24, be, [0, 0]);
  if (!same(running, stored(h, 24))) return header('header checksum mismatch');
  const salts = h.subarray(16, 24);

  const frameSize = FRAME_HEADER + pageSize;
  const frames = Math.floor((size - HEADER) / frameSize); // a partial last frame is a torn write: ignored
  const per = Math.max(1, Math.floor(CHUNK / frameSize));
  const buf = Buffer.alloc(per * frameSize);
  const at = (i: number) => HEADER + i * frameSize;
  let keepBytes = HEADER;
  let broken = -1; // first frame SQLite would not replay
  let why = '';
  // The previous frame, as far as a link from it matters: a commit frame, its stored checksum and (for the
  // first failing frame) the checksum it should have had.
  let prev: { commit: boolean; seeds: Pair[] } | undefined;
  for (let first = 0; first < frames; first += per) {
    const n = Math.min(per, frames - first);
    readAt(fd, buf.subarray(0, n * frameSize), at(first));
    for (let k = 0; k < n; k++) {
      const i = first + k;
      const f = buf.subarray(k * frameSize, (k + 1) * frameSize);
      const salted = f.subarray(8, 16).equals(salts);
      const commit = f.readUInt32BE(4) !== 0;
      const mine = stored(f, 16);
      if (broken < 0) {
        const sum = salted && f.readUInt32BE(0) !== 0 ? frameChecksum(f, be, running) : undefined;
        if (sum && same(sum, mine)) {
          running = mine;
          if (commit) keepBytes = at(i) + frameSize;
          continue;
        }
        broken = i;
        why = !salted ? 'salts differ from the header' : sum ? 'checksum mismatch' : 'page number 0';
        prev = { commit, seeds: sum ? [mine, sum] : [mine] };
        continue;
      }
      if (prev?.commit && salted && prev.seeds.some((seed) => same(frameChecksum(f, be, seed), mine)))
        return {
          state: 'damaged',
          part: 'frame',
          detail: `frame ${broken + 1} at byte ${at(broken)}: ${why}, yet frame ${i + 1} continues the log after the commit in frame ${i}`,
          size,
          keepBytes,
        };
      prev = { commit, seeds: [mine] };
    }
  }
  return { state: 'intact' };
}

/** SQLite's WAL checksum: two 32-bit sums over 8-byte steps, words in the byte order the magic names. */
function checksum(b: Buffer, from: number, to: number, be: boolean, seed: Pair): Pair {
  let [s1, s2] = seed;
  if (be === BIG_ENDIAN_HOST && (b.byteOffset + from) % 4 === 0) {
    // Native word order, aligned: a typed-array view sums a 4 KiB page several times faster.
    const w = new Uint32Array(b.buffer, b.byteOffset + from, (to - from) >> 2);
    for (let i = 0; i < w.length; i += 2) {
      s1 = (s1 + w[i] + s2) >>> 0;
      s2 = (s2 + w[i + 1] + s1) >>> 0;
    }
    return [s1, s2];
  }
  for (let p = from; p < to; p += 8) {
    s1 = (s1 + (be ? b.readUInt32BE(p) : b.readUInt32LE(p)) + s2) >>> 0;
    s2 = (s2 + (be ? b.readUInt32BE(p + 4) : b.readUInt32LE(p + 4)) + s1) >>> 0;
  }
  return [s1, s2];
}

/** A frame's checksum: its header's first 8 bytes, then its page, seeded from the previous frame's. */
const frameChecksum = (f: Buffer, be: boolean, seed: Pair): Pair => checksum(f, FRAME_HEADER, f.length, be, checksum(f, 0, 8, be, seed));

const stored = (b: Buffer, at: number): Pair => [b.readUInt32BE(at), b.readUInt32BE(at + 4)];
const same = (a: Pair, b: Pair) => a[0] === b[0] && a[1] === b[1];

function allZero(fd: number, size: number): boolean {
  const buf = Buffer.alloc(Math.min(size, CHUNK));
  for (let at = 0; at < size; at += buf.length) {
    const part = readAt(fd, buf.subarray(0, Math.min(buf.length, size - at)), at);
    if (part.some((b) => b !== 0)) return false;
  }
  return true;
}

function readAt(fd: number, into: Buffer, position: number): Buffer {
  for (let got = 0; got < into.length; ) {
    const n = fs.readSync(fd, into, got, into.length - got, position + got);
    if (n === 0) throw new Error(`unexpected end of file at byte ${position + got}`);
    got += n;
  }
  return into;
}

// Quoted for a POSIX shell when it has anything beyond plain path characters.
const shellQuote = (s: string) => (/^[\w./@%+=:,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
