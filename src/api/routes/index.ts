// The routers the app mounts and the background services serve() starts. Add yours with one line.
import type { Router } from 'express';
import type { AppContext } from '../context';
import type { DirectRoute } from '../direct/routes';
import type { WarmupRequest } from '../warmup';
import { healthRouter } from './health';
import { stateRouter } from './state';
import { adaptersRouteModule, adaptersServiceModule } from './adapters';
import { callersRouteModule } from './callers';
import { decideRoutes } from './decide';
import { DATA_API_PATH } from './data-api';
import { lifecycleRouter } from './lifecycle';
import { subscriptionsRouter } from './subscriptions';
import { decisionsServiceModule } from '../../lifecycle/module';
import { policiesServiceModule } from '../../engine/policy-service';
import { policiesRouter } from './policies';

/** What a module serves: an express router, and latency-critical routes served before express. */
export interface ModuleRoutes {
  router?: Router;
  direct?: DirectRoute[];
  /** Sample requests for serve()'s start-up warm-up (src/api/warmup.ts), e.g. one per direct route. */
  warmup?: WarmupRequest[];
}

/** A feature router. */
export interface RouteModule {
  name: string;
  /** Builds the router (paths absolute, e.g. '/v1/decide', unless `mount` is set) and any direct routes. */
  create(ctx: AppContext): Router | ModuleRoutes;
  mount?: string;
  /**
   * Absolute path prefixes whose request bodies the router reads itself (no JSON parsing, no 415),
   * e.g. NDJSON import or SCIM's application/scim+json if it wants its own parser.
   */
  rawBodyPaths?: string[];
}

/** A background component serve() starts before listening and stops on shutdown (in reverse order). */
export interface ServiceModule {
  name: string;
  /** Fills its ctx slot (engine, decider, outbox...) and sets readiness flags. */
  start(ctx: AppContext): void | Promise<void>;
  /** Flushes and stops (decision log, outbox...); runs after in-flight requests finished, before the store closes. */
  stop?(ctx: AppContext): void | Promise<void>;
}

/** Routers, mounted in this order. */
export const routeModules: RouteModule[] = [
  { name: 'health', create: healthRouter },
  { name: 'state', create: stateRouter, rawBodyPaths: ['/v1/state/import'] },
  adaptersRouteModule,
  callersRouteModule,
  { name: 'decide', create: decideRoutes, rawBodyPaths: [DATA_API_PATH] },
  { name: 'lifecycle', create: lifecycleRouter },
  { name: 'subscriptions', create: subscriptionsRouter },
  { name: 'policies', create: policiesRouter },
];

/** Background services, started in this order. */
export const serviceModules: ServiceModule[] = [policiesServiceModule, decisionsServiceModule, adaptersServiceModule];
