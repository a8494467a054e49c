// Outgoing device-compliance-change carries the device's real previous_status: its compliance before
// the change, which the revocation trigger carries (device_was_compliant).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStore, type StateStore } from '../../../src/state/store';
import { revocationTriggers } from '../../../src/lifecycle/triggers';
import { SsfTransmitter } from '../../../src/adapters/ssf/transmitter';
import type { RevocationLike } from '../../../src/adapters/ssf/set-builder';

const DCC = 'https://schemas.openid.net/secevent/caep/event-type/device-compliance-change';
let store: StateStore;
let dataDir: string;

beforeEach(() => {
  store = openSqliteStore({ path: ':memory:' });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-prev-'));
});
afterEach(() => {
  store.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

let n = 0;
function forward(tx: () => SsfTransmitter) {
  return store.onChange((change) => {
    for (const t of revocationTriggers(change, Date.now())) {
      const { identity, reasons, ...fields } = t;
      tx().onLifecycleEvent({ id: `ev-${++n}`, type: 'revocation', time: new Date().toISOString(), identity, reasons, ...fields } as RevocationLike);
    }
  });
}
function transmitter(): SsfTransmitter {
  return new SsfTransmitter(store, { issuer: 'https://tether.example.com', dataDir, receivers: [{ endpoint_url: 'http://127.0.0.1:9/caep' }] });
}
function sentStatuses(): Array<[string, string]> {
  const rows = store.db.prepare('SELECT claims FROM ssf_outbox ORDER BY seq').all() as { claims: string }[];
  return rows.map((r) => {
    const e = (JSON.parse(r.claims) as { events: Record<string, { previous_status: string; current_status: string }> }).events[DCC];
    return [e.previous_status, e.current_status];
  });
}
function scenario(): void {
  store.putIdentity('alice', { status: 'active' });
  store.putDevice('good', { owner: 'alice', enrolled: true, compliant: true, encrypted: true, ownership: 'corporate' });
  store.putDevice('bad', { owner: 'alice', enrolled: true, compliant: false, encrypted: true, ownership: 'corporate' });
  store.putDevice('good', { owner: 'alice', enrolled: true, compliant: false, encrypted: true, ownership: 'corporate' }); // device_not_compliant
  store.putDevice('bad', { owner: 'alice', enrolled: false, compliant: false, encrypted: true, ownership: 'corporate' }); // device_not_enrolled
  store.putDevice('bad2', { owner: 'alice', enrolled: true, compliant: false, encrypted: true, ownership: 'corporate' });
  store.deleteDevice('bad2'); // device_deleted
  store.putDevice('good2', { owner: 'alice', enrolled: true, compliant: true, encrypted: true, ownership: 'corporate' });
  store.putDevice('good2', { owner: 'alice', enrolled: true, compliant: true, encrypted: true, ownership: 'byod' }); // ownership changed, still compliant
}
const expected = [
  ['compliant', 'not-compliant'],
  ['not-compliant', 'not-compliant'],
  ['not-compliant', 'not-compliant'],
  ['compliant', 'not-compliant'],
];

test('previous_status is the compliance the device had before the change that revoked', () => {
  const tx = transmitter();
  forward(() => tx);
  scenario();
  expect(sentStatuses()).toEqual(expected);
});
