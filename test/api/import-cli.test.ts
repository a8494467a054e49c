// `tether import`: streams a file to a running server (per-batch acknowledgements) or writes it
// directly into the store under the data dir; exit code 0 all imported, 2 some rejected, 1 failure.
import fs from 'node:fs';
import path from 'node:path';
import { runImport, parseImportArgs } from '../../src/cli/import';
import { serve } from '../../src/server';
import { openSqliteStore } from '../../src/state/store';
import { tempDir, TOKEN } from './helpers';

function ndjsonFile(lines: string[]): string {
  const file = path.join(tempDir(), 'state.ndjson');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

const LINES = [
  '{"kind":"identity","record":{"id":"u1","status":"active","aliases":["u1@corp.example"]}}',
  '{"kind":"device","record":{"id":"d1","owner":"u1@corp.example","ownership":"corporate","enrolled":true}}',
  '{"kind":"identity","record":{"id":"u2","status":"nope"}}',
  '{"kind":"identity","record":{"id":"u3","status":"provisioned"}}',
];

async function captureStdout<T>(fn: () => Promise<T>): Promise<{ result: T; out: string }> {
  let out = '';
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += chunk.toString();
    return true;
  });
  try {
    return { result: await fn(), out };
  } finally {
    spy.mockRestore();
  }
}

test('HTTP mode streams to the server and reports the summary; exit 2 when lines were rejected', async () => {
  const running = await serve({
    env: { PORT: '0', HOST: '127.0.0.1', TETHER_DATA_DIR: tempDir(), TETHER_API_TOKEN: TOKEN, TETHER_IMPORT_BATCH: '2', TETHER_LOG_LEVEL: 'error' },
    services: [],
    handleSignals: false,
  });
  try {
    const file = ndjsonFile(LINES);
    const { result, out } = await captureStdout(() => runImport([file, '--url', running.url, '--token', TOKEN, '--quiet']));
    expect(result).toBe(2);
    const summary = JSON.parse(out.trim());
    expect(summary).toMatchObject({ imported: 3, rejected: 1, done: true });
    expect(summary.errors).toEqual([expect.objectContaining({ line: 3, code: 'invalid_input' })]);
    expect(running.ctx.store.getDevice('d1')?.owner).toBe('u1');

    const wrong = await captureStdout(() => runImport([file, '--url', running.url, '--token', 'wrong', '--quiet']));
    expect(wrong.result).toBe(1);
  } finally {
    await running.shutdown();
  }
});

test('direct mode writes into the store under --data-dir; exit 0 when everything imported', async () => {
  const dir = tempDir();
  const file = ndjsonFile([LINES[0], LINES[1], LINES[3]]);
  const { result, out } = await captureStdout(() => runImport([file, '--direct', '--data-dir', dir, '--quiet']));
  expect(result).toBe(0);
  expect(JSON.parse(out.trim())).toMatchObject({ imported: 3, rejected: 0, done: true });
  const store = openSqliteStore({ path: path.join(dir, 'tether.db') });
  try {
    expect(store.getIdentity('u1@corp.example')?.id).toBe('u1');
    expect(store.getDevice('d1')?.owner).toBe('u1');
  } finally {
    store.close();
  }
});

test('argument errors exit 2 with usage, like the other commands', async () => {
  expect(() => parseImportArgs([])).toThrow(/usage/);
  expect(() => parseImportArgs(['a', '--bogus'])).toThrow(/unknown option/);
  expect(parseImportArgs(['f.ndjson', '--url', 'http://x', '--batch', '10'])).toMatchObject({ file: 'f.ndjson', url: 'http://x', batch: 10, direct: false });
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    expect(await runImport(['--batch'])).toBe(2);
  } finally {
    spy.mockRestore();
  }
});
