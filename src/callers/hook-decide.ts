// Token-time decisions for IdP hooks. The IdP knows the user by several names (its own user id, login,
// UPN, mail) and sends no device (protocols.md §6.3: "device posture must be joined from our cache by
// user"), so: find the first alias Tether knows, decide with that user's best device and, while only
// device reasons deny, try the user's other devices — all within one time budget.
import { decideWithin } from './budget';
import type { DecideFn, DecideRequest, Decision } from './types';
import type { KeyFetchHooks } from './jwt';

/**
 * The device ids owned by the identity an id or alias names, best candidates first; undefined when
 * Tether knows no identity by that name.
 */
export type OwnedDevicesFn = (idOrAlias: string) => string[] | undefined;

/** What the IdP hooks need: the decider and, to join device posture by user, the user's devices. */
export interface HookDeps {
  decide: DecideFn;
  ownedDevices?: OwnedDevicesFn;
  /** For the hooks' and proxy checks' JWT verifiers: failed JWKS fetches are logged, refreshes stop on shutdown. */
  keyFetch?: KeyFetchHooks;
}

/** Most devices tried per hook call (each is one policy evaluation). */
const MAX_DEVICES = 8;

const onlyDeviceReasons = (d: Decision) => d.reasons.length > 0 && d.reasons.every((r) => r.startsWith('device_'));

/**
 * Decides `action: token` for the first alias Tether knows. With `ownedDevices`, the common case is one
 * evaluation: the subject's best device first; only when that is denied for device reasons alone are the
 * other devices tried. The first device's deny is returned when none qualifies (it says more than
 * "device_missing"); a subject without devices is decided without one.
 */
export async function decideForAliases(
  decide: DecideFn,
  aliases: string[],
  base: Omit<DecideRequest, 'subject' | 'action' | 'device'>,
  budgetMs: number,
  ownedDevices?: OwnedDevicesFn,
): Promise<{ decision: Decision; subject: string; device?: string }> {
  const names = [...new Set(aliases.filter((a) => a.trim() !== ''))];
  if (names.length === 0) throw new Error('no alias to decide for');
  const deadline = Date.now() + budgetMs;
  const left = () => Math.max(1, deadline - Date.now());
  // One object shape per call, no conditional spreads (see proxy-check.ts).
  const ask = (subject: string, device?: string) =>
    decideWithin(decide, { action: 'token', subject, device, resource: base.resource, context: base.context }, left());

  let subject: string | undefined;
  let devices: string[] | undefined;
  if (ownedDevices) {
    for (const name of names) {
      devices = ownedDevices(name);
      if (devices !== undefined) { subject = name; break; }
    }
    // Nobody by any name: let the decider say so (identity_unknown, logged with a decision id).
    if (subject === undefined) return { decision: await ask(names[0]), subject: names[0] };
  } else {
    for (const name of names) {
      const decision = await ask(name);
      if (!decision.reasons.includes('identity_unknown') || name === names[names.length - 1]) return { decision, subject: name };
    }
  }
  const who = subject!;
  const candidates = (devices ?? []).slice(0, MAX_DEVICES);
  if (candidates.length === 0) return { decision: await ask(who), subject: who };
  let firstDeny: { decision: Decision; subject: string; device: string } | undefined;
  for (const device of candidates) {
    const decision = await ask(who, device);
    if (decision.allow) return { decision, subject: who, device };
    firstDeny ??= { decision, subject: who, device };
    if (!onlyDeviceReasons(decision)) break; // identity/app reasons: another device changes nothing
  }
  return firstDeny!;
}

/** Claim value saying how far the device side of the decision can be trusted. */
export function deviceTrust(d: Decision): 'trusted' | 'limited' | 'exception' | 'untrusted' {
  if (!d.allow) return 'untrusted';
  if (d.limited) return 'limited';
  if (d.exception) return 'exception';
  return 'trusted';
}
