// Removes the run's temporary directory made by global-setup.ts.
import fs from 'node:fs';

export default function globalTeardown(): void {
  const root = process.env.TETHER_TEST_TMP;
  if (root) fs.rmSync(root, { recursive: true, force: true });
}
