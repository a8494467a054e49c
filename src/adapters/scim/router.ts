/**
 * The SCIM 2.0 HTTP surface (RFC 7644) mounted at /scim/v2: bearer auth, application/scim+json,
 * ETags, ListResponse paging, SCIM error bodies for every failure including malformed JSON.
 */
import { Router, type NextFunction, type Request, type Response } from 'express';
import { tokenMatches } from '../../api/auth';
import { bodyReader } from '../../api/body-reader';
import { refuseBody } from '../../api/direct/body';
import { allowedMethods } from '../../api/allowed-methods';
import { parseBytes } from '../../config';
import { isJsonRequest } from '../../api/direct/json-body';
import { listResponse, resourceTypes, schemas, serviceProviderConfig } from './discovery';
import { badRequest, ScimError, scimErrorBody } from './errors';
import type { StoredResource } from './repo';
import { etagOf, type ListQuery, type ScimService } from './service';

/** The SCIM media type (we also accept application/json). */
export const SCIM_CONTENT_TYPE = 'application/scim+json';

/** Options of the SCIM router. */
export interface ScimRouterOptions {
  /** Bearer token every request must carry. */
  token: string;
  /** Public base URL for `meta.location` (default: from the request). */
  baseUrl?: string;
  /** Largest accepted body (default 1 MB, answered with 413). */
  bodyLimit?: string;
  /** Hears of failures answered 500 (the server logs them; the answer says only "internal error"). */
  onInternalError?: (err: unknown) => void;
}


function send(res: Response, status: number, body: unknown, etag?: string): void {
  res.status(status);
  res.setHeader('Content-Type', `${SCIM_CONTENT_TYPE}; charset=utf-8`);
  if (etag) res.setHeader('ETag', etag);
  res.send(JSON.stringify(body));
}

function sendError(res: Response, err: ScimError): void {
  if (err.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="tether-scim"');
  send(res, err.status, scimErrorBody(err));
}

function baseOf(req: Request, opts: ScimRouterOptions): string {
  return opts.baseUrl?.replace(/\/$/, '') ?? `${req.protocol}://${req.get('host') ?? 'localhost'}${req.baseUrl}`;
}

/** Renders a stored resource with its server attributes (id, meta). */
export function renderResource(r: StoredResource, base: string): Record<string, unknown> {
  const endpoint = r.type === 'User' ? 'Users' : 'Groups';
  return {
    ...r.body,
    id: r.id,
    meta: {
      resourceType: r.type,
      created: r.created,
      lastModified: r.lastModified,
      location: `${base}/${endpoint}/${r.id}`,
      version: etagOf(r),
    },
  };
}

const ALWAYS_RETURNED = new Set(['id', 'schemas', 'meta']);

/** Applies `attributes` / `excludedAttributes` (top-level names, case-insensitive). */
function project(resource: Record<string, unknown>, attributes?: string, excluded?: string): Record<string, unknown> {
  const names = (s: string) => new Set(s.split(',').map((a) => a.trim().split(/[.[]/)[0].toLowerCase()).filter(Boolean));
  if (attributes) {
    const keep = names(attributes);
    return Object.fromEntries(Object.entries(resource).filter(([k]) => ALWAYS_RETURNED.has(k) || keep.has(k.toLowerCase())));
  }
  if (excluded) {
    const drop = names(excluded);
    return Object.fromEntries(Object.entries(resource).filter(([k]) => ALWAYS_RETURNED.has(k) || !drop.has(k.toLowerCase())));
  }
  return resource;
}

function intParam(v: unknown, name: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string' || !/^-?\d+$/.test(v.trim())) throw badRequest('invalidValue', `${name} must be an integer`);
  return Number(v);
}

function strParam(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Builds the /scim/v2 router over a ScimService. */
export function scimRouter(service: ScimService, opts: ScimRouterOptions): Router {
  const router = Router();
  const expected = `Bearer ${opts.token}`;
  const limitBytes = parseBytes(String(opts.bodyLimit ?? '1mb'), 'SCIM body limit');

  router.use((req: Request, res: Response, next: NextFunction) => {
    const auth = req.get('authorization') ?? '';
    // Scheme is case-insensitive (RFC 7235); the token is compared in constant time.
    const normalised = auth.replace(/^bearer\s+/i, 'Bearer ');
    if (!tokenMatches(normalised, expected)) {
      refuseBody(req, limitBytes, res); // an unauthenticated upload over the limit is not read on
      sendError(res, new ScimError(401, undefined, 'missing or invalid bearer token'));
      return;
    }
    next();
  });
  // application/json and any application/*+json (SCIM's own), not strict; 413 as soon as the limit is passed.
  router.use(bodyReader({ as: 'json', type: isJsonRequest, limit: opts.bodyLimit ?? '1mb' }));

  const handle =
    (fn: (req: Request, res: Response) => void) =>
    (req: Request, res: Response, next: NextFunction): void => {
      try {
        fn(req, res);
      } catch (err) {
        next(err);
      }
    };

  const listQuery = (src: Record<string, unknown>): ListQuery => ({
    filter: strParam(src.filter),
    startIndex: intParam(src.startIndex === undefined ? undefined : String(src.startIndex), 'startIndex'),
    count: intParam(src.count === undefined ? undefined : String(src.count), 'count'),
  });

  for (const [endpoint, type] of [['Users', 'User'], ['Groups', 'Group']] as const) {
    const isUser = type === 'User';
    const listing = (req: Request, res: Response, src: Record<string, unknown>) => {
      const base = baseOf(req, opts);
      const result = service.list(type, listQuery(src));
      const attrs = strParam(src.attributes);
      const excluded = strParam(src.excludedAttributes);
      send(res, 200, listResponse(result.items.map((r) => project(renderResource(r, base), attrs, excluded)), result.total, result.startIndex));
    };
    router.get(`/${endpoint}`, handle((req, res) => listing(req, res, req.query as Record<string, unknown>)));
    router.post(
      `/${endpoint}/.search`,
      handle((req, res) => listing(req, res, (typeof req.body === 'object' && req.body) || {})),
    );
    router.post(
      `/${endpoint}`,
      handle((req, res) => {
        const created = isUser ? service.createUser(req.body) : service.createGroup(req.body);
        const rendered = renderResource(created, baseOf(req, opts));
        res.setHeader('Location', (rendered.meta as { location: string }).location);
        send(res, 201, rendered, etagOf(created));
      }),
    );
    router.get(
      `/${endpoint}/:id`,
      handle((req, res) => {
        const r = isUser ? service.getUser(String(req.params.id)) : service.getGroup(String(req.params.id));
        const etag = etagOf(r);
        const inm = req.get('if-none-match');
        if (inm && inm.split(',').map((t) => t.trim()).includes(etag)) {
          res.status(304).setHeader('ETag', etag);
          res.end();
          return;
        }
        send(res, 200, project(renderResource(r, baseOf(req, opts)), strParam(req.query.attributes), strParam(req.query.excludedAttributes)), etag);
      }),
    );
    router.put(
      `/${endpoint}/:id`,
      handle((req, res) => {
        const id = String(req.params.id);
        const r = isUser ? service.replaceUser(id, req.body, req.get('if-match')) : service.replaceGroup(id, req.body, req.get('if-match'));
        send(res, 200, renderResource(r, baseOf(req, opts)), etagOf(r));
      }),
    );
    router.patch(
      `/${endpoint}/:id`,
      handle((req, res) => {
        const id = String(req.params.id);
        const r = isUser ? service.patchUser(id, req.body, req.get('if-match')) : service.patchGroup(id, req.body, req.get('if-match'));
        // 200 with the resource: Entra's validator re-reads `active` from the PATCH response.
        send(res, 200, renderResource(r, baseOf(req, opts)), etagOf(r));
      }),
    );
    router.delete(
      `/${endpoint}/:id`,
      handle((req, res) => {
        const id = String(req.params.id);
        if (isUser) service.deleteUser(id, req.get('if-match'));
        else service.deleteGroup(id, req.get('if-match'));
        res.status(204).end();
      }),
    );
  }

  router.get('/ServiceProviderConfig', (req, res) => send(res, 200, serviceProviderConfig(baseOf(req, opts))));
  router.get('/ResourceTypes', (req, res) => {
    const all = resourceTypes(baseOf(req, opts));
    send(res, 200, listResponse(all, all.length, 1));
  });
  router.get('/ResourceTypes/:id', (req, res) => {
    const found = resourceTypes(baseOf(req, opts)).find((r) => r.id === req.params.id);
    if (!found) sendError(res, new ScimError(404, undefined, `ResourceType ${req.params.id} not found`));
    else send(res, 200, found);
  });
  router.get('/Schemas', (req, res) => {
    const all = schemas(baseOf(req, opts));
    send(res, 200, listResponse(all, all.length, 1));
  });
  router.get('/Schemas/:id', (req, res) => {
    const found = schemas(baseOf(req, opts)).find((r) => String(r.id).toLowerCase() === String(req.params.id).toLowerCase());
    if (!found) sendError(res, new ScimError(404, undefined, `Schema ${req.params.id} not found`));
    else send(res, 200, found);
  });
  // RFC 7644 operations this server does not offer are 501, not 404 (§3.12; /Me: §3.11 SHOULD);
  // ServiceProviderConfig says bulk.supported false.
  router.all(['/Bulk', '/Me', '/Me/*rest'], (req: Request, res: Response) => {
    sendError(res, new ScimError(501, undefined, `${req.path.startsWith('/Me') ? '/Me' : '/Bulk'} is not supported by this service provider`));
  });
  // A method no route takes on a path some route serves is 405 with Allow (read from this router's routes;
  // walked only here, once nothing else answered), after the bearer check above, in SCIM's error shape.
  router.use((req: Request, res: Response) => {
    const allowed = allowedMethods(router, req.path) ?? [];
    if (allowed.length && !allowed.includes(req.method)) {
      res.setHeader('Allow', allowed.join(', '));
      return sendError(res, new ScimError(405, undefined, `${req.method} is not allowed on SCIM endpoint ${req.path} (allowed: ${allowed.join(', ')})`));
    }
    sendError(res, new ScimError(404, undefined, `no SCIM endpoint ${req.method} ${req.path}`));
  });

  // Every failure, including body-parser's, leaves in SCIM's error shape.
  router.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    void _next;
    if (err instanceof ScimError) return sendError(res, err);
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed') return sendError(res, badRequest('invalidSyntax', 'request body is not valid JSON'));
    if (e.type === 'entity.too.large' || e.status === 413) return sendError(res, new ScimError(413, undefined, 'request body too large'));
    if (e.status === 415 || e.type === 'charset.unsupported' || e.type === 'encoding.unsupported') {
      return sendError(res, badRequest('invalidSyntax', 'unsupported request encoding'));
    }
    opts.onInternalError?.(err);
    sendError(res, new ScimError(500, undefined, 'internal error'));
  });
  return router;
}
