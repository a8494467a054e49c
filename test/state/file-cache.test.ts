// dropFileCache asks the kernel to drop a file's clean pages from the page cache; fincore (util-linux)
// reports how many of the file's bytes are cached, before and after.
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropFileCache } from '../../src/state/file-cache';
import { cachedBytes, linuxTest } from './helpers';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tether-file-cache-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A 4 MB file, written back to disk (only clean pages can be dropped) and read into the page cache. */
function cachedFile(): string {
  const file = join(dir, 'data.bin');
  const fd = openSync(file, 'w');
  writeSync(fd, Buffer.alloc(4 * 1024 * 1024, 7));
  fsyncSync(fd);
  closeSync(fd);
  readFileSync(file);
  return file;
}

linuxTest("drops a file's pages from the page cache and keeps its contents", async () => {
  const file = cachedFile();
  expect(cachedBytes(file)).toBeGreaterThan(0);
  await expect(dropFileCache(file)).resolves.toBe(true);
  expect(cachedBytes(file)).toBe(0);
  expect(readFileSync(file).every((b) => b === 7)).toBe(true);
});

test('reports false for a file it cannot open, instead of throwing', async () => {
  await expect(dropFileCache(join(dir, 'missing.db'))).resolves.toBe(false);
});
