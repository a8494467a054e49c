// Everything the suite writes to the temporary directory (its own scratch dirs, the servers and nginx it
// starts) goes under one directory per run, removed by global-teardown.ts: a run leaves nothing in /tmp.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default function globalSetup(): void {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-jest-'));
  process.env.TETHER_TEST_TMP = root;
  process.env.TMPDIR = root; // read by os.tmpdir() in the workers jest starts after this
}
