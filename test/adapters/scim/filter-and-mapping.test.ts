// SCIM filters with SCIM's case rules, and the mapping of Users onto Tether identity fields.
import { compileFilter } from '../../../src/adapters/scim/filter';
import { ScimError } from '../../../src/adapters/scim/errors';
import { normaliseUser, userToIdentityFields, coerceBoolean } from '../../../src/adapters/scim/user';
import { ENTERPRISE_SCHEMA, USER_SCHEMA } from '../../../src/adapters/scim/schema-names';
import { schemas } from '../../../src/adapters/scim/discovery';

const alice = {
  userName: 'Alice@Example.com',
  externalId: '00uAbC',
  active: true,
  emails: [{ value: 'alice@example.com', type: 'work' }, { value: 'al@home.net', type: 'home' }],
  [ENTERPRISE_SCHEMA]: { department: 'Finance' },
};

describe('SCIM filters', () => {
  test('userName eq is case-insensitive in both the attribute name and the value', () => {
    expect(compileFilter('userName eq "alice@example.com"').test(alice)).toBe(true);
    expect(compileFilter('USERNAME Eq "ALICE@EXAMPLE.COM"').test(alice)).toBe(true);
  });
  test('externalId eq is case-exact', () => {
    expect(compileFilter('externalId eq "00uAbC"').test(alice)).toBe(true);
    expect(compileFilter('externalId eq "00uabc"').test(alice)).toBe(false);
  });
  test('emails.value eq and emails[type eq "work"].value eq', () => {
    expect(compileFilter('emails.value eq "al@home.net"').test(alice)).toBe(true);
    expect(compileFilter('emails[type eq "work"].value eq "alice@example.com"').test(alice)).toBe(true);
    expect(compileFilter('emails[type eq "home"]').test(alice)).toBe(true);
    expect(compileFilter('emails[type eq "other"]').test(alice)).toBe(false);
  });
  test('emails[type eq "work"].value eq X matches X on the work email only, never X on another email', () => {
    // Audit case: work email carol@, home email dave@ — a lookup of dave's work email must not find carol.
    const carol = { userName: 'carol', emails: [{ value: 'carol@contoso.com', type: 'work' }, { value: 'dave@contoso.com', type: 'home' }] };
    expect(compileFilter('emails[type eq "work"].value eq "dave@contoso.com"').test(carol)).toBe(false);
    expect(compileFilter('emails[type eq "work"].value eq "carol@contoso.com"').test(carol)).toBe(true);
    expect(compileFilter('emails[type eq "home"].value eq "dave@contoso.com"').test(carol)).toBe(true);
    // Names, operators and email values stay case-insensitive.
    expect(compileFilter('EMAILS[TYPE EQ "WORK"].VALUE EQ "Carol@Contoso.COM"').test(carol)).toBe(true);
    expect(compileFilter('Emails[Type eq "Work"].Value eq "DAVE@contoso.com"').test(carol)).toBe(false);
    // Other operators, value-less pr, and composition with and/or/not keep the same-entry rule.
    expect(compileFilter('emails[type eq "work"].value sw "dave"').test(carol)).toBe(false);
    expect(compileFilter('emails[type eq "work"].value pr').test(carol)).toBe(true);
    expect(compileFilter('emails[type eq "other"].value pr').test(carol)).toBe(false);
    expect(compileFilter('userName eq "carol" and emails[type eq "work"].value eq "dave@contoso.com"').test(carol)).toBe(false);
    expect(compileFilter('emails[type eq "work" or type eq "home"].value eq "dave@contoso.com"').test(carol)).toBe(true);
    expect(compileFilter('not emails[type eq "work"].value eq "dave@contoso.com"').test(carol)).toBe(true);
    expect(compileFilter('(emails[type eq "work"].value eq "x@y") or userName eq "carol"').test(carol)).toBe(true);
    // A value containing "]." or brackets is data, not syntax.
    expect(compileFilter('emails[type eq "a].value eq \\"b"].value eq "carol@contoso.com"').test(carol)).toBe(false);
    // Spelled as two separate comparisons, the RFC semantics are "any entry" for each half.
    expect(compileFilter('emails[type eq "work"] and emails.value eq "dave@contoso.com"').test(carol)).toBe(true);
  });
  test('meta.resourceType, meta.location (a reference) and member ids are caseExact', () => {
    const stored = { meta: { resourceType: 'User', location: 'https://pdp.example.com/Users/1' } };
    expect(compileFilter('meta.resourceType eq "User"').test(stored)).toBe(true);
    expect(compileFilter('meta.resourceType eq "user"').test(stored)).toBe(false);
    expect(compileFilter('meta.location sw "HTTPS://"').test(stored)).toBe(false);
    const group = { displayName: 'Eng', members: [{ value: 'B' }] };
    expect(compileFilter('members[value eq "B"]').test(group)).toBe(true);
    expect(compileFilter('members[value eq "b"]').test(group)).toBe(false);
    expect(compileFilter('displayName eq "ENG"').test(group)).toBe(true);
  });
  test('every string attribute /Schemas publishes compares with the caseExact published for it', () => {
    const checked: string[] = [];
    for (const doc of schemas('https://pdp.example.com/scim/v2')) {
      const urn = doc.id === ENTERPRISE_SCHEMA ? `${ENTERPRISE_SCHEMA}:` : '';
      for (const a of doc.attributes as Record<string, unknown>[]) {
        const subs = (a.subAttributes as Record<string, unknown>[] | undefined) ?? [];
        for (const s of subs.length ? subs : [a]) {
          // The filter grammar cannot name `$ref` (RFC 7643 errata 8924), so it is never filtered on.
          if ((s.type !== 'string' && s.type !== 'reference') || String(s.name).startsWith('$')) continue;
          const leaf = { [String(s.name)]: 'MiXeD' };
          const value = s === a ? 'MiXeD' : a.multiValued ? [leaf] : leaf;
          const resource = urn ? { [ENTERPRISE_SCHEMA]: { [String(a.name)]: value } } : { [String(a.name)]: value };
          const path = `${urn}${String(a.name)}${s === a ? '' : `.${String(s.name)}`}`;
          expect([path, compileFilter(`${path} eq "mixed"`).test(resource)]).toEqual([path, s.caseExact !== true]);
          checked.push(path);
        }
      }
    }
    expect(checked).toEqual(expect.arrayContaining(['userName', 'emails.type', 'externalId', 'members.value', `${ENTERPRISE_SCHEMA}:manager.value`]));
  });
  test('and/or/not, sw/co/pr, extension attributes', () => {
    expect(compileFilter('userName sw "alice" and active eq true').test(alice)).toBe(true);
    expect(compileFilter('not (userName co "bob") or externalId pr').test(alice)).toBe(true);
    expect(compileFilter(`${ENTERPRISE_SCHEMA}:department eq "finance"`).test(alice)).toBe(true);
  });
  test('indexed lookups are recognised for the store', () => {
    expect(compileFilter('userName eq "a"').indexed).toEqual({ attribute: 'userName', value: 'a' });
    expect(compileFilter('externalId eq "x"').indexed).toEqual({ attribute: 'externalId', value: 'x' });
    expect(compileFilter('emails[type eq "work"].value eq "e@x"').indexed).toEqual({ attribute: 'email', value: 'e@x' });
    expect(compileFilter('active eq true').indexed).toBeUndefined();
  });
  test('bad syntax → 400 invalidFilter', () => {
    for (const bad of ['userName eq', 'userName xx "a"', '(userName eq "a"']) {
      let err: unknown;
      try {
        compileFilter(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ScimError);
      expect((err as ScimError).scimType).toBe('invalidFilter');
    }
  });
});

describe('SCIM User normalisation and identity mapping', () => {
  test('string booleans are coerced; password, id and meta dropped; attribute names canonical', () => {
    const u = normaliseUser({ schemas: [USER_SCHEMA], UserName: 'bob', Active: 'False', password: 'p', id: 'x', meta: {}, emails: [{ value: 'b@x', primary: 'True' }] });
    expect(u).toEqual({ schemas: [USER_SCHEMA], userName: 'bob', active: false, emails: [{ value: 'b@x', primary: true }] });
  });
  test('coerceBoolean', () => {
    expect([true, false, 'TRUE', 'false', ' True ', 'yes', 1].map(coerceBoolean)).toEqual([true, false, true, false, true, undefined, undefined]);
  });
  test.each([
    [{}, 'userName'],
    [{ userName: '' }, 'userName'],
    [{ userName: 'a', active: 'maybe' }, 'active'],
    [{ userName: 'a', emails: 'x' }, 'emails'],
    [{ userName: 'a', emails: [{ type: 'work' }] }, 'emails[0].value'],
    [{ userName: 'a', schemas: ['urn:other'] }, 'schemas'],
    [{ userName: 'a', name: 'Alice' }, 'name'],
  ])('rejects %j naming %s', (body, field) => {
    let err: ScimError | undefined;
    try {
      normaliseUser(body);
    } catch (e) {
      err = e as ScimError;
    }
    expect(err?.status).toBe(400);
    expect(err?.detail).toContain(field);
  });
  test('active true/false/absent → active/suspended/provisioned; aliases from userName, emails, externalId', () => {
    expect(userToIdentityFields(normaliseUser(alice))).toEqual({
      status: 'active',
      aliases: ['alice@example.com', 'al@home.net', '00uAbC'],
    });
    expect(userToIdentityFields(normaliseUser({ userName: 'b', active: false })).status).toBe('suspended');
    expect(userToIdentityFields(normaliseUser({ userName: 'b' })).status).toBe('provisioned');
  });
  test('type from userType by default, risk tier from a configured attribute; unknown values ignored', () => {
    const u = normaliseUser({ userName: 'c', userType: 'Contractor', [ENTERPRISE_SCHEMA]: { costCenter: 'Privileged' } });
    expect(userToIdentityFields(u, { riskTierAttribute: `${ENTERPRISE_SCHEMA}:costCenter` })).toMatchObject({ type: 'contractor', risk_tier: 'privileged' });
    const v = normaliseUser({ userName: 'd', userType: 'Intern', title: 'High' });
    expect(userToIdentityFields(v, { riskTierAttribute: 'title' })).toEqual({ status: 'provisioned', aliases: ['d'], risk_tier: 'high' });
  });
});
