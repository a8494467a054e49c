import os from 'node:os';
import path from 'node:path';

test('the suite writes temporary files under its own run directory, removed at the end', () => {
  const root = process.env.TETHER_TEST_TMP;
  expect(root).toBeTruthy();
  expect(path.basename(root!)).toMatch(/^tether-jest-/);
  expect(os.tmpdir()).toBe(root);
});
