// GET /v1/policies (loaded modules, revision, last reload result) and POST /v1/policies/reload
// (recompile now; 422 policy_compile_failed with the diagnostics when the policies do not compile,
// the previous policies keep serving). Both need the API token: they reveal the policy source set.
import { relative } from 'node:path';
import { Router } from 'express';
import type { AppContext } from '../context';
import { requireApiToken } from '../auth';
import { ApiError } from '../errors';
import type { PolicyService } from '../../engine/policy-service';

function service(ctx: AppContext): PolicyService {
  const s = ctx.engine as PolicyService | undefined;
  if (!s || typeof s.modules !== 'function') throw new ApiError('not_ready', 'policies are not loaded yet');
  return s;
}

function describe(s: PolicyService) {
  return {
    revision: s.revision,
    dir: s.dir,
    modules: s.modules().map((f) => relative(s.dir, f) || f),
    last_reload: s.lastReload ?? null,
  };
}

/** The policies router. */
export function policiesRouter(ctx: AppContext): Router {
  const r = Router();
  const auth = requireApiToken(ctx);
  r.get('/v1/policies', auth, (_req, res) => {
    res.json(describe(service(ctx)));
  });
  r.post('/v1/policies/reload', auth, async (_req, res, next) => {
    try {
      const s = service(ctx);
      const result = await s.reload();
      if (!result.ok) {
        const diags = (result.error?.details as Array<{ file: string; row: number; col: number; code: string; message: string }> | undefined) ?? [];
        // No diagnostics (no policy files, a compile over its time limit): the error itself is the one entry.
        const errors = diags.length
          ? diags.map((d) => ({ path: `${relative(s.dir, d.file) || d.file}:${d.row}:${d.col}`, message: `${d.code}: ${d.message}` }))
          : [{ path: s.dir, message: result.error?.message ?? 'unknown error' }];
        throw new ApiError('policy_compile_failed', 'policies failed to compile; the previous policies keep serving', errors);
      }
      res.json(describe(s));
    } catch (e) {
      next(e);
    }
  });
  return r;
}
