/** SCIM discovery documents (RFC 7643 §5–7): ServiceProviderConfig, ResourceTypes and Schemas. */
import { ENTERPRISE_SCHEMA, GROUP_SCHEMA, LIST_RESPONSE_SCHEMA, USER_SCHEMA } from './schema-names';

/** The most resources one page returns (also advertised as filter.maxResults). */
export const MAX_RESULTS = 200;

type Attr = Record<string, unknown>;

function attr(name: string, type: string, extra: Partial<Attr> = {}): Attr {
  return {
    name,
    type,
    multiValued: false,
    description: name,
    required: false,
    caseExact: type === 'reference', // RFC 7643 §2.3.7: "A reference is case exact."
    mutability: 'readWrite',
    returned: 'default',
    uniqueness: 'none',
    ...extra,
  };
}

function multi(name: string, subs: Attr[]): Attr {
  return attr(name, 'complex', { multiValued: true, subAttributes: subs });
}

const typedValue = (types: string[]) => [
  attr('value', 'string'),
  attr('display', 'string'),
  attr('type', 'string', { canonicalValues: types }),
  attr('primary', 'boolean'),
];

const USER_ATTRS: Attr[] = [
  attr('userName', 'string', { required: true, uniqueness: 'server' }),
  attr('name', 'complex', {
    subAttributes: ['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix'].map((n) => attr(n, 'string')),
  }),
  attr('displayName', 'string'),
  attr('nickName', 'string'),
  attr('title', 'string'),
  attr('userType', 'string', { description: 'Tether maps Employee/Contractor/Service/Break_glass to the identity type' }),
  attr('preferredLanguage', 'string'),
  attr('locale', 'string'),
  attr('timezone', 'string'),
  attr('active', 'boolean', { description: 'false suspends the Tether identity' }),
  attr('password', 'string', { mutability: 'writeOnly', returned: 'never' }),
  multi('emails', typedValue(['work', 'home', 'other'])),
  multi('phoneNumbers', typedValue(['work', 'home', 'mobile', 'fax', 'pager', 'other'])),
  multi('addresses', [
    ...['formatted', 'streetAddress', 'locality', 'region', 'postalCode', 'country'].map((n) => attr(n, 'string')),
    attr('type', 'string', { canonicalValues: ['work', 'home', 'other'] }),
    attr('primary', 'boolean'),
  ]),
  multi('groups', [
    attr('value', 'string', { mutability: 'readOnly' }),
    attr('$ref', 'reference', { mutability: 'readOnly', referenceTypes: ['Group'] }),
    attr('display', 'string', { mutability: 'readOnly' }),
  ]),
  multi('roles', typedValue([])),
  multi('entitlements', typedValue([])),
  attr('externalId', 'string', { caseExact: true }),
];

const ENTERPRISE_ATTRS: Attr[] = [
  ...['employeeNumber', 'costCenter', 'organization', 'division', 'department'].map((n) => attr(n, 'string')),
  attr('manager', 'complex', {
    subAttributes: [attr('value', 'string'), attr('$ref', 'reference', { referenceTypes: ['User'] }), attr('displayName', 'string', { mutability: 'readOnly' })],
  }),
];

const GROUP_ATTRS: Attr[] = [
  attr('displayName', 'string', { required: true, uniqueness: 'server' }),
  multi('members', [
    // caseExact, unlike RFC 7643 §8.7.1: a member's value is its `id`, which is caseExact (§3.1).
    attr('value', 'string', { mutability: 'immutable', caseExact: true }),
    attr('$ref', 'reference', { mutability: 'immutable', referenceTypes: ['User', 'Group'] }),
    attr('display', 'string'),
    attr('type', 'string', { canonicalValues: ['User', 'Group'] }),
  ]),
  attr('externalId', 'string', { caseExact: true }),
];

/** RFC 7643 §3.1 common attributes: on every resource but in no schema, so not published in /Schemas. */
const COMMON_ATTRS: Attr[] = [
  attr('id', 'string', { caseExact: true, mutability: 'readOnly', returned: 'always', uniqueness: 'server' }),
  attr('meta', 'complex', {
    mutability: 'readOnly',
    subAttributes: [
      attr('resourceType', 'string', { caseExact: true }),
      attr('created', 'dateTime'),
      attr('lastModified', 'dateTime'),
      attr('location', 'reference'),
      attr('version', 'string', { caseExact: true }),
    ],
  }),
];

/**
 * Lower-case attribute paths (`externalid`, `members.value`, `meta.version`) whose string values
 * compare case-sensitively, read from the schemas above so that filters and /Schemas agree. No
 * attribute path has a different caseExact in another schema, so one set serves Users and Groups.
 */
const CASE_EXACT = new Set<string>();
/** Lower-case attribute paths of type dateTime (`meta.created`, `meta.lastModified`), likewise. */
const DATE_TIME = new Set<string>();
(function collect(attrs: Attr[], prefix: string): void {
  for (const a of attrs) {
    const path = prefix + String(a.name).toLowerCase();
    if (a.caseExact === true) CASE_EXACT.add(path);
    if (a.type === 'dateTime') DATE_TIME.add(path);
    if (Array.isArray(a.subAttributes)) collect(a.subAttributes as Attr[], `${path}.`);
  }
})([...COMMON_ATTRS, ...USER_ATTRS, ...ENTERPRISE_ATTRS, ...GROUP_ATTRS], '');

/**
 * Whether string comparisons on `attrPath` are case-sensitive (RFC 7644 §3.4.2.2). `attrPath` is a
 * filter attribute path in any case, sub-attributes dotted, optionally behind a schema URN.
 * Attributes no schema declares are not caseExact (the RFC 7643 §2.2 default).
 */
export function isCaseExact(attrPath: string): boolean {
  return CASE_EXACT.has(attrPath.slice(attrPath.lastIndexOf(':') + 1).toLowerCase());
}

/**
 * Whether `attrPath` (as for isCaseExact) is a dateTime attribute, whose values compare as instants
 * (RFC 7644 §3.4.2.2: gt/ge/lt/le are chronological for dateTime).
 */
export function isDateTime(attrPath: string): boolean {
  return DATE_TIME.has(attrPath.slice(attrPath.lastIndexOf(':') + 1).toLowerCase());
}

/** ServiceProviderConfig document. */
export function serviceProviderConfig(base: string): Record<string, unknown> {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
    documentationUri: 'https://github.com/tether/tether#scim',
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [
      { type: 'oauthbearertoken', name: 'OAuth Bearer Token', description: 'Authentication via a bearer token (TETHER_SCIM_TOKEN)', primary: true },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig` },
  };
}

/** ResourceType documents for User and Group. */
export function resourceTypes(base: string): Record<string, unknown>[] {
  return [
    {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      description: 'User Account',
      schema: USER_SCHEMA,
      schemaExtensions: [{ schema: ENTERPRISE_SCHEMA, required: false }],
      meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/User` },
    },
    {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
      id: 'Group',
      name: 'Group',
      endpoint: '/Groups',
      description: 'Group',
      schema: GROUP_SCHEMA,
      schemaExtensions: [],
      meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/Group` },
    },
  ];
}

/** Schema documents for User, the enterprise extension and Group. */
export function schemas(base: string): Record<string, unknown>[] {
  const doc = (id: string, name: string, description: string, attributes: Attr[]) => ({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
    id,
    name,
    description,
    attributes,
    meta: { resourceType: 'Schema', location: `${base}/Schemas/${id}` },
  });
  return [
    doc(USER_SCHEMA, 'User', 'User Account', USER_ATTRS),
    doc(ENTERPRISE_SCHEMA, 'EnterpriseUser', 'Enterprise User', ENTERPRISE_ATTRS),
    doc(GROUP_SCHEMA, 'Group', 'Group', GROUP_ATTRS),
  ];
}

/** Wraps resources in a ListResponse (1-based startIndex, integers). */
export function listResponse(resources: unknown[], total: number, startIndex: number): Record<string, unknown> {
  return { schemas: [LIST_RESPONSE_SCHEMA], totalResults: total, startIndex, itemsPerPage: resources.length, Resources: resources };
}
