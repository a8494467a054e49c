// nginx auth_request and X-Original-Method: the subrequest inherits the client's headers, so only an auth
// location that sets X-Original-Method itself makes it nginx's. Tether refuses a check without it
// (proxy.nginx.require_original_method, default true) instead of deciding it as a GET. Checked at the
// handler, against the real service, and in real nginx with the README's example auth location.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { contextDecide } from '../../src/api/routes/callers';
import { CallersConfigError, parseCallersConfig } from '../../src/callers/config';
import { nginxHandler, nginxRefusal } from '../../src/callers/nginx';
import { SubjectResolver } from '../../src/callers/subject';
import { rawRequest, serveHandler } from './helpers/http';
import { findNginx, hasAuthRequest, protectedLocation, startNginx, type NginxHandle } from './helpers/nginx';
import { seedPeople, startTether, type TetherHandle } from './helpers/tether';

// Starting the service compiles the shipped policies: slow on a loaded 2-core machine.
jest.setTimeout(120_000);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const README = path.join(__dirname, '../../src/callers/README.md');

/** The `location = /_tether { … }` block of the README's nginx example, verbatim. */
function readmeAuthLocation(): string {
  const block = /```nginx\n([\s\S]*?)```/.exec(fs.readFileSync(README, 'utf8'))?.[1];
  const location = block && /^( *)location = \/_tether \{[\s\S]*?^\1\}/m.exec(block)?.[0];
  if (!location) throw new Error('src/callers/README.md has no nginx example with a `location = /_tether` block');
  return location;
}

describe('the nginx front door and X-Original-Method', () => {
  const cfg = parseCallersConfig({}).proxy;
  const off = parseCallersConfig({ proxy: { nginx: { require_original_method: false } } }).proxy;

  test('required by default', () => {
    expect(cfg.nginx).toEqual({ require_original_method: true });
  });

  test('a check without X-Original-Method is refused: original_method_missing', () => {
    expect(nginxRefusal(cfg, { 'x-original-uri': '/reports' })).toBe('original_method_missing');
    expect(nginxRefusal(cfg, { 'x-original-method': '  ' })).toBe('original_method_missing');
  });

  test('a value that is not an HTTP method is refused: original_method_invalid', () => {
    // Two copies (a client's and nobody's replacement) arrive joined by node: not one method.
    for (const v of ['GET, DELETE', 'GET /admin', 'DEL\u00c9TE']) expect([v, nginxRefusal(cfg, { 'x-original-method': v })]).toEqual([v, 'original_method_invalid']);
    for (const v of ['GET', 'delete', 'PROPFIND', 'M-SEARCH']) expect(nginxRefusal(cfg, { 'x-original-method': v })).toBeUndefined();
  });

  test('require_original_method: false decides a check without it as before (as a GET)', () => {
    expect(nginxRefusal(off, {})).toBeUndefined();
  });

  test('the option is validated, naming the key', () => {
    const err = (() => { try { parseCallersConfig({ proxy: { nginx: { require_original_method: 'yes', strict: true } } }); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(CallersConfigError);
    expect((err as CallersConfigError).problems).toEqual([
      { key: 'proxy.nginx.strict', message: 'unknown key' },
      { key: 'proxy.nginx.require_original_method', message: 'must be boolean' },
    ]);
  });
});

describe('against the real service', () => {
  let t: TetherHandle;
  beforeAll(async () => {
    t = await startTether({ proxy: { subject_header: 'X-Auth-Request-Email' } });
    seedPeople(t);
  });
  afterAll(async () => { await t?.stop(); });

  const alice = { 'x-auth-request-email': 'alice@example.com', 'x-device-id': 'mac-alice' };
  /** A subrequest from an auth location that sets the X-Original-* headers it is given. */
  const check = (port: number, headers: Record<string, string>) => rawRequest(port, {
    method: 'GET', path: '/v1/authz/nginx?app=payroll',
    headers: { host: 'tether', 'x-original-uri': '/reports', 'x-forwarded-host': 'payroll.example.com', 'x-forwarded-proto': 'https', ...headers },
  });

  test('no X-Original-Method: 403 original_method_missing, headers only, before any decision or authentication', async () => {
    const r = await check(t.port, alice);
    expect(r.status).toBe(403);
    expect(r.headers['x-tether-reasons']).toBe('original_method_missing');
    expect(r.headers['x-tether-decision-id']).toBeUndefined();
    expect(r.headers['content-length']).toBe('0');
    expect(r.text).toBe('');
    // Not a 401 either: behind `error_page 401 = @signin` that would send every user to sign in, forever.
    const anonymous = await check(t.port, {});
    expect(anonymous.status).toBe(403);
    expect(anonymous.headers['x-tether-reasons']).toBe('original_method_missing');
  });

  test('X-Original-Method set: decided as usual', async () => {
    const r = await check(t.port, { ...alice, 'x-original-method': 'POST' });
    expect(r.status).toBe(200);
    expect(r.headers['x-tether-decision-id']).toMatch(UUID);
  });

  test('require_original_method: false: a check without it is decided', async () => {
    const config = parseCallersConfig({ proxy: { subject_header: 'X-Auth-Request-Email', nginx: { require_original_method: false } } }).proxy;
    const hook = await serveHandler(nginxHandler({ decide: contextDecide(t.server.ctx), config, subjects: new SubjectResolver(config) }));
    try {
      const r = await check(hook.port, alice);
      expect(r.status).toBe(200);
      expect(r.headers['x-tether-decision-id']).toMatch(UUID);
    } finally {
      await hook.close();
    }
  });
});

const bin = findNginx();
const usable = bin !== undefined && hasAuthRequest(bin);
const inCi = process.env.CI === 'true';

(usable || inCi ? describe : describe.skip)("real nginx with the README's auth location", () => {
  let t: TetherHandle;
  let nginx: NginxHandle;
  let upstream: http.Server;
  const atTether: http.IncomingHttpHeaders[] = [];
  const atUpstream: string[] = [];
  const recordCheck = (req: http.IncomingMessage) => { if (req.url?.startsWith('/v1/authz/nginx')) atTether.push(req.headers); };

  beforeAll(async () => {
    if (!usable) throw new Error(`nginx with ngx_http_auth_request_module is required under CI (found: ${bin ?? 'none'})`);
    t = await startTether({ proxy: { subject_header: 'X-Auth-Request-Email' } });
    seedPeople(t);
    t.server.server.on('request', recordCheck);
    upstream = http.createServer((req, res) => { atUpstream.push(`${req.method} ${req.url}`); res.writeHead(200).end('upstream'); });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const upPort = (upstream.address() as AddressInfo).port;
    const good = readmeAuthLocation();
    // The same location without its X-Original-Method line: the misconfiguration the option catches.
    const bad = good.replace('location = /_tether', 'location = /_tether_bad').replace(/^.*X-Original-Method.*\n/m, '');
    expect(bad).not.toMatch(/X-Original-Method/);
    nginx = await startNginx(bin!, (port) => `
  upstream tether { server 127.0.0.1:${t.port}; keepalive 8; }
  server {
    listen 127.0.0.1:${port};
${protectedLocation('/good/', '/_tether', upPort)}
${protectedLocation('/bad/', '/_tether_bad', upPort)}
${good}
${bad}
  }`);
  });

  afterAll(async () => {
    t?.server.server.off('request', recordCheck);
    await nginx?.stop();
    await new Promise<void>((r) => (upstream ? upstream.close(() => r()) : r()));
    await t?.stop();
  });

  const viaNginx = (method: string, p: string, headers: Record<string, string>) =>
    rawRequest(nginx.port, { method, path: p, headers: { host: 'payroll.example.com', 'x-auth-request-email': 'alice@example.com', 'x-device-id': 'mac-alice', ...headers } });

  test('the README example sets X-Original-Method from $request_method', () => {
    expect(readmeAuthLocation()).toMatch(/^\s*proxy_set_header\s+X-Original-Method\s+\$request_method;$/m);
  });

  test("a client's own X-Original-Method never reaches Tether: nginx's replaces it", async () => {
    atTether.length = 0;
    atUpstream.length = 0;
    const r = await viaNginx('DELETE', '/good/reports/7', { 'x-original-method': 'GET' });
    expect(r.status).toBe(200);
    expect(atTether).toHaveLength(1);
    expect(atTether[0]['x-original-method']).toBe('DELETE');
    expect(atTether[0]['x-original-uri']).toBe('/good/reports/7');
    expect(atUpstream).toEqual(['DELETE /good/reports/7']);
  });

  test('a location that does not set X-Original-Method fails closed: 403 original_method_missing, upstream not reached', async () => {
    atUpstream.length = 0;
    const r = await viaNginx('DELETE', '/bad/reports/7', {});
    expect(r.status).toBe(403);
    expect(r.headers['x-tether-reasons']).toBe('original_method_missing');
    expect(atUpstream).toEqual([]);
    expect(nginx.errorLog()).not.toMatch(/auth request unexpected status/);
  });
});
