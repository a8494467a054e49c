/** SCIM schema URNs and the canonical spelling of User/Group attribute names (names are case-insensitive). */

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const LIST_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/** Top-level User attributes of RFC 7643 §4.1 in canonical case. */
export const USER_ATTRIBUTES = [
  'id', 'externalId', 'meta', 'schemas', 'userName', 'name', 'displayName', 'nickName', 'profileUrl',
  'title', 'userType', 'preferredLanguage', 'locale', 'timezone', 'active', 'password', 'emails',
  'phoneNumbers', 'ims', 'photos', 'addresses', 'groups', 'entitlements', 'roles', 'x509Certificates',
];

/** Enterprise extension attributes (RFC 7643 §4.3). */
export const ENTERPRISE_ATTRIBUTES = ['employeeNumber', 'costCenter', 'organization', 'division', 'department', 'manager'];

/** Group attributes (RFC 7643 §4.2). */
export const GROUP_ATTRIBUTES = ['id', 'externalId', 'meta', 'schemas', 'displayName', 'members'];

/** Sub-attributes of complex attributes in canonical case. */
const SUB_ATTRIBUTES = [
  'givenName', 'familyName', 'middleName', 'formatted', 'honorificPrefix', 'honorificSuffix',
  'value', 'display', 'type', 'primary', 'streetAddress', 'locality', 'region', 'postalCode', 'country',
  'displayName', '$ref',
];

const CANONICAL = new Map<string, string>();
for (const n of [...USER_ATTRIBUTES, ...ENTERPRISE_ATTRIBUTES, ...GROUP_ATTRIBUTES, ...SUB_ATTRIBUTES]) {
  CANONICAL.set(n.toLowerCase(), n);
}
for (const urn of [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_SCHEMA]) CANONICAL.set(urn.toLowerCase(), urn);

/** The canonical spelling of an attribute or schema name, or the name itself if unknown. */
export function canonicalName(name: string): string {
  return CANONICAL.get(name.toLowerCase()) ?? name;
}
