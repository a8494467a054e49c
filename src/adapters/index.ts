/**
 * Builds the configured sync adapters for one service context (from the environment), exposes them
 * as a registry, and plugs them into the app: routers, /health/ready handles, start/stop.
 */
import { Router } from 'express';
import { Gauge } from 'prom-client';
import fs from 'node:fs';
import type { AppContext, AdapterHandle, ComponentStatus } from '../api/context';
import { AdapterRegistry, type Adapter } from './adapter';
import { MDM_WEBHOOK_PATH, MdmWebhookAdapter, mdmWebhookConfigFromEnv } from './mdm/webhook';
import { IntuneAdapter, intuneConfigFromEnv } from './mdm/intune';
import { JAMF_WEBHOOK_PATH, JamfAdapter, jamfConfigFromEnv } from './mdm/jamf';
import { ScimAdapter, scimConfigFromEnv } from './scim/scim-adapter';
import { SSF_PUSH_PATH, SsfReceiver, ssfReceiverConfigFromEnv } from './ssf/receiver';
import { SsfTransmitter, ssfTransmitterConfigFromEnv } from './ssf/transmitter';
import type { RevocationLike } from './ssf/set-builder';
import { bearerToken, tokenMatches } from '../api/auth';
import { makeEvent } from '../lifecycle/outbox';
import { revocationTriggers } from '../lifecycle/triggers';
import { parseConfigJson } from '../config';

/** Mount point of the SCIM server. */
export const SCIM_MOUNT = '/scim/v2';

/** Path prefixes whose bodies adapter routers read themselves (their own parsers and error shapes). */
export const ADAPTER_RAW_BODY_PATHS = [SCIM_MOUNT, MDM_WEBHOOK_PATH, JAMF_WEBHOOK_PATH, SSF_PUSH_PATH];

/** The adapters of one context, each present when configured. */
export interface AdapterSet {
  registry: AdapterRegistry;
  scim?: ScimAdapter;
  mdmWebhook?: MdmWebhookAdapter;
  ssfReceiver?: SsfReceiver;
  intune?: IntuneAdapter;
  jamf?: JamfAdapter;
  ssfTransmitter: SsfTransmitter;
  /** Routers to mount (absolute paths). */
  router: Router;
  /** Ends the status watch startAdapters began (state changes logged). */
  stopWatch?: () => void;
}

const sets = new WeakMap<AppContext, AdapterSet>();

/** The adapters of `ctx`, built once from `env` on first use (by the router factory or the service start). */
export function adaptersFor(ctx: AppContext, rawEnv: NodeJS.ProcessEnv = process.env): AdapterSet {
  let set = sets.get(ctx);
  if (set) return set;
  const env = withConfigFile(rawEnv);
  const registry = new AdapterRegistry();
  const router = Router();
  // Failed SET deliveries count with the webhooks' (tether_outbox_delivery_failures_total: "webhook/SET"), as ssf:<stream>.
  const ssfTransmitter = new SsfTransmitter(ctx.store, {
    ...ssfTransmitterConfigFromEnv(env, ctx.config.dataDir, ctx.config.port),
    onDeliveryFailed: (stream) => ctx.metrics.outboxDeliveryFailed(`ssf:${stream}`),
  });
  set = { registry, router, ssfTransmitter };
  const scimCfg = scimConfigFromEnv(env);
  if (scimCfg) {
    // TETHER_BODY_LIMIT bounds the SCIM and MDM webhook bodies too (they defaulted to a fixed 1 MB whatever it said).
    set.scim = new ScimAdapter(ctx.store, { bodyLimit: String(ctx.config.bodyLimitBytes), onInternalError: internalError(ctx, 'scim'), ...scimCfg });
    registry.register(set.scim);
    router.use(SCIM_MOUNT, set.scim.router);
  }
  const mdmCfg = mdmWebhookConfigFromEnv(env);
  if (mdmCfg) {
    set.mdmWebhook = new MdmWebhookAdapter(ctx.store, { bodyLimit: String(ctx.config.bodyLimitBytes), ...mdmCfg });
    registry.register(set.mdmWebhook);
    router.use(set.mdmWebhook.router);
  }
  const intuneCfg = intuneConfigFromEnv(env);
  if (intuneCfg) {
    set.intune = new IntuneAdapter(ctx.store, intuneCfg);
    registry.register(set.intune);
  }
  const jamfCfg = jamfConfigFromEnv(env);
  if (jamfCfg) {
    set.jamf = new JamfAdapter(ctx.store, jamfCfg);
    registry.register(set.jamf);
    router.use(set.jamf.router);
  }
  const ssfCfg = ssfReceiverConfigFromEnv(env);
  if (ssfCfg) {
    set.ssfReceiver = new SsfReceiver(ctx.store, { onInternalError: internalError(ctx, 'ssf receiver'), ...ssfCfg });
    registry.register(set.ssfReceiver);
    router.use(set.ssfReceiver.router);
  }
  registry.register(ssfTransmitter);
  const mgmtToken = env.TETHER_SSF_MANAGEMENT_TOKEN;
  router.use(ssfTransmitter.router((req) => {
    const given = bearerToken(req);
    return tokenMatches(given, ctx.config.apiToken) || (!!mgmtToken && tokenMatches(given, mgmtToken));
  }));
  registerAdapterMetrics(ctx, registry, ssfTransmitter);
  sets.set(ctx, set);
  return set;
}

/**
 * Adapter settings from the environment, under the optional JSON file named by TETHER_ADAPTERS_CONFIG
 * (an object of the same TETHER_* names, e.g. {"TETHER_SCIM_TOKEN": "..."}; the environment wins).
 */
export function withConfigFile(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const file = env.TETHER_ADAPTERS_CONFIG;
  if (!file) return env;
  let parsed: unknown;
  try {
    parsed = parseConfigJson(fs.readFileSync(file, 'utf8'), file);
  } catch (err) {
    // Errno codes and parseConfigJson's position only: never the file's text (it holds secrets).
    const e = err as NodeJS.ErrnoException;
    throw new Error(`adapters_config_invalid: TETHER_ADAPTERS_CONFIG ${file}: ${e.code ? `cannot read it (${e.code})` : e.message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`adapters_config_invalid: ${file} must hold a JSON object`);
  const fromFile: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) fromFile[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return { ...fromFile, ...env };
}

// A request an adapter answered 500: the answer says "internal error", the log says what (message only:
// adapter errors carry store and parse failures, never credentials).
function internalError(ctx: AppContext, adapter: string): (err: unknown) => void {
  return (err) => ctx.logger.error('adapter request failed', { adapter, error: String((err as Error)?.message ?? err) });
}

/** An adapter as /health/ready sees it (state only). */
export function toAdapterHandle(adapter: Adapter): AdapterHandle {
  return { name: adapter.name, status: (): ComponentStatus => adapter.status().state };
}

/** Starts the adapters of `ctx` and registers them for readiness; stop() is registered as well. */
export async function startAdapters(ctx: AppContext, env: NodeJS.ProcessEnv = process.env): Promise<AdapterSet> {
  const set = adaptersFor(ctx, env);
  attachTransmitter(ctx, set.ssfTransmitter);
  await set.registry.startAll();
  // State changes of the adapters go to the log: OK → WARN/ERROR as a warning, back to OK as info.
  set.stopWatch = set.registry.watch((adapter, now, before) => {
    const fields = { adapter, state: now.state, message: now.message, previous_state: before?.state ?? null, last_success: now.last_success };
    if (now.state === 'WARN' || now.state === 'ERROR') ctx.logger.warn('adapter status changed', fields);
    else ctx.logger.info('adapter status changed', fields);
  });
  for (const info of set.registry.list()) {
    const adapter = set.registry.get(info.name)!;
    if (!ctx.adapters.some((h) => h.name === adapter.name)) ctx.adapters.push(toAdapterHandle(adapter));
  }
  return set;
}

/** Stops the adapters of `ctx` (pollers end, push endpoints report NOT_READY). */
export async function stopAdapters(ctx: AppContext): Promise<void> {
  const set = sets.get(ctx);
  set?.stopWatch?.();
  await set?.registry.stopAll();
}

type EventSource = { onEvent(l: (e: RevocationLike) => void): void };

function hasOnEvent(v: unknown): v is EventSource {
  return typeof v === 'object' && v !== null && typeof (v as EventSource).onEvent === 'function';
}

// Revocations reach the transmitter through the lifecycle outbox (ctx.lifecycle.outbox or ctx.outbox);
// without a lifecycle service, straight from the store's change feed with the same trigger rules.
function attachTransmitter(ctx: AppContext, tx: SsfTransmitter): void {
  const lifecycleOutbox = (ctx.lifecycle as { outbox?: unknown } | undefined)?.outbox;
  const source = hasOnEvent(lifecycleOutbox) ? lifecycleOutbox : hasOnEvent(ctx.outbox) ? ctx.outbox : undefined;
  tx.attach(source, () =>
    ctx.store.onChange((change) => {
      const now = Date.now();
      for (const t of revocationTriggers(change, now)) {
        const { identity, reasons, ...fields } = t;
        tx.onLifecycleEvent(makeEvent('revocation', identity, reasons, fields, new Date(now)) as RevocationLike);
      }
    }),
  );
}

const STATES = ['NOT_READY', 'OK', 'WARN', 'ERROR'] as const;

// Adapter health in /metrics: one 0/1 series per (adapter, state), the age of the last successful
// sync, and the SET queue depth; read at scrape time from the registry.
function registerAdapterMetrics(ctx: AppContext, registry: AdapterRegistry, tx: SsfTransmitter): void {
  const registers = [ctx.metrics.registry];
  if (ctx.metrics.registry.getSingleMetric('tether_adapter_status')) return;
  new Gauge({
    name: 'tether_adapter_status',
    help: 'Sync adapter status (1 for the current state of each adapter)',
    labelNames: ['adapter', 'state'],
    registers,
    collect() {
      this.reset();
      for (const a of registry.list()) for (const s of STATES) this.set({ adapter: a.name, state: s }, a.state === s ? 1 : 0);
    },
  });
  new Gauge({
    name: 'tether_adapter_last_success_age_seconds',
    help: 'Seconds since each sync adapter last synced successfully (absent before the first success)',
    labelNames: ['adapter'],
    registers,
    collect() {
      this.reset();
      const now = Date.now();
      for (const a of registry.list()) if (a.last_success) this.set({ adapter: a.name }, (now - Date.parse(a.last_success)) / 1000);
    },
  });
  new Gauge({
    name: 'tether_ssf_outbox_depth',
    help: 'Security Event Tokens waiting for delivery to SSF receivers',
    registers,
    collect() {
      try {
        this.set(tx.depth());
      } catch {
        // store closed
      }
    },
  });
}
