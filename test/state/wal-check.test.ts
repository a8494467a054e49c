// A damaged WAL is refused before SQLite opens it (src/state/wal-check.ts): SQLite's recovery would treat
// a WAL with a damaged header as empty, and stop at the first bad frame, silently dropping acknowledged
// commits after it. A crash's torn tail and leftovers of an earlier WAL generation must still open.
//
// The WALs are real: written by the store, and copied (db + -wal) while it is still open, as a crash
// leaves them. Closing would checkpoint the WAL into the file and truncate it (SqliteBase.close, and
// better-sqlite3/SQLite itself when the last connection closes).
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StateUnavailableError } from '../../src/state/errors';
import { openSqliteStore, type SqliteStateStore } from '../../src/state/sqlite-store';
import { checkWal } from '../../src/state/wal-check';
import { tempDir } from '../api/helpers';
import { active } from './helpers';

const USERS = 5; // u0..u4, one committed transaction each (two frames: the identity and its index page)

/** The store's files as a crash would leave them after `write` (copied while it is open). */
function crashed(write: (s: SqliteStateStore) => void = () => undefined): string {
  const live = path.join(tempDir('tether-wal-'), 'tether.db');
  openSqliteStore({ path: live }).close(); // the tables are in the file, checkpointed; the writes below are not
  const s = openSqliteStore({ path: live, fileCheckMs: 0 });
  try {
    for (let i = 0; i < USERS; i++) s.putIdentity(`u${i}`, active());
    write(s);
    return copy(live);
  } finally {
    s.close();
  }
}

function copy(db: string): string {
  const to = path.join(tempDir('tether-wal-'), 'tether.db');
  fs.copyFileSync(db, to);
  if (fs.existsSync(`${db}-wal`)) fs.copyFileSync(`${db}-wal`, `${to}-wal`);
  return to;
}

/** The WAL's complete frames: byte offset, whether a commit frame, salts. */
function frames(wal: string) {
  const b = fs.readFileSync(wal);
  const size = 24 + b.readUInt32BE(8);
  const out: Array<{ at: number; commit: boolean; salts: string }> = [];
  for (let at = 32; at + size <= b.length; at += size)
    out.push({ at, commit: b.readUInt32BE(at + 4) !== 0, salts: b.subarray(at + 8, at + 16).toString('hex') });
  return { frames: out, salts: b.subarray(16, 24).toString('hex') };
}

const commits = (wal: string) => frames(wal).frames.filter((f) => f.commit);
function flip(file: string, at: number): void {
  const b = fs.readFileSync(file);
  b[at] ^= 0x5a;
  fs.writeFileSync(file, b);
}

/** Rewrites a WAL as a big-endian host writes it: magic 0x377f0683, checksums over big-endian words. */
function toBigEndian(wal: string): void {
  const b = fs.readFileSync(wal);
  const sum = (from: number, to: number, s: [number, number]): [number, number] => {
    for (let p = from; p < to; p += 8) {
      s[0] = (s[0] + b.readUInt32BE(p) + s[1]) >>> 0;
      s[1] = (s[1] + b.readUInt32BE(p + 4) + s[0]) >>> 0;
    }
    return s;
  };
  const put = (at: number, s: [number, number]) => (b.writeUInt32BE(s[0], at), b.writeUInt32BE(s[1], at + 4));
  b.writeUInt32BE(0x377f0683, 0);
  let s = sum(0, 24, [0, 0]);
  put(24, s);
  for (const f of frames(wal).frames) put(f.at + 16, (s = sum(f.at + 24, f.at + 24 + b.readUInt32BE(8), sum(f.at, f.at + 8, [...s]))));
  fs.writeFileSync(wal, b);
}

/** The users whose writes an open of `db` shows (opened through the server's own path). */
function usersIn(db: string): string[] {
  const s = openSqliteStore({ path: db, fileCheckMs: 0 });
  try {
    return Array.from({ length: USERS + 1 }, (_, i) => `u${i}`).filter((u) => s.getIdentity(u));
  } finally {
    s.close();
  }
}

/** What opening `db` throws (the server prints it as one line and exits). */
function refusal(db: string): StateUnavailableError {
  let err: unknown;
  try {
    openSqliteStore({ path: db, fileCheckMs: 0 }).close();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(StateUnavailableError);
  expect((err as StateUnavailableError).code).toBe('state_unavailable');
  return err as StateUnavailableError;
}

const all = ['u0', 'u1', 'u2', 'u3', 'u4'];

describe('a WAL SQLite replays in full opens', () => {
  test('intact: every committed write is there', () => {
    const db = crashed();
    expect(commits(`${db}-wal`).length).toBe(USERS); // the writes really are only in the WAL
    expect(checkWal(`${db}-wal`)).toEqual({ state: 'intact' });
    expect(usersIn(db)).toEqual(all);
  });

  test('a torn final frame (a crash mid-write): opens without the torn, never acknowledged transaction', () => {
    const db = crashed();
    fs.truncateSync(`${db}-wal`, fs.statSync(`${db}-wal`).size - 1000);
    expect(checkWal(`${db}-wal`)).toEqual({ state: 'intact' });
    expect(usersIn(db)).toEqual(['u0', 'u1', 'u2', 'u3']);
  });

  test('damage only inside the final transaction (power loss can persist its commit frame alone): opens without it', () => {
    const db = crashed();
    flip(`${db}-wal`, frames(`${db}-wal`).frames.at(-2)!.at + 24 + 100); // u4's first frame
    expect(checkWal(`${db}-wal`)).toEqual({ state: 'intact' });
    expect(usersIn(db)).toEqual(['u0', 'u1', 'u2', 'u3']);
  });

  test('frames of an earlier WAL generation after a checkpoint reset (other salts): opens with every write', () => {
    const db = crashed((s) => {
      s.db.pragma('wal_checkpoint(PASSIVE)');
      s.putIdentity('u5', active()); // restarts the WAL: a new header and salts, old frames left behind it
    });
    const { frames: list, salts } = frames(`${db}-wal`);
    expect(list[0].salts).toBe(salts);
    expect(list.at(-1)!.salts).not.toBe(salts);
    expect(checkWal(`${db}-wal`)).toEqual({ state: 'intact' });
    expect(usersIn(db)).toEqual([...all, 'u5']);
  });

  test('leftovers of a torn transaction, partly overwritten after recovery, with its commit frame: opens', () => {
    // A power loss persisted a big last transaction's commit frame but not one of its first frames...
    const first = crashed((s) => {
      s.db.exec('CREATE TABLE filler (x)');
      s.db.transaction(() => {
        for (let i = 0; i < 40; i++) s.db.prepare('INSERT INTO filler VALUES (randomblob(3000))').run();
      })();
    });
    const before = frames(`${first}-wal`).frames;
    flip(`${first}-wal`, before.at(-30)!.at + 24 + 100);
    expect(checkWal(`${first}-wal`)).toEqual({ state: 'intact' });
    // ...recovery ended the log before it, and the next (shorter) write went over its first frames.
    const s = openSqliteStore({ path: first, fileCheckMs: 0 });
    const db = (() => {
      try {
        s.putIdentity('u5', active());
        return copy(first);
      } finally {
        s.close();
      }
    })();
    const { frames: after, salts } = frames(`${db}-wal`);
    expect(after.length).toBe(before.length);
    expect(after.at(-1)).toEqual(before.at(-1)); // the torn transaction's commit frame is still there...
    expect(after.at(-1)!.salts).toBe(salts); // ...in the same WAL generation
    expect(checkWal(`${db}-wal`)).toEqual({ state: 'intact' });
    expect(usersIn(db)).toEqual([...all, 'u5']);
  });

  test('a WAL written on a big-endian host (magic 0x377f0683) is summed in its byte order', () => {
    const db = crashed();
    toBigEndian(`${db}-wal`);
    expect(checkWal(`${db}-wal`)).toEqual({ state: 'intact' });
    expect(usersIn(copy(db))).toEqual(all); // SQLite reads it so too
    flip(`${db}-wal`, frames(`${db}-wal`).frames.at(-6)!.at + 24 + 100);
    expect(refusal(db).message).toContain('is damaged (frame');
  });

  test('an all-zero WAL (its first write cut off: the new size persisted, the data not) opens', () => {
    const db = crashed((s) => s.db.pragma('wal_checkpoint(TRUNCATE)'));
    fs.writeFileSync(`${db}-wal`, Buffer.alloc(4096));
    expect(checkWal(`${db}-wal`)).toEqual({ state: 'intact' });
    expect(usersIn(db)).toEqual(all);
  });

  test('an empty or missing WAL opens', () => {
    const db = crashed((s) => s.db.pragma('wal_checkpoint(TRUNCATE)'));
    expect(fs.statSync(`${db}-wal`).size).toBe(0);
    expect(checkWal(`${db}-wal`)).toEqual({ state: 'intact' });
    expect(usersIn(db)).toEqual(all); // its close removed the empty WAL
    expect(fs.existsSync(`${db}-wal`)).toBe(false);
    expect(checkWal(`${db}-wal`)).toEqual({ state: 'intact' });
    expect(usersIn(db)).toEqual(all);
  });
});

describe('a WAL whose acknowledged commits SQLite would silently drop is refused', () => {
  const header: Array<[string, number]> = [
    ['magic number', 0],
    ['salt-1', 16],
    ['checksum-1', 24],
  ];
  test.each(header)('damaged header byte (%s): refused, with how to accept the loss', (_, at) => {
    const db = crashed();
    flip(`${db}-wal`, at);
    const err = refusal(db);
    expect(err.message).toMatch(/^cannot open state store at \S+tether\.db: its write-ahead log \S+tether\.db-wal has a damaged header \(/);
    expect(err.message).toMatch(/silently dropping (every|the) acknowledged writes? .*since the last checkpoint/);
    const mv = err.message.match(/mv (\S+) (\S+), then restart$/)!;
    expect(mv.slice(1)).toEqual([`${db}-wal`, `${db}-wal.damaged`]);
    // Why: SQLite alone opens it without any error, and the writes are gone.
    const raw = new Database(copy(db));
    expect(raw.prepare('SELECT count(*) AS n FROM identities').get()).toEqual({ n: 0 });
    raw.close();
    // Accepting the loss as told: it opens, without the writes that were only in the WAL.
    fs.renameSync(mv[1], mv[2]);
    expect(usersIn(db)).toEqual([]);
  });

  test('a non-empty WAL shorter than its header is refused', () => {
    const db = crashed();
    fs.truncateSync(`${db}-wal`, 20);
    expect(refusal(db).message).toContain('20 bytes, shorter than its 32-byte header');
  });

  // Two frames per user, u4's last: u2's first frame is the 6th from the end, u3's commit frame the 3rd.
  const middle: Array<[string, number, number, string[]]> = [
    ["a page byte of a frame in the middle (u2's first)", -6, 24 + 100, ['u0', 'u1']],
    ["the page number of a frame in the middle (u2's first)", -6, 3, ['u0', 'u1']],
    ["the salts of a frame in the middle (u2's first)", -6, 8, ['u0', 'u1']],
    ["a page byte of u3's commit frame, only u4 after it", -3, 24 + 100, ['u0', 'u1', 'u2']],
    ["the stored checksum of u3's commit frame, only u4 after it", -3, 16, ['u0', 'u1', 'u2']],
  ];
  test.each(middle)('damaged %s: refused; the suggested truncate keeps the writes before it', (_, fromEnd, at, kept) => {
    const db = crashed();
    const { frames: list } = frames(`${db}-wal`);
    flip(`${db}-wal`, list.at(fromEnd)!.at + at);
    const err = refusal(db);
    expect(err.message).toMatch(/^cannot open state store at \S+tether\.db: its write-ahead log \S+tether\.db-wal is damaged \(frame \d+ at byte \d+: /);
    expect(err.message).toMatch(/silently dropping (every|the) acknowledged writes? .*since the last checkpoint/);
    const cmd = err.message.match(/cp (\S+) (\S+) && truncate -s (\d+) (\S+), then restart$/)!;
    expect([cmd[1], cmd[2], cmd[4]]).toEqual([`${db}-wal`, `${db}-wal.damaged`, `${db}-wal`]);
    fs.copyFileSync(cmd[1], cmd[2]);
    fs.truncateSync(cmd[4], Number(cmd[3]));
    expect(usersIn(db)).toEqual(kept);
  });
});
