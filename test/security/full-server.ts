// One real Tether (serve(): SQLite store, shipped policies, every router) with EVERY feature configured,
// for the security suites of this folder: API and decision tokens, SCIM, the signed MDM webhook, Jamf
// (pull + webhook, Basic and bearer) and Intune against local fakes, the SSF receiver (two transmitters:
// one with inline keys, one whose jwks_uri is down) and transmitter (a static receiver, stream management
// under an issuer path), proxies (trusted header + JWT), the Okta hook (static secret) and the Entra
// provider (JWT), a decision log file, and every log line captured at debug level.
//
// Every secret is a distinct string starting with "s3cr3t" so a leak is easy to find.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { SignJWT, type CryptoKey, type JWK } from 'jose';
import { createLogger } from '../../src/api/context';
import { signWebhook } from '../../src/adapters/mdm/hmac';
import { adaptersFor } from '../../src/adapters';
import { ENTRA_EVENTS_APP_ID } from '../../src/callers/config';
import { serveTemp, type TempServer } from '../helpers/serve-temp';
import { startFakeJamf, jamfComputer, type FakeJamf } from '../adapters/mdm/fake-jamf';
import { startFakeGraph, managedDevice, type FakeGraph } from '../adapters/mdm/fake-graph';
import { startIdp, type TestIdp } from '../callers/helpers/idp';
import { transmitterKey } from '../adapters/ssf/transmitter-key';

/** Every credential the server holds or is sent. */
export const S = {
  api: 's3cr3t-api-token-7f3a9c1e5b2d',
  decision: 's3cr3t-decision-token-4d2e8b90',
  scim: 's3cr3t-scim-token-91c7a2f4',
  mdm: 's3cr3t-mdm-hmac-key-5e8f1d7c',
  jamfClient: 's3cr3t-jamf-client-2b6c4e8a',
  jamfHookUser: 'jamf-hook-user',
  jamfHookPassword: 's3cr3t-jamf-hook-pw-8a1f3b5d',
  jamfHookToken: 's3cr3t-jamf-hook-token-3c9e7a1b',
  intuneClient: 's3cr3t-intune-client-6d4b2f0e',
  okta: 's3cr3t-okta-hook-secret-0a7e5c3d',
  ssfPush: 's3cr3t-ssf-push-token-b81d6e2a',
  ssfPushDown: 's3cr3t-ssf-push-token-down-47c1',
  ssfMgmt: 's3cr3t-ssf-mgmt-token-5f02c9b8',
  ssfOutbound: 's3cr3t-ssf-outbound-auth-77ae13d5',
  subscription: 's3cr3t-subscription-hmac-c3d9e1a2',
  subscriptionFailing: 's3cr3t-subscription-fail-9b2e4d6f',
} as const;

/** The marker every secret above carries. */
export const MARKER = 's3cr3t';

export const JAMF_CLIENT_ID = 'jamf-client-id';
export const INTUNE_TENANT = 'contoso-tenant';
export const INTUNE_CLIENT_ID = 'intune-client-id';
export const CAEP_ISS = 'https://caep.example.com/';
export const CAEP_DOWN_ISS = 'https://caep-down.example.com/';
export const CAEP_AUD = 'https://tether.example.com/';
export const SSF_ISSUER_PATH = '/t1';
export const PROXY_AUD = 'api://tether-proxies';
export const ENTRA_AUD = 'api://tether-entra';
export const SUBJECT_HEADER = 'X-Auth-Request-Email';
const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/';

/** What a local receiver (webhook subscriber, SSF receiver, a down JWKS) was sent. */
export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A loopback HTTP server recording requests, answering each path with a status the test sets. */
export interface Sink {
  url: string;
  received: Received[];
  status: Record<string, number>;
  close(): Promise<void>;
}

export async function startSink(): Promise<Sink> {
  const sink: Sink = { url: '', received: [], status: {}, close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const p = (req.url ?? '/').split('?')[0];
      sink.received.push({ path: p, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(sink.status[p] ?? 200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  sink.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  sink.close = () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); });
  return sink;
}

/** The running server and everything around it. */
export interface Full {
  t: TempServer;
  port: number;
  /** Every log line the server wrote (JSON lines, debug level and up). */
  logs: string[];
  decisionLogFile: string;
  jamf: FakeJamf;
  graph: FakeGraph;
  proxyIdp: TestIdp;
  entraIdp: TestIdp;
  sink: Sink;
  caepKey: CryptoKey;
  caepJwk: JWK;
  /** Ids of records seeded for the suites (alice, bob, the exception, the subscription, the stream...). */
  ids: { exception: string; exception2: string; subscription: string; subscription2: string; stream: string; stream2: string; stream3: string };
  stop(): Promise<void>;
}

export const HOUR = 3600_000;
/** A valid exception request (for bob, an hour long). */
export const exceptionBody = () => ({ identity: 'bob', waives: ['device_missing'], scope: { apps: ['wiki'] }, reason: 'seeded', approved_by: 'secops', expires_at: new Date(Date.now() + HOUR).toISOString() });
/** A valid break-glass request. */
export const BG_BODY = { minutes: 30, reason: 'incident 42', approved_by: 'secops' };
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

/** Starts the fully configured server and seeds it. */
export async function startFull(opts: { env?: Record<string, string>; extraTransmitters?: (sink: Sink) => Array<Record<string, unknown>> } = {}): Promise<Full> {
  const logs: string[] = [];
  const [jamf, graph, proxyIdp, entraIdp, sink, caep] = await Promise.all([
    startFakeJamf(JAMF_CLIENT_ID, S.jamfClient),
    startFakeGraph(INTUNE_TENANT, INTUNE_CLIENT_ID, S.intuneClient),
    startIdp(),
    startIdp(),
    startSink(),
    transmitterKey(),
  ]);
  jamf.computers = [jamfComputer('52')];
  graph.devices = [managedDevice('7b0a9f3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b')];
  sink.status['/jwks-down'] = 503;
  let decisionLogFile = '';
  const t = await serveTemp({
    prefix: 'tether-security-',
    logger: createLogger('debug', (l) => void logs.push(l)),
    env: {
      TETHER_API_TOKEN: S.api,
      TETHER_DECISION_TOKEN: S.decision,
      TETHER_LOG_LEVEL: 'debug',
      TETHER_BODY_LIMIT: '64kb',
      TETHER_IMPORT_LIMIT: '128kb',
      TETHER_WARMUP_REQUESTS: '50',
      ...opts.env,
    },
    processEnv: (dir) => {
      const callers = path.join(dir, 'callers.json');
      fs.writeFileSync(
        callers,
        JSON.stringify({
          proxy: {
            subject_header: SUBJECT_HEADER,
            jwt: { issuer: proxyIdp.issuer, audience: PROXY_AUD, jwks_uri: proxyIdp.jwksUri, subject_claim: 'email' },
            default_app: 'wiki',
          },
          okta: { auth: { type: 'header', header: 'Authorization', secret: S.okta }, default_app: 'wiki' },
          entra: {
            auth: { type: 'jwt', issuer: entraIdp.issuer, audience: ENTRA_AUD, jwks_uri: entraIdp.jwksUri, allowed_callers: [ENTRA_EVENTS_APP_ID] },
            default_app: 'wiki',
          },
        }),
      );
      decisionLogFile = path.join(dir, 'decisions.log');
      return {
        TETHER_CALLERS_CONFIG: callers,
        TETHER_DECISION_LOG: decisionLogFile,
        TETHER_SCIM_TOKEN: S.scim,
        TETHER_MDM_WEBHOOK_SECRET: S.mdm,
        TETHER_JAMF_URL: jamf.url,
        TETHER_JAMF_CLIENT_ID: JAMF_CLIENT_ID,
        TETHER_JAMF_CLIENT_SECRET: S.jamfClient,
        TETHER_JAMF_WEBHOOK_USER: S.jamfHookUser,
        TETHER_JAMF_WEBHOOK_PASSWORD: S.jamfHookPassword,
        TETHER_JAMF_WEBHOOK_TOKEN: S.jamfHookToken,
        TETHER_INTUNE_TENANT_ID: INTUNE_TENANT,
        TETHER_INTUNE_CLIENT_ID: INTUNE_CLIENT_ID,
        TETHER_INTUNE_CLIENT_SECRET: S.intuneClient,
        TETHER_INTUNE_GRAPH_URL: graph.url,
        TETHER_INTUNE_AUTHORITY_URL: graph.url,
        TETHER_SSF_TRANSMITTERS: JSON.stringify([
          { issuer: CAEP_ISS, jwks: { keys: [caep.jwk] }, audience: CAEP_AUD, token: S.ssfPush },
          { issuer: CAEP_DOWN_ISS, jwksUri: `${sink.url}/jwks-down`, audience: CAEP_AUD, token: S.ssfPushDown },
          ...(opts.extraTransmitters?.(sink) ?? []),
        ]),
        TETHER_SSF_ISSUER: `http://127.0.0.1:1${SSF_ISSUER_PATH}`,
        TETHER_SSF_RECEIVERS: JSON.stringify([{ endpoint_url: `${sink.url}/ssf-receiver`, authorization_header: `Bearer ${S.ssfOutbound}` }]),
        TETHER_SSF_MANAGEMENT_TOKEN: S.ssfMgmt,
      };
    },
  });
  const store = t.server.ctx.store;
  // Seed: alice (healthy), bob (no device), a break-glass admin, records the delete rows remove.
  store.putIdentity('alice', { status: 'active', type: 'employee', risk_tier: 'standard', proofed: true, activated_at: ago(30 * 24 * HOUR), aliases: ['alice@example.com'], source: 'okta' });
  store.putDevice('mac-alice', { owner: 'alice', enrolled: true, compliant: true, encrypted: true, ownership: 'corporate', observed_at: ago(60_000), source: 'jamf' });
  store.putIdentity('bob', { status: 'active', type: 'employee', risk_tier: 'standard', proofed: true, activated_at: ago(30 * 24 * HOUR), aliases: ['bob@example.com'] });
  store.putIdentity('del-identity', { status: 'active' });
  store.putDevice('del-device', { owner: 'bob', enrolled: true, compliant: true, ownership: 'corporate', observed_at: ago(60_000) });
  store.putIdentity('bg-admin', { status: 'active', type: 'break_glass', aliases: ['bg@example.com'] });
  store.putIdentity('bg-admin2', { status: 'active', type: 'break_glass' });
  store.openBreakGlass('bg-admin2', BG_BODY);
  store.putApp('sec-app', { sensitivity: 'low' });
  store.putApp('del-app', { sensitivity: 'low' });
  const ex = store.createException(exceptionBody());
  const ex2 = store.createException(exceptionBody());
  const sub = store.putSubscription({ url: `${sink.url}/hooks`, secret: S.subscription, events: ['revocation', 'drift'] }).record;
  const sub2 = store.putSubscription({ url: `${sink.url}/hooks-2`, secret: S.subscription, events: ['revocation'] }).record;
  const tx = adaptersFor(t.server.ctx).ssfTransmitter;
  const mkStream = (p: string) => {
    const cfg = { stream_id: `stream-${p}`, iss: 'x', aud: `${sink.url}/${p}`, events_supported: [], events_requested: [], events_delivered: [], delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: `${sink.url}/${p}` }, min_verification_interval: 0 };
    tx.streams.save({ config: cfg, status: 'enabled', static: false });
    return cfg.stream_id;
  };
  const stream = mkStream('stream-a');
  const stream2 = mkStream('stream-b');
  const stream3 = mkStream('stream-c');
  return {
    t,
    port: t.port,
    logs,
    decisionLogFile,
    jamf,
    graph,
    proxyIdp,
    entraIdp,
    sink,
    caepKey: caep.key,
    caepJwk: caep.jwk,
    ids: { exception: (ex as { id: string }).id, exception2: (ex2 as { id: string }).id, subscription: sub.id, subscription2: sub2.id, stream, stream2, stream3 },
    async stop() {
      await t.stop();
      await Promise.all([jamf.close(), graph.close(), proxyIdp.close(), entraIdp.close(), sink.close()]);
    },
  };
}

/** An answer as received. */
export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One request on its own connection, with exactly these headers; `chunked` sends the body without a length. */
export function send(port: number, method: string, pathAndQuery: string, headers: Record<string, string> = {}, body?: string | Buffer, chunked = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const h: Record<string, string> = { ...headers };
    if (body !== undefined && !chunked) h['content-length'] = String(Buffer.byteLength(body));
    if (body !== undefined && chunked) h['transfer-encoding'] = 'chunked';
    let answered = false;
    const req = http.request({ host: '127.0.0.1', port, method, path: pathAndQuery, headers: h, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    // Writing the rest of a refused upload into a connection the server ends is expected once it answered.
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    if (body !== undefined) {
      const buf = Buffer.isBuffer(body) ? body : Buffer.from(body);
      // In pieces, as a client streams it (a refused upload may be cut off midway: that is fine).
      for (let i = 0; i < buf.length; i += 64 * 1024) req.write(buf.subarray(i, i + 64 * 1024));
    }
    req.end();
  });
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
export const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
export const json = { 'content-type': 'application/json' };
export const scimJson = { 'content-type': 'application/scim+json' };

/** A CAEP session-revoked SET about alice, signed by the configured transmitter (or `key`). */
export function caepSet(full: Full, o: { key?: CryptoKey; iss?: string; pad?: string; email?: string } = {}): Promise<string> {
  return new SignJWT({
    jti: `jti-${Math.random().toString(36).slice(2)}-${Date.now()}`,
    sub_id: { format: 'email', email: o.email ?? 'alice@example.com' },
    events: { [CAEP + 'session-revoked']: { event_timestamp: Math.floor(Date.now() / 1000) } },
    ...(o.pad !== undefined && { pad: o.pad }),
  })
    .setProtectedHeader({ alg: 'RS256', typ: 'secevent+jwt', kid: 'k1' })
    .setIssuer(o.iss ?? CAEP_ISS)
    .setAudience(CAEP_AUD)
    .setIssuedAt()
    .sign(o.key ?? full.caepKey);
}

/** The MDM webhook headers for `body`, signed with `secret` at `atSeconds`. */
export function mdmSigned(body: string, secret: string = S.mdm, atSeconds?: number): Record<string, string> {
  const h = signWebhook(secret, body, atSeconds);
  return { ...json, 'x-tether-timestamp': h['X-Tether-Timestamp'], 'x-tether-signature': h['X-Tether-Signature'] };
}

/** A Jamf webhook body re-reading computer 52. */
export const jamfHookBody = (jssID = 52) =>
  JSON.stringify({ webhook: { id: 7, name: 'tether', webhookEvent: 'ComputerInventoryCompleted', eventTimestamp: 1667601111000 }, event: { jssID, udid: `UDID-COMPUTER-${jssID}` } });

/** The bearer JWT the proxies accept for `email`. */
export const proxyJwt = (full: Full, email = 'alice@example.com') => full.proxyIdp.sign({ aud: PROXY_AUD, sub: email, email });

/** The bearer JWT Entra's authentication events service presents. */
export const entraJwt = (full: Full, azp: string = ENTRA_EVENTS_APP_ID) => full.entraIdp.sign({ aud: ENTRA_AUD, azp, sub: azp, ver: '2.0' });

/**
 * Everything a request could change, read from the database: every record table, the SSF streams and
 * replay table, source marks and the size of both outboxes (their retry columns move by themselves).
 */
export function fingerprint(full: Full): string {
  const db = full.t.server.ctx.store.db;
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]).sort();
  const out: Record<string, unknown> = {};
  for (const name of tables) {
    if (/^(lifecycle_(rechecks|meta|deadlines|identities|stale_devices)|sqlite_sequence)$/.test(name)) continue; // derived, moves on its own
    if (name === 'lifecycle_outbox' || name === 'ssf_outbox') out[name] = db.prepare(`SELECT count(*) FROM ${name}`).pluck().get();
    else out[name] = db.prepare(`SELECT * FROM ${name} ORDER BY 1`).all();
  }
  const svc = full.t.server.ctx.engine as { revision?: string } | undefined;
  out.policy_revision = svc?.revision;
  return JSON.stringify(out);
}

/** Resolves once `cond()` holds; rejects after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
