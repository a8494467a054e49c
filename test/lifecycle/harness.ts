// A store, a decider and a lifecycle service wired as the decisions module wires them (policy data from
// the engine source), for the lifecycle tests.
import { Decider, type EngineSource } from '../../src/engine/decider';
import { LifecycleService, type LifecycleServiceOptions } from '../../src/lifecycle/service';
import { openSqliteStore } from '../../src/state/store';

export type LifecycleHarnessOptions = Omit<LifecycleServiceOptions, 'store' | 'engine' | 'policyData' | 'now'> & {
  /** Database file (default ':memory:'). */
  file?: string;
  /** Clock of the store, decider and service (default: real time). */
  now?: () => number;
};

export function openLifecycle(engines: EngineSource, { file = ':memory:', now, ...opts }: LifecycleHarnessOptions = {}) {
  const store = openSqliteStore({ path: file, ...(now && { now: () => new Date(now()) }) });
  let lifecycle: LifecycleService | undefined;
  const decider = new Decider({ store, engines, ...(now && { now }), statusSince: (id) => lifecycle?.statusSince(id) });
  lifecycle = new LifecycleService({ store, engine: () => decider.engine(), policyData: () => engines.baseData(), ...(now && { now }), ...opts });
  const l = lifecycle;
  return {
    store,
    lifecycle: l,
    async close() {
      await l.stop();
      decider.close();
      store.close();
    },
  };
}
