// JSON schemas of the records sync sources and admins submit (decision-model §1); the store validates
// every write against them, so records are well-formed whichever door they came through.
import { compileValidator } from './validation';
import type { IdentityStatus, IdentityType, Ownership, RiskTier, Sensitivity, SubscriptionEvent } from './types';
import { WAIVABLE_REASONS } from './types';

const id = { type: 'string', minLength: 1, maxLength: 256, pattern: '^[^\\u0000-\\u001f\\u007f]+$' } as const;
const text = (max: number) => ({ type: 'string', minLength: 1, maxLength: max }) as const;
const dateTime = { type: 'string', format: 'date-time' } as const;
const meta = {
  source: text(128),
  observed_at: dateTime,
  version: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
  attributes: { type: 'object' },
} as const;

/** Identity fields accepted on PUT / import (id comes from the path or the record). */
export interface IdentityInput {
  id?: string;
  status: IdentityStatus;
  type?: IdentityType;
  risk_tier?: RiskTier;
  proofed?: boolean;
  aliases?: string[];
  activated_at?: string | null;
  source?: string;
  observed_at?: string;
  version?: number;
  attributes?: Record<string, unknown>;
}

/** Device fields accepted on PUT / import. `owner` may be an identity id or any alias. */
export interface DeviceInput {
  id?: string;
  owner: string;
  enrolled?: boolean;
  compliant?: boolean;
  encrypted?: boolean;
  platform?: string;
  os_version?: string;
  ownership: Ownership;
  source?: string;
  observed_at?: string;
  version?: number;
  attributes?: Record<string, unknown>;
}

/** Exception fields accepted on POST /v1/exceptions (`identity` may be an alias). */
export interface ExceptionInput {
  identity: string;
  waives: string[];
  scope: { apps?: string[]; max_sensitivity?: Sensitivity };
  reason: string;
  approved_by: string;
  expires_at: string;
}

/** Break-glass window request. */
export interface BreakGlassInput {
  minutes: number;
  reason: string;
  approved_by: string;
}

/** App catalog entry fields. */
export interface AppInput {
  id?: string;
  sensitivity: Sensitivity;
  admin?: boolean;
  allow_service?: boolean;
  name?: string;
  version?: number;
}

/** Subscription fields. */
export interface SubscriptionInput {
  id?: string;
  url: string;
  secret: string;
  events: SubscriptionEvent[];
}

/** Validates an identity record. */
export const validateIdentity = compileValidator<IdentityInput>({
  type: 'object',
  additionalProperties: false,
  required: ['status'],
  properties: {
    id,
    status: { enum: ['provisioned', 'active', 'suspended', 'deprovisioned'] },
    type: { enum: ['employee', 'contractor', 'service', 'break_glass'] },
    risk_tier: { enum: ['standard', 'high', 'privileged'] },
    proofed: { type: 'boolean' },
    aliases: { type: 'array', maxItems: 64, items: text(320) },
    activated_at: { anyOf: [dateTime, { type: 'null' }] },
    ...meta,
  },
});

/** Validates a device record. */
export const validateDevice = compileValidator<DeviceInput>({
  type: 'object',
  additionalProperties: false,
  required: ['owner', 'ownership'],
  properties: {
    id,
    owner: text(320),
    enrolled: { type: 'boolean' },
    compliant: { type: 'boolean' },
    encrypted: { type: 'boolean' },
    platform: text(64),
    os_version: text(64),
    ownership: { enum: ['corporate', 'byod', 'contractor'] },
    ...meta,
  },
});

/** Validates an exception request (time bounds are checked by the store against its clock). */
export const validateException = compileValidator<ExceptionInput>({
  type: 'object',
  additionalProperties: false,
  required: ['identity', 'waives', 'scope', 'reason', 'approved_by', 'expires_at'],
  properties: {
    identity: text(320),
    waives: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...WAIVABLE_REASONS] } },
    scope: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: {
        apps: { type: 'array', minItems: 1, maxItems: 256, items: id },
        max_sensitivity: { enum: ['low', 'moderate', 'high'] },
      },
    },
    reason: text(2000),
    approved_by: text(256),
    expires_at: dateTime,
  },
});

/** Validates a break-glass request (the upper bound on minutes is configuration, checked by the store). */
export const validateBreakGlass = compileValidator<BreakGlassInput>({
  type: 'object',
  additionalProperties: false,
  required: ['minutes', 'reason', 'approved_by'],
  properties: {
    minutes: { type: 'integer', minimum: 1 },
    reason: text(2000),
    approved_by: text(256),
  },
});

/** Validates an app catalog entry. */
export const validateApp = compileValidator<AppInput>({
  type: 'object',
  additionalProperties: false,
  required: ['sensitivity'],
  properties: {
    id,
    sensitivity: { enum: ['low', 'moderate', 'high'] },
    admin: { type: 'boolean' },
    allow_service: { type: 'boolean' },
    name: text(256),
    version: meta.version,
  },
});

/** Validates a webhook subscription. */
export const validateSubscription = compileValidator<SubscriptionInput>({
  type: 'object',
  additionalProperties: false,
  required: ['url', 'secret', 'events'],
  properties: {
    id,
    url: { type: 'string', format: 'uri', pattern: '^https?://', maxLength: 2048 },
    secret: { type: 'string', minLength: 16, maxLength: 1024 },
    events: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['revocation', 'ready_for_activation', 'drift'] } },
  },
});
