// The OPA REST API as real OPA clients see it: the official TypeScript SDK @styra/opa against the real
// service (store, compiled shipped policies, decider) — a decision, default values and the default
// decision, an undefined path, and errors.
import { OPAClient } from '@styra/opa';
import { seedPeople, startTether, type TetherHandle } from './helpers/tether';

// Starting the service compiles the shipped policies: slow on a loaded 2-core machine.
jest.setTimeout(120_000);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DECISION_TOKEN = 'decision-token-4b1e9c0a7f';

let t: TetherHandle;
let opa: OPAClient;

beforeAll(async () => {
  t = await startTether({}, { TETHER_DECISION_TOKEN: DECISION_TOKEN });
  seedPeople(t);
  // Like any OPA deployment with --authentication=token: the SDK sends Authorization: Bearer.
  opa = new OPAClient(t.url, { headers: { Authorization: `Bearer ${DECISION_TOKEN}` } });
});

afterAll(async () => {
  await t?.stop();
});

const aliceOnPayroll = { action: 'access', subject: 'alice@example.com', device: 'mac-alice', resource: { app: 'payroll' } };

describe('@styra/opa against the Tether OPA Data API', () => {
  test('evaluate a decision: data.tether.decision for a /v1/decide-shaped input', async () => {
    const allowed = await opa.evaluate<typeof aliceOnPayroll, Record<string, unknown>>('tether/decision', aliceOnPayroll);
    expect(allowed).toMatchObject({ allow: true, limited: false, reasons: [], lifecycle: 'healthy' });

    const denied = await opa.evaluate<typeof aliceOnPayroll, Record<string, unknown>>('tether/decision', { ...aliceOnPayroll, subject: 'bob@example.com', device: 'pc-bob' });
    expect(denied).toMatchObject({ allow: false, reasons: ['device_not_compliant'] });
  });

  test("the SDK's fromResult turns the decision into a boolean, as OPA client code does", async () => {
    const allow = await opa.evaluate<typeof aliceOnPayroll, boolean>('tether/decision', aliceOnPayroll, {
      fromResult: (r) => (r as { allow?: boolean } | undefined)?.allow ?? false,
    });
    expect(allow).toBe(true);
  });

  test('a path inside the decision and a rule that only has its default value', async () => {
    expect(await opa.evaluate('tether/decision/allow', aliceOnPayroll)).toBe(true);
    // `default allow := false` for an unknown subject: the default value is defined, not undefined.
    expect(await opa.evaluate('tether/allow', { ...aliceOnPayroll, subject: 'nobody@example.com' })).toBe(false);
  });

  test("evaluateDefault: OPA's default-decision endpoint answers Tether's decision", async () => {
    const d = await opa.evaluateDefault<typeof aliceOnPayroll, Record<string, unknown>>(aliceOnPayroll);
    expect(d).toMatchObject({ allow: true, reasons: [] });
    const unknown = await opa.evaluateDefault<typeof aliceOnPayroll, Record<string, unknown>>({ ...aliceOnPayroll, subject: 'nobody@example.com' });
    expect(unknown).toMatchObject({ allow: false, reasons: ['identity_unknown'] });
  });

  test('an undefined path: no result (OPA answers 200 {}), which callers must treat as deny', async () => {
    const v = await opa.evaluate('tether/no_such_rule', aliceOnPayroll);
    expect(v).toBeUndefined();
    const asBool = await opa.evaluate<typeof aliceOnPayroll, boolean>('no/such/package', aliceOnPayroll, { fromResult: (r) => r === true });
    expect(asBool).toBe(false);
  });

  // The SDK maps OPA's 400/500 envelopes to ClientError/ServerError and every other status to SDKError
  // (body discarded), so callers see the status through httpMeta.
  type SdkError = Error & { httpMeta?: { response: Response } };
  const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as SdkError);

  test('errors: a missing or wrong decision token is refused with 401, which the SDK raises', async () => {
    for (const client of [new OPAClient(t.url), new OPAClient(t.url, { headers: { Authorization: 'Bearer wrong' } })]) {
      const err = await failure(client.evaluate('tether/decision', aliceOnPayroll));
      expect(err).toBeInstanceOf(Error);
      expect(err!.name).toBe('SDKError');
      expect(err!.httpMeta?.response.status).toBe(401);
      expect(err!.message).toMatch(/Status 401 Content-Type application\/json/);
    }
    const viaDefault = await failure(new OPAClient(t.url).evaluateDefault(aliceOnPayroll));
    expect(viaDefault!.httpMeta?.response.status).toBe(401);
  });

  test('errors: an input above the body limit is rejected (413), never silently evaluated', async () => {
    const huge = { ...aliceOnPayroll, context: { blob: 'x'.repeat(2 * 1024 * 1024) } };
    const err = await failure(opa.evaluate('tether/decision', huge));
    expect(err!.name).toBe('SDKError');
    expect(err!.httpMeta?.response.status).toBe(413);
  });

  test('decision ids come back on the raw Data API envelope', async () => {
    const r = await fetch(`${t.url}/v1/data/tether/decision`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${DECISION_TOKEN}` },
      body: JSON.stringify({ input: aliceOnPayroll }),
    });
    const body = (await r.json()) as { decision_id: string; result: { allow: boolean } };
    expect(body.decision_id).toMatch(UUID);
    expect(body.result.allow).toBe(true);
  });
});
