// Caller configuration: defaults, env overrides, and validation errors that name the bad key.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CallersConfigError, loadCallersConfig, parseCallersConfig, ENTRA_EVENTS_APP_ID } from '../../src/callers/config';

// Starting the service compiles the shipped policies: slow on a loaded 2-core machine.
jest.setTimeout(120_000);

function problems(doc: unknown, env: NodeJS.ProcessEnv = {}) {
  try {
    parseCallersConfig(doc, env);
  } catch (err) {
    expect(err).toBeInstanceOf(CallersConfigError);
    expect((err as CallersConfigError).code).toBe('invalid_config');
    return (err as CallersConfigError).problems;
  }
  throw new Error('expected the configuration to be rejected');
}

describe('callers configuration', () => {
  test('an empty file gives the documented defaults', () => {
    const c = parseCallersConfig({});
    expect(c.proxy).toEqual({
      caller_secret_header: 'X-Tether-Proxy-Secret',
      device_header: 'X-Device-Id',
      envoy_prefix: '/v1/authz/envoy',
      apps: [],
      upstream_headers: { 'X-Tether-Subject': 'subject', 'X-Tether-Lifecycle': 'lifecycle', 'X-Tether-Limited': 'limited' },
      timeout_ms: 150,
      nginx: { require_original_method: true },
    });
    expect(c.okta).toEqual({ client_apps: {}, timeout_ms: 1500 });
    expect(c.entra).toEqual({ app_map: {}, deny_mode: 'claim', timeout_ms: 700 });
  });

  test('env vars override file keys', () => {
    const c = parseCallersConfig(
      { proxy: { device_header: 'X-From-File' } },
      {
        TETHER_PROXY_SUBJECT_HEADER: 'X-Auth-Request-Email',
        TETHER_PROXY_DEVICE_HEADER: 'X-Device',
        TETHER_PROXY_JWT_ISSUER: 'https://idp.example',
        TETHER_PROXY_JWT_AUDIENCE: 'api://a,api://b',
        TETHER_PROXY_JWKS_URI: 'https://idp.example/jwks',
        TETHER_OKTA_HOOK_SECRET: 'a-long-enough-secret',
        TETHER_ENTRA_DENY_MODE: 'fail',
      },
    );
    expect(c.proxy.subject_header).toBe('X-Auth-Request-Email');
    expect(c.proxy.device_header).toBe('X-Device');
    expect(c.proxy.jwt).toEqual({
      issuer: 'https://idp.example', audience: ['api://a', 'api://b'], jwks_uri: 'https://idp.example/jwks',
      subject_claim: 'sub', clock_tolerance_s: 30,
    });
    expect(c.okta.auth).toMatchObject({ type: 'header', header: 'Authorization', secret: 'a-long-enough-secret' });
    expect(c.entra.deny_mode).toBe('fail');
  });

  test('entra jwt auth pins the Entra authentication events service by default', () => {
    const c = parseCallersConfig({ entra: { auth: { type: 'jwt', issuer: 'https://login.microsoftonline.com/t/v2.0', audience: 'api://x', jwks_uri: 'https://login.microsoftonline.com/t/discovery/v2.0/keys' } } });
    expect(c.entra.auth).toMatchObject({ type: 'jwt', allowed_callers: [ENTRA_EVENTS_APP_ID] });
  });

  test('unknown keys and missing required keys are named', () => {
    expect(problems({ proxy: { bogus: 1, apps: [{ host: 'x.example' }] }, extra: true })).toEqual([
      { key: 'extra', message: 'unknown key' },
      { key: 'proxy.bogus', message: 'unknown key' },
      { key: 'proxy.apps[0].app', message: 'is required' },
    ]);
  });

  test('a JWT config needs exactly one key source', () => {
    expect(problems({ proxy: { jwt: { issuer: 'i', audience: 'a' } } })).toEqual([
      { key: 'proxy.jwt', message: 'set exactly one of jwks_uri or jwks' },
    ]);
    expect(problems({ entra: { auth: { type: 'jwt', issuer: 'i', audience: 'a', jwks_uri: 'https://x/k', jwks: { keys: [] } } } })).toEqual([
      { key: 'entra.auth', message: 'set exactly one of jwks_uri or jwks' },
    ]);
  });

  test('bad values set through env name both the key and the variable', () => {
    const p = problems({}, { TETHER_PROXY_DEVICE_HEADER: 'bad header', TETHER_OKTA_HOOK_SECRET: 'short' });
    expect(p.map((x) => x.key)).toEqual(['proxy.device_header', 'okta.auth.secret']);
    expect(p[0].message).toMatch(/\(set by TETHER_PROXY_DEVICE_HEADER\)$/);
    expect(p[1].message).toMatch(/fewer than 16 characters \(set by TETHER_OKTA_HOOK_SECRET\)$/);
  });

  test('okta header auth requires the secret; enums list the allowed values', () => {
    expect(problems({ okta: { auth: { type: 'header' } } })).toEqual([{ key: 'okta.auth.secret', message: 'is required' }]);
    expect(problems({ entra: { deny_mode: 'maybe' } })).toEqual([{ key: 'entra.deny_mode', message: 'must be one of claim, fail' }]);
    expect(problems({ proxy: { upstream_headers: { 'X-A': 'nope', 'bad name': 'subject' } } })).toEqual([
      { key: 'proxy.upstream_headers.bad name', message: 'is not a valid header name' },
      { key: 'proxy.upstream_headers.X-A', message: 'must be one of subject, device, app, lifecycle, limited, obligations, policy_revision, exception' },
    ]);
  });

  test('loads the file named by TETHER_CALLERS_CONFIG; unreadable or non-JSON files are reported', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-callers-cfg-'));
    try {
      const good = path.join(dir, 'callers.json');
      fs.writeFileSync(good, JSON.stringify({ proxy: { default_app: 'wiki', apps: [{ host: '*.corp.example', app: 'intranet' }] } }));
      const c = loadCallersConfig({ env: { TETHER_CALLERS_CONFIG: good } });
      expect(c.proxy.default_app).toBe('wiki');
      expect(c.proxy.apps).toEqual([{ host: '*.corp.example', app: 'intranet' }]);

      const bad = path.join(dir, 'bad.json');
      fs.writeFileSync(bad, '{"proxy": ');
      expect(() => loadCallersConfig({ file: bad, env: {} })).toThrow(/\(file\): .*bad\.json is not valid JSON/);
      fs.writeFileSync(bad, '{"okta": {"auth": {"type": "header", "secret": s3cr3t-okta-value}}}');
      expect(() => loadCallersConfig({ file: bad, env: {} })).toThrow(/bad\.json is not valid JSON/);
      expect(() => loadCallersConfig({ file: bad, env: {} })).not.toThrow(/s3cr/);
      expect(() => loadCallersConfig({ file: path.join(dir, 'missing.json'), env: {} })).toThrow(/cannot read .*missing\.json: ENOENT/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the shipped example configuration is valid', () => {
    const example = path.join(__dirname, '../../src/callers/callers.example.json');
    expect(() => loadCallersConfig({ file: example, env: {} })).not.toThrow();
  });
});

describe('validation at start', () => {
  test('serve() refuses to start with a bad callers configuration, naming the key', async () => {
    const { startTether } = await import('./helpers/tether');
    await expect(startTether({ proxy: { apps: [{ host: 'a.example' }] }, okta: { auth: { type: 'header', secret: 'short' } } }))
      .rejects.toThrow('invalid callers configuration: proxy.apps[0].app: is required; okta.auth.secret: must NOT have fewer than 16 characters');
  });
});
