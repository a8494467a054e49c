// proxyCheck builds every decision request in one object shape (absent fields undefined, so the policy
// input JSON is the same as before) and fails closed with only 200/401/403, whatever the decider does.
import { parseCallersConfig } from '../../src/callers/config';
import { proxyCheck, type ProxyDeps } from '../../src/callers/proxy-check';
import { readNginx, type CheckRequest } from '../../src/callers/proxy-request';
import { SubjectResolver } from '../../src/callers/subject';
import type { DecideFn, DecideRequest, Decision } from '../../src/callers/types';

const allow = (over: Partial<Decision> = {}): Decision => ({
  decision_id: '0b9d6f2e-4c1a-4e8b-9f3d-2a7c5e1b8d40', allow: true, limited: false, reasons: [], obligations: [],
  lifecycle: 'active', exception: null, policy_revision: 'r1', ...over,
});

function deps(decide: DecideFn, proxy: Record<string, unknown> = {}): ProxyDeps {
  const config = parseCallersConfig({ proxy: { subject_header: 'X-Auth-Request-Email', upstream_headers: { 'X-Tether-Subject': 'subject' }, ...proxy } }).proxy;
  return { decide, config, subjects: new SubjectResolver(config) };
}

const check = (headers: Record<string, string>): CheckRequest => ({
  method: 'GET',
  url: '/v1/authz/nginx?app=payroll',
  headers: { host: 'payroll.example.com', 'x-original-uri': '/payroll/x?q=1', ...headers },
  remoteAddress: '127.0.0.1',
});

const run = (d: ProxyDeps, c: CheckRequest) => proxyCheck(d, c, readNginx(c));

test('every decision request has the same keys; absent ones are undefined and vanish from the JSON', async () => {
  const asked: DecideRequest[] = [];
  const decide: DecideFn = (r) => (asked.push(r), allow());
  await expect(run(deps(decide), check({ 'x-auth-request-email': 'alice@example.com', 'x-device-id': 'mac-1' }))).resolves.toMatchObject({
    status: 200,
    headers: { 'X-Tether-Subject': 'alice@example.com', 'X-Tether-Decision-Id': allow().decision_id },
  });
  await run(deps(decide), { ...check({ 'x-auth-request-email': 'bob@example.com' }), headers: { 'x-auth-request-email': 'bob@example.com', 'x-original-uri': '/payroll/y' } });
  expect(asked.map((r) => Object.keys(r))).toEqual([
    ['action', 'subject', 'device', 'resource', 'context'],
    ['action', 'subject', 'device', 'resource', 'context'],
  ]);
  expect(asked.map((r) => Object.keys(r.context!))).toEqual([['ip', 'caller', 'method', 'path', 'host'], ['ip', 'caller', 'method', 'path', 'host']]);
  expect(JSON.parse(JSON.stringify(asked[0]))).toEqual({
    action: 'access', subject: 'alice@example.com', device: 'mac-1', resource: { app: 'payroll' },
    context: { ip: '127.0.0.1', caller: 'nginx', method: 'GET', path: '/payroll/x', host: 'payroll.example.com' },
  });
  // No device header, no host: the JSON has no device and no host, as before the fixed shape.
  expect(JSON.parse(JSON.stringify(asked[1]))).toEqual({
    action: 'access', subject: 'bob@example.com', resource: { app: 'payroll' },
    context: { ip: '127.0.0.1', caller: 'nginx', method: 'GET', path: '/payroll/y' },
  });
});

test('no credential is a 401; a throwing, malformed or late decider a 403 decision_unavailable', async () => {
  await expect(run(deps(() => allow()), check({}))).resolves.toMatchObject({ status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="tether"' } });
  const denied = { status: 403, headers: { 'X-Tether-Reasons': 'decision_unavailable' } };
  const who = check({ 'x-auth-request-email': 'a@example.com' });
  await expect(run(deps(() => { throw Object.assign(new Error('x'), { code: 'not_ready' }); }), who)).resolves.toMatchObject(denied);
  await expect(run(deps(() => ({ allow: 'yes' }) as unknown as Decision), who)).resolves.toMatchObject(denied);
  await expect(run(deps(() => new Promise<Decision>(() => undefined), { timeout_ms: 20 }), who)).resolves.toMatchObject(denied);
  // An answer without obligations cannot fill an obligations header: still a 403, never a throw.
  const partial = deps(() => ({ ...allow(), obligations: undefined }) as unknown as Decision, { upstream_headers: { 'X-Tether-Obligations': 'obligations' } });
  await expect(run(partial, who)).resolves.toMatchObject(denied);
});
