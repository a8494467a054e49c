// proxyCheck answers synchronously when nothing it needs is asynchronous (a trusted-header subject and
// the in-process decider), so proxy checks run no microtask continuations; a bearer JWT or an
// asynchronous decider make it a promise; either way it fails closed with only 200/401/403.
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
  headers: { host: 'payroll.example.com', 'x-original-uri': '/payroll/x', ...headers },
  remoteAddress: '127.0.0.1',
});

const run = (d: ProxyDeps, c: CheckRequest) => proxyCheck(d, c, readNginx(c));

test('a trusted-header subject and a synchronous decider give a synchronous answer', () => {
  const asked: DecideRequest[] = [];
  const answer = run(deps((r) => (asked.push(r), allow())), check({ 'x-auth-request-email': 'alice@example.com', 'x-device-id': 'mac-1' }));
  expect(answer).not.toBeInstanceOf(Promise);
  expect(answer).toMatchObject({ status: 200, headers: { 'X-Tether-Subject': 'alice@example.com', 'X-Tether-Decision-Id': allow().decision_id } });
  expect(asked).toEqual([expect.objectContaining({ action: 'access', subject: 'alice@example.com', device: 'mac-1', resource: { app: 'payroll' } })]);
});

test('no credential is a synchronous 401; a throwing decider a synchronous 403', () => {
  expect(run(deps(() => allow()), check({}))).toMatchObject({ status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="tether"' } });
  const failing = deps(() => { throw Object.assign(new Error('x'), { code: 'not_ready' }); });
  expect(run(failing, check({ 'x-auth-request-email': 'alice@example.com' }))).toMatchObject({ status: 403, headers: { 'X-Tether-Reasons': 'decision_unavailable' } });
});

test('a malformed synchronous decision, or one that cannot be formatted, is a 403, never a throw', () => {
  const malformed = deps(() => ({ allow: 'yes' }) as unknown as Decision);
  expect(run(malformed, check({ 'x-auth-request-email': 'a@example.com' }))).toMatchObject({ status: 403, headers: { 'X-Tether-Reasons': 'decision_unavailable' } });
  // No obligations array: formatDecision cannot read it for an upstream header.
  const partial = deps(() => ({ ...allow(), obligations: undefined }) as unknown as Decision, { upstream_headers: { 'X-Tether-Obligations': 'obligations' } });
  expect(run(partial, check({ 'x-auth-request-email': 'a@example.com' }))).toMatchObject({ status: 403, headers: { 'X-Tether-Reasons': 'decision_unavailable' } });
});

test('an asynchronous decider makes it a promise with the same answers', async () => {
  const answer = run(deps(async () => allow({ allow: false, reasons: ['device_not_compliant'] })), check({ 'x-auth-request-email': 'a@example.com' }));
  expect(answer).toBeInstanceOf(Promise);
  await expect(answer).resolves.toMatchObject({ status: 403, headers: { 'X-Tether-Reasons': 'device_not_compliant' } });
  const late = run(deps(() => new Promise<Decision>(() => undefined), { timeout_ms: 20 }), check({ 'x-auth-request-email': 'a@example.com' }));
  await expect(late).resolves.toMatchObject({ status: 403, headers: { 'X-Tether-Reasons': 'decision_unavailable' } });
});
