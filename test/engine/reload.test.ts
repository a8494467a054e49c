// Hot reload keeps the last good engine, picks up policy and data changes, and reports failures.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile } from '../../src/compiler';
import { writeBundle } from '../../src/engine/bundle';
import { PolicyReloader } from '../../src/engine/reload';

jest.setTimeout(180_000);

describe('PolicyReloader', () => {
  test('directory: reloads changes; a broken edit keeps the previous engine serving', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-reload-'));
    writeFileSync(join(dir, 'p.rego'), 'package app\n\nlimit := data.limit\n');
    writeFileSync(join(dir, 'data.json'), '{"limit": 1}');
    const r = new PolicyReloader({ dir });
    expect(r.current()).toBeUndefined();
    const first = await r.reload();
    expect(first.ok).toBe(true);
    expect(r.current()!.evaluate('app/limit', {})).toEqual([{ result: 1 }]);
    expect(r.baseData()).toEqual({ limit: 1 });

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

  test('bundle: loads data and revision from the bundle; a missing file is bundle_not_found', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-reload-b-'));
    const c = await compile({ files: [{ name: 'p.rego', text: 'package app\n\nlimit := data.limit\n' }], entrypoints: ['app/limit'] });
    writeFileSync(join(dir, 'b.tar.gz'), writeBundle({ wasm: c.wasm!, entrypoints: ['app/limit'], data: { limit: 9 }, revision: 'r9' }));
    const r = new PolicyReloader({ bundle: join(dir, 'b.tar.gz') });
    expect(await r.reload()).toMatchObject({ ok: true, revision: 'r9' });
    expect(r.current()!.evaluate('app/limit', {})).toEqual([{ result: 9 }]);
    const missing = new PolicyReloader({ bundle: join(dir, 'nope.tar.gz') });
    expect((await missing.reload()).error!.code).toBe('bundle_not_found');
  });
});
