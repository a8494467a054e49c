/** The SCIM server as an adapter unit: enabled by TETHER_SCIM_TOKEN, healthy while it can serve. */
import type { Router } from 'express';
import type { StateStore } from '../../state/store';
import { FreshnessTracker, type Adapter, type AdapterStatus } from '../adapter';
import { scimRouter } from './router';
import { ScimService } from './service';

/** SCIM configuration (from the environment or a config file). */
export interface ScimConfig {
  token: string;
  /** Attribute path holding the identity type (default `userType`). */
  typeAttribute?: string;
  /** Attribute path holding the risk tier (unset: not mapped). */
  riskTierAttribute?: string;
  /** Public base URL of /scim/v2 for meta.location. */
  baseUrl?: string;
  /** Silence (ms) after which the source is flagged stale; unset = push source without deadline. */
  maxSilenceMs?: number;
  /** Hears of requests answered 500 (the server logs them). */
  onInternalError?: (err: unknown) => void;
  /** Largest accepted request body, a size such as '1mb' or '65536' (bytes); default 1 MB. */
  bodyLimit?: string;
}

/** Reads SCIM configuration from the environment; undefined (adapter off) without TETHER_SCIM_TOKEN. */
export function scimConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ScimConfig | undefined {
  const token = env.TETHER_SCIM_TOKEN;
  if (!token) return undefined;
  const silence = Number(env.TETHER_SCIM_MAX_SILENCE_SECONDS ?? '');
  return {
    token,
    typeAttribute: env.TETHER_SCIM_TYPE_ATTRIBUTE || undefined,
    riskTierAttribute: env.TETHER_SCIM_RISK_TIER_ATTRIBUTE || undefined,
    baseUrl: env.TETHER_SCIM_BASE_URL || undefined,
    maxSilenceMs: Number.isFinite(silence) && silence > 0 ? silence * 1000 : undefined,
  };
}

/** The SCIM adapter: owns the service and its router (mount at /scim/v2). */
export class ScimAdapter implements Adapter {
  readonly name = 'scim';
  readonly service: ScimService;
  readonly router: Router;
  private readonly tracker: FreshnessTracker;

  constructor(store: StateStore, cfg: ScimConfig, now?: () => number) {
    this.tracker = new FreshnessTracker('scim', { intervalMs: cfg.maxSilenceMs, now });
    this.service = new ScimService(store, {
      typeAttribute: cfg.typeAttribute,
      riskTierAttribute: cfg.riskTierAttribute,
      onWrite: () => this.tracker.success(),
    });
    this.router = scimRouter(this.service, { token: cfg.token, baseUrl: cfg.baseUrl, bodyLimit: cfg.bodyLimit, onInternalError: cfg.onInternalError });
  }

  async start(): Promise<void> {
    this.tracker.markStarted();
  }

  async stop(): Promise<void> {
    this.tracker.markStopped();
  }

  status(): AdapterStatus {
    return this.tracker.status();
  }
}
