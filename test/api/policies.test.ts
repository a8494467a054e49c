// GET /v1/policies and POST /v1/policies/reload over a real compile of a copy of the shipped policies:
// a good load serves, a broken policy is reported with file:line:col and leaves the old one serving,
// and a file change is picked up by the watcher.
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import { routeModules } from '../../src/api/routes';
import { startPolicyService, type PolicyService } from '../../src/engine/policy-service';
import { auth, makeApp, tempDir } from './helpers';

const SHIPPED = path.join(__dirname, '..', '..', 'policies');

function copyPolicies(): string {
  const dir = tempDir('tether-policies-');
  fs.cpSync(SHIPPED, dir, { recursive: true });
  return dir;
}

async function setup(opts: { watch?: boolean } = {}) {
  const dir = copyPolicies();
  const { ctx } = makeApp({ TETHER_POLICY_DIR: dir, TETHER_DECISION_LOG: 'off' });
  const service = await startPolicyService(ctx, { watch: opts.watch ?? false });
  const app = createApp(ctx, routeModules.filter((m) => ['health', 'policies'].includes(m.name)));
  return { dir, ctx, service, app };
}

describe('policies routes', () => {
  let s: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    s = await setup();
  }, 120_000);
  afterAll(() => {
    s.service.stop();
    s.ctx.store.close();
  });

  it('reports the loaded modules and revision, and marks the service ready', async () => {
    const res = await request(s.app).get('/v1/policies').set(auth).expect(200);
    expect(res.body.revision).toMatch(/^[0-9a-f]{16}$/);
    expect(res.body.modules).toEqual(expect.arrayContaining(['tether/decision.rego', 'tether/device.rego']));
    expect(res.body.modules.some((m: string) => m.endsWith('_test.rego'))).toBe(false);
    expect(res.body.last_reload).toMatchObject({ ok: true, revision: res.body.revision });
    await request(s.app).get('/health/ready').expect(200);
  });

  it('requires the API token', async () => {
    const res = await request(s.app).get('/v1/policies').expect(401);
    expect(res.body.code).toBe('unauthorized');
  });

  it('answers 422 naming file, line and column when a reload fails, and keeps the old policies serving', async () => {
    const before = (s.service as PolicyService).revision;
    const broken = path.join(s.dir, 'tether', 'broken.rego');
    fs.writeFileSync(broken, 'package tether.broken\n\nimport rego.v1\n\nx if {\n  y > 1\n}\n');
    try {
      const res = await request(s.app).post('/v1/policies/reload').set(auth).expect(422);
      expect(res.body.code).toBe('policy_compile_failed');
      expect(res.body.errors).toEqual([expect.objectContaining({ path: 'tether/broken.rego:6:3', message: expect.stringContaining('rego_unsafe_var_error') })]);
      expect(s.service.revision).toBe(before);
      const status = await request(s.app).get('/v1/policies').set(auth).expect(200);
      expect(status.body.revision).toBe(before);
      expect(status.body.last_reload.ok).toBe(false);
      expect(status.body.last_reload.error.code).toBe('compile_error');
      const metrics = await request(s.app).get('/metrics').expect(200);
      expect(metrics.text).toMatch(/tether_policy_reload_failures_total\s+[1-9]/);
      // The old engine still evaluates.
      const rs = s.service.current()!.evaluate('tether/decision', { action: 'access' });
      expect((rs[0].result as { allow: boolean }).allow).toBe(false);
    } finally {
      fs.rmSync(broken);
    }
    // The broken file is gone: the sources are the serving ones again, so nothing is rebuilt.
    const ok = await request(s.app).post('/v1/policies/reload').set(auth).expect(200);
    expect(ok.body.revision).toBe(before);
    expect(ok.body.last_reload).toEqual(expect.objectContaining({ ok: true, unchanged: true }));
  }, 120_000);

  it('compiles a changed policy set and warms it with sample decisions before the swap', async () => {
    const before = s.service.revision;
    const extra = path.join(s.dir, 'tether', 'extra_warm.rego');
    fs.writeFileSync(extra, 'package tether.extra_warm\n\nanswer := 7\n');
    try {
      const res = await request(s.app).post('/v1/policies/reload').set(auth).expect(200);
      expect(res.body.revision).not.toBe(before);
      expect(res.body.last_reload.unchanged).toBeUndefined();
      expect(res.body.last_reload.warmup.evaluations).toBeGreaterThanOrEqual(100);
      expect(s.service.current()!.evaluate('tether/extra_warm/answer', {})).toEqual([{ result: 7 }]);
      expect((await request(s.app).get('/v1/policies').set(auth).expect(200)).body.modules).toContain('tether/extra_warm.rego');
    } finally {
      fs.rmSync(extra);
    }
    expect((await request(s.app).post('/v1/policies/reload').set(auth).expect(200)).body.revision).toBe(before);
  }, 120_000);
});

describe('a reload that fails without diagnostics', () => {
  it('names the error itself: a policy directory left with no .rego files', async () => {
    const s = await setup();
    try {
      const before = s.service.revision;
      for (const f of fs.readdirSync(path.join(s.dir, 'tether'))) fs.rmSync(path.join(s.dir, 'tether', f));
      const res = await request(s.app).post('/v1/policies/reload').set(auth).expect(422);
      expect(res.body.code).toBe('policy_compile_failed');
      expect(res.body.errors).toEqual([{ path: s.dir, message: expect.stringContaining('no .rego policies found') }]);
      expect(s.service.revision).toBe(before);
    } finally {
      s.service.stop();
      s.ctx.store.close();
    }
  }, 120_000);
});

describe('policy hot reload', () => {
  it('recompiles and swaps when a policy file changes', async () => {
    const s = await setup({ watch: true });
    try {
      const before = s.service.revision;
      const file = path.join(s.dir, 'tether', 'extra.rego');
      fs.writeFileSync(file, 'package tether.extra\n\nimport rego.v1\n\nanswer := 42\n');
      const deadline = Date.now() + 60_000;
      while (s.service.revision === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(s.service.revision).not.toBe(before);
      expect(s.service.current()!.evaluate('tether/extra/answer', {})).toEqual([{ result: 42 }]);
    } finally {
      s.service.stop();
      s.ctx.store.close();
    }
  }, 120_000);
});

describe('serving a prebuilt bundle (TETHER_POLICY_BUNDLE)', () => {
  it('loads the bundle tether build wrote and reports its revision', async () => {
    const dir = tempDir('tether-bundle-');
    const out = path.join(dir, 'bundle.tar.gz');
    const { main } = await import('../../src/cli');
    const quiet = { out: () => undefined, err: () => undefined };
    expect(await main(['build', SHIPPED, '-e', 'tether/decision', '-e', 'tether/lifecycle/report', '-o', out, '--revision', 'rev-42'], quiet)).toBe(0);
    const { ctx } = makeApp({ TETHER_POLICY_BUNDLE: out, TETHER_POLICY_DIR: path.join(dir, 'nowhere'), TETHER_DECISION_LOG: 'off' });
    const service = await startPolicyService(ctx, { watch: false });
    try {
      expect(ctx.readiness.policiesLoaded).toBe(true);
      expect(service.revision).toBe('rev-42');
      expect(service.modules()).toEqual([out]);
      const rs = service.current()!.evaluate('tether/decision', { action: 'access', subject: null, app: 'wiki' });
      expect(rs[0].result).toMatchObject({ allow: false, reasons: ['identity_unknown'] });
    } finally {
      service.stop();
      ctx.store.close();
    }
  }, 120_000);
});

describe('TETHER_POLICY_PRINT', () => {
  async function printingService(env: Record<string, string>) {
    const dir = tempDir('tether-print-');
    fs.writeFileSync(path.join(dir, 'p.rego'), 'package p\n\nimport rego.v1\n\nallow if {\n\tprint("asked by", input.user)\n\tinput.user == "ann"\n}\n');
    const { ctx } = makeApp({ TETHER_POLICY_DIR: dir, TETHER_DECISION_LOG: 'off', ...env });
    const logged: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
    jest.spyOn(ctx.logger, 'info').mockImplementation((msg: string, fields?: Record<string, unknown>) => void logged.push({ msg, fields }));
    const service = await startPolicyService(ctx, { watch: false });
    return { ctx, service, logged };
  }

  it('on: print(...) lines are logged with the serving revision', async () => {
    const { ctx, service, logged } = await printingService({ TETHER_POLICY_PRINT: 'true' });
    try {
      expect(service.current()!.evaluate('p/allow', { user: 'ann' })).toEqual([{ result: true }]);
      expect(logged.filter((l) => l.msg === 'policy print')).toEqual([{ msg: 'policy print', fields: { line: 'asked by ann', revision: service.revision } }]);
    } finally {
      service.stop();
      ctx.store.close();
    }
  });

  it('off (the default): nothing is printed and the result is the same', async () => {
    const { ctx, service, logged } = await printingService({});
    try {
      expect(ctx.config.policyPrint).toBe(false);
      expect(service.current()!.evaluate('p/allow', { user: 'ann' })).toEqual([{ result: true }]);
      expect(logged.filter((l) => l.msg === 'policy print')).toEqual([]);
    } finally {
      service.stop();
      ctx.store.close();
    }
  });
});
