// State routes of api.md: identities, devices, bulk NDJSON import, exceptions, break-glass windows and
// the app catalog. All require the API token; the store validates and orders every write.
import { Router, type Request, type Response } from 'express';
import { StringDecoder } from 'node:string_decoder';
import type { ImportLine, ImportLineError } from '../../state/store';
import { StateUnavailableError } from '../../state/errors';
import { requireApiToken } from '../auth';
import type { AppContext } from '../context';
import type { Decider } from '../../engine/decider';
import { ApiError, toApiError } from '../errors';
import { bodyValidator } from '../validate';

/** Content types accepted by POST /v1/state/import. */
export const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines', 'text/plain', 'application/json'];
/** Longest accepted NDJSON line (a longer one is rejected alone as `line_too_long`). */
export const MAX_IMPORT_LINE_BYTES = 1024 * 1024;
/** At most this many line errors are listed in an import answer (all are counted). */
export const MAX_REPORTED_IMPORT_ERRORS = 1000;

const deleteQuery = bodyValidator<{ version?: string }>({
  type: 'object',
  properties: { version: { type: 'string', pattern: '^[0-9]{1,15}$' } },
});
const listQuery = bodyValidator<{ after?: string; limit?: string; owner?: string }>({
  type: 'object',
  properties: {
    after: { type: 'string', maxLength: 256 },
    limit: { type: 'string', pattern: '^[0-9]{1,5}$' },
    owner: { type: 'string', minLength: 1, maxLength: 320 },
  },
});
const exceptionsQuery = bodyValidator<{ identity?: string; include_expired?: string }>({
  type: 'object',
  properties: {
    identity: { type: 'string', minLength: 1, maxLength: 320 },
    include_expired: { enum: ['true', 'false'] },
  },
});

const param = (req: Request, name: string): string => String(req.params[name]);

function notFound(what: string, id: string): ApiError {
  return new ApiError('not_found', `${what} "${id}" not found`);
}

function deleteVersion(req: Request): number | undefined {
  const q = deleteQuery(req.query, '/query');
  return q.version === undefined ? undefined : Number(q.version);
}

/** The state router. */
export function stateRouter(ctx: AppContext): Router {
  const r = Router();
  const auth = requireApiToken(ctx);
  const store = () => ctx.store;

  // ---- identities
  r.put('/v1/identities/:id', auth, (req, res) => {
    const { record, created } = store().putIdentity(param(req, 'id'), req.body);
    res.status(created ? 201 : 200).json(record);
  });
  r.get('/v1/identities/:id', auth, (req, res) => {
    const rec = store().getIdentity(param(req, 'id'));
    if (!rec) throw notFound('identity', param(req, 'id'));
    res.json(rec);
  });
  r.delete('/v1/identities/:id', auth, (req, res) => {
    const version = deleteVersion(req);
    if (!store().deleteIdentity(param(req, 'id'), { version })) throw notFound('identity', param(req, 'id'));
    res.status(204).end();
  });
  r.get('/v1/identities', auth, (req, res) => {
    const q = listQuery(req.query, '/query');
    const page = store().listIdentities({ after: q.after, limit: q.limit ? Number(q.limit) : undefined });
    res.json({ identities: page.items, next_cursor: page.next_cursor });
  });

  // ---- devices
  r.put('/v1/devices/:id', auth, (req, res) => {
    const { record, created } = store().putDevice(param(req, 'id'), req.body);
    res.status(created ? 201 : 200).json(record);
  });
  r.get('/v1/devices/:id', auth, (req, res) => {
    const rec = store().getDevice(param(req, 'id'));
    if (!rec) throw notFound('device', param(req, 'id'));
    res.json(rec);
  });
  r.delete('/v1/devices/:id', auth, (req, res) => {
    const version = deleteVersion(req);
    if (!store().deleteDevice(param(req, 'id'), { version })) throw notFound('device', param(req, 'id'));
    res.status(204).end();
  });
  r.get('/v1/devices', auth, (req, res) => {
    const q = listQuery(req.query, '/query');
    if (q.owner !== undefined) {
      const id = store().resolveIdentityId(q.owner);
      res.json({ devices: id === undefined ? [] : store().listDevicesByOwner(id), next_cursor: null });
      return;
    }
    const page = store().listDevices({ after: q.after, limit: q.limit ? Number(q.limit) : undefined });
    res.json({ devices: page.items, next_cursor: page.next_cursor });
  });

  // ---- bulk import
  r.post('/v1/state/import', auth, (req, res, next) => {
    importNdjson(ctx, req, res).catch(next);
  });

  // ---- exceptions
  r.post('/v1/exceptions', auth, (req, res) => {
    // The longest exception: TETHER_MAX_EXCEPTION_HOURS, or the policy's data.config.max_exception_ns when
    // shorter (the policy ignores longer ones anyway, so creating one would be a silent no-op).
    const config = (ctx.decider as Partial<Pick<Decider, 'policyConfig'>> | undefined)?.policyConfig?.() ?? {};
    const maxNs = config.max_exception_ns;
    res.status(201).json(store().createException(req.body, typeof maxNs === 'number' && maxNs > 0 ? { maxMs: maxNs / 1e6 } : {}));
  });
  r.get('/v1/exceptions', auth, (req, res) => {
    const q = exceptionsQuery(req.query, '/query');
    let identity: string | undefined;
    if (q.identity !== undefined) {
      identity = store().resolveIdentityId(q.identity);
      if (identity === undefined) return void res.json({ exceptions: [] });
    }
    res.json({ exceptions: store().listExceptions(identity, { includeExpired: q.include_expired === 'true' }) });
  });
  r.get('/v1/exceptions/:id', auth, (req, res) => {
    const rec = store().getException(param(req, 'id'));
    if (!rec) throw notFound('exception', param(req, 'id'));
    res.json(rec);
  });
  r.delete('/v1/exceptions/:id', auth, (req, res) => {
    if (!store().deleteException(param(req, 'id'))) throw notFound('exception', param(req, 'id'));
    res.status(204).end();
  });

  // ---- break-glass
  r.post('/v1/break-glass/:identity', auth, (req, res) => {
    res.status(201).json(store().openBreakGlass(param(req, 'identity'), req.body));
  });
  r.get('/v1/break-glass/:identity', auth, (req, res) => {
    const id = store().resolveIdentityId(param(req, 'identity'));
    const rec = id === undefined ? undefined : store().getBreakGlass(id);
    if (!rec) throw notFound('break-glass window for', param(req, 'identity'));
    res.json({ ...rec, active: Date.parse(rec.expires_at) > Date.now() });
  });
  r.delete('/v1/break-glass/:identity', auth, (req, res) => {
    if (!store().closeBreakGlass(param(req, 'identity'))) throw notFound('break-glass window for', param(req, 'identity'));
    res.status(204).end();
  });

  // ---- apps
  r.put('/v1/apps/:id', auth, (req, res) => {
    const { record, created } = store().putApp(param(req, 'id'), req.body);
    res.status(created ? 201 : 200).json(record);
  });
  // The catalog decisions use: stored apps (source "store") and the policy data's defaults they do not
  // override (source "policy"), by id. Without a decision service (tests of this router alone), stored only.
  r.get('/v1/apps', auth, (_req, res) => {
    const stored = store().listApps();
    const catalog = (ctx.decider as Partial<Pick<Decider, 'appCatalog'>> | undefined)?.appCatalog?.() ?? {};
    const storedIds = new Set(stored.map((a) => a.id));
    const fromPolicy = Object.entries(catalog)
      .filter(([id, entry]) => !storedIds.has(id) && entry !== null && typeof entry === 'object')
      .map(([id, entry]) => ({ id, ...(entry as object), source: 'policy' }));
    const apps = [...stored.map((a) => ({ ...a, source: 'store' })), ...fromPolicy].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    res.json({ apps });
  });
  r.get('/v1/apps/:id', auth, (req, res) => {
    const rec = store().getApp(param(req, 'id'));
    if (!rec) throw notFound('app', param(req, 'id'));
    res.json(rec);
  });
  r.delete('/v1/apps/:id', auth, (req, res) => {
    if (!store().deleteApp(param(req, 'id'))) throw notFound('app', param(req, 'id'));
    res.status(204).end();
  });

  return r;
}

/**
 * Streams an NDJSON body into the store, committing every `importBatchSize` lines in one transaction.
 *
 * Acknowledgement: with `?progress=true` (or `Accept: application/x-ndjson`) the answer is itself NDJSON:
 * one `{"committed_through_line": L, ...}` line per batch, written only after that batch committed
 * (durably, see sqlite-store.ts), then a final `{"done": true, imported, rejected, errors}` line.
 * Every line up to L is in the store even if the server dies right after. Without progress the
 * answer is the single `{imported, rejected, errors}` object once everything is committed.
 */
async function importNdjson(ctx: AppContext, req: Request, res: Response): Promise<void> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (!NDJSON_TYPES.includes(type))
    throw new ApiError('unsupported_media_type', `import bodies must be application/x-ndjson, got ${type || 'none'}`);
  const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity')
    throw new ApiError('unsupported_media_type', `import bodies must not be compressed (content-encoding ${encoding})`);
  const limit = ctx.config.importLimitBytes;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit)
    throw new ApiError('payload_too_large', `import body exceeds the limit of ${limit} bytes`);
  const progress = req.query.progress === 'true' || /application\/x-ndjson/.test(String(req.headers.accept ?? ''));

  const batchSize = ctx.config.importBatchSize;
  const totals = { imported: 0, rejected: 0, errors: [] as ImportLineError[], batches: 0 };
  let batch: ImportLine[] = [];
  let lineNo = 0;
  let lastLine = 0;

  if (progress) {
    res.status(200).setHeader('Content-Type', 'application/x-ndjson');
    res.flushHeaders();
  }
  const addErrors = (errors: ImportLineError[]) => {
    for (const e of errors) if (totals.errors.length < MAX_REPORTED_IMPORT_ERRORS) totals.errors.push(e);
  };
  const commit = () => {
    if (batch.length === 0) return;
    const result = ctx.store.importBatch(batch);
    totals.batches++;
    totals.imported += result.imported;
    totals.rejected += result.rejected;
    addErrors(result.errors);
    ctx.metrics.importedRecords.inc({ result: 'imported' }, result.imported);
    if (result.rejected) ctx.metrics.importedRecords.inc({ result: 'rejected' }, result.rejected);
    if (progress)
      res.write(
        JSON.stringify({
          committed_through_line: lastLine,
          batch: totals.batches,
          imported: totals.imported,
          rejected: totals.rejected,
          errors: result.errors.slice(0, MAX_REPORTED_IMPORT_ERRORS),
        }) + '\n',
      );
    batch = [];
  };
  const tooLong = (line: number) => {
    totals.rejected++;
    addErrors([{ line, code: 'line_too_long', message: `line exceeds ${MAX_IMPORT_LINE_BYTES} bytes` }]);
  };

  const decoder = new StringDecoder('utf8');
  let partial = '';
  let skipping = false; // inside an over-long line: discard until its newline
  let received = 0;
  let failure: ApiError | undefined;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      received += chunk.length;
      if (received > limit) {
        failure = new ApiError('payload_too_large', `import body exceeds the limit of ${limit} bytes; lines before ${lineNo + 1} were processed`);
        break;
      }
      const text = decoder.write(chunk);
      let start = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        const piece = text.slice(start, nl);
        start = nl + 1;
        lineNo++;
        if (skipping) {
          skipping = false;
          partial = '';
          continue;
        }
        const line = (partial + piece).replace(/\r$/, '');
        partial = '';
        if (line.length > MAX_IMPORT_LINE_BYTES) tooLong(lineNo);
        else if (line.trim() !== '') batch.push({ line: lineNo, text: line });
        lastLine = lineNo;
        if (batch.length >= batchSize) commit();
      }
      if (!skipping) {
        partial += text.slice(start);
        if (partial.length > MAX_IMPORT_LINE_BYTES) {
          tooLong(lineNo + 1);
          skipping = true;
          partial = '';
        }
      }
    }
    if (!failure) {
      const rest = (partial + decoder.end()).replace(/\r$/, '');
      if (!skipping && rest.trim() !== '') {
        lineNo++;
        batch.push({ line: lineNo, text: rest });
      }
      lastLine = lineNo;
      commit();
    } else {
      lastLine = lineNo;
      commit(); // complete lines received before the limit are still applied and acknowledged
    }
  } catch (err) {
    failure = err instanceof StateUnavailableError ? toApiError(err) : failure ?? toApiError(err);
    if (!(err instanceof StateUnavailableError) && !(err instanceof ApiError))
      ctx.logger.error('import failed', { error: String((err as Error)?.message ?? err) });
  }

  const summary = { imported: totals.imported, rejected: totals.rejected, errors: totals.errors };
  ctx.logger.info('import finished', { imported: totals.imported, rejected: totals.rejected, batches: totals.batches, failed: failure?.code });
  if (progress) {
    res.end(JSON.stringify(failure ? { done: false, ...failure.toBody(), ...summary } : { done: true, ...summary }) + '\n');
    return;
  }
  if (failure) {
    if (!req.complete) res.setHeader('Connection', 'close');
    res.status(failure.status).json({ ...failure.toBody(), ...summary });
    return;
  }
  res.json(summary);
}
