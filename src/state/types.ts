// State records of decision-model §1 (identities, devices, exceptions, break-glass windows, apps)
// plus webhook subscriptions, exactly as the store returns them. Inputs are validated by ./schemas.ts.

/** Account lifecycle status at the source of truth (IdP, SCIM, HR). */
export type IdentityStatus = 'provisioned' | 'active' | 'suspended' | 'deprovisioned';
/** Kind of identity; `service` skips device rules, `break_glass` needs an open window. */
export type IdentityType = 'employee' | 'contractor' | 'service' | 'break_glass';
/** Risk tier; `high`/`privileged` are hard-gated everywhere. */
export type RiskTier = 'standard' | 'high' | 'privileged';
/** Who owns the hardware; limits the highest sensitivity the device may reach. */
export type Ownership = 'corporate' | 'byod' | 'contractor';
/** App sensitivity; `admin` apps are treated as `high`. */
export type Sensitivity = 'low' | 'moderate' | 'high';

/** Ordering and provenance metadata carried by every synced record. */
export interface RecordMeta {
  /** Who said it (e.g. `okta`, `scim:hr`, `jamf`, `admin`). */
  source?: string;
  /** RFC 3339: when it was true at the source (for devices: last MDM check-in). */
  observed_at?: string;
  /** Monotonic per record. Given by the source, or assigned (previous + 1) when the source sends none. */
  version: number;
  /** RFC 3339: when Tether stored this version. */
  updated_at: string;
}

/** An identity (decision-model §1). */
export interface Identity extends RecordMeta {
  id: string;
  status: IdentityStatus;
  type: IdentityType;
  risk_tier: RiskTier;
  proofed: boolean;
  /** User names, emails, external ids in each IdP; resolved case-insensitively to `id`. */
  aliases: string[];
  /** RFC 3339: when status last became `active` (starts the enrollment grace); null when never. */
  activated_at: string | null;
  /** Free-form extra source attributes (display name, department, ...); never used by rules. */
  attributes?: Record<string, unknown>;
}

/** A managed device (decision-model §1). */
export interface Device extends RecordMeta {
  id: string;
  /**
   * Identity id the device is bound to. When the source named an owner (id or alias) that is not
   * known yet, this holds the reference as given until an identity with that id/alias is stored.
   */
  owner: string;
  /** The owner reference exactly as the source sent it (id, email, UPN, ...). */
  owner_ref: string;
  /** True once `owner` has been resolved to a stored identity id. */
  owner_resolved: boolean;
  enrolled: boolean;
  compliant: boolean;
  encrypted: boolean;
  platform?: string;
  os_version?: string;
  ownership: Ownership;
  attributes?: Record<string, unknown>;
}

/** What an exception applies to: listed app ids and/or every app up to a sensitivity. */
export interface ExceptionScope {
  apps?: string[];
  max_sensitivity?: Sensitivity;
}

/** A time-boxed waiver of device reasons, created by an approver (never standing). */
export interface Exception {
  id: string;
  /** Identity id (aliases are resolved on creation). */
  identity: string;
  /** Device-related reason codes it lifts. */
  waives: string[];
  scope: ExceptionScope;
  reason: string;
  approved_by: string;
  created_at: string;
  expires_at: string;
}

/** An open (or past) break-glass window for a `break_glass` identity. */
export interface BreakGlass {
  identity: string;
  opened_at: string;
  expires_at: string;
  minutes: number;
  reason: string;
  approved_by: string;
}

/** An app catalog entry (policy data). */
export interface App {
  id: string;
  sensitivity: Sensitivity;
  admin?: boolean;
  allow_service?: boolean;
  name?: string;
  version: number;
  updated_at: string;
}

/** Lifecycle event kinds a subscriber may ask for. */
export type SubscriptionEvent = 'revocation' | 'ready_for_activation' | 'drift';

/** A webhook subscriber (events are HMAC-SHA256 signed with `secret`). */
export interface Subscription {
  id: string;
  url: string;
  secret: string;
  events: SubscriptionEvent[];
  created_at: string;
}

/** Record kinds the store holds. */
export type RecordKind = 'identity' | 'device' | 'exception' | 'break_glass' | 'app' | 'subscription';

/** Record type per kind. */
export interface RecordOf {
  identity: Identity;
  device: Device;
  exception: Exception;
  break_glass: BreakGlass;
  app: App;
  subscription: Subscription;
}

/**
 * One write as seen by onChange listeners: `before` undefined = created, `after` undefined = deleted.
 * Emitted for every put/delete, including devices re-bound when their owner's identity arrives.
 */
export type ChangeEvent = {
  [K in RecordKind]: { kind: K; id: string; before?: RecordOf[K]; after?: RecordOf[K] };
}[RecordKind];

/** Device reason codes an exception may waive (decision-model §2, device-related only). */
export const WAIVABLE_REASONS = [
  'device_missing',
  'device_unknown',
  'device_not_owned_by_subject',
  'device_not_enrolled',
  'device_not_compliant',
  'device_not_encrypted',
  'device_state_stale',
  'device_ownership_not_allowed',
] as const;
