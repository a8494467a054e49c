// Lifecycle routes: GET /v1/lifecycle/drift (identities in drift states with since-when) and
// GET /v1/lifecycle/{identity} (state derived live by the policies, devices, since-when).
import { Router } from 'express';
import type { LifecycleService } from '../../lifecycle/service';
import type { AppContext } from '../context';
import { requireApiToken } from '../auth';
import { ApiError } from '../errors';

function lifecycleOf(ctx: AppContext): LifecycleService {
  const l = ctx.lifecycle as LifecycleService | undefined;
  if (!l || !l.tracker) throw new ApiError('not_ready', 'the lifecycle service is starting');
  return l;
}

/** Builds the lifecycle router (admin reads: API token). */
export function lifecycleRouter(ctx: AppContext): Router {
  const router = Router();
  const auth = requireApiToken(ctx);

  router.get('/v1/lifecycle/drift', auth, (_req, res) => {
    const items = lifecycleOf(ctx).tracker.drift();
    res.json({ identities: items, count: items.length });
  });

  router.get('/v1/lifecycle/:identity', auth, (req, res) => {
    const l = lifecycleOf(ctx);
    const id = String(req.params.identity);
    if (!ctx.store.getIdentity(id)) throw new ApiError('not_found', `identity ${id} not found`);
    const view = l.tracker.refresh(id);
    if (!view) throw new ApiError('not_ready', 'no policy is loaded yet');
    res.json(view);
  });
  return router;
}
