// A stored app replaces the shipped entry of the same id in data.apps (policies/README choice 15), so
// app revocation triggers compare the effective app on each side of the write: the stored record, else
// the shipped entry. Storing over a shipped entry is judged against it; deleting a stored app that
// overrode one reverts to it, a revocation only if the shipped entry is stricter (never app_deleted).
import { LifecycleService } from '../../src/lifecycle/service';
import { openSqliteStore, type StateStore } from '../../src/state/store';
import { shippedData } from '../policies/shipped-policies';

const T0 = Date.parse('2026-03-01T12:00:00Z');
let store: StateStore;
let lifecycle: LifecycleService;

type Ev = { type: string; identity: string | null; reason: string; reasons: string[]; record: unknown; app: string };
const revocations = () =>
  (store.db.prepare('SELECT body FROM lifecycle_outbox ORDER BY seq').all() as Array<{ body: string }>)
    .map((r) => JSON.parse(r.body) as Ev)
    .filter((e) => e.type === 'revocation')
    .map((e) => ({ identity: e.identity, app: e.app, record: e.record, reasons: e.reasons }));
const revocation = (app: string, reasons: string[]) => ({ identity: null, app, record: { kind: 'app', id: app }, reasons });

beforeEach(() => {
  store = openSqliteStore({ path: ':memory:', now: () => new Date(T0) });
  // The shipped catalog: wiki low, email moderate, payroll high, admin-console moderate + admin, ci moderate + allow_service.
  // No engine: app triggers do not depend on the policies' code, only on their data.
  lifecycle = new LifecycleService({ store, engine: () => undefined, policyData: () => shippedData(), now: () => T0 });
  store.putSubscription({ id: 'sub-r', url: 'http://127.0.0.1:9/hook', secret: '0123456789abcdef', events: ['revocation'] });
});
afterEach(async () => {
  await lifecycle.stop();
  store.close();
});

test('storing over a shipped entry is judged against it: stricter is a revocation, looser is not', () => {
  store.putApp('wiki', { sensitivity: 'moderate' }); // low → moderate
  store.putApp('ci', { sensitivity: 'moderate' }); // loses allow_service
  store.putApp('email', { sensitivity: 'low', admin: true }); // admin counts as high
  store.putApp('payroll', { sensitivity: 'low' }); // looser
  store.putApp('admin-console', { sensitivity: 'high' }); // admin (high) → high: the same
  expect(revocations()).toEqual([
    revocation('wiki', ['app_sensitivity_raised']),
    revocation('ci', ['app_service_disallowed']),
    revocation('email', ['app_sensitivity_raised']),
  ]);
});

test('deleting a stored app that overrode a stricter shipped entry: the shipped one applies again, a revocation (not app_deleted)', () => {
  store.putApp('payroll', { sensitivity: 'low' });
  store.putApp('ci', { sensitivity: 'low', allow_service: true });
  store.putApp('wiki', { sensitivity: 'low', allow_service: true });
  store.putApp('admin-console', { sensitivity: 'moderate' });
  store.putApp('crm', { sensitivity: 'low' }); // no shipped entry
  expect(revocations()).toEqual([]); // all looser than (or new to) the shipped catalog

  store.deleteApp('payroll'); // low → shipped high
  store.deleteApp('ci'); // low → shipped moderate (allow_service kept)
  store.deleteApp('wiki'); // low + allow_service → shipped low without it
  store.deleteApp('admin-console'); // moderate → shipped admin (high)
  store.deleteApp('crm'); // nothing left: app_deleted
  expect(revocations()).toEqual([
    revocation('payroll', ['app_sensitivity_raised']),
    revocation('ci', ['app_sensitivity_raised']),
    revocation('wiki', ['app_service_disallowed']),
    revocation('admin-console', ['app_sensitivity_raised']),
    revocation('crm', ['app_deleted']),
  ]);
});

test('deleting a stored app that overrode a looser (or equal) shipped entry removes no access: no event', () => {
  store.putApp('wiki', { sensitivity: 'high' });
  store.putApp('ci', { sensitivity: 'moderate', allow_service: true, name: 'CI' }); // same terms as shipped
  expect(revocations()).toEqual([revocation('wiki', ['app_sensitivity_raised'])]);
  store.deleteApp('wiki'); // high → shipped low
  store.deleteApp('ci');
  expect(revocations()).toEqual([revocation('wiki', ['app_sensitivity_raised'])]);
});
