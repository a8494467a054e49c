// Starts the real Tether service (serve(): SQLite store, compiled shipped policies, decider,
// lifecycle, adapters) on 127.0.0.1:0 with adapter settings in the environment, for e2e tests.
import { serveTemp, type TempServer } from '../../helpers/serve-temp';
import { shippedData, shippedEngine } from '../../policies/shipped-policies';

/** A running service. */
export type Served = TempServer;

/**
 * Starts Tether; `adapterEnv` (TETHER_SCIM_TOKEN, ...) is visible to the adapters while they start.
 * `decisions: true` makes sure a policy engine serves /v1/decide.
 */
export async function serveWithAdapters(adapterEnv: Record<string, string>, opts: { decisions?: boolean } = {}): Promise<Served> {
  const t = await serveTemp({ prefix: 'tether-adapters-e2e-', processEnv: () => adapterEnv });
  // Until serve() loads policies itself, give the decider the shipped policies compiled by our compiler.
  if (opts.decisions && !t.server.ctx.engine) {
    try {
      const engine = await shippedEngine();
      (t.server.ctx as { engine?: unknown }).engine = { current: () => engine, baseData: () => shippedData() };
    } catch (err) {
      await t.stop();
      throw err;
    }
  }
  return t;
}
