// Remote JWKS: the background refresh period per caller (`jwks_refresh_seconds`), and the rate limit on
// fetches a request may trigger (a kid the cache lacks, or no usable keys): at most one per 30 s per JWKS,
// so a flood of tokens naming random kids cannot hammer the IdP. Verified for real with jose against
// test IdPs serving their JWKS on loopback.
import net from 'node:net';
import { callersDirectRoutes } from '../../src/api/routes/callers';
import { CallersConfigError, parseCallersConfig } from '../../src/callers/config';
import { createJwtVerifier, CredentialError, KeysUnavailable, KEY_REFETCH_MIN_INTERVAL_MS, type KeyFetchFailure } from '../../src/callers/jwt';
import { clockAhead, fakeIntervalsOnly, until } from './helpers/clock';
import { startIdp, type TestIdp } from './helpers/idp';

jest.setTimeout(60_000);

const AUD = 'api://tether-proxies';
const settle = (ms = 200) => new Promise((r) => setTimeout(r, ms));
const outcome = (p: Promise<unknown>) => p.then(
  () => 'ok',
  (e: unknown) => (e instanceof KeysUnavailable ? 'keys_unavailable' : e instanceof CredentialError ? e.code : String(e)),
);

function problems(doc: unknown) {
  try {
    parseCallersConfig(doc);
  } catch (err) {
    expect(err).toBeInstanceOf(CallersConfigError);
    return (err as CallersConfigError).problems;
  }
  throw new Error('expected the configuration to be rejected');
}

describe('jwks_refresh_seconds: the background refresh period, per caller', () => {
  const idps: TestIdp[] = [];
  afterEach(async () => {
    jest.useRealTimers();
    await Promise.all(idps.splice(0).map((i) => i.close()));
  });

  test('each caller refreshes its JWKS at its own jwks_refresh_seconds; unset means 300 s', async () => {
    const [proxyIdp, oktaIdp, entraIdp] = await Promise.all([startIdp(), startIdp(), startIdp()]);
    idps.push(proxyIdp, oktaIdp, entraIdp);
    fakeIntervalsOnly(); // the refresh timers only: the fetches themselves run for real
    const config = parseCallersConfig({
      proxy: { jwt: { issuer: proxyIdp.issuer, audience: AUD, jwks_uri: proxyIdp.jwksUri, jwks_refresh_seconds: 10 } },
      okta: { auth: { type: 'jwt', issuer: oktaIdp.issuer, audience: 'api://hook', jwks_uri: oktaIdp.jwksUri, jwks_refresh_seconds: 20 } },
      entra: { auth: { type: 'jwt', issuer: entraIdp.issuer, audience: 'api://hook', jwks_uri: entraIdp.jwksUri } },
    });
    // The routes as the service builds them (no request is made, so nothing is decided).
    callersDirectRoutes({ decide: () => { throw new Error('no decision expected'); } }, config);
    const fetches = () => [proxyIdp.jwksFetches(), oktaIdp.jwksFetches(), entraIdp.jwksFetches()];
    await until(() => fetches().every((n) => n === 1), 5000, 'the start-up fetches');

    jest.advanceTimersByTime(9_999);
    await settle();
    expect(fetches()).toEqual([1, 1, 1]);
    jest.advanceTimersByTime(1); // 10 s
    await until(() => proxyIdp.jwksFetches() === 2, 5000, 'the proxy refresh at 10 s');
    await settle();
    expect(fetches()).toEqual([2, 1, 1]);
    jest.advanceTimersByTime(10_000); // 20 s
    await until(() => oktaIdp.jwksFetches() === 2, 5000, 'the Okta refresh at 20 s');
    await settle();
    expect(fetches()).toEqual([3, 2, 1]);
    jest.advanceTimersByTime(279_999); // 299.999 s
    await settle();
    expect(entraIdp.jwksFetches()).toBe(1);
    jest.advanceTimersByTime(1); // 300 s
    await until(() => entraIdp.jwksFetches() === 2, 5000, 'the Entra refresh at 300 s');
  });

  test('invalid values are refused at start, naming the key', () => {
    const jwt = { issuer: 'https://idp.example', audience: AUD, jwks_uri: 'https://idp.example/keys' };
    for (const bad of [9, 0, -300]) {
      expect(problems({ proxy: { jwt: { ...jwt, jwks_refresh_seconds: bad } } })).toEqual([{ key: 'proxy.jwt.jwks_refresh_seconds', message: 'must be >= 10' }]);
    }
    for (const bad of [12.5, '300', null]) {
      expect(problems({ okta: { auth: { type: 'jwt', ...jwt, jwks_refresh_seconds: bad } } })).toEqual([{ key: 'okta.auth.jwks_refresh_seconds', message: 'must be integer' }]);
    }
    expect(problems({ entra: { auth: { type: 'jwt', ...jwt, jwks_refresh_seconds: 86_400 } } })).toEqual([{ key: 'entra.auth.jwks_refresh_seconds', message: 'must be <= 43200' }]);
    expect(() => parseCallersConfig({ entra: { auth: { type: 'jwt', ...jwt, jwks_refresh_seconds: 10 } } })).not.toThrow();
  });

  test('a misspelt key in okta.auth / entra.auth is refused, not silently left at the default', () => {
    const jwt = { issuer: 'https://idp.example', audience: AUD, jwks_uri: 'https://idp.example/keys' };
    expect(problems({ okta: { auth: { type: 'jwt', ...jwt, jwks_refresh_secs: 60 } }, entra: { auth: { type: 'jwt', ...jwt, jwks_refresh: 60 } } })).toEqual([
      { key: 'okta.auth.jwks_refresh_secs', message: 'unknown key' },
      { key: 'entra.auth.jwks_refresh', message: 'unknown key' },
    ]);
  });

  test('serve() refuses to start with a bad jwks_refresh_seconds, naming the key', async () => {
    const { startTether } = await import('./helpers/tether');
    const started = await startTether({ entra: { auth: { type: 'jwt', issuer: 'https://idp.example', audience: AUD, jwks_uri: 'https://idp.example/keys', jwks_refresh_seconds: 1 } } })
      .then((t) => t, (e: Error) => e);
    if (!(started instanceof Error)) await started.stop(); // never leave a server behind when the check fails
    expect(started).toBeInstanceOf(Error);
    expect((started as Error).message).toBe('invalid callers configuration: entra.auth.jwks_refresh_seconds: must be >= 10');
  });
});

describe('a kid the cache lacks: at most one immediate refetch per 30 s per JWKS', () => {
  let idp: TestIdp;
  beforeEach(async () => { idp = await startIdp(); });
  afterEach(async () => { jest.restoreAllMocks(); await idp.close(); });

  const cfg = () => parseCallersConfig({ proxy: { jwt: { issuer: idp.issuer, audience: AUD, jwks_uri: idp.jwksUri } } }).proxy.jwt!;
  const claims = { aud: AUD, sub: 'alice' };
  const randomKid = (i: number) => idp.signWithKid(claims, `random-${i}-${Math.random().toString(36).slice(2)}`);
  /** A verifier whose start-up fetch has completed. */
  const warmVerifier = async () => {
    const verify = createJwtVerifier(cfg());
    expect(await outcome(verify(await idp.sign(claims)))).toBe('ok');
    expect(idp.jwksFetches()).toBe(1);
    return verify;
  };

  test('the limit is 30 s', () => {
    expect(KEY_REFETCH_MIN_INTERVAL_MS).toBe(30_000);
  });

  test('an unknown kid triggers one immediate refetch, which picks up a rotated key', async () => {
    const verify = await warmVerifier();
    idp.rotate();
    clockAhead(31_000);
    expect(await outcome(verify(await idp.signRotated(claims)))).toBe('ok');
    expect(idp.jwksFetches()).toBe(2);
  });

  test('a key the IdP rotated right after a background refresh is fetched and accepted at once', async () => {
    const verify = await warmVerifier(); // the start-up fetch is a background one
    idp.rotate();
    expect(await outcome(verify(await idp.signRotated(claims)))).toBe('ok');
    expect(idp.jwksFetches()).toBe(2);
  });

  test('a kid still missing after a fetch a request started less than 30 s ago is unknown (credential_invalid) without a fetch', async () => {
    const verify = await warmVerifier();
    for (let i = 0; i < 10; i++) expect(await outcome(verify(await randomKid(i)))).toBe('credential_invalid');
    expect(idp.jwksFetches()).toBe(2);
  });

  test('a flood of random kids with the JWKS up: one refetch, then credential_invalid for each', async () => {
    const verify = await warmVerifier();
    clockAhead(31_000);
    const tokens = await Promise.all(Array.from({ length: 50 }, (_, i) => randomKid(i)));
    const concurrent = await Promise.all(tokens.slice(0, 25).map((tk) => outcome(verify(tk))));
    const sequential: string[] = [];
    for (const tk of tokens.slice(25)) sequential.push(await outcome(verify(tk)));
    expect(new Set([...concurrent, ...sequential])).toEqual(new Set(['credential_invalid']));
    expect(idp.jwksFetches()).toBe(2);
  });

  test('a flood of random kids while the JWKS fails: one refetch per 30 s, each answer keys unavailable (decision_unavailable)', async () => {
    const verify = await warmVerifier();
    idp.jwksBehaviour.down = true;
    clockAhead(31_000);
    const tokens = await Promise.all(Array.from({ length: 40 }, (_, i) => randomKid(i)));
    const concurrent = await Promise.all(tokens.slice(0, 20).map((tk) => outcome(verify(tk))));
    const sequential: string[] = [];
    for (const tk of tokens.slice(20)) sequential.push(await outcome(verify(tk)));
    expect(new Set([...concurrent, ...sequential])).toEqual(new Set(['keys_unavailable']));
    expect(idp.jwksFetches()).toBe(2);
    // 29 s after that refetch: still refused without a fetch; a known kid is still verified from the cache.
    clockAhead(31_000 + 29_000);
    expect(await outcome(verify(await randomKid(99)))).toBe('keys_unavailable');
    expect(await outcome(verify(await idp.sign(claims)))).toBe('ok');
    expect(idp.jwksFetches()).toBe(2);
    // 30 s after it: one more.
    clockAhead(31_000 + 30_000);
    expect(await outcome(verify(await randomKid(100)))).toBe('keys_unavailable');
    expect(await outcome(verify(await randomKid(101)))).toBe('keys_unavailable');
    expect(idp.jwksFetches()).toBe(3);
  });

  test('JWKS down from the start: requests start at most one fetch per 30 s', async () => {
    idp.jwksBehaviour.down = true;
    const verify = createJwtVerifier(cfg(), { retryMinMs: 3_600_000 }); // the background retry is the next test's
    await until(() => idp.jwksFetches() === 1, 5000, 'the start-up fetch');
    await settle(100);
    const answers: string[] = [];
    for (let i = 0; i < 20; i++) answers.push(await outcome(verify(await idp.sign(claims))));
    expect(new Set(answers)).toEqual(new Set(['keys_unavailable']));
    expect(idp.jwksFetches()).toBe(2);
    // Once the IdP is back and 30 s have passed, the next request fetches and is verified.
    idp.jwksBehaviour.down = false;
    clockAhead(31_000);
    expect(await outcome(verify(await idp.sign(claims)))).toBe('ok');
    expect(idp.jwksFetches()).toBe(3);
  });

  test('without usable keys the JWKS is retried in the background with backoff, each failure reported, so requests need not wait 30 s after the IdP is back', async () => {
    idp.jwksBehaviour.down = true;
    const failures: KeyFetchFailure[] = [];
    const verify = createJwtVerifier(cfg(), { retryMinMs: 50, onFetchError: (f) => failures.push(f) });
    await until(() => idp.jwksFetches() >= 4, 5000, 'background retries'); // 50, 100, 200 ms apart
    expect(failures.length).toBeGreaterThanOrEqual(3);
    expect(failures[0]).toEqual({ uri: idp.jwksUri, code: expect.any(String), keysAgeSeconds: null });
    idp.jwksBehaviour.down = false;
    const before = idp.jwksFetches();
    await until(() => idp.jwksFetches() > before, 5000, 'the retry after the IdP is back');
    await settle(50);
    const fetched = idp.jwksFetches();
    expect(await outcome(verify(await idp.sign(claims)))).toBe('ok'); // no 30 s wait, no fetch of its own
    expect(idp.jwksFetches()).toBe(fetched);
    await settle(500);
    expect(idp.jwksFetches()).toBe(fetched); // retries stop once keys are held
  });

  test("a JWKS nobody listens on is reported by the network's code (ECONNREFUSED), not fetch's bare TypeError", async () => {
    const closed = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as net.AddressInfo;
        srv.close(() => resolve(port));
      });
    });
    const failures: KeyFetchFailure[] = [];
    const jwksUri = `http://127.0.0.1:${closed}/jwks`;
    const config = parseCallersConfig({ proxy: { jwt: { issuer: idp.issuer, audience: AUD, jwks_uri: jwksUri } } }).proxy.jwt!;
    const verify = createJwtVerifier(config, { retryMinMs: 3_600_000, onFetchError: (f) => failures.push(f) });
    try {
      await until(() => failures.length >= 1, 5000, 'the start-up fetch to fail');
      expect(failures[0]).toEqual({ uri: jwksUri, code: 'ECONNREFUSED', keysAgeSeconds: null });
      const refused = await verify(await idp.sign(claims)).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(KeysUnavailable);
      expect((refused as KeysUnavailable).causeCode).toBe('ECONNREFUSED');
    } finally {
      verify.close();
    }
  });
});
