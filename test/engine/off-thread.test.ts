// Preparing an engine on a worker thread: the same wasm as an inline build, a module that evaluates the
// same, diagnostics for a bad policy, a warm-up that ran, the event loop free meanwhile, one worker reused
// until idle, and a request over its time limit failing without taking the next one with it.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { compile, parseAll } from '../../src/compiler';
import { loadEngine } from '../../src/engine/engine';
import { EngineWorker, PrepareWorkerError } from '../../src/engine/off-thread';
import { decisionSamples } from '../../src/engine/sample-inputs';
import { collectSources, rulePaths } from '../../src/engine/sources';

jest.setTimeout(120_000);

const shipped = collectSources([path.join(__dirname, '..', '..', 'policies')]);

describe('EngineWorker', () => {
  const worker = new EngineWorker();
  afterAll(() => worker.close());

  test('builds the wasm an inline compile builds, and its module decides the same', async () => {
    const entrypoints = rulePaths(parseAll({ files: shipped.files, entrypoints: [] }).modules);
    const inline = await compile({ files: shipped.files, entrypoints });
    const samples = decisionSamples(shipped.data, Date.UTC(2026, 10, 26));
    const reply = await worker.run({ files: shipped.files, data: shipped.data, samples, warmupEvaluations: 40 });
    expect(reply.ok).toBe(true);
    expect(Buffer.from(reply.wasm!).equals(Buffer.from(inline.wasm!))).toBe(true);
    expect(reply.module).toBeDefined();
    const here = loadEngine(inline.wasm!, { data: shipped.data });
    const there = loadEngine(reply.wasm!, { data: shipped.data, module: reply.module });
    for (const s of samples) expect(there.evaluate(s.entrypoint, s.input)).toEqual(here.evaluate(s.entrypoint, s.input));
    expect(reply.warmed!.evaluations).toBe(40);
  });

  test('a policy that does not compile comes back as diagnostics naming file and line', async () => {
    const reply = await worker.run({ files: [{ name: 'bad.rego', text: 'package bad\n\nx := y\n' }] });
    expect(reply.ok).toBe(false);
    expect(reply.module).toBeUndefined();
    expect(reply.diagnostics).toEqual([expect.objectContaining({ code: 'rego_unsafe_var_error', file: 'bad.rego', row: 3 })]);
  });

  test('wasm that does not compile comes back without a module, for the serving thread to report', async () => {
    const reply = await worker.run({ wasm: new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 99]) });
    expect(reply.ok).toBe(true);
    expect(reply.module).toBeUndefined();
    expect(() => loadEngine(reply.wasm!)).toThrow(expect.objectContaining({ code: 'policy_load_error' }));
  });

  test('the event loop keeps turning while the worker compiles', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    try {
      const reply = await worker.run({ files: shipped.files, data: shipped.data, samples: decisionSamples(shipped.data, Date.now()) });
      expect(reply.ok).toBe(true);
    } finally {
      clearInterval(timer);
    }
    // An inline compile of these policies runs 50–150 ms with no tick at all.
    expect(ticks).toBeGreaterThanOrEqual(3);
  });
});

describe('EngineWorker lifetime', () => {
  const tiny = [{ name: 'p.rego', text: 'package p\n\nx := 1\n' }];

  test('one thread serves consecutive requests and exits once idle', async () => {
    const w = new EngineWorker({ idleMs: 300 });
    try {
      expect(w.threadId).toBeUndefined();
      await w.run({ files: tiny });
      const first = w.threadId;
      expect(first).toBeDefined();
      await w.run({ files: tiny });
      expect(w.threadId).toBe(first);
      const deadline = Date.now() + 10_000;
      while (w.threadId !== undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(w.threadId).toBeUndefined();
      expect((await w.run({ files: tiny })).ok).toBe(true);
      expect(w.threadId).not.toBe(first);
    } finally {
      w.close();
    }
  });

  test('a request over its time limit fails with reason timeout and ends the thread; the next one gets a new thread', async () => {
    const w = new EngineWorker();
    try {
      await w.run({ files: tiny });
      const first = w.threadId;
      await expect(w.run({ files: shipped.files }, { timeoutMs: 1 })).rejects.toEqual(expect.objectContaining({ reason: 'timeout' }));
      expect(w.threadId).toBeUndefined();
      expect((await w.run({ files: tiny })).ok).toBe(true);
      expect(w.threadId).not.toBe(first);
    } finally {
      w.close();
    }
  });

  test('an idle thread does not keep the process alive', () => {
    const code = `require(${JSON.stringify(path.join(__dirname, '..', '..', 'src', 'engine', 'off-thread.ts'))})
      .prepareOffThread({ files: [{ name: 'p.rego', text: 'package p\\n\\nx := 1\\n' }] })
      .then((r) => console.log(r.ok ? 'compiled' : 'failed'));`;
    const started = Date.now();
    // The worker would idle for 60 s; the process must end as soon as the compile is done.
    const run = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', code], { encoding: 'utf8', timeout: 30_000 });
    expect(run.stdout.trim()).toBe('compiled');
    expect(run.status).toBe(0);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  test('close() fails what the thread held', async () => {
    const w = new EngineWorker();
    const pending = w.run({ files: shipped.files });
    w.close();
    await expect(pending).rejects.toBeInstanceOf(PrepareWorkerError);
  });
});
