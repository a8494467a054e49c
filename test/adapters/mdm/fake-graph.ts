// Test double of Microsoft Entra's token endpoint and Graph's deviceManagement/managedDevices,
// speaking their wire formats: client-credentials form POST, OData pages with @odata.nextLink,
// 429 + Retry-After, 401 InvalidAuthenticationToken for revoked tokens. Loopback only.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

/** Knobs and counters of the fake. */
export interface FakeGraph {
  url: string;
  devices: Record<string, unknown>[];
  pageSize: number;
  /** Answer the n-th managedDevices request (1-based) with 429 and this Retry-After. */
  throttleRequest?: { n: number; retryAfter: string };
  /** Answer the n-th managedDevices request with a body that is not an OData page. */
  brokenRequest?: number;
  /** Revoke every token issued so far (next Graph call gets 401). */
  revokeTokens(): void;
  /** Fail the token endpoint with invalid_client. */
  badSecret: boolean;
  tokenRequests: Array<Record<string, string>>;
  graphRequests: Array<{ url: string; auth?: string }>;
  close(): Promise<void>;
}

/** Starts the fake on 127.0.0.1:0. */
export async function startFakeGraph(tenant: string, clientId: string, secret: string): Promise<FakeGraph> {
  const valid = new Set<string>();
  let graphCalls = 0;
  const fake: FakeGraph = {
    url: '',
    devices: [],
    pageSize: 2,
    badSecret: false,
    tokenRequests: [],
    graphRequests: [],
    revokeTokens: () => valid.clear(),
    close: () => new Promise((r) => {
      server.close(() => r());
      server.closeAllConnections(); // undici keeps idle keep-alive sockets open
    }),
  };
  const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', fake.url);
      if (req.method === 'POST' && u.pathname === `/${tenant}/oauth2/v2.0/token`) {
        const form = Object.fromEntries(new URLSearchParams(body));
        fake.tokenRequests.push(form);
        if (fake.badSecret || form.client_id !== clientId || form.client_secret !== secret || form.grant_type !== 'client_credentials') {
          return json(res, 401, { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.', error_codes: [7000215] });
        }
        const token = 'eyJ0eXAiOiJKV1QifQ.' + randomUUID();
        valid.add(token);
        return json(res, 200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token });
      }
      if (req.method === 'GET' && u.pathname === '/v1.0/deviceManagement/managedDevices') {
        graphCalls++;
        fake.graphRequests.push({ url: u.toString(), auth: req.headers.authorization });
        const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
        if (!valid.has(token)) {
          return json(res, 401, { error: { code: 'InvalidAuthenticationToken', message: 'Access token has expired or is not yet valid.', innerError: { date: new Date().toISOString() } } });
        }
        if (fake.throttleRequest && fake.throttleRequest.n === graphCalls) {
          return json(res, 429, { error: { code: 'TooManyRequests', message: 'Too many requests.' } }, { 'retry-after': fake.throttleRequest.retryAfter });
        }
        if (fake.brokenRequest === graphCalls) {
          res.writeHead(200, { 'content-type': 'text/html' });
          return res.end('<html>gateway</html>');
        }
        const skip = Number(u.searchParams.get('$skiptoken') ?? '0');
        const page = fake.devices.slice(skip, skip + fake.pageSize);
        const out: Record<string, unknown> = { '@odata.context': `${fake.url}/v1.0/$metadata#deviceManagement/managedDevices`, value: page };
        if (skip + fake.pageSize < fake.devices.length) {
          const next = new URL(u.toString());
          next.searchParams.set('$skiptoken', String(skip + fake.pageSize));
          out['@odata.nextLink'] = next.toString();
        }
        return json(res, 200, out);
      }
      json(res, 404, { error: { code: 'ResourceNotFound', message: `no ${req.method} ${u.pathname}` } });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

/** A managedDevice as Graph v1.0 returns it. */
export function managedDevice(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    userId: '90847c2a-e29d-4d2f-9f54-c5b4d3f26471',
    deviceName: `DESKTOP-${id.slice(0, 6).toUpperCase()}`,
    managedDeviceOwnerType: 'company',
    enrolledDateTime: '2026-01-02T10:00:00Z',
    lastSyncDateTime: new Date(Date.now() - 5 * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    operatingSystem: 'Windows',
    complianceState: 'compliant',
    jailBroken: 'Unknown',
    managementAgent: 'mdm',
    osVersion: '10.0.22631.4460',
    azureADRegistered: true,
    deviceEnrollmentType: 'windowsAzureADJoin',
    emailAddress: 'alice@example.com',
    azureADDeviceId: `aad-${id}`,
    deviceRegistrationState: 'registered',
    isSupervised: false,
    isEncrypted: true,
    userPrincipalName: 'alice@example.com',
    model: 'Surface Laptop 5',
    manufacturer: 'Microsoft Corporation',
    serialNumber: `SN-${id}`,
    complianceGracePeriodExpirationDateTime: '9999-12-31T23:59:59Z',
    partnerReportedThreatState: 'unknown',
    ...extra,
  };
}
