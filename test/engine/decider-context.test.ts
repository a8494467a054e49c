// The decisions service module reads the engine from ctx.engine on every decision: before a policy
// is loaded it fails closed, and a late load or a hot swap is used at once, whichever of the
// handle shapes the engine owner provides.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createContext, createLogger, type PolicyHandle } from '../../src/api/context';
import { loadConfig } from '../../src/config';
import type { Decider } from '../../src/engine/decider';
import { startDecisions } from '../../src/lifecycle/module';
import { openSqliteStore } from '../../src/state/store';
import { shippedData, shippedEngine } from '../policies/shipped-policies';

// Compiling the shipped policies can take a while on a loaded CI machine.
jest.setTimeout(120_000);

test('fails closed until ctx.engine is set, then uses it in any of the supported shapes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-ctx-'));
  const config = { ...loadConfig({ TETHER_DATA_DIR: dir, TETHER_DECISION_LOG: 'off', TETHER_POLICY_DIR: path.resolve(__dirname, '../../policies') }), apiToken: 'x' };
  const store = openSqliteStore({ path: ':memory:' });
  const ctx = createContext({ config, store, logger: createLogger('silent') });
  const { lifecycle } = startDecisions(ctx, undefined, { start: false });
  store.putIdentity('alice', { status: 'active', activated_at: new Date(Date.now() - 30 * 864e5).toISOString() });
  store.putDevice('mac-1', { owner: 'alice', ownership: 'corporate', enrolled: true, compliant: true, encrypted: true, observed_at: new Date().toISOString() });
  const decider = ctx.decider as Decider;
  const body = { action: 'access', subject: 'alice', device: 'mac-1', resource: { app: 'email' } };
  try {
    expect(decider.decide(body).reasons).toEqual(['policy_error']);

    const engine = await shippedEngine();
    // 1. A handle with current() and baseData().
    ctx.engine = { revision: engine.revision, current: () => engine, baseData: () => shippedData() } as PolicyHandle;
    expect(decider.decide(body).allow).toBe(true);
    // 2. A handle holding the engine and its data.
    const other = await shippedEngine();
    ctx.engine = { revision: other.revision, engine: other, data: shippedData() } as PolicyHandle;
    expect(decider.decide(body).allow).toBe(true);
    // 3. The engine itself (data.json read from the policy dir).
    const third = await shippedEngine();
    ctx.engine = third;
    expect(decider.decide(body)).toMatchObject({ allow: true, policy_revision: third.revision });
    ctx.engine = undefined;
    expect(decider.decide(body).reasons).toEqual(['policy_error']);
  } finally {
    await lifecycle.stop();
    decider.close();
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
