// A discarded JWT verifier stops fetching its JWKS: close() clears the refresh and retry timers and aborts
// a fetch in flight, and serve() closes the verifiers its callers built on shutdown and on a failed start.
// Fetches are counted at test IdPs serving their JWKS on loopback.
import { parseCallersConfig } from '../../src/callers/config';
import { createJwtVerifier, CredentialError, KeysUnavailable, type KeyFetchFailure } from '../../src/callers/jwt';
import { fakeIntervalsOnly, timed, until } from './helpers/clock';
import { startIdp, type TestIdp } from './helpers/idp';
import { startTether } from './helpers/tether';

jest.setTimeout(60_000);

const AUD = 'api://tether-proxies';
const claims = { aud: AUD, sub: 'alice' };
const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms));
const outcome = (p: Promise<unknown>) => p.then(
  () => 'ok',
  (e: unknown) => (e instanceof KeysUnavailable ? 'keys_unavailable' : e instanceof CredentialError ? e.code : String(e)),
);

let idp: TestIdp;
beforeEach(async () => { idp = await startIdp(); });
afterEach(async () => {
  jest.useRealTimers();
  await idp.close();
});

const proxyJwt = (extra: Record<string, unknown> = {}) => ({ issuer: idp.issuer, audience: AUD, jwks_uri: idp.jwksUri, ...extra });
const cfg = () => parseCallersConfig({ proxy: { jwt: proxyJwt() } }).proxy.jwt!;
/** Advances the (fake) refresh intervals `periods` times by `ms`, letting each fetch reach the IdP. */
async function advance(periods: number, ms: number): Promise<void> {
  for (let i = 0; i < periods; i++) {
    jest.advanceTimersByTime(ms);
    await settle();
  }
}

describe('JwtVerifier.close()', () => {
  test('stops the background refresh: refresh periods after close() fetch nothing', async () => {
    fakeIntervalsOnly();
    const verify = createJwtVerifier(cfg(), { refreshMs: 10_000 });
    expect(await outcome(verify(await idp.sign(claims)))).toBe('ok'); // the start-up fetch is done
    await advance(1, 10_000);
    expect(idp.jwksFetches()).toBe(2); // the refresh runs while open
    verify.close();
    expect(jest.getTimerCount()).toBe(0); // the interval is cleared, not just made harmless
    await advance(3, 10_000);
    expect(idp.jwksFetches()).toBe(2);
  });

  test('a retry pending at close() does not run', async () => {
    idp.jwksBehaviour.down = true;
    const failures: KeyFetchFailure[] = [];
    const verify = createJwtVerifier(cfg(), { retryMinMs: 200, onFetchError: (f) => failures.push(f) });
    await until(() => failures.length === 1, 5000, 'the failed start-up fetch'); // its retry is due 200 ms later
    verify.close();
    await settle(1000);
    expect(idp.jwksFetches()).toBe(1);
  });

  test('after close() the cached keys still verify, and a request that needs a fetch is refused without one', async () => {
    const verify = createJwtVerifier(cfg());
    expect(await outcome(verify(await idp.sign(claims)))).toBe('ok');
    verify.close();
    expect(await outcome(verify(await idp.sign(claims)))).toBe('ok');
    expect(await outcome(verify(await idp.signWithKid(claims, 'unknown-kid')))).toBe('keys_unavailable');
    expect(idp.jwksFetches()).toBe(1);
  });

  test('a fetch in flight at close() that then fails is neither reported nor retried', async () => {
    Object.assign(idp.jwksBehaviour, { down: true, delayMs: 300 });
    const failures: KeyFetchFailure[] = [];
    const verify = createJwtVerifier(cfg(), { retryMinMs: 50, onFetchError: (f) => failures.push(f) });
    await until(() => idp.jwksFetches() === 1, 5000, 'the start-up fetch');
    verify.close(); // the IdP answers 503 in ~300 ms; without keys a retry would follow 50 ms later
    await settle(1000);
    expect(idp.jwksFetches()).toBe(1);
    expect(failures).toEqual([]);
  });

  test('a request waiting on a fetch in flight at close() is answered at once, not after the fetch timeout', async () => {
    idp.jwksBehaviour.hang = true;
    const verify = createJwtVerifier(cfg());
    await until(() => idp.jwksFetches() === 1, 5000, 'the start-up fetch');
    const waiting = timed(outcome(verify(await idp.sign(claims)))); // joins the hanging fetch
    verify.close();
    const { v, ms } = await waiting;
    expect(v).toBe('keys_unavailable');
    expect(ms).toBeLessThan(1000); // KEY_FETCH_TIMEOUT_MS is 2 s: the fetch was aborted
  });
});

describe('serve() closes the callers\' verifiers', () => {
  test('a server started and shut down in-process fetches no JWKS afterwards', async () => {
    fakeIntervalsOnly(); // the JWKS refresh (and the server's other intervals) advance only on demand
    const t = await startTether({ proxy: { jwt: proxyJwt({ jwks_refresh_seconds: 10 }) } });
    await until(() => idp.jwksFetches() === 1, 5000, 'the start-up fetch');
    await settle(); // done, so the refresh below does not just join it
    await advance(1, 10_000);
    expect(idp.jwksFetches()).toBe(2); // the refresh runs while serving
    await t.stop();
    await advance(3, 10_000);
    expect(idp.jwksFetches()).toBe(2);
  });

  test('a start that fails after the callers were built (port in use) leaves no JWKS refresh behind', async () => {
    fakeIntervalsOnly();
    const port = new URL(idp.jwksUri).port; // taken by the IdP
    const started = await startTether({ proxy: { jwt: proxyJwt({ jwks_refresh_seconds: 10 }) } }, { PORT: port }).then((t) => t, (e: Error) => e);
    if (!(started instanceof Error)) await started.stop();
    expect(started).toBeInstanceOf(Error);
    await settle(); // the start-up fetch may or may not have reached the IdP before it was aborted
    const fetched = idp.jwksFetches();
    await advance(3, 10_000);
    expect(idp.jwksFetches()).toBe(fetched);
  });
});
