// PatchOp as Okta and Entra really send it: case-insensitive ops, string booleans, path-less value objects.
import { applyPatch, normalisePatch } from '../../../src/adapters/scim/patch';
import { ScimError } from '../../../src/adapters/scim/errors';
import { ENTERPRISE_SCHEMA, PATCH_OP_SCHEMA, USER_SCHEMA } from '../../../src/adapters/scim/schema-names';

const user = () => ({
  schemas: [USER_SCHEMA],
  userName: 'alice@example.com',
  active: true,
  name: { givenName: 'Alice', familyName: 'Doe' },
  emails: [{ value: 'alice@example.com', type: 'work', primary: true }],
});
const patch = (...Operations: unknown[]) => ({ schemas: [PATCH_OP_SCHEMA], Operations });

function scimErr(fn: () => unknown): ScimError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ScimError) return e;
    throw e;
  }
  throw new Error('expected a ScimError');
}

describe('SCIM PATCH deactivation shapes', () => {
  test("Okta's path-less replace with a value object deactivates", () => {
    expect(applyPatch(user(), patch({ op: 'replace', value: { active: false } })).active).toBe(false);
  });
  test("Entra's capitalised Replace with the string \"False\" deactivates", () => {
    expect(applyPatch(user(), patch({ op: 'Replace', path: 'active', value: 'False' })).active).toBe(false);
  });
  test('Entra with aadOptscim062020: lower-case replace and a real boolean', () => {
    expect(applyPatch(user(), patch({ op: 'replace', path: 'active', value: false })).active).toBe(false);
  });
  test('reactivation with "True" and with REPLACE in upper case', () => {
    const off = applyPatch(user(), patch({ op: 'replace', value: { active: false } }));
    expect(applyPatch(off, patch({ op: 'REPLACE', path: 'Active', value: 'True' })).active).toBe(true);
  });
  test('path-less value object with Entra-style keys (mixed case, dotted, URN-prefixed)', () => {
    const out = applyPatch(
      user(),
      patch({
        op: 'Replace',
        value: { DisplayName: 'Alice S.', 'name.familyName': 'Smith', [`${ENTERPRISE_SCHEMA}:department`]: 'Finance', active: 'false' },
      }),
    );
    expect(out.displayName).toBe('Alice S.');
    expect((out.name as Record<string, unknown>).familyName).toBe('Smith');
    expect((out.name as Record<string, unknown>).givenName).toBe('Alice'); // unspecified sub-attributes unchanged
    expect((out[ENTERPRISE_SCHEMA] as Record<string, unknown>).department).toBe('Finance');
    expect(out.schemas).toContain(ENTERPRISE_SCHEMA);
    expect(out.active).toBe(false);
  });
  test('extension object as a value key', () => {
    const out = applyPatch(user(), patch({ op: 'add', value: { [ENTERPRISE_SCHEMA]: { employeeNumber: '701984' } } }));
    expect((out[ENTERPRISE_SCHEMA] as Record<string, unknown>).employeeNumber).toBe('701984');
  });
  test('value filters: replace a work email and remove a home email', () => {
    const start = { ...user(), emails: [{ value: 'a@x.com', type: 'work' }, { value: 'h@x.com', type: 'home' }] };
    const out = applyPatch(
      start,
      patch({ op: 'Replace', path: 'emails[type eq "work"].value', value: 'b@x.com' }, { op: 'Remove', path: 'emails[type eq "home"]' }),
    );
    expect(out.emails).toEqual([{ value: 'b@x.com', type: 'work' }]);
  });
  test('the input resource is not modified', () => {
    const u = user();
    applyPatch(u, patch({ op: 'replace', value: { active: false } }));
    expect(u.active).toBe(true);
  });
});

describe('SCIM PATCH rejects bad input with scimType', () => {
  test('missing PatchOp schema → invalidSyntax', () => {
    expect(scimErr(() => applyPatch(user(), { Operations: [{ op: 'replace', value: { active: false } }] })).scimType).toBe('invalidSyntax');
  });
  test('unknown op → invalidSyntax', () => {
    expect(scimErr(() => normalisePatch(patch({ op: 'merge', path: 'active', value: false }))).scimType).toBe('invalidSyntax');
  });
  test('empty Operations → invalidSyntax', () => {
    expect(scimErr(() => normalisePatch(patch())).status).toBe(400);
  });
  test('remove without path → noTarget', () => {
    expect(scimErr(() => normalisePatch(patch({ op: 'remove' }))).scimType).toBe('noTarget');
  });
  test('replace without value → invalidValue', () => {
    expect(scimErr(() => normalisePatch(patch({ op: 'replace', path: 'active' }))).scimType).toBe('invalidValue');
  });
  test('path-less replace with a non-object value → invalidValue', () => {
    expect(scimErr(() => normalisePatch(patch({ op: 'replace', value: false }))).scimType).toBe('invalidValue');
  });
  test('changing id or meta → mutability', () => {
    expect(scimErr(() => normalisePatch(patch({ op: 'replace', path: 'id', value: 'x' }))).scimType).toBe('mutability');
    expect(scimErr(() => normalisePatch(patch({ op: 'replace', value: { meta: { version: 'x' } } }))).scimType).toBe('mutability');
  });
  test('a bad path → 400', () => {
    expect(scimErr(() => applyPatch(user(), patch({ op: 'replace', path: 'emails[type eq ', value: 'x' }))).status).toBe(400);
  });
});

test('attribute names are canonicalised outside value filters only', async () => {
  const { canonicalPath } = await import('../../../src/adapters/scim/patch');
  expect(canonicalPath('Emails[Value eq "john.Value@x.com"].VALUE')).toBe('emails[Value eq "john.Value@x.com"].value');
  expect(canonicalPath('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:Department')).toBe('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department');
  expect(canonicalPath('urn:ietf:params:scim:schemas:core:2.0:User:name.GivenName')).toBe('name.givenName');
});

describe('SCIM PATCH remove as Entra and Okta send it', () => {
  const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
  const group = () => ({
    schemas: [GROUP],
    displayName: 'Eng',
    members: [{ value: 'A' }, { value: 'B', display: 'Bob' }, { value: 'C' }],
  });
  const values = (g: Record<string, unknown>) => ((g.members as { value: string }[] | undefined) ?? []).map((m) => m.value);

  test("Entra's default member removal (path members + value list) removes only the listed members", () => {
    expect(values(applyPatch(group(), patch({ op: 'Remove', path: 'members', value: [{ value: 'B' }] })))).toEqual(['A', 'C']);
    expect(values(applyPatch(group(), patch({ op: 'remove', path: 'Members', value: [{ value: 'A' }, { value: 'C' }] })))).toEqual(['B']);
  });
  test('value-list removal of every member leaves the attribute unassigned; of a non-member changes nothing', () => {
    expect(applyPatch(group(), patch({ op: 'remove', path: 'members', value: [{ value: 'A' }, { value: 'B' }, { value: 'C' }] })).members).toBeUndefined();
    expect(values(applyPatch(group(), patch({ op: 'remove', path: 'members', value: [{ value: 'Z' }] })))).toEqual(['A', 'B', 'C']);
  });
  test('member ids compare case-exactly in value-list removal', () => {
    expect(values(applyPatch(group(), patch({ op: 'remove', path: 'members', value: [{ value: 'b' }] })))).toEqual(['A', 'B', 'C']);
  });
  test('a value-list removal is atomic with the other operations', () => {
    expect(scimErr(() => applyPatch(group(), patch({ op: 'remove', path: 'members', value: [{ value: 'B' }] }, { op: 'remove', path: 'members[value eq "nope"]' }))).scimType).toBe('noTarget');
  });
  test('a value list that is not objects with a value → 400 invalidValue', () => {
    expect(scimErr(() => applyPatch(group(), patch({ op: 'remove', path: 'members', value: ['B'] }))).scimType).toBe('invalidValue');
  });
  test('remove members without value still removes all; members[value eq "x"] still removes one', () => {
    expect(applyPatch(group(), patch({ op: 'remove', path: 'members' })).members).toBeUndefined();
    expect(values(applyPatch(group(), patch({ op: 'remove', path: 'members[value eq "B"]' })))).toEqual(['A', 'C']);
  });
  test('remove with a value filter that matches nothing → 400 noTarget', () => {
    const start = { ...user(), emails: [{ value: 'a@x.com', type: 'work' }, { value: 'h@x.com', type: 'home' }] };
    expect(scimErr(() => applyPatch(start, patch({ op: 'remove', path: 'emails[type eq "nonexistent"]' }))).scimType).toBe('noTarget');
    expect(scimErr(() => applyPatch(start, patch({ op: 'remove', path: 'emails[type eq "nonexistent"].value' }))).scimType).toBe('noTarget');
    expect(scimErr(() => applyPatch(user(), patch({ op: 'remove', path: 'phoneNumbers[type eq "work"]' }))).scimType).toBe('noTarget');
    expect(scimErr(() => applyPatch(group(), patch({ op: 'remove', path: 'members[value eq "Z"]' }))).scimType).toBe('noTarget');
  });
  test('remove of an unfiltered attribute that has no value is not an error (RFC 7644 §3.12 noTarget is for filters)', () => {
    const out = applyPatch(user(), patch({ op: 'remove', path: 'nickName' }, { op: 'remove', path: 'phoneNumbers' }));
    expect(out).toEqual(user());
  });
});

describe('SCIM PATCH id in a value object', () => {
  const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
  const group = () => ({ schemas: [GROUP], displayName: 'Eng', members: [{ value: 'A' }] });
  test("Okta's group rename carrying the group's own id is accepted; the id is a no-op", () => {
    const out = applyPatch(group(), patch({ op: 'replace', value: { id: 'g-1', displayName: 'Eng2' } }), { id: 'g-1' });
    expect(out.displayName).toBe('Eng2');
    expect(out.id).toBeUndefined();
    expect(out.members).toEqual([{ value: 'A' }]);
    expect(applyPatch(group(), patch({ op: 'replace', path: 'id', value: 'g-1' }), { id: 'g-1' }).displayName).toBe('Eng');
  });
  test('a different id, an id in another case, or removing id → 400 mutability', () => {
    expect(scimErr(() => applyPatch(group(), patch({ op: 'replace', value: { id: 'g-2', displayName: 'Eng2' } }), { id: 'g-1' })).scimType).toBe('mutability');
    expect(scimErr(() => applyPatch(group(), patch({ op: 'replace', value: { id: 'G-1', displayName: 'Eng2' } }), { id: 'g-1' })).scimType).toBe('mutability');
    expect(scimErr(() => applyPatch(group(), patch({ op: 'remove', path: 'id' }), { id: 'g-1' })).scimType).toBe('mutability');
    expect(scimErr(() => applyPatch(group(), patch({ op: 'replace', value: { id: 'g-1', displayName: 'Eng2' } }))).scimType).toBe('mutability');
  });
});

describe('SCIM PATCH value filters compare values by the attribute caseExact', () => {
  const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
  const twoEmails = () => ({ ...user(), emails: [{ value: 'a@x.com', type: 'work' }, { value: 'h@x.com', type: 'home' }] });

  test('Entra\'s Replace emails[type eq "Work"].value updates the work email instead of appending another one', () => {
    const out = applyPatch(twoEmails(), patch({ op: 'Replace', path: 'emails[type eq "Work"].value', value: 'b@x.com' }));
    expect(out.emails).toEqual([{ value: 'b@x.com', type: 'work' }, { value: 'h@x.com', type: 'home' }]);
  });
  test('the same filter as a key of a path-less value object (Entra with aadOptscim062020) updates in place too', () => {
    const out = applyPatch(twoEmails(), patch({ op: 'replace', value: { 'emails[type eq "WORK"].value': 'b@x.com', 'name.givenName': 'Al' } }));
    expect(out.emails).toEqual([{ value: 'b@x.com', type: 'work' }, { value: 'h@x.com', type: 'home' }]);
  });
  test('remove and sub-attribute replace select entries case-insensitively: emails[type eq "HOME"], value eq "H@X.COM", addresses', () => {
    expect(applyPatch(twoEmails(), patch({ op: 'remove', path: 'emails[type eq "HOME"]' })).emails).toEqual([{ value: 'a@x.com', type: 'work' }]);
    expect(applyPatch(twoEmails(), patch({ op: 'remove', path: 'emails[value eq "H@X.COM"]' })).emails).toEqual([{ value: 'a@x.com', type: 'work' }]);
    const withAddress = { ...user(), addresses: [{ type: 'work', locality: 'Paris' }] };
    expect(applyPatch(withAddress, patch({ op: 'replace', path: 'addresses[type eq "Work"].locality', value: 'Lyon' })).addresses).toEqual([{ type: 'work', locality: 'Lyon' }]);
  });
  test('all conditions of the filter still have to hold in one entry', () => {
    expect(scimErr(() => applyPatch(twoEmails(), patch({ op: 'remove', path: 'emails[type eq "Work" and value eq "H@x.com"]' }))).scimType).toBe('noTarget');
    const out = applyPatch(twoEmails(), patch({ op: 'replace', path: 'emails[type eq "HOME" and value sw "H@"].value', value: 'h2@x.com' }));
    expect(out.emails).toEqual([{ value: 'a@x.com', type: 'work' }, { value: 'h2@x.com', type: 'home' }]);
  });
  test('ne compares case-insensitively too: emails[type ne "WORK"] removes only the home email', () => {
    expect(applyPatch(twoEmails(), patch({ op: 'remove', path: 'emails[type ne "WORK"]' })).emails).toEqual([{ value: 'a@x.com', type: 'work' }]);
  });
  test('caseExact member ids: members[value eq "b"] does not select member "B"', () => {
    const group = { schemas: [GROUP], displayName: 'Eng', members: [{ value: 'A' }, { value: 'B' }] };
    expect(scimErr(() => applyPatch(group, patch({ op: 'remove', path: 'members[value eq "b"]' }))).scimType).toBe('noTarget');
    expect(applyPatch(group, patch({ op: 'remove', path: 'members[value eq "B"]' })).members).toEqual([{ value: 'A' }]);
  });
  test('a sub-attribute add/replace through an eq filter that selects nothing still creates that entry', () => {
    const out = applyPatch(twoEmails(), patch({ op: 'replace', path: 'emails[type eq "other"].value', value: 'o@x.com' }));
    expect(out.emails).toEqual([{ value: 'a@x.com', type: 'work' }, { value: 'h@x.com', type: 'home' }, { type: 'other', value: 'o@x.com' }]);
    expect(scimErr(() => applyPatch(twoEmails(), patch({ op: 'replace', path: 'emails[type sw "x"].value', value: 'o@x.com' }))).scimType).toBe('noTarget');
  });
  test('a bad filter inside a path → 400 invalidPath', () => {
    expect(scimErr(() => applyPatch(twoEmails(), patch({ op: 'replace', path: 'emails[type xx "work"].value', value: 'b@x.com' }))).scimType).toBe('invalidPath');
  });
});
