// The /scim/v2 HTTP surface against the real SQLite state store: lifecycle mapping, both IdPs'
// deactivation shapes, filters, paging, ETags, discovery, and SCIM error bodies that change nothing.
import express from 'express';
import request from 'supertest';
import { openSqliteStore } from '../../../src/state/store';
import type { StateStore } from '../../../src/state/store';
import { ScimAdapter } from '../../../src/adapters/scim/scim-adapter';
import { ENTERPRISE_SCHEMA, PATCH_OP_SCHEMA, USER_SCHEMA } from '../../../src/adapters/scim/schema-names';

const TOKEN = 'scim-test-token';
const auth = { Authorization: `Bearer ${TOKEN}` };
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

let store: StateStore;
let app: express.Express;
let adapter: ScimAdapter;

beforeEach(async () => {
  store = openSqliteStore({ path: ':memory:' });
  adapter = new ScimAdapter(store, { token: TOKEN, riskTierAttribute: `${ENTERPRISE_SCHEMA}:costCenter` });
  await adapter.start();
  app = express();
  app.use('/scim/v2', adapter.router);
});
afterEach(() => store.close());

const oktaUser = (userName = 'alice@example.com', extra: Record<string, unknown> = {}) => ({
  schemas: [USER_SCHEMA],
  userName,
  externalId: '00ujl29u0le5T6Aj10h7',
  name: { givenName: 'Alice', familyName: 'Doe' },
  emails: [{ value: userName, type: 'work', primary: true }],
  active: true,
  password: 'never-stored',
  ...extra,
});

async function create(body: unknown = oktaUser()) {
  const res = await request(app).post('/scim/v2/Users').set(auth).set('Content-Type', 'application/scim+json').send(JSON.stringify(body));
  expect(res.status).toBe(201);
  return res;
}

function expectScimError(res: request.Response, status: number, scimType?: string) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/scim\+json/);
  expect(res.body.schemas).toEqual([ERROR_SCHEMA]);
  expect(res.body.status).toBe(String(status));
  if (scimType) expect(res.body.scimType).toBe(scimType);
}

describe('SCIM Users lifecycle mapped to Tether identities', () => {
  test('POST creates the user and an active identity with aliases; password never returned', async () => {
    const res = await create();
    expect(res.headers['content-type']).toMatch(/^application\/scim\+json/);
    expect(res.headers.location).toMatch(new RegExp(`/scim/v2/Users/${res.body.id}$`));
    expect(res.headers.etag).toBe('W/"1"');
    expect(res.body.password).toBeUndefined();
    expect(res.body.meta).toMatchObject({ resourceType: 'User', version: 'W/"1"' });
    const identity = store.getIdentity('alice@example.com')!;
    expect(identity).toMatchObject({ id: 'alice@example.com', status: 'active', source: 'scim' });
    expect(store.resolveIdentityId('00ujl29u0le5T6Aj10h7')).toBe('alice@example.com');
    expect(adapter.status().last_success).not.toBeNull();
  });

  test("Okta's deactivation (path-less replace) suspends the identity and answers 200 with active:false", async () => {
    const { body } = await create();
    const res = await request(app)
      .patch(`/scim/v2/Users/${body.id}`)
      .set(auth)
      .send({ schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'replace', value: { active: false } }] });
    expect(res.status).toBe(200);
    expect(res.body.active).toBe(false);
    expect(res.headers.etag).toBe('W/"2"');
    expect(store.getIdentity('alice@example.com')!.status).toBe('suspended');
  });

  test("Entra's deactivation (Replace, path active, \"False\") suspends; \"True\" reactivates", async () => {
    const { body } = await create();
    const off = await request(app)
      .patch(`/scim/v2/Users/${body.id}`)
      .set(auth)
      .set('Content-Type', 'application/scim+json')
      .send(JSON.stringify({ schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] }));
    expect(off.status).toBe(200);
    expect(off.body.active).toBe(false);
    expect(store.getIdentity('00ujl29u0le5T6Aj10h7')!.status).toBe('suspended');
    await request(app)
      .patch(`/scim/v2/Users/${body.id}`)
      .set(auth)
      .send({ schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'Replace', path: 'active', value: 'True' }] })
      .expect(200);
    expect(store.getIdentity('alice@example.com')!.status).toBe('active');
  });

  test('PUT with active:false (Okta AIW apps) suspends; DELETE deprovisions and keeps aliases resolvable', async () => {
    const { body } = await create();
    const put = await request(app).put(`/scim/v2/Users/${body.id}`).set(auth).send(oktaUser('alice@example.com', { active: false }));
    expect(put.status).toBe(200);
    expect(store.getIdentity('alice@example.com')!.status).toBe('suspended');
    await request(app).delete(`/scim/v2/Users/${body.id}`).set(auth).expect(204);
    expect(store.getIdentity('00ujl29u0le5T6Aj10h7')!.status).toBe('deprovisioned');
    expectScimError(await request(app).get(`/scim/v2/Users/${body.id}`).set(auth), 404);
    expectScimError(await request(app).delete(`/scim/v2/Users/${body.id}`).set(auth), 404);
  });

  test('renaming replaces the aliases this user contributed, keeps aliases from other sources', async () => {
    store.putIdentity('alice', { status: 'active', aliases: ['alice@example.com', 'alice-gh'], proofed: true, source: 'hr' });
    const { body } = await create();
    expect(store.resolveIdentityId('00ujl29u0le5T6Aj10h7')).toBe('alice'); // joined the existing person
    await request(app)
      .patch(`/scim/v2/Users/${body.id}`)
      .set(auth)
      .send({ schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'replace', path: 'userName', value: 'alice.doe@example.com' }, { op: 'replace', path: 'emails[type eq "work"].value', value: 'alice.doe@example.com' }] })
      .expect(200);
    const identity = store.getIdentity('alice')!;
    expect(identity.aliases).toEqual(expect.arrayContaining(['alice-gh', 'alice.doe@example.com', '00ujl29u0le5T6Aj10h7']));
    expect(identity.aliases).not.toContain('alice@example.com');
    expect(identity.proofed).toBe(true); // not SCIM's to change
  });

  test('Entra\'s PATCH emails[type eq "Work"].value replaces the work email (type stored as "work"): one email, alias moved', async () => {
    const { body } = await create();
    const res = await request(app)
      .patch(`/scim/v2/Users/${body.id}`)
      .set(auth)
      .send({ schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'Replace', path: 'emails[type eq "Work"].value', value: 'alice.doe@example.com' }] });
    expect(res.status).toBe(200);
    expect(res.body.emails).toEqual([{ value: 'alice.doe@example.com', type: 'work', primary: true }]);
    const found = await request(app).get('/scim/v2/Users').query({ filter: 'emails[type eq "WORK"].value eq "Alice.Doe@example.com"' }).set(auth);
    expect(found.body.totalResults).toBe(1);
    expect(store.getIdentity('alice@example.com')!.aliases).toContain('alice.doe@example.com');
  });

  test('type from userType and risk tier from the configured attribute reach the identity', async () => {
    await create(oktaUser('carol@example.com', { userType: 'Contractor', [ENTERPRISE_SCHEMA]: { costCenter: 'privileged' } }));
    expect(store.getIdentity('carol@example.com')).toMatchObject({ type: 'contractor', risk_tier: 'privileged' });
  });
});

describe('SCIM lookups and paging', () => {
  test('filters IdPs send: userName eq (any case), externalId eq, emails.value eq; misses give an empty list', async () => {
    const { body } = await create();
    for (const filter of ['userName eq "ALICE@example.com"', 'externalId eq "00ujl29u0le5T6Aj10h7"', 'emails[type eq "work"].value eq "alice@example.com"', 'emails.value eq "alice@example.com"']) {
      const res = await request(app).get('/scim/v2/Users').query({ filter }).set(auth);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 1, startIndex: 1, itemsPerPage: 1 });
      expect(res.body.Resources[0].id).toBe(body.id);
    }
    const miss = await request(app).get('/scim/v2/Users').query({ filter: 'userName eq "nobody@example.com"' }).set(auth);
    expect(miss.body).toMatchObject({ totalResults: 0, Resources: [] });
  });

  test('emails[type eq "work"].value eq finds the user whose WORK email it is, not one with it as home email', async () => {
    const carol = await create(oktaUser('carol@contoso.com', { externalId: 'ext-carol', emails: [{ value: 'carol@contoso.com', type: 'work' }, { value: 'dave@contoso.com', type: 'home' }] }));
    const filter = 'emails[type eq "work"].value eq "dave@contoso.com"';
    const none = await request(app).get('/scim/v2/Users').query({ filter }).set(auth);
    expect(none.status).toBe(200);
    expect(none.body).toMatchObject({ totalResults: 0, Resources: [] });
    const hit = await request(app).get('/scim/v2/Users').query({ filter: 'EMAILS[type EQ "Work"].value eq "CAROL@contoso.com"' }).set(auth);
    expect(hit.body.totalResults).toBe(1);
    expect(hit.body.Resources[0].id).toBe(carol.body.id);
  });

  test('startIndex/count paging is stable and 1-based', async () => {
    for (let i = 0; i < 7; i++) await create(oktaUser(`u${i}@example.com`, { externalId: `ext${i}` }));
    const seen: string[] = [];
    for (let start = 1; start <= 7; start += 3) {
      const res = await request(app).get('/scim/v2/Users').query({ startIndex: start, count: 3 }).set(auth);
      expect(res.body.totalResults).toBe(7);
      expect(res.body.startIndex).toBe(start);
      seen.push(...res.body.Resources.map((r: { userName: string }) => r.userName));
    }
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `u${i}@example.com`));
    const filtered = await request(app).get('/scim/v2/Users').query({ filter: 'userName sw "u"', startIndex: 6, count: 5 }).set(auth);
    expect(filtered.body).toMatchObject({ totalResults: 7, startIndex: 6, itemsPerPage: 2 });
  });

  test('filters on server attributes: meta.lastModified gt, id eq', async () => {
    const { body } = await create();
    const since = new Date(Date.parse(body.meta.lastModified) - 1000).toISOString();
    expect((await request(app).get('/scim/v2/Users').query({ filter: `meta.lastModified gt "${since}"` }).set(auth)).body.totalResults).toBe(1);
    expect((await request(app).get('/scim/v2/Users').query({ filter: `id eq "${body.id}"` }).set(auth)).body.totalResults).toBe(1);
  });

  test('excludedAttributes and attributes', async () => {
    await create();
    const res = await request(app).get('/scim/v2/Users').query({ attributes: 'userName' }).set(auth);
    expect(Object.keys(res.body.Resources[0]).sort()).toEqual(['id', 'meta', 'schemas', 'userName']);
  });
});

describe('SCIM ETags', () => {
  test('If-Match mismatch → 412 and nothing changes; If-None-Match → 304', async () => {
    const { body } = await create();
    const res = await request(app)
      .patch(`/scim/v2/Users/${body.id}`)
      .set(auth)
      .set('If-Match', 'W/"9"')
      .send({ schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'replace', value: { active: false } }] });
    expectScimError(res, 412);
    expect(store.getIdentity('alice@example.com')!.status).toBe('active');
    await request(app).get(`/scim/v2/Users/${body.id}`).set(auth).set('If-None-Match', 'W/"1"').expect(304);
    await request(app)
      .put(`/scim/v2/Users/${body.id}`)
      .set(auth)
      .set('If-Match', 'W/"1"')
      .send(oktaUser())
      .expect(200);
  });
});

describe('SCIM bad input gets SCIM errors and changes nothing', () => {
  test('no or wrong bearer token → 401', async () => {
    expectScimError(await request(app).get('/scim/v2/Users'), 401);
    expectScimError(await request(app).post('/scim/v2/Users').set('Authorization', 'Bearer nope').send(oktaUser()), 401);
    expect(store.getIdentity('alice@example.com')).toBeUndefined();
  });
  test('malformed JSON → 400 invalidSyntax', async () => {
    const res = await request(app).post('/scim/v2/Users').set(auth).set('Content-Type', 'application/scim+json').send('{"userName": ');
    expectScimError(res, 400, 'invalidSyntax');
    expect(store.counts().identity).toBe(0);
  });
  test('wrong schema (no userName) → 400 invalidValue', async () => {
    expectScimError(await request(app).post('/scim/v2/Users').set(auth).send({ schemas: [USER_SCHEMA], active: true }), 400, 'invalidValue');
    expect(store.counts().identity).toBe(0);
  });
  test('duplicate userName (any case) → 409 uniqueness', async () => {
    await create();
    expectScimError(await request(app).post('/scim/v2/Users').set(auth).send(oktaUser('ALICE@example.com')), 409, 'uniqueness');
  });
  test('renaming onto another user\'s userName in another case → 409 uniqueness (PUT and PATCH)', async () => {
    // Both users join one identity, so no alias conflict answers for the SCIM userName check.
    store.putIdentity('alice', { status: 'active', aliases: ['alice@example.com', 'bob@example.com'] });
    await create();
    const bob = await create(oktaUser('bob@example.com', { externalId: 'ext-bob' }));
    expectScimError(await request(app).put(`/scim/v2/Users/${bob.body.id}`).set(auth).send(oktaUser('Alice@Example.COM', { externalId: 'ext-bob', emails: [] })), 409, 'uniqueness');
    expectScimError(
      await request(app).patch(`/scim/v2/Users/${bob.body.id}`).set(auth).send({ schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'replace', path: 'userName', value: 'ALICE@example.com' }] }),
      409,
      'uniqueness',
    );
    expect((await request(app).get(`/scim/v2/Users/${bob.body.id}`).set(auth)).body.userName).toBe('bob@example.com');
  });
  test('bad filter → 400 invalidFilter; bad count → 400 invalidValue', async () => {
    expectScimError(await request(app).get('/scim/v2/Users').query({ filter: 'userName eq' }).set(auth), 400, 'invalidFilter');
    expectScimError(await request(app).get('/scim/v2/Users').query({ count: 'ten' }).set(auth), 400, 'invalidValue');
  });
  test('a PATCH with one bad operation applies none of them', async () => {
    const { body } = await create();
    const res = await request(app)
      .patch(`/scim/v2/Users/${body.id}`)
      .set(auth)
      .send({ schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'replace', value: { active: false } }, { op: 'replace', path: 'id', value: 'x' }] });
    expectScimError(res, 400, 'mutability');
    expect(store.getIdentity('alice@example.com')!.status).toBe('active');
    expect((await request(app).get(`/scim/v2/Users/${body.id}`).set(auth)).body.meta.version).toBe('W/"1"');
  });
  test('PATCH that would make active a non-boolean → 400', async () => {
    const { body } = await create();
    expectScimError(
      await request(app).patch(`/scim/v2/Users/${body.id}`).set(auth).send({ schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'replace', path: 'active', value: 'nope' }] }),
      400,
      'invalidValue',
    );
    expect(store.getIdentity('alice@example.com')!.status).toBe('active');
  });
  test('aliases naming two different identities → 409 and no SCIM user stored', async () => {
    store.putIdentity('bob', { status: 'active', aliases: ['00ujl29u0le5T6Aj10h7'] });
    store.putIdentity('zed', { status: 'suspended', aliases: ['zed@example.com'] });
    const res = await request(app).post('/scim/v2/Users').set(auth).send(oktaUser('zed@example.com'));
    expectScimError(res, 409, 'uniqueness');
    expect((await request(app).get('/scim/v2/Users').set(auth)).body.totalResults).toBe(0);
    expect(store.getIdentity('zed@example.com')!.status).toBe('suspended');
  });
  test('unknown user → 404 on GET/PUT/PATCH', async () => {
    expectScimError(await request(app).get('/scim/v2/Users/nope').set(auth), 404);
    expectScimError(await request(app).put('/scim/v2/Users/nope').set(auth).send(oktaUser()), 404);
    expectScimError(await request(app).patch('/scim/v2/Users/nope').set(auth).send({ schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'replace', value: { active: false } }] }), 404);
  });
});

describe('SCIM PATCH targets and Group updates as IdPs send them', () => {
  async function group(members: string[]) {
    const g = await request(app).post('/scim/v2/Groups').set(auth).send({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Eng', members: members.map((value) => ({ value })) });
    expect(g.status).toBe(201);
    return g;
  }
  const patchGroup = (id: string, ...Operations: unknown[]) => request(app).patch(`/scim/v2/Groups/${id}`).set(auth).send({ schemas: [PATCH_OP_SCHEMA], Operations });

  test("Entra's member removal with a value list removes only that member", async () => {
    const g = await group(['A', 'B', 'C']);
    const res = await patchGroup(g.body.id, { op: 'Remove', path: 'members', value: [{ value: 'B' }] });
    expect(res.status).toBe(200);
    expect(res.body.members).toEqual([{ value: 'A' }, { value: 'C' }]);
  });

  test('remove with a filter matching nothing → 400 noTarget and the version is not bumped', async () => {
    const { body } = await create();
    const res = await request(app)
      .patch(`/scim/v2/Users/${body.id}`)
      .set(auth)
      .send({ schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'remove', path: 'emails[type eq "nonexistent"]' }] });
    expectScimError(res, 400, 'noTarget');
    const after = await request(app).get(`/scim/v2/Users/${body.id}`).set(auth);
    expect(after.headers.etag).toBe('W/"1"');
    expect(after.body.emails).toEqual(body.emails);
    const g = await group(['A']);
    expectScimError(await patchGroup(g.body.id, { op: 'remove', path: 'members[value eq "Z"]' }), 400, 'noTarget');
  });

  test("Okta's group rename with the group's own id in the value → 200; another id → 400 mutability", async () => {
    const g = await group(['A']);
    const ok = await patchGroup(g.body.id, { op: 'replace', value: { id: g.body.id, displayName: 'Eng2' } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ id: g.body.id, displayName: 'Eng2', members: [{ value: 'A' }] });
    expectScimError(await patchGroup(g.body.id, { op: 'replace', value: { id: 'someone-else', displayName: 'Eng3' } }), 400, 'mutability');
    const after = await request(app).get(`/scim/v2/Groups/${g.body.id}`).set(auth);
    expect(after.body.displayName).toBe('Eng2');
  });
});

describe('SCIM discovery and Groups', () => {
  test('ServiceProviderConfig, ResourceTypes, Schemas', async () => {
    const spc = await request(app).get('/scim/v2/ServiceProviderConfig').set(auth);
    expect(spc.body).toMatchObject({ patch: { supported: true }, filter: { supported: true }, etag: { supported: true } });
    const rt = await request(app).get('/scim/v2/ResourceTypes').set(auth);
    expect(rt.body.Resources.map((r: { id: string }) => r.id)).toEqual(['User', 'Group']);
    expect(rt.body.Resources[0].schemaExtensions[0].schema).toBe(ENTERPRISE_SCHEMA);
    const schemas = await request(app).get('/scim/v2/Schemas').set(auth);
    expect(schemas.body.totalResults).toBe(3);
    const user = await request(app).get(`/scim/v2/Schemas/${USER_SCHEMA}`).set(auth);
    expect(user.body.attributes.find((a: { name: string }) => a.name === 'userName')).toMatchObject({ required: true, uniqueness: 'server' });
    await request(app).get(`/scim/v2/Schemas/${ENTERPRISE_SCHEMA}`).set(auth).expect(200);
  });
  test('Groups: create, find by displayName excluding members, add member with PATCH, delete', async () => {
    const u = await create();
    const g = await request(app).post('/scim/v2/Groups').set(auth).send({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Finance' });
    expect(g.status).toBe(201);
    const found = await request(app).get('/scim/v2/Groups').query({ filter: 'displayName eq "finance"', excludedAttributes: 'members' }).set(auth);
    expect(found.body.totalResults).toBe(1);
    const p = await request(app)
      .patch(`/scim/v2/Groups/${g.body.id}`)
      .set(auth)
      .send({ schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'Add', path: 'members', value: [{ value: u.body.id }] }] });
    expect(p.status).toBe(200);
    expect(p.body.members).toEqual([{ value: u.body.id }]);
    const removed = await request(app)
      .patch(`/scim/v2/Groups/${g.body.id}`)
      .set(auth)
      .send({ schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'Remove', path: `members[value eq "${u.body.id}"]` }] });
    expect(removed.status).toBe(200);
    expect(removed.body.members ?? []).toEqual([]);
    await request(app).delete(`/scim/v2/Groups/${g.body.id}`).set(auth).expect(204);
  });
});
