/**
 * Jamf Pro → Tether devices. Webhooks are thin and carry no posture, so devices are mapped from
 * the Jamf Pro API records (computers-inventory[-detail], v2 mobile device detail). Compliance is
 * membership in a configured smart group, or by default managed + encrypted + SIP/Gatekeeper on.
 */

/** Options of the mapping. */
export interface JamfMappingOptions {
  /** Smart group whose members are compliant (unset: the default rule). */
  compliantGroup?: string;
  /** Ownership for Jamf devices that state none (default corporate). */
  defaultOwnership?: 'corporate' | 'byod' | 'contractor';
}

/** A mapped device or why it was skipped. */
export type JamfMapped = { ok: true; id: string; record: Record<string, unknown>; aliases: string[] } | { ok: false; id: string; reason: string };

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);

/** Jamf epoch fields: milliseconds (13 digits) or, in some samples, seconds (10 digits). */
export function jamfEpochToIso(v: unknown): string | undefined {
  if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
  return new Date(v < 1e11 ? v * 1000 : v).toISOString();
}

function isoOrUndefined(v: unknown): string | undefined {
  if (typeof v === 'number') return jamfEpochToIso(v);
  return typeof v === 'string' && Number.isFinite(Date.parse(v)) ? new Date(Date.parse(v)).toISOString() : undefined;
}

/** Tether id of a Jamf device: its UDID (stable across Jamf and Apple), else jamf:<kind>:<id>. */
export function jamfDeviceId(udid: string | undefined, kind: 'computer' | 'mobile', jamfId: string | undefined): string | undefined {
  if (udid) return udid;
  return jamfId ? `jamf:${kind}:${jamfId}` : undefined;
}

function inGroup(groups: unknown, name: string): boolean {
  return Array.isArray(groups) && groups.some((g) => {
    const o = obj(g);
    return o.groupName === name || o.name === name;
  });
}

/** Maps a computer from /api/v1/computers-inventory(-detail). */
export function mapJamfComputer(c: Obj, opts: JamfMappingOptions = {}): JamfMapped {
  const general = obj(c.general);
  const os = obj(c.operatingSystem);
  const security = obj(c.security);
  const user = obj(c.userAndLocation);
  const hardware = obj(c.hardware);
  const disk = obj(c.diskEncryption);
  const jamfId = str(c.id);
  const id = jamfDeviceId(str(c.udid), 'computer', jamfId);
  if (!id) return { ok: false, id: String(c.id), reason: 'missing id' };
  const owner = str(user.email) ?? str(user.username);
  if (!owner) return { ok: false, id, reason: 'no user assigned in Jamf' };
  const managed = obj(general.remoteManagement).managed === true;
  const fv = str(os.fileVault2Status);
  const boot = str(obj(disk.bootPartitionEncryptionDetails).partitionFileVault2State);
  const encrypted = fv === 'ALL_ENCRYPTED' || fv === 'BOOT_ENCRYPTED' || boot === 'ENCRYPTED';
  const sipOn = security.sipStatus === undefined || security.sipStatus === 'ENABLED';
  const gatekeeperOn = security.gatekeeperStatus === undefined || security.gatekeeperStatus !== 'DISABLED';
  const compliant = opts.compliantGroup ? managed && inGroup(c.groupMemberships, opts.compliantGroup) : managed && encrypted && sipOn && gatekeeperOn;
  const seen = isoOrUndefined(general.lastContactTime) ?? isoOrUndefined(general.reportDate) ?? new Date(0).toISOString();
  const record: Obj = {
    owner,
    enrolled: managed,
    compliant,
    encrypted,
    ownership: opts.defaultOwnership ?? 'corporate',
    platform: 'macos',
    source: 'jamf',
    observed_at: seen,
    attributes: { jamf: { id: jamfId ?? null, kind: 'computer', name: str(general.name) ?? null, serialNumber: str(hardware.serialNumber) ?? null, fileVault2Status: fv ?? null, sipStatus: security.sipStatus ?? null, gatekeeperStatus: security.gatekeeperStatus ?? null } },
  };
  if (str(os.version)) record.os_version = str(os.version);
  return { ok: true, id, record, aliases: [jamfId ? `jamf:computer:${jamfId}` : undefined, str(hardware.serialNumber), str(c.udid)].filter((a): a is string => !!a) };
}

/** Maps a mobile device from /api/v2/mobile-devices/{id}/detail. */
export function mapJamfMobile(m: Obj, opts: JamfMappingOptions = {}): JamfMapped {
  const jamfId = str(m.id);
  const id = jamfDeviceId(str(m.udid), 'mobile', jamfId);
  if (!id) return { ok: false, id: String(m.id), reason: 'missing id' };
  const location = obj(m.location);
  const owner = str(location.emailAddress) ?? str(location.username);
  if (!owner) return { ok: false, id, reason: 'no user assigned in Jamf' };
  const platformBlock = obj(m.ios ?? m.tvos ?? m.android);
  const sec = obj(platformBlock.security);
  const managed = m.managed === true;
  const encrypted = sec.dataProtected === true;
  const jailbroken = sec.jailBreakDetected === true;
  const passcodeOk = sec.passcodeCompliant === undefined ? sec.passcodePresent !== false : sec.passcodeCompliant === true;
  const compliant = opts.compliantGroup ? managed && !jailbroken && inGroup(m.groups, opts.compliantGroup) : managed && encrypted && passcodeOk && !jailbroken;
  const level = str(m.deviceOwnershipLevel)?.toLowerCase();
  const ownership = level === 'personal' || level === 'userenrollment' ? 'byod' : (opts.defaultOwnership ?? 'corporate');
  const record: Obj = {
    owner,
    enrolled: managed,
    compliant,
    encrypted,
    ownership,
    platform: (str(m.type) ?? 'ios').toLowerCase(),
    source: 'jamf',
    observed_at: isoOrUndefined(m.lastInventoryUpdateTimestamp) ?? isoOrUndefined(m.lastInventoryUpdateDate) ?? new Date(0).toISOString(),
    attributes: { jamf: { id: jamfId ?? null, kind: 'mobile', name: str(m.name) ?? null, serialNumber: str(m.serialNumber) ?? null, jailBreakDetected: jailbroken } },
  };
  if (str(m.osVersion)) record.os_version = str(m.osVersion);
  return { ok: true, id, record, aliases: [jamfId ? `jamf:mobile:${jamfId}` : undefined, str(m.serialNumber), str(m.udid)].filter((a): a is string => !!a) };
}

/** What a Jamf webhook asks for. */
export type JamfWebhookAction =
  | { kind: 'refresh'; device: 'computer' | 'mobile'; jamfIds: string[] }
  | { kind: 'unenroll'; device: 'mobile'; jamfId?: string; udid?: string; at?: string }
  | { kind: 'ignore'; event: string };

const COMPUTER_EVENTS = ['ComputerAdded', 'ComputerInventoryCompleted', 'ComputerPushCapabilityChanged', 'ComputerCheckIn', 'ComputerPolicyFinished', 'ComputerPatchPolicyCompleted'];
const MOBILE_EVENTS = ['MobileDeviceEnrolled', 'MobileDeviceCheckIn', 'MobileDeviceInventoryCompleted', 'MobileDeviceCommandCompleted', 'MobileDevicePushSent'];

/**
 * Reads a Jamf webhook body ({webhook: {webhookEvent}, event: {...}}) into an action. Throws a
 * message naming the field for bodies that are not Jamf webhooks.
 */
export function parseJamfWebhook(body: unknown): JamfWebhookAction {
  const b = obj(body);
  const webhook = obj(b.webhook);
  const name = webhook.webhookEvent;
  if (typeof name !== 'string' || name === '') throw new Error('/webhook/webhookEvent is required');
  if (typeof b.event !== 'object' || b.event === null) throw new Error('/event is required');
  const e = obj(b.event);
  // Check-in nests the computer; inventory events are flat (protocols.md §9.5 gotcha 4).
  const flat = Object.keys(obj(e.computer)).length ? obj(e.computer) : e;
  const jssId = str(flat.jssID ?? flat.jssid);
  if (COMPUTER_EVENTS.includes(name)) {
    if (!jssId) throw new Error('/event/jssID is required');
    return { kind: 'refresh', device: 'computer', jamfIds: [jssId] };
  }
  if (MOBILE_EVENTS.includes(name)) {
    if (!jssId) throw new Error('/event/jssID is required');
    return { kind: 'refresh', device: 'mobile', jamfIds: [jssId] };
  }
  if (name === 'MobileDeviceUnEnrolled') {
    if (!jssId && !str(e.udid)) throw new Error('/event/jssID or /event/udid is required');
    return { kind: 'unenroll', device: 'mobile', jamfId: jssId, udid: str(e.udid), at: jamfEpochToIso(webhook.eventTimestamp) };
  }
  if (name === 'SmartGroupComputerMembershipChange' || name === 'SmartGroupMobileDeviceMembershipChange') {
    const ids = [...(Array.isArray(e.groupAddedDevicesIds) ? e.groupAddedDevicesIds : []), ...(Array.isArray(e.groupRemovedDevicesIds) ? e.groupRemovedDevicesIds : [])].map(String);
    return { kind: 'refresh', device: name.startsWith('SmartGroupComputer') ? 'computer' : 'mobile', jamfIds: ids };
  }
  return { kind: 'ignore', event: name };
}
