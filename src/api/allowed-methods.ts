// The methods a path takes, for the Allow header of a 405: read from the express routers themselves
// (router 2.x layers), so it cannot drift from the routes as a hand-kept table would.

const REFUSES_METHOD = Symbol('tether.refusesMethod');

/**
 * Marks a route handler that always refuses its method with 405 (HEAD on the OPA Data API, as OPA
 * answers): allowedMethods leaves that method out, and does not infer HEAD from GET where HEAD is refused.
 */
export function refusesMethod<F extends (...args: never[]) => unknown>(handler: F): F {
  return Object.assign(handler, { [REFUSES_METHOD]: true });
}

interface RouteLike {
  methods: Record<string, boolean | undefined>;
  stack: Array<{ method?: string; handle: unknown }>;
}
interface LayerLike {
  route?: RouteLike;
  handle: unknown;
  path?: string;
  match(path: string): unknown;
}
/** An express router as allowedMethods walks it (express 5's `app.router`, or any `Router()`). */
export interface RouterLike {
  stack: unknown[];
}

const isRouter = (h: unknown): h is RouterLike => typeof h === 'function' && Array.isArray((h as { stack?: unknown }).stack);

// The part of `path` a layer matched ('' for a use() without a path), or undefined if it does not match.
// router 2.3 returns the match; earlier 2.x returned a boolean and kept it on the layer.
function matched(layer: LayerLike, path: string): string | undefined {
  let m: unknown;
  try {
    m = layer.match(path);
  } catch {
    return undefined; // a parameter that does not decode: express answers that itself
  }
  if (!m) return undefined;
  return typeof m === 'object' ? String((m as { path?: string }).path ?? '') : String(layer.path ?? '');
}

// Adds the methods of every route matching `path` in `router` and the routers mounted in it, as express
// would dispatch them (a mounted router sees the path below its mount). False when a route takes any method.
function collect(router: RouterLike, path: string, allowed: Set<string>, refused: Set<string>): boolean {
  for (const layer of router.stack as LayerLike[]) {
    const m = matched(layer, path);
    if (m === undefined) continue;
    if (layer.route) {
      if (layer.route.methods._all) return false;
      for (const l of layer.route.stack) {
        if (l.method) ((l.handle as { [REFUSES_METHOD]?: boolean })[REFUSES_METHOD] ? refused : allowed).add(l.method.toUpperCase());
      }
    } else if (isRouter(layer.handle)) {
      const rest = path.slice(m.length);
      if (rest !== '' && !rest.startsWith('/')) continue; // express mounts only on a segment boundary
      if (!collect(layer.handle, rest || '/', allowed, refused)) return false;
    }
  }
  return true;
}

/**
 * The methods `router`'s routes (and those of the routers mounted in it) take at `path`, sorted as
 * express's own OPTIONS answer sorts them, with HEAD wherever GET is (express answers HEAD with the GET
 * route) unless a route refuses it: [] when no route matches the path, undefined when one matching route
 * takes any method (`all()`: a method cannot be wrong there). Walks the layers: call it only for a request
 * no route answered, never on the way to one.
 */
export function allowedMethods(router: RouterLike, path: string): string[] | undefined {
  const allowed = new Set<string>();
  const refused = new Set<string>();
  if (!collect(router, path, allowed, refused)) return undefined;
  if (allowed.has('GET') && !refused.has('HEAD')) allowed.add('HEAD');
  for (const m of refused) allowed.delete(m);
  return [...allowed].sort();
}
