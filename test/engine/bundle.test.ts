// OPA bundles: tar round-trips, tether build format, bundles laid out like `opa build -t wasm`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { compile } from '../../src/compiler';
import { loadBundle, readBundle, writeBundle } from '../../src/engine/bundle';
import { readTar, writeTar } from '../../src/engine/tar';

// The first compile may build the wasm runtime (asc in a child process): allow for it.
jest.setTimeout(180_000);

const POLICY = 'package example\n\ndefault allow := false\n\nallow if input.user in data.admins\n\nlimit := data.limits.daily\n';

async function wasmOf(): Promise<Uint8Array> {
  const r = await compile({ files: [{ name: 'example.rego', text: POLICY }], entrypoints: ['example/allow', 'example/limit'] });
  if (!r.wasm) throw new Error(JSON.stringify(r.diagnostics));
  return r.wasm;
}

describe('tar', () => {
  test('round-trips files, including names longer than 100 bytes (PAX path)', () => {
    const long = 'a/' + 'x'.repeat(150) + '/data.json';
    const entries = [
      { name: '/.manifest', data: Buffer.from('{}') },
      { name: long, data: Buffer.from('{"k":1}') },
      { name: '/empty', data: new Uint8Array(0) },
      { name: '/block', data: Buffer.alloc(512, 7) },
    ];
    const back = readTar(writeTar(entries));
    expect(back.map((e) => e.name)).toEqual(entries.map((e) => e.name));
    expect(back.map((e) => Buffer.from(e.data).toString('base64'))).toEqual(entries.map((e) => Buffer.from(e.data).toString('base64')));
  });

  test('archives written by GNU tar read back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-tar-'));
    writeFileSync(join(dir, 'one.txt'), 'hello');
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'two.txt'), 'world');
    execFileSync('tar', ['-cf', join(dir, 'x.tar'), '-C', dir, 'one.txt', 'sub']);
    const files = readTar(readFileSync(join(dir, 'x.tar')));
    expect(Object.fromEntries(files.map((f) => [f.name, Buffer.from(f.data).toString()]))).toEqual({ 'one.txt': 'hello', 'sub/two.txt': 'world' });
  });

  test('a corrupt header is rejected', () => {
    const t = writeTar([{ name: 'f', data: Buffer.from('x') }]);
    t[10] ^= 0xff;
    expect(() => readTar(t)).toThrow(/checksum/);
  });
});

describe('bundles', () => {
  let wasm: Uint8Array;
  beforeAll(async () => {
    wasm = await wasmOf();
  });

  test('writeBundle → readBundle keeps manifest, wasm, data and sources', () => {
    const gz = writeBundle({ wasm, entrypoints: ['example/allow', 'example/limit'], data: { admins: ['ann'] }, revision: 'r1', sources: { 'example.rego': POLICY } });
    const names = readTar(gunzipSync(gz)).map((e) => e.name);
    expect(names).toEqual(['/.manifest', '/data.json', '/policy.wasm', '/example.rego']);
    const b = readBundle(gz);
    expect(b.manifest).toEqual({ revision: 'r1', roots: [''], wasm: [{ entrypoint: 'example/allow', module: '/policy.wasm' }, { entrypoint: 'example/limit', module: '/policy.wasm' }] });
    expect(Buffer.from(b.wasm).equals(Buffer.from(wasm))).toBe(true);
    expect(b.data).toEqual({ admins: ['ann'] });
    expect(b.sources).toEqual({ '/example.rego': POLICY });
  });

  test('loadBundle evaluates with the bundle data and revision', () => {
    const e = loadBundle(writeBundle({ wasm, entrypoints: ['example/allow', 'example/limit'], data: { admins: ['ann'], limits: { daily: 5 } }, revision: 'rev-7' }));
    expect(e.revision).toBe('rev-7');
    expect(e.evaluate('example/allow', { user: 'ann' })).toEqual([{ result: true }]);
    expect(e.evaluate('example/limit', {})).toEqual([{ result: 5 }]);
  });

  test('an `opa build -t wasm` layout loads: ./-prefixed names, nested data.json files, rego sources', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-opa-bundle-'));
    const manifest = { revision: 'opa-1', roots: [''], wasm: [{ entrypoint: 'example/allow', module: '/policy.wasm' }], rego_version: 1 };
    writeFileSync(join(dir, '.manifest'), JSON.stringify(manifest));
    writeFileSync(join(dir, 'policy.wasm'), wasm);
    writeFileSync(join(dir, 'data.json'), JSON.stringify({ admins: ['bo'] }));
    mkdirSync(join(dir, 'limits'));
    writeFileSync(join(dir, 'limits', 'data.json'), JSON.stringify({ daily: 9 }));
    writeFileSync(join(dir, 'example.rego'), POLICY);
    execFileSync('tar', ['-czf', join(dir, 'bundle.tar.gz'), '-C', dir, './.manifest', './policy.wasm', './data.json', './limits/data.json', './example.rego']);
    const b = readBundle(readFileSync(join(dir, 'bundle.tar.gz')));
    expect(b.entrypoints).toEqual(['example/allow']);
    expect(b.data).toEqual({ admins: ['bo'], limits: { daily: 9 } });
    const e = loadBundle(join(dir, 'bundle.tar.gz'));
    expect(e.revision).toBe('opa-1');
    expect(e.evaluate('example/allow', { user: 'bo' })).toEqual([{ result: true }]);
  });

  test('broken bundles are bundle_invalid / bundle_not_found', () => {
    expect(() => readBundle(Buffer.from('not gzip'))).toThrow(expect.objectContaining({ code: 'bundle_invalid' }));
    const noWasm = require('node:zlib').gzipSync(writeTar([{ name: '/.manifest', data: Buffer.from('{}') }]));
    expect(() => readBundle(noWasm)).toThrow(expect.objectContaining({ code: 'bundle_invalid' }));
    expect(() => loadBundle('/nonexistent/bundle.tar.gz')).toThrow(expect.objectContaining({ code: 'bundle_not_found' }));
  });
});
