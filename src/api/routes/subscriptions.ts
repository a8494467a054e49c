// Subscription routes: POST /v1/subscriptions {url, secret, events} → 201, GET /v1/subscriptions,
// GET/DELETE /v1/subscriptions/{id}. Secrets are write-only: never answered, never logged.
import { Router } from 'express';
import type { LifecycleService } from '../../lifecycle/service';
import type { Subscription } from '../../state/types';
import type { AppContext } from '../context';
import { requireApiToken } from '../auth';
import { ApiError } from '../errors';

/** A subscription as answered (without its secret). */
export function publicSubscription(s: Subscription): Omit<Subscription, 'secret'> {
  const { secret, ...rest } = s;
  void secret;
  return rest;
}

/** Builds the subscriptions router (API token). */
export function subscriptionsRouter(ctx: AppContext): Router {
  const router = Router();
  const auth = requireApiToken(ctx);

  router.post('/v1/subscriptions', auth, (req, res) => {
    const { record, created } = ctx.store.putSubscription(req.body);
    res.status(created ? 201 : 200).json(publicSubscription(record));
  });

  router.get('/v1/subscriptions', auth, (_req, res) => {
    res.json({ subscriptions: ctx.store.listSubscriptions().map(publicSubscription) });
  });

  router.get('/v1/subscriptions/:id', auth, (req, res) => {
    const s = ctx.store.getSubscription(String(req.params.id));
    if (!s) throw new ApiError('not_found', `subscription ${req.params.id} not found`);
    res.json(publicSubscription(s));
  });

  router.delete('/v1/subscriptions/:id', auth, (req, res) => {
    const id = String(req.params.id);
    const s = ctx.store.deleteSubscription(id);
    if (!s) throw new ApiError('not_found', `subscription ${id} not found`);
    (ctx.lifecycle as LifecycleService | undefined)?.outbox?.forgetSubscription(id);
    res.status(204).end();
  });
  return router;
}
