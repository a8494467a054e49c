// Reading the original request out of Envoy / nginx / Traefik check requests, and app/device resolution.
import { parseCallersConfig } from '../../src/callers/config';
import {
  certFingerprint, queryApp, readEnvoy, readNginx, readTraefik, resolveApp, resolveDevice, ruleApp,
} from '../../src/callers/proxy-request';

const FP = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';

describe('Envoy ext_authz check requests', () => {
  test('method is the client method and the path is everything after the prefix, query included', () => {
    const o = readEnvoy({
      method: 'post',
      url: '/v1/authz/envoy/people/42?lang=en&app=evil',
      headers: { host: 'payroll.example.com', 'x-forwarded-for': '203.0.113.9, 10.0.0.7', 'x-forwarded-proto': 'https' },
    }, '/v1/authz/envoy');
    expect(o).toEqual({
      proxy: 'envoy', method: 'POST', host: 'payroll.example.com', path: '/people/42', uri: '/people/42?lang=en&app=evil',
      proto: 'https', ip: '10.0.0.7',
    });
  });

  test('a bare prefix means "/"; a sibling path is not under the prefix', () => {
    expect(readEnvoy({ method: 'GET', url: '/v1/authz/envoy', headers: {} }, '/v1/authz/envoy')?.path).toBe('/');
    expect(readEnvoy({ method: 'GET', url: '/v1/authz/envoyx/a', headers: {} }, '/v1/authz/envoy')).toBeUndefined();
    expect(readEnvoy({ method: 'GET', url: '/v1/authz/envoy/edge/a', headers: {} }, '/v1/authz/envoy/edge')?.path).toBe('/a');
  });

  test('the check URL query is the client query, so ?app= is never trusted for Envoy', () => {
    const cfg = parseCallersConfig({ proxy: { default_app: 'fallback' } }).proxy;
    const req = { method: 'GET', url: '/v1/authz/envoy/x?app=evil', headers: {} };
    expect(resolveApp(cfg, req, readEnvoy(req, cfg.envoy_prefix)!)).toBe('fallback');
  });
});

describe('nginx auth_request subrequests', () => {
  test('original URI, method and host come from the X-Original-* / X-Forwarded-* headers of the auth location', () => {
    const o = readNginx({
      method: 'GET', url: '/v1/authz/nginx?app=payroll',
      headers: {
        host: '127.0.0.1:8181', 'x-original-uri': '/reports/q3?x=1', 'x-original-method': 'delete',
        'x-forwarded-host': 'payroll.example.com', 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.4',
      },
    });
    expect(o).toEqual({
      proxy: 'nginx', method: 'DELETE', host: 'payroll.example.com', path: '/reports/q3', uri: '/reports/q3?x=1',
      proto: 'https', ip: '198.51.100.4',
    });
  });

  test('ingress-nginx X-Original-URL alone is enough', () => {
    const o = readNginx({
      method: 'GET', url: '/v1/authz/nginx',
      headers: { 'x-original-url': 'https://wiki.example.com/page?id=3', 'x-original-method': 'GET', 'x-real-ip': '192.0.2.1', 'x-sent-from': 'nginx-ingress-controller' },
    });
    expect(o).toMatchObject({ host: 'wiki.example.com', path: '/page', uri: '/page?id=3', proto: 'https', ip: '192.0.2.1' });
  });

  test('?app= on the check URL names the app', () => {
    expect(queryApp('/v1/authz/nginx?app=payroll')).toBe('payroll');
    expect(queryApp('/v1/authz/nginx?app=')).toBeUndefined();
    expect(queryApp('/v1/authz/nginx')).toBeUndefined();
  });
});

describe('Traefik ForwardAuth requests', () => {
  test('always GET; the original request is in X-Forwarded-Method/-Uri/-Host/-Proto/-For', () => {
    const o = readTraefik({
      method: 'GET', url: '/v1/authz/traefik?app=wiki',
      headers: {
        host: 'tether:8181', 'x-forwarded-method': 'PUT', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'wiki.example.com',
        'x-forwarded-uri': '/edit/Main_Page?action=save', 'x-forwarded-for': '203.0.113.50',
      },
    });
    expect(o).toEqual({
      proxy: 'traefik', method: 'PUT', host: 'wiki.example.com', path: '/edit/Main_Page', uri: '/edit/Main_Page?action=save',
      proto: 'https', ip: '203.0.113.50',
    });
  });
});

describe('app rules', () => {
  const rules = [
    { host: 'payroll.example.com', app: 'payroll' },
    { host: '*.intranet.example.com', path_prefix: '/admin', app: 'intranet-admin' },
    { host: '*.intranet.example.com', app: 'intranet' },
    { path_prefix: '/api', app: 'api' },
  ];
  test('first match wins; hosts ignore the port and case; wildcards need a subdomain; prefixes match whole segments', () => {
    expect(ruleApp(rules, { host: 'Payroll.Example.com:443', path: '/' })).toBe('payroll');
    expect(ruleApp(rules, { host: 'hr.intranet.example.com', path: '/admin/users' })).toBe('intranet-admin');
    expect(ruleApp(rules, { host: 'hr.intranet.example.com', path: '/administrator' })).toBe('intranet');
    expect(ruleApp(rules, { host: 'intranet.example.com', path: '/' })).toBeUndefined();
    expect(ruleApp(rules, { host: 'other.example', path: '/api/v2' })).toBe('api');
    expect(ruleApp(rules, { host: 'other.example', path: '/apis' })).toBeUndefined();
  });

  test('query app beats rules, rules beat the default', () => {
    const cfg = parseCallersConfig({ proxy: { apps: rules, default_app: 'd' } }).proxy;
    const mk = (url: string, host: string) => {
      const req = { method: 'GET', url, headers: { 'x-forwarded-host': host, 'x-forwarded-uri': '/' } };
      return resolveApp(cfg, req, readTraefik(req));
    };
    expect(mk('/v1/authz/traefik?app=q', 'payroll.example.com')).toBe('q');
    expect(mk('/v1/authz/traefik', 'payroll.example.com')).toBe('payroll');
    expect(mk('/v1/authz/traefik', 'nowhere.example')).toBe('d');
  });
});

describe('device resolution', () => {
  test('with client_cert_header configured the device comes only from the certificate', () => {
    const cfg = parseCallersConfig({ proxy: { client_cert_header: 'X-Client-Cert-Sha256' } }).proxy;
    expect(resolveDevice(cfg, { 'x-device-id': 'mac-123', 'x-client-cert-sha256': FP })).toBe(FP);
    expect(resolveDevice(cfg, { 'x-device-id': 'mac-123' })).toBeUndefined();
    expect(resolveDevice(parseCallersConfig({}).proxy, { 'x-device-id': 'mac-123' })).toBe('mac-123');
    expect(resolveDevice(cfg, { 'x-client-cert-sha256': FP.toUpperCase().match(/../g)!.join(':') })).toBe(FP);
    expect(resolveDevice(cfg, {})).toBeUndefined();
    expect(resolveDevice(parseCallersConfig({}, { TETHER_PROXY_DEVICE_HEADER: 'X-Mdm-Device' }).proxy, { 'x-mdm-device': 'pc-9' })).toBe('pc-9');
  });

  test("Envoy's x-forwarded-client-cert: the Hash= of the nearest hop", () => {
    const xfcc = `By=spiffe://a;Hash=${'0'.repeat(64)};Subject="CN=old",By=spiffe://b;Hash=${FP};Subject="CN=laptop";URI=`;
    expect(certFingerprint(xfcc)).toBe(FP);
    expect(certFingerprint('By=spiffe://b;Subject="CN=x"')).toBeUndefined();
    expect(certFingerprint('not-a-fingerprint')).toBeUndefined();
  });
});
