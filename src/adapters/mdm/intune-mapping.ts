/**
 * Intune `managedDevice` (Microsoft Graph) → Tether device: compliance vocabulary, string booleans
 * (jailBroken), ownership, the user join key, and lastSyncDateTime as the freshness the policy sees.
 */

/** The Graph fields we read (v1.0, plus beta's managementState when present). */
export interface ManagedDevice {
  id: string;
  azureADDeviceId?: string | null;
  userId?: string | null;
  userPrincipalName?: string | null;
  emailAddress?: string | null;
  deviceName?: string | null;
  serialNumber?: string | null;
  operatingSystem?: string | null;
  osVersion?: string | null;
  complianceState?: string | null;
  complianceGracePeriodExpirationDateTime?: string | null;
  isEncrypted?: boolean | null;
  jailBroken?: string | null;
  lastSyncDateTime?: string | null;
  managedDeviceOwnerType?: string | null;
  ownerType?: string | null;
  managementState?: string | null;
  deviceRegistrationState?: string | null;
  managementAgent?: string | null;
  partnerReportedThreatState?: string | null;
  [field: string]: unknown;
}

/** Fields of `$select` (keeps pages small). */
export const INTUNE_SELECT = [
  'id', 'azureADDeviceId', 'userId', 'userPrincipalName', 'emailAddress', 'deviceName', 'serialNumber', 'operatingSystem',
  'osVersion', 'complianceState', 'complianceGracePeriodExpirationDateTime', 'isEncrypted', 'jailBroken', 'lastSyncDateTime',
  'managedDeviceOwnerType', 'deviceRegistrationState', 'managementAgent', 'partnerReportedThreatState',
];

/** A mapped device, or why it was skipped. */
export type IntuneMapped =
  | { ok: true; id: string; record: Record<string, unknown>; aliases: string[] }
  | { ok: false; id: string; reason: string };

const PLATFORMS: Record<string, string> = { windows: 'windows', ios: 'ios', ipados: 'ios', macos: 'macos', 'mac os': 'macos', android: 'android', linux: 'linux' };
const THREATS_BAD = ['highSeverity', 'mediumSeverity', 'compromised', 'misconfigured'];

/** Options of the mapping. */
export interface IntuneMappingOptions {
  /** Treat `inGracePeriod` as compliant until its expiry (default true, as Intune itself does). */
  graceIsCompliant?: boolean;
}

/**
 * Maps one managedDevice. Compliant only when Intune says `compliant` (or in grace, if allowed),
 * the device is not jailbroken and no partner threat is reported; unknown ownership is treated
 * as BYOD (the most limited); a device with no user cannot be bound and is skipped.
 */
export function mapManagedDevice(d: ManagedDevice, nowMs: number, opts: IntuneMappingOptions = {}): IntuneMapped {
  if (typeof d.id !== 'string' || d.id === '') return { ok: false, id: String(d.id), reason: 'missing id' };
  const owner = d.userPrincipalName || d.emailAddress || d.userId;
  if (!owner) return { ok: false, id: d.id, reason: 'no user (userless or shared device)' };
  const state = (d.complianceState ?? 'unknown').toString();
  let compliant = state === 'compliant';
  if (state === 'inGracePeriod' && (opts.graceIsCompliant ?? true)) {
    const until = d.complianceGracePeriodExpirationDateTime ? Date.parse(d.complianceGracePeriodExpirationDateTime) : NaN;
    compliant = Number.isFinite(until) && until > nowMs;
  }
  const jailBroken = typeof d.jailBroken === 'string' ? d.jailBroken.toLowerCase() : '';
  if (jailBroken === 'true') compliant = false;
  if (d.partnerReportedThreatState && THREATS_BAD.includes(d.partnerReportedThreatState)) compliant = false;
  // managementState is beta-only; anything but `managed` (retire/wipe pending…) is not enrolled.
  const enrolled = d.managementState ? d.managementState === 'managed' : d.deviceRegistrationState !== 'revoked';
  const ownerType = (d.managedDeviceOwnerType ?? d.ownerType ?? 'unknown').toString().toLowerCase();
  const ownership = ownerType === 'company' ? 'corporate' : 'byod';
  const platformKey = (d.operatingSystem ?? '').toString().toLowerCase();
  const lastSync = d.lastSyncDateTime && Number.isFinite(Date.parse(d.lastSyncDateTime)) ? new Date(Date.parse(d.lastSyncDateTime)).toISOString() : new Date(0).toISOString();
  const record: Record<string, unknown> = {
    owner,
    enrolled,
    compliant,
    encrypted: d.isEncrypted === true,
    ownership,
    source: 'intune',
    observed_at: lastSync,
    attributes: {
      intune: {
        azureADDeviceId: d.azureADDeviceId ?? null,
        serialNumber: d.serialNumber ?? null,
        deviceName: d.deviceName ?? null,
        complianceState: state,
        jailBroken: d.jailBroken ?? null,
        managementAgent: d.managementAgent ?? null,
        managementState: d.managementState ?? null,
        partnerReportedThreatState: d.partnerReportedThreatState ?? null,
      },
    },
  };
  if (platformKey) record.platform = PLATFORMS[platformKey] ?? platformKey;
  if (d.osVersion) record.os_version = d.osVersion;
  const aliases = [d.azureADDeviceId, d.serialNumber].filter((a): a is string => typeof a === 'string' && a !== '' && a !== '00000000-0000-0000-0000-000000000000');
  return { ok: true, id: d.id, record, aliases };
}
