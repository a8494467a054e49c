// A store that fails while open (its file corrupt or unreadable, removed or replaced) fails closed for
// good: every later read and write is StateUnavailableError — also for records held in memory, which may
// no longer be what is stored — and nothing is acknowledged into a file no restart would read.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StateUnavailableError } from '../../src/state/errors';
import { openSqliteStore, type StateStore } from '../../src/state/store';
import { active, device } from './helpers';

const MB = 1024 * 1024;
let dir: string;
let file: string;
let store: StateStore | undefined;
const failures: string[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-failure-'));
  file = path.join(dir, 'tether.db');
  failures.length = 0;
  const seed = openSqliteStore({ path: file });
  for (let i = 0; i < 2000; i++) {
    seed.putIdentity(`u${i}`, active({ aliases: [`u${i}@example.com`] }));
    seed.putDevice(`d${i}`, device(`u${i}`));
  }
  seed.close(); // checkpointed: every record is in the file itself
});
afterEach(() => {
  store?.close();
  store = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

const reopen = () => (store = openSqliteStore({ path: file, residentBytes: 64 * MB, fileCheckMs: 0, onFailure: (e) => failures.push(e.message) }));
const code = (fn: () => unknown) => {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return err instanceof StateUnavailableError ? err.code : String(err);
  }
};

test('a corrupt page found by one read fails every later read and write, records held in memory included', async () => {
  const s = reopen();
  await s.residentSettled();
  expect(s.getIdentity('u1@example.com')?.id).toBe('u1'); // served from memory
  const fd = fs.openSync(file, 'r+');
  const pageSize = 4096;
  const pages = Math.floor(fs.statSync(file).size / pageSize);
  for (let p = 2; p < pages; p++) fs.writeSync(fd, Buffer.alloc(pageSize), 0, pageSize, p * pageSize);
  fs.closeSync(fd);
  // A read that goes to the file (a device by id is not held resident) meets the corruption.
  let found = false;
  for (let i = 0; i < 2000 && !found; i++) found = code(() => s.getDevice(`d${i}`)) === 'state_unavailable';
  expect(found).toBe(true);
  expect(failures).toEqual([expect.stringMatching(/^state store .* failed: .*malformed.*decisions deny state_unavailable/)]);
  expect(s.failed).toBe(failures[0]);
  expect(code(() => s.getIdentity('u1@example.com'))).toBe('state_unavailable');
  expect(code(() => s.listDevicesByOwner('u1'))).toBe('state_unavailable');
  expect(code(() => s.putDevice('d1', device('u1', { compliant: false })))).toBe('state_unavailable');
});

test('the file removed while open: the next write is refused, not acknowledged into an unlinked file', () => {
  const s = reopen();
  expect(s.putIdentity('before', active()).created).toBe(true);
  fs.rmSync(dir, { recursive: true, force: true });
  expect(code(() => s.putIdentity('gone1', active()))).toBe('state_unavailable');
  expect(failures).toEqual([expect.stringContaining('was removed while open')]);
  expect(code(() => s.getIdentity('u1'))).toBe('state_unavailable');
});

test('the file replaced while open is found by the periodic check, without any write', async () => {
  store = openSqliteStore({ path: file, fileCheckMs: 20, onFailure: (e) => failures.push(e.message) });
  fs.renameSync(file, file + '.moved');
  fs.writeFileSync(file, '');
  for (let i = 0; i < 100 && failures.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(failures).toEqual([expect.stringContaining('was replaced while open')]);
  expect(store.failed).toBeDefined();
});

test('a healthy store stays healthy: no failure without a cause', () => {
  const s = reopen();
  s.putIdentity('x', active());
  expect(s.getIdentity('x')?.id).toBe('x');
  expect(s.failed).toBeUndefined();
  expect(failures).toEqual([]);
});
