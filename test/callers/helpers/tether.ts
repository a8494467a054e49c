// Starts the real Tether service (serve(): SQLite store, compiled shipped policies, decider, all routers)
// on 127.0.0.1:0 with a generated callers configuration, and seeds identities and devices through the
// real store. Used by every test under test/callers that needs decisions.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../../src/api/context';
import { serveTemp, type TempServer } from '../../helpers/serve-temp';

/** A running Tether plus its temp dir. */
export type TetherHandle = TempServer;

/** Starts Tether with `callers` as the callers configuration file (TETHER_CALLERS_CONFIG); `logger` captures its log. */
export function startTether(callers: Record<string, unknown>, extraEnv: Record<string, string> = {}, opts: { logger?: Logger } = {}): Promise<TetherHandle> {
  return serveTemp({
    prefix: 'tether-callers-',
    env: extraEnv,
    logger: opts.logger,
    // The callers router reads its file at start, like the other TETHER_* variables.
    processEnv: (dir) => {
      const cfgFile = path.join(dir, 'callers.json');
      fs.writeFileSync(cfgFile, JSON.stringify(callers));
      return { TETHER_CALLERS_CONFIG: cfgFile };
    },
  });
}

const now = () => new Date().toISOString();
const longAgo = '2024-01-01T00:00:00Z';

/**
 * The people every callers test uses:
 * - alice: active, compliant encrypted corporate Mac `mac-alice` (aliases: email, Okta id, Entra object id)
 * - bob: active, his only device `pc-bob` is enrolled but NOT compliant
 * - carol: suspended (inactive) though her device is fine
 * - dave: active employee with no device at all
 */
export function seedPeople(t: TetherHandle): void {
  const store = t.server.ctx.store;
  store.putIdentity('alice', {
    status: 'active', type: 'employee', risk_tier: 'standard', proofed: true, activated_at: longAgo,
    aliases: ['alice@example.com', '00uq8tMo3zV0OfJON0g3', '90847c2a-e29d-4d2f-9f54-c5b4d3f26471', 'alice@contoso.com'],
  });
  store.putDevice('mac-alice', { owner: 'alice', enrolled: true, compliant: true, encrypted: true, ownership: 'corporate', platform: 'macos', observed_at: now() });
  store.putIdentity('bob', {
    status: 'active', type: 'employee', risk_tier: 'standard', proofed: true, activated_at: longAgo,
    aliases: ['bob@example.com', '00ubobOKTAid000000001', 'bob@contoso.com'],
  });
  store.putDevice('pc-bob', { owner: 'bob', enrolled: true, compliant: false, encrypted: true, ownership: 'corporate', platform: 'windows', observed_at: now() });
  store.putIdentity('carol', {
    status: 'suspended', type: 'employee', risk_tier: 'standard', proofed: true, activated_at: longAgo,
    aliases: ['carol@example.com', '00ucarolOKTAid0000001', 'carol@contoso.com'],
  });
  store.putDevice('mac-carol', { owner: 'carol', enrolled: true, compliant: true, encrypted: true, ownership: 'corporate', observed_at: now() });
  store.putIdentity('dave', {
    status: 'active', type: 'employee', risk_tier: 'standard', proofed: true, activated_at: longAgo,
    aliases: ['dave@example.com'],
  });
}
