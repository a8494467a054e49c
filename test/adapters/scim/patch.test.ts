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
