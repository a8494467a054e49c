// Every state route of api.md through the real app: success, 400 naming each bad field with nothing
// stored, 401 without the token, 409 on a stale version, 413 on an oversized body.
import http from 'node:http';
import request from 'supertest';
import { auth, makeApp } from './helpers';

const future = (hours: number) => new Date(Date.now() + hours * 3600_000).toISOString();

function setup(env: Record<string, string> = {}) {
  const t = makeApp({ TETHER_BODY_LIMIT: '4kb', TETHER_IMPORT_LIMIT: '64kb', ...env });
  t.store.putIdentity('alice', { status: 'active', aliases: ['alice@corp.example', '00u-alice'] });
  t.store.putIdentity('bg-admin', { status: 'active', type: 'break_glass' });
  return t;
}

describe('identities', () => {
  test('PUT creates (201) then replaces (200) and returns version and updated_at; GET by id or alias', async () => {
    const { app } = setup();
    const c = await request(app).put('/v1/identities/bob').set(auth).send({ status: 'provisioned', aliases: ['bob@corp.example'], version: 1 });
    expect(c.status).toBe(201);
    expect(c.body).toMatchObject({ id: 'bob', status: 'provisioned', version: 1 });
    expect(typeof c.body.updated_at).toBe('string');
    const u = await request(app).put('/v1/identities/bob').set(auth).send({ status: 'active', aliases: ['bob@corp.example'], version: 2 });
    expect(u.status).toBe(200);
    expect(u.body.activated_at).toEqual(expect.any(String));
    const g = await request(app).get('/v1/identities/BOB@corp.example').set(auth);
    expect(g.status).toBe(200);
    expect(g.body).toMatchObject({ id: 'bob', status: 'active', version: 2 });
  });

  test('400 names every bad field and stores nothing', async () => {
    const { app, store } = setup();
    const r = await request(app).put('/v1/identities/bob').set(auth).send({ status: 'on', type: 'robot', proofed: 1, aliases: 'x', colour: 'red' });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('invalid_input');
    expect(r.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['/aliases', '/colour', '/proofed', '/status', '/type']);
    expect(store.getIdentity('bob')).toBeUndefined();
    const missing = await request(app).put('/v1/identities/bob').set(auth).send({});
    expect(missing.body.errors).toEqual([{ path: '/status', message: 'is required' }]);
    const mismatch = await request(app).put('/v1/identities/bob').set(auth).send({ id: 'carol', status: 'active' });
    expect(mismatch.body.errors[0].path).toBe('/id');
    expect(store.getIdentity('bob')).toBeUndefined();
  });

  test('409 stale_update for an older version; nothing changes', async () => {
    const { app, store } = setup();
    await request(app).put('/v1/identities/bob').set(auth).send({ status: 'active', version: 5 }).expect(201);
    const r = await request(app).put('/v1/identities/bob').set(auth).send({ status: 'suspended', version: 4 });
    expect(r.status).toBe(409);
    expect(r.body.code).toBe('stale_update');
    expect(store.getIdentity('bob')?.status).toBe('active');
    const d = await request(app).delete('/v1/identities/bob?version=3').set(auth);
    expect(d.status).toBe(409);
    expect(store.getIdentity('bob')).toBeDefined();
  });

  test('409 alias_conflict when an alias names another identity', async () => {
    const { app, store } = setup();
    const r = await request(app).put('/v1/identities/mallory').set(auth).send({ status: 'active', aliases: ['ALICE@corp.example'] });
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ code: 'alias_conflict', errors: [{ path: '/aliases/0' }] });
    expect(store.getIdentity('mallory')).toBeUndefined();
  });

  test('DELETE answers 204, then 404; GET of a deleted identity is 404', async () => {
    const { app } = setup();
    await request(app).delete('/v1/identities/alice').set(auth).expect(204);
    await request(app).delete('/v1/identities/alice').set(auth).expect(404);
    const g = await request(app).get('/v1/identities/alice').set(auth);
    expect(g.status).toBe(404);
    expect(g.body.code).toBe('not_found');
    await request(app).delete('/v1/identities/x?version=abc').set(auth).expect(400);
  });
});

describe('devices', () => {
  const dev = { owner: 'alice@corp.example', ownership: 'corporate', enrolled: true, compliant: true, encrypted: true, platform: 'macos', os_version: '14.6.1', observed_at: '2026-01-01T00:00:00Z' };

  test('PUT resolves the owner alias; GET; list by owner; DELETE', async () => {
    const { app } = setup();
    const c = await request(app).put('/v1/devices/mac-1').set(auth).send(dev);
    expect(c.status).toBe(201);
    expect(c.body).toMatchObject({ id: 'mac-1', owner: 'alice', owner_ref: 'alice@corp.example', version: 1 });
    await request(app).put('/v1/devices/mac-1').set(auth).send({ ...dev, observed_at: '2026-01-01T01:00:00Z' }).expect(200);
    const g = await request(app).get('/v1/devices/mac-1').set(auth).expect(200);
    expect(g.body.version).toBe(2);
    const l = await request(app).get('/v1/devices?owner=00u-alice').set(auth).expect(200);
    expect(l.body.devices.map((d: { id: string }) => d.id)).toEqual(['mac-1']);
    await request(app).delete('/v1/devices/mac-1').set(auth).expect(204);
    await request(app).get('/v1/devices/mac-1').set(auth).expect(404);
  });

  test('a body of null is 400 saying what it must be, not "not valid JSON"', async () => {
    const { app, store } = setup();
    const r = await request(app).put('/v1/devices/mac-1').set(auth).set('Content-Type', 'application/json').send('null');
    expect(r.status).toBe(400);
    expect(r.body.errors).toEqual([{ path: '', message: 'must be object' }]);
    expect(store.getDevice('mac-1')).toBeUndefined();
  });

  test('400 names every bad field and stores nothing', async () => {
    const { app, store } = setup();
    const r = await request(app).put('/v1/devices/mac-1').set(auth).send({ enrolled: 'yes', ownership: 'stolen', observed_at: 'yesterday' });
    expect(r.status).toBe(400);
    expect(r.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['/enrolled', '/observed_at', '/owner', '/ownership']);
    expect(store.getDevice('mac-1')).toBeUndefined();
  });

  test('400 for an observed_at ahead of the server clock (beyond the allowed skew), in a PUT and in an import line', async () => {
    const { app, store } = setup();
    const nextYear = new Date(Date.now() + 365 * 86400_000).toISOString();
    const r = await request(app).put('/v1/devices/mac-1').set(auth).send({ ...dev, observed_at: nextYear });
    expect(r.status).toBe(400);
    expect(r.body.errors).toEqual([{ path: '/observed_at', message: expect.stringContaining('is in the future') }]);
    expect(store.getDevice('mac-1')).toBeUndefined();
    const line = JSON.stringify({ kind: 'device', record: { id: 'mac-2', ...dev, observed_at: nextYear } });
    const i = await request(app).post('/v1/state/import').set(auth).set('Content-Type', 'application/x-ndjson').send(line + '\n');
    expect(i.body).toMatchObject({ imported: 0, rejected: 1, errors: [{ line: 1, code: 'invalid_input', message: expect.stringContaining('/record/observed_at is in the future') }] });
    expect(store.getDevice('mac-2')).toBeUndefined();
  });

  test('409 for the same version with an older observed_at (a delayed redelivery); nothing changes', async () => {
    const { app, store } = setup();
    await request(app).put('/v1/devices/mac-1').set(auth).send({ ...dev, compliant: false, version: 7 }).expect(201);
    const r = await request(app).put('/v1/devices/mac-1').set(auth).send({ ...dev, compliant: true, version: 7, observed_at: '2025-12-31T23:00:00Z' });
    expect(r.status).toBe(409);
    expect(r.body.code).toBe('stale_update');
    expect(store.getDevice('mac-1')?.compliant).toBe(false);
  });

  test('409 for an older observed_at; nothing changes', async () => {
    const { app, store } = setup();
    await request(app).put('/v1/devices/mac-1').set(auth).send(dev).expect(201);
    const r = await request(app).put('/v1/devices/mac-1').set(auth).send({ ...dev, compliant: false, observed_at: '2025-12-31T23:00:00Z' });
    expect(r.status).toBe(409);
    expect(r.body.code).toBe('stale_update');
    expect(store.getDevice('mac-1')?.compliant).toBe(true);
  });
});

describe('bulk import', () => {
  const lines = [
    '{"kind":"identity","record":{"id":"u1","status":"active","aliases":["u1@corp.example"]}}',
    '{"kind":"device","record":{"id":"d1","owner":"u1@corp.example","ownership":"corporate","enrolled":true}}',
    '{"kind":"device","record":{"id":"d2","ownership":"corporate"}}',
    '{oops',
    '{"kind":"identity","record":{"id":"alice","status":"suspended","version":0}}',
  ];

  test('answers {imported, rejected, errors[{line, code, message}]}; one bad line never aborts the rest', async () => {
    const { app, store } = setup();
    // make alice's stored version newer than the import line
    store.putIdentity('alice', { status: 'active', aliases: ['alice@corp.example', '00u-alice'], version: 3 });
    const r = await request(app).post('/v1/state/import').set(auth).set('Content-Type', 'application/x-ndjson').send(lines.join('\n') + '\n');
    expect(r.status).toBe(200);
    expect(r.body.imported).toBe(2);
    expect(r.body.rejected).toBe(3);
    expect(r.body.errors.map((e: { line: number; code: string }) => [e.line, e.code])).toEqual([
      [3, 'invalid_input'], [4, 'invalid_json'], [5, 'stale_update'],
    ]);
    expect(r.body.errors[0].message).toContain('/record/owner');
    expect(store.getDevice('d1')?.owner).toBe('u1');
    expect(store.getIdentity('alice')?.status).toBe('active');
  });

  test('progress mode acknowledges each committed batch before the summary', async () => {
    const { app, store } = setup({ TETHER_IMPORT_BATCH: '2' });
    const body = Array.from({ length: 5 }, (_, i) => JSON.stringify({ kind: 'identity', record: { id: `p${i}`, status: 'active' } })).join('\n');
    const r = await request(app).post('/v1/state/import?progress=true').set(auth).set('Content-Type', 'application/x-ndjson').send(body);
    expect(r.status).toBe(200);
    const out = r.text.trim().split('\n').map((l) => JSON.parse(l));
    expect(out.slice(0, -1).map((o) => o.committed_through_line)).toEqual([2, 4, 5]);
    expect(out[out.length - 1]).toEqual({ done: true, imported: 5, rejected: 0, errors: [] });
    expect(store.counts().identity).toBe(2 + 5);
  });

  test('an over-long line is rejected alone as line_too_long; the lines around it import', async () => {
    const { app, store } = setup({ TETHER_IMPORT_LIMIT: '8mb' });
    const long = JSON.stringify({ kind: 'identity', record: { id: 'huge', status: 'active', attributes: { blob: 'x'.repeat(1100 * 1024) } } });
    const body = [lines[0], long, '{"kind":"identity","record":{"id":"after","status":"active"}}'].join('\n');
    const r = await request(app).post('/v1/state/import').set(auth).set('Content-Type', 'application/x-ndjson').send(body);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ imported: 2, rejected: 1, errors: [{ line: 2, code: 'line_too_long' }] });
    expect(store.getIdentity('huge')).toBeUndefined();
    expect(store.getIdentity('after')).toBeDefined();
  });

  test('415 for a non-NDJSON body, 401 without token, 413 over the import limit; nothing stored', async () => {
    const { app, store } = setup();
    await request(app).post('/v1/state/import').set(auth).set('Content-Type', 'application/xml').send('<x/>').expect(415);
    await request(app).post('/v1/state/import').set(auth).set('Content-Type', 'application/x-ndjson').set('Content-Encoding', 'gzip').send(lines[0]).expect(415);
    await request(app).post('/v1/state/import').set('Content-Type', 'application/x-ndjson').send(lines[0]).expect(401);
    const big = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ kind: 'identity', record: { id: `big${i}`, status: 'active' } })).join('\n');
    const r = await request(app).post('/v1/state/import').set(auth).set('Content-Type', 'application/x-ndjson').send(big);
    expect(r.status).toBe(413);
    expect(r.body.code).toBe('payload_too_large');
    expect(store.getIdentity('u1')).toBeUndefined();
    expect(store.getIdentity('big0')).toBeUndefined();
  });
});

test('a streamed import (no Content-Length) that grows past the limit keeps the lines before it and says so in the 413', async () => {
  const { app, store } = setup();
  const server = http.createServer(app).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  try {
    const line = (i: number) => JSON.stringify({ kind: 'identity', record: { id: `s${String(i).padStart(5, '0')}`, status: 'active' } }) + '\n';
    const res = await new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
      const req = http.request({ port: (server.address() as { port: number }).port, host: '127.0.0.1', method: 'POST', path: '/v1/state/import', headers: { ...auth, 'Content-Type': 'application/x-ndjson', 'Transfer-Encoding': 'chunked' } }, (r) => {
        let text = '';
        r.on('data', (c) => (text += c)).on('end', () => resolve({ status: r.statusCode ?? 0, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      for (let i = 0; i < 2000; i += 100) req.write(Array.from({ length: 100 }, (_, k) => line(i + k)).join(''));
      req.end();
    });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ code: 'payload_too_large', message: expect.stringMatching(/lines before \d+ were processed/) });
    const kept = res.body.imported as number;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(2000);
    expect(store.getIdentity(`s${String(kept - 1).padStart(5, '0')}`)).toBeDefined();
    expect(store.getIdentity(`s${String(kept).padStart(5, '0')}`)).toBeUndefined();
  } finally {
    server.close();
  }
});

describe('exceptions', () => {
  const exc = () => ({
    identity: '00u-alice', waives: ['device_not_compliant', 'device_state_stale'], scope: { apps: ['payroll'] },
    reason: 'laptop in repair', approved_by: 'it-manager', expires_at: future(24),
  });

  test('POST 201 with id; GET lists; DELETE 204 then 404', async () => {
    const { app } = setup();
    const c = await request(app).post('/v1/exceptions').set(auth).send(exc());
    expect(c.status).toBe(201);
    expect(c.body).toMatchObject({ id: expect.any(String), identity: 'alice', waives: ['device_not_compliant', 'device_state_stale'] });
    const l = await request(app).get('/v1/exceptions?identity=alice@corp.example').set(auth).expect(200);
    expect(l.body.exceptions.map((e: { id: string }) => e.id)).toEqual([c.body.id]);
    await request(app).get(`/v1/exceptions/${c.body.id}`).set(auth).expect(200);
    await request(app).delete(`/v1/exceptions/${c.body.id}`).set(auth).expect(204);
    await request(app).delete(`/v1/exceptions/${c.body.id}`).set(auth).expect(404);
  });

  test('400: expires_at mandatory/future/bounded, approved_by and reason mandatory, device reasons only', async () => {
    const { app, store } = setup();
    const paths = async (body: object) => {
      const r = await request(app).post('/v1/exceptions').set(auth).send(body);
      expect(r.status).toBe(400);
      return r.body.errors.map((e: { path: string }) => e.path).sort();
    };
    const { expires_at: _e, approved_by: _a, reason: _r, ...noMandatory } = exc();
    expect(await paths(noMandatory)).toEqual(['/approved_by', '/expires_at', '/reason']);
    expect(await paths({ ...exc(), expires_at: future(-1) })).toEqual(['/expires_at']);
    expect(await paths({ ...exc(), expires_at: future(73) })).toEqual(['/expires_at']);
    expect(await paths({ ...exc(), waives: ['device_not_enrolled', 'identity_not_active'] })).toEqual(['/waives/1']);
    expect(await paths({ ...exc(), identity: 'nobody' })).toEqual(['/identity']);
    expect(store.listExceptions(undefined, { includeExpired: true })).toEqual([]);
  });

  test('the maximum length is configurable', async () => {
    const { app } = setup({ TETHER_MAX_EXCEPTION_HOURS: '2' });
    await request(app).post('/v1/exceptions').set(auth).send({ ...exc(), expires_at: future(3) }).expect(400);
    await request(app).post('/v1/exceptions').set(auth).send({ ...exc(), expires_at: future(1) }).expect(201);
  });
});

describe('break-glass', () => {
  test('POST opens a bounded window (201), DELETE closes it (204, then 404)', async () => {
    const { app, store } = setup();
    const r = await request(app).post('/v1/break-glass/bg-admin').set(auth).send({ minutes: 30, reason: 'IdP outage', approved_by: 'ciso' });
    expect(r.status).toBe(201);
    expect(Date.parse(r.body.expires_at) - Date.parse(r.body.opened_at)).toBe(30 * 60_000);
    expect(store.getBreakGlass('bg-admin')).toBeDefined();
    await request(app).get('/v1/break-glass/bg-admin').set(auth).expect(200);
    await request(app).delete('/v1/break-glass/bg-admin').set(auth).expect(204);
    await request(app).delete('/v1/break-glass/bg-admin').set(auth).expect(404);
    expect(store.getBreakGlass('bg-admin')).toBeUndefined();
  });

  test('400 for unbounded minutes, missing fields or a non-break_glass identity; 404 for unknown', async () => {
    const { app, store } = setup();
    const tooLong = await request(app).post('/v1/break-glass/bg-admin').set(auth).send({ minutes: 241, reason: 'x', approved_by: 'y' });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.errors).toEqual([{ path: '/minutes', message: 'must be <= 240' }]);
    const missing = await request(app).post('/v1/break-glass/bg-admin').set(auth).send({ minutes: 0 });
    expect(missing.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['/approved_by', '/minutes', '/reason']);
    await request(app).post('/v1/break-glass/alice').set(auth).send({ minutes: 5, reason: 'x', approved_by: 'y' }).expect(400);
    await request(app).post('/v1/break-glass/ghost').set(auth).send({ minutes: 5, reason: 'x', approved_by: 'y' }).expect(404);
    expect(store.getBreakGlass('bg-admin')).toBeUndefined();
  });
});

describe('apps', () => {
  test('PUT 201/200, GET list and one, 409 stale, 400 naming fields', async () => {
    const { app, store } = setup();
    await request(app).put('/v1/apps/payroll').set(auth).send({ sensitivity: 'high', admin: true, version: 2 }).expect(201);
    await request(app).put('/v1/apps/wiki').set(auth).send({ sensitivity: 'low' }).expect(201);
    await request(app).put('/v1/apps/wiki').set(auth).send({ sensitivity: 'low', allow_service: true }).expect(200);
    const l = await request(app).get('/v1/apps').set(auth).expect(200);
    expect(l.body.apps.map((a: { id: string }) => a.id)).toEqual(['payroll', 'wiki']);
    const stale = await request(app).put('/v1/apps/payroll').set(auth).send({ sensitivity: 'low', version: 1 });
    expect(stale.status).toBe(409);
    expect(store.getApp('payroll')?.sensitivity).toBe('high');
    const bad = await request(app).put('/v1/apps/crm').set(auth).send({ sensitivity: 'extreme', admin: 'no' });
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['/admin', '/sensitivity']);
    expect(store.getApp('crm')).toBeUndefined();
  });
});

describe('authentication and limits on every state route', () => {
  const routes: Array<[string, string, object | null]> = [
    ['put', '/v1/identities/zed', { status: 'active' }],
    ['get', '/v1/identities/alice', null],
    ['delete', '/v1/identities/alice', null],
    ['get', '/v1/identities', null],
    ['put', '/v1/devices/dz', { owner: 'alice', ownership: 'corporate' }],
    ['get', '/v1/devices/dz', null],
    ['delete', '/v1/devices/dz', null],
    ['get', '/v1/devices', null],
    ['post', '/v1/exceptions', { identity: 'alice', waives: ['device_missing'], scope: { apps: ['x'] }, reason: 'r', approved_by: 'a', expires_at: future(1) }],
    ['get', '/v1/exceptions', null],
    ['delete', '/v1/exceptions/exc_x', null],
    ['post', '/v1/break-glass/bg-admin', { minutes: 5, reason: 'r', approved_by: 'a' }],
    ['delete', '/v1/break-glass/bg-admin', null],
    ['put', '/v1/apps/zapp', { sensitivity: 'low' }],
    ['get', '/v1/apps', null],
  ];

  test.each(routes)('%s %s without a valid token → 401 and nothing changes', async (method, path, body) => {
    const { app, store } = setup();
    const before = JSON.stringify([store.counts(), store.getIdentity('alice'), store.listExceptions(), store.getBreakGlass('bg-admin')]);
    for (const header of [undefined, 'Bearer wrong-token', 'Basic dGVzdA==']) {
      let req = (request(app) as unknown as Record<string, (p: string) => request.Test>)[method](path);
      if (header) req = req.set('Authorization', header);
      const r = body ? await req.send(body) : await req;
      expect(r.status).toBe(401);
      expect(r.body.code).toBe('unauthorized');
      expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
    }
    expect(JSON.stringify([store.counts(), store.getIdentity('alice'), store.listExceptions(), store.getBreakGlass('bg-admin')])).toBe(before);
  });

  // The token is checked before the body is read: an unauthenticated caller cannot make the server buffer
  // and parse bodies, and learns nothing from a 400/413/415 about what the route would accept.
  test.each(routes.filter((r) => r[2]))('%s %s without a token → 401 before the body is read (bad JSON, wrong type, oversized)', async (method, path) => {
    const { app, store } = setup();
    const before = JSON.stringify(store.counts());
    const send = () => (request(app) as unknown as Record<string, (p: string) => request.Test>)[method](path);
    for (const r of [
      await send().set('Content-Type', 'application/json').send('{bad'),
      await send().set('Content-Type', 'text/plain').send('hello'),
      await send().set('Content-Type', 'application/json').send(JSON.stringify({ blob: 'x'.repeat(64 * 1024) })),
    ]) {
      expect(r.status).toBe(401);
      expect(r.body.code).toBe('unauthorized');
    }
    expect(JSON.stringify(store.counts())).toBe(before);
  });

  test.each(routes.filter((r) => r[2]))('%s %s with an oversized body → 413 and nothing changes', async (method, path, body) => {
    const { app, store } = setup();
    const before = JSON.stringify(store.counts());
    const big = { ...body, attributes: { blob: 'x'.repeat(8 * 1024) } };
    const r = await (request(app) as unknown as Record<string, (p: string) => request.Test>)[method](path).set(auth).send(big);
    expect(r.status).toBe(413);
    expect(r.body.code).toBe('payload_too_large');
    expect(JSON.stringify(store.counts())).toBe(before);
  });
});
