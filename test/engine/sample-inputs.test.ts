// The warm-up samples exercise the shipped policies' allow path and their common denies, so a reloaded
// engine has compiled both before real decisions arrive.
import path from 'node:path';
import { loadPolicyDirWithData } from '../../src/engine/loader';
import { decisionSamples } from '../../src/engine/sample-inputs';

jest.setTimeout(120_000);

describe('decisionSamples', () => {
  test('on the shipped policies: compliant devices are allowed, non-compliant ones denied, for every action and app sampled', async () => {
    const { engine, data } = await loadPolicyDirWithData(path.join(__dirname, '..', '..', 'policies'));
    const samples = decisionSamples(data, Date.UTC(2026, 10, 26, 12));
    const outcomes = samples.map((s) => {
      const input = s.input as { action: string; app: string | null; device: { compliant: boolean } };
      const d = engine.evaluate(s.entrypoint, s.input)[0].result as { allow: boolean; reasons: string[] };
      return { action: input.action, app: input.app, compliant: input.device.compliant, allow: d.allow, reasons: d.reasons };
    });
    const catalog = Object.keys(data.apps as object).slice(0, 3);
    expect(new Set(outcomes.map((o) => o.app))).toEqual(new Set([...catalog, null]));
    for (const o of outcomes.filter((x) => x.action !== 'activate')) {
      if (o.compliant) expect(o).toEqual(expect.objectContaining({ allow: true }));
      else expect(o).toEqual(expect.objectContaining({ allow: false, reasons: expect.arrayContaining(['device_not_compliant']) }));
    }
    // Activation looks at the owned devices, one of which qualifies.
    expect(outcomes.filter((x) => x.action === 'activate').map((o) => o.allow)).toEqual([true, true]);
  });

  test('without an app catalog the samples name a placeholder app', () => {
    const apps = new Set(decisionSamples({}, 0).map((s) => (s.input as { app: string | null }).app));
    expect(apps).toEqual(new Set(['tether-warmup', null]));
  });
});
