// Hot reload keeps the last good engine, picks up policy and data changes, and reports failures.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile } from '../../src/compiler';
import { writeBundle } from '../../src/engine/bundle';
import { EngineWorker } from '../../src/engine/off-thread';
import { PolicyReloader } from '../../src/engine/reload';

jest.setTimeout(180_000);

/** A new temp directory holding `files` (name → text). */
function policyDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tether-reload-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('PolicyReloader', () => {
  test('directory: reloads changes; a broken edit keeps the previous engine serving', async () => {
    const dir = policyDir({ 'p.rego': 'package app\n\nlimit := data.limit\n', 'data.json': '{"limit": 1}' });
    const r = new PolicyReloader({ dir });
    expect(r.current()).toBeUndefined();
    const first = await r.reload();
    expect(first.ok).toBe(true);
    expect(r.current()!.evaluate('app/limit', {})).toEqual([{ result: 1 }]);
    expect(r.baseData()).toEqual({ limit: 1 });
    expect(r.modules()).toEqual([join(dir, 'p.rego')]);

    writeFileSync(join(dir, 'data.json'), '{"limit": 2}');
    const second = await r.reload();
    expect(second.revision).not.toBe(first.revision);
    expect(r.current()!.evaluate('app/limit', {})).toEqual([{ result: 2 }]);

    writeFileSync(join(dir, 'p.rego'), 'package app\n\nlimit := \n');
    const broken = await r.reload();
    expect(broken.ok).toBe(false);
    expect(broken.error!.code).toBe('compile_error');
    expect(r.lastError).toBe(broken.error);
    expect(r.current()!.revision).toBe(second.revision);
    expect(r.current()!.evaluate('app/limit', {})).toEqual([{ result: 2 }]);
  });

  test('directory with a fixed revision: an edit is still compiled and served, not taken for unchanged', async () => {
    const dir = policyDir({ 'p.rego': 'package app\n\nlimit := data.limit\n', 'data.json': '{"limit": 1}' });
    const r = new PolicyReloader({ dir, revision: 'pinned' });
    expect(await r.reload()).toMatchObject({ ok: true, revision: 'pinned' });
    writeFileSync(join(dir, 'data.json'), '{"limit": 2}');
    const second = await r.reload();
    expect(second).toMatchObject({ ok: true, revision: 'pinned' });
    expect(second.unchanged).toBeUndefined();
    expect(r.current()!.evaluate('app/limit', {})).toEqual([{ result: 2 }]);
    expect((await r.reload()).unchanged).toBe(true);
  });

  test('bundle: loads data and revision from the bundle; a missing file is bundle_not_found', async () => {
    const dir = policyDir({});
    const c = await compile({ files: [{ name: 'p.rego', text: 'package app\n\nlimit := data.limit\n' }], entrypoints: ['app/limit'] });
    writeFileSync(join(dir, 'b.tar.gz'), writeBundle({ wasm: c.wasm!, entrypoints: ['app/limit'], data: { limit: 9 }, revision: 'r9' }));
    const r = new PolicyReloader({ bundle: join(dir, 'b.tar.gz') });
    expect(await r.reload()).toMatchObject({ ok: true, revision: 'r9' });
    expect(r.current()!.evaluate('app/limit', {})).toEqual([{ result: 9 }]);
    const missing = new PolicyReloader({ bundle: join(dir, 'nope.tar.gz') });
    expect((await missing.reload()).error!.code).toBe('bundle_not_found');
  });

  // Each test gets its own worker, ended after it.
  describe('on a worker thread', () => {
    let worker: EngineWorker;
    beforeEach(() => {
      worker = new EngineWorker();
    });
    afterEach(() => worker.close());

    test('once an engine serves, reloads compile and warm on the worker thread; the first load runs inline', async () => {
      const dir = policyDir({ 'p.rego': 'package app\n\nlimit := data.limit\n', 'data.json': '{"limit": 1}' });
      const r = new PolicyReloader({ dir, offThread: { worker }, warmup: (data) => [{ entrypoint: 'app/limit', input: { seen: data.limit } }] });
      const first = await r.reload();
      expect(first).toMatchObject({ ok: true });
      expect(first.warmed).toBeUndefined();
      expect(worker.threadId).toBeUndefined();

      writeFileSync(join(dir, 'data.json'), '{"limit": 2}');
      const second = await r.reload();
      expect(second.ok).toBe(true);
      expect(second.warmed!.evaluations).toBeGreaterThan(0);
      expect(worker.threadId).toBeDefined();
      expect(r.current()!.evaluate('app/limit', {})).toEqual([{ result: 2 }]);

      // Diagnostics from the worker read as an inline compile's: file, line, code.
      writeFileSync(join(dir, 'p.rego'), 'package app\n\nlimit := y\n');
      const broken = await r.reload();
      expect(broken.ok).toBe(false);
      expect(broken.error!.code).toBe('compile_error');
      expect(broken.error!.message).toContain('rego_unsafe_var_error');
      expect(broken.error!.details).toEqual([expect.objectContaining({ file: join(dir, 'p.rego'), row: 3 })]);
      expect(r.current()!.revision).toBe(second.revision);
    });

    test('a reload of unchanged sources keeps the serving engine and compiles nothing, also after a broken edit is reverted', async () => {
      const dir = policyDir({ 'p.rego': 'package app\n\nlimit := 1\n' });
      const r = new PolicyReloader({ dir, offThread: { worker } });
      await r.reload();
      const serving = r.current();
      const again = await r.reload();
      expect(again).toMatchObject({ ok: true, unchanged: true, revision: serving!.revision });
      expect(r.current()).toBe(serving);
      expect(worker.threadId).toBeUndefined();

      writeFileSync(join(dir, 'p.rego'), 'package app\n\nlimit := \n');
      expect((await r.reload()).ok).toBe(false);
      expect(r.lastError).toBeDefined();
      writeFileSync(join(dir, 'p.rego'), 'package app\n\nlimit := 1\n');
      expect(await r.reload()).toMatchObject({ ok: true, unchanged: true });
      expect(r.lastError).toBeUndefined();
      expect(r.current()).toBe(serving);
    });

    test('a compile over its time limit fails the reload with compile_error and leaves the old engine serving', async () => {
      const dir = policyDir({ 'p.rego': 'package app\n\nlimit := 1\n' });
      const r = new PolicyReloader({ dir, offThread: { worker, timeoutMs: 1 } });
      const first = await r.reload();
      expect(first.ok).toBe(true);
      writeFileSync(join(dir, 'p.rego'), 'package app\n\nlimit := 2\n');
      const late = await r.reload();
      expect(late.ok).toBe(false);
      expect(late.error!.code).toBe('compile_error');
      expect(late.error!.message).toContain('did not finish within 1 ms');
      expect(r.current()!.revision).toBe(first.revision);
      expect(r.current()!.evaluate('app/limit', {})).toEqual([{ result: 1 }]);
    });

    test('bundle reloads are warmed on the worker thread too', async () => {
      const file = join(policyDir({}), 'b.tar.gz');
      const c = await compile({ files: [{ name: 'p.rego', text: 'package app\n\nlimit := data.limit\n' }], entrypoints: ['app/limit'] });
      writeFileSync(file, writeBundle({ wasm: c.wasm!, entrypoints: ['app/limit'], data: { limit: 1 }, revision: 'r1' }));
      const r = new PolicyReloader({ bundle: file, offThread: { worker }, warmup: () => [{ entrypoint: 'app/limit', input: {} }] });
      expect((await r.reload()).warmed).toBeUndefined();
      writeFileSync(file, writeBundle({ wasm: c.wasm!, entrypoints: ['app/limit'], data: { limit: 2 }, revision: 'r2' }));
      const second = await r.reload();
      expect(second).toMatchObject({ ok: true, revision: 'r2' });
      expect(second.warmed!.evaluations).toBeGreaterThan(0);
      expect(r.current()!.evaluate('app/limit', {})).toEqual([{ result: 2 }]);
    });
  });
});
