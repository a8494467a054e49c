// The policy service and the entrypoints Tether evaluates: without tether/decision the load fails (not
// ready, the missing entrypoint named); without tether/lifecycle/report only a warning; a policy path
// that is not there is a configuration error at start.
import fs from 'node:fs';
import path from 'node:path';
import { startPolicyService } from '../../src/engine/policy-service';
import { PolicyReloader } from '../../src/engine/reload';
import { ConfigError } from '../../src/config';
import { makeApp, tempDir } from '../api/helpers';

jest.setTimeout(180_000);

const DECISION = 'package tether\n\ndecision := {"allow": input.user == "ann"}\n';
const LIFECYCLE = 'package tether.lifecycle\n\nreport := {"state": "active"}\n';

function policies(files: Record<string, string>): string {
  const dir = tempDir('tether-ps-');
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

function service(env: Record<string, string>) {
  const { ctx } = makeApp({ TETHER_DECISION_LOG: 'off', ...env });
  const warn = jest.spyOn(ctx.logger, 'warn');
  const error = jest.spyOn(ctx.logger, 'error');
  return { ctx, warn, error };
}

test('policies without tether/decision are a failed load: not ready, the entrypoint named', async () => {
  const dir = policies({ 'p.rego': 'package app\n\nallow := true\n' });
  const { ctx, error } = service({ TETHER_POLICY_DIR: dir });
  const s = await startPolicyService(ctx, { watch: false });
  try {
    expect(ctx.readiness.policiesLoaded).toBe(false);
    expect(s.lastReload).toMatchObject({ ok: false, error: { code: 'entrypoint_not_found', message: expect.stringContaining('define no tether/decision entrypoint') } });
    expect(error).toHaveBeenCalledWith('policies are incomplete; not ready', expect.objectContaining({ code: 'entrypoint_not_found' }));

    // Adding the decision makes it ready; the lifecycle entrypoint missing is only a warning.
    fs.writeFileSync(path.join(dir, 'decision.rego'), DECISION);
    const r = await s.reload();
    expect(r.ok).toBe(true);
    expect(ctx.readiness.policiesLoaded).toBe(true);
  } finally {
    s.stop();
    ctx.store.close();
  }
});

test('with tether/decision but no tether/lifecycle/report: ready, one warning at load', async () => {
  const dir = policies({ 'decision.rego': DECISION });
  const { ctx, warn } = service({ TETHER_POLICY_DIR: dir });
  const s = await startPolicyService(ctx, { watch: false });
  try {
    expect(ctx.readiness.policiesLoaded).toBe(true);
    expect(s.lastReload?.ok).toBe(true);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('no tether/lifecycle/report entrypoint: lifecycle tracking cannot run'), expect.anything());
  } finally {
    s.stop();
    ctx.store.close();
  }
});

test('with both entrypoints: ready, no warning', async () => {
  const dir = policies({ 'decision.rego': DECISION, 'lifecycle.rego': LIFECYCLE });
  const { ctx, warn } = service({ TETHER_POLICY_DIR: dir });
  const s = await startPolicyService(ctx, { watch: false });
  try {
    expect(ctx.readiness.policiesLoaded).toBe(true);
    expect(warn).not.toHaveBeenCalled();
  } finally {
    s.stop();
    ctx.store.close();
  }
});

test('a reload that loses tether/decision keeps the previous policies serving', async () => {
  const dir = policies({ 'decision.rego': DECISION });
  const r = new PolicyReloader({ dir, requiredEntrypoints: ['tether/decision'] });
  const first = await r.reload();
  expect(first.ok).toBe(true);
  fs.writeFileSync(path.join(dir, 'decision.rego'), 'package tether\n\nverdict := true\n');
  const second = await r.reload();
  expect(second).toMatchObject({ ok: false, error: { code: 'entrypoint_not_found' } });
  expect(r.current()!.revision).toBe(first.revision);
  expect(r.current()!.evaluate('tether/decision', { user: 'ann' })).toEqual([{ result: { allow: true } }]);
});

test('a policy directory or bundle that does not exist is a configuration error naming the variable', async () => {
  const missing = path.join(tempDir(), 'nope');
  const { ctx } = service({ TETHER_POLICY_DIR: missing });
  try {
    await expect(startPolicyService(ctx, { watch: true })).rejects.toBeInstanceOf(ConfigError);
    await expect(startPolicyService(ctx, { watch: true })).rejects.toThrow(`TETHER_POLICY_DIR ${missing} does not exist`);
  } finally {
    ctx.store.close();
  }
  const b = service({ TETHER_POLICY_BUNDLE: path.join(missing, 'b.tar.gz') });
  try {
    await expect(startPolicyService(b.ctx, { watch: true })).rejects.toThrow(`TETHER_POLICY_BUNDLE ${path.join(missing, 'b.tar.gz')} does not exist`);
  } finally {
    b.ctx.store.close();
  }
});
