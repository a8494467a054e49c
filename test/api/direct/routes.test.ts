// Direct routes in front of express: which requests they take (path, case, trailing slash, prefix,
// method), what falls through to express, how thrown errors are answered, and the request metric.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { Counter, Registry } from 'prom-client';
import request from 'supertest';
import { writeJson } from '../../../src/api/direct/reply';
import { withDirectRoutes, type DirectRoute } from '../../../src/api/direct/routes';
import { ApiError, toApiError } from '../../../src/api/errors';

const fallback: RequestListener = (req, res) => writeJson(res, 299, { fallback: true, url: req.url });
const echo = (name: string) => (req: IncomingMessage, res: ServerResponse) => writeJson(res, 200, { route: name, method: req.method, url: req.url });

function listener(routes: DirectRoute[]) {
  const registry = new Registry();
  const httpRequests = new Counter({ name: 'http_requests_total', help: 'h', labelNames: ['method', 'route', 'code'], registers: [registry] });
  const errors: unknown[] = [];
  const app = withDirectRoutes(routes, fallback, { httpRequests, toError: toApiError, onError: (err) => errors.push(err) });
  return { app, registry, errors };
}

const routes: DirectRoute[] = [
  { method: 'POST', path: '/v1/decide', handle: echo('decide') }, // label defaults to the path
  { path: '/v1/authz/envoy', prefix: true, label: '/v1/authz/envoy/*rest', handle: echo('envoy') },
];

describe('matching', () => {
  test('the exact path and method, case-insensitively and with one trailing slash', async () => {
    const { app } = listener(routes);
    for (const url of ['/v1/decide', '/V1/Decide', '/v1/decide/', '/v1/decide?x=1']) {
      const r = await request(app).post(url).send({});
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ route: 'decide', method: 'POST', url });
    }
  });

  test('another method, a longer path or an unknown path goes to express', async () => {
    const { app } = listener(routes);
    expect((await request(app).get('/v1/decide')).body).toEqual({ fallback: true, url: '/v1/decide' });
    expect((await request(app).post('/v1/decide/batch').send({})).body).toEqual({ fallback: true, url: '/v1/decide/batch' });
    expect((await request(app).get('/v1/other')).status).toBe(299);
  });

  test('a prefix route takes every method on its path and below it, keeping the original URL', async () => {
    const { app } = listener(routes);
    expect((await request(app).get('/v1/authz/envoy')).body.route).toBe('envoy');
    const r = await request(app).delete('/v1/authz/envoy/api/Items/7?q=A');
    expect(r.body).toEqual({ route: 'envoy', method: 'DELETE', url: '/v1/authz/envoy/api/Items/7?q=A' });
    expect((await request(app).get('/v1/authz/envoyx')).status).toBe(299);
  });
});

describe('errors and metrics', () => {
  test('a thrown ApiError is answered with its status, body and headers', async () => {
    const e = new ApiError('unauthorized', 'a valid decision bearer token is required');
    e.headers = { 'WWW-Authenticate': 'Bearer realm="tether"' };
    const { app, errors } = listener([{ method: 'GET', path: '/x', handle: async () => { throw e; } }]);
    const r = await request(app).get('/x');
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Bearer realm="tether"');
    expect(r.body).toEqual({ code: 'unauthorized', message: 'a valid decision bearer token is required' });
    expect(errors).toHaveLength(0);
  });

  test('an unexpected error is a bare 500 without details; the error goes to onError only', async () => {
    const { app, errors } = listener([{ method: 'GET', path: '/x', handle: () => { throw new Error('secret detail'); } }]);
    const r = await request(app).get('/x');
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ code: 'internal_error', message: 'internal error' });
    expect(r.text).not.toContain('secret');
    expect(errors).toHaveLength(1);
  });

  test('every answer is counted by method, route label and status', async () => {
    const { app, registry } = listener(routes);
    await request(app).post('/v1/decide').send({});
    await request(app).get('/v1/authz/envoy/a/b');
    await request(app).get('/v1/authz/envoy/c');
    const text = await registry.metrics();
    expect(text).toContain('http_requests_total{method="POST",route="/v1/decide",code="200"} 1');
    expect(text).toContain('http_requests_total{method="GET",route="/v1/authz/envoy/*rest",code="200"} 2');
  });
});
