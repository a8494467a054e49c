// Test double of a Jamf Pro server's API as the adapter uses it: OAuth client credentials at
// /api/oauth/token, /api/v1/computers-inventory (page/page-size, totalCount/results),
// computers-inventory-detail/{id}, /api/v2/mobile-devices/{id}/detail, Jamf's error envelope,
// 401 for revoked tokens and 429 with Retry-After. Loopback only.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

/** Knobs and counters. */
export interface FakeJamf {
  url: string;
  computers: Record<string, unknown>[];
  mobiles: Record<string, unknown>[];
  throttleNext: number;
  revokeTokens(): void;
  tokenRequests: number;
  requests: string[];
  close(): Promise<void>;
}

/** Starts the fake on 127.0.0.1:0. */
export async function startFakeJamf(clientId: string, secret: string): Promise<FakeJamf> {
  const valid = new Set<string>();
  const fake: FakeJamf = {
    url: '',
    computers: [],
    mobiles: [],
    throttleNext: 0,
    tokenRequests: 0,
    requests: [],
    revokeTokens: () => valid.clear(),
    close: () => new Promise((r) => {
      server.close(() => r());
      server.closeAllConnections(); // undici keeps idle keep-alive sockets open
    }),
  };
  const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', ...headers });
    res.end(JSON.stringify(body));
  };
  const jamfError = (status: number, code: string, description: string, id = '0') => ({ httpStatus: status, errors: [{ code, description, id, field: null }] });
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'POST' && u.pathname === '/api/oauth/token') {
        fake.tokenRequests++;
        const form = Object.fromEntries(new URLSearchParams(body));
        if (form.client_id !== clientId || form.client_secret !== secret || form.grant_type !== 'client_credentials') {
          return json(res, 401, { error: 'invalid_client', error_description: 'client authentication failed' });
        }
        const token = randomUUID();
        valid.add(token);
        return json(res, 200, { access_token: token, scope: 'api-role:1', token_type: 'Bearer', expires_in: 299 });
      }
      fake.requests.push(`${req.method} ${u.pathname}${u.search}`);
      if (!valid.has((req.headers.authorization ?? '').replace(/^Bearer /, ''))) return json(res, 401, jamfError(401, 'INVALID_TOKEN', 'Unauthorized'));
      if (fake.throttleNext > 0) {
        fake.throttleNext--;
        return json(res, 429, jamfError(429, 'TOO_MANY_REQUESTS', 'Too many requests'), { 'retry-after': '2' });
      }
      if (req.method === 'GET' && u.pathname === '/api/v1/computers-inventory') {
        const page = Number(u.searchParams.get('page') ?? '0');
        const size = Number(u.searchParams.get('page-size') ?? '100');
        return json(res, 200, { totalCount: fake.computers.length, results: fake.computers.slice(page * size, page * size + size) });
      }
      let m = /^\/api\/v1\/computers-inventory-detail\/(\w+)$/.exec(u.pathname);
      if (req.method === 'GET' && m) {
        const c = fake.computers.find((x) => x.id === m![1]);
        return c ? json(res, 200, c) : json(res, 404, jamfError(404, 'INVALID_ID', 'Computer not found', m[1]));
      }
      m = /^\/api\/v2\/mobile-devices\/(\w+)\/detail$/.exec(u.pathname);
      if (req.method === 'GET' && m) {
        const d = fake.mobiles.find((x) => x.id === m![1]);
        return d ? json(res, 200, d) : json(res, 404, jamfError(404, 'INVALID_ID', 'Mobile device not found', m[1]));
      }
      json(res, 404, jamfError(404, 'NOT_FOUND', 'Not found'));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

/** A computers-inventory(-detail) record. */
export function jamfComputer(id: string, extra: { managed?: boolean; fileVault?: string; sip?: string; email?: string; lastContact?: string; groups?: string[] } = {}): Record<string, unknown> {
  return {
    id,
    udid: `UDID-COMPUTER-${id}`,
    general: {
      name: `mac-${id}`,
      lastContactTime: extra.lastContact ?? new Date(Date.now() - 60_000).toISOString(),
      reportDate: new Date(Date.now() - 120_000).toISOString(),
      remoteManagement: { managed: extra.managed ?? true, managementUsername: 'jamfadmin' },
      supervised: true,
      platform: 'Mac',
    },
    diskEncryption: { bootPartitionEncryptionDetails: { partitionName: 'Macintosh HD (Boot Partition)', partitionFileVault2State: extra.fileVault === 'NOT_ENCRYPTED' ? 'UNENCRYPTED' : 'ENCRYPTED', partitionFileVault2Percent: 100 } },
    security: { sipStatus: extra.sip ?? 'ENABLED', gatekeeperStatus: 'APP_STORE_AND_IDENTIFIED_DEVELOPERS', firewallEnabled: true },
    operatingSystem: { name: 'macOS', version: '14.5.0', build: '23F79', fileVault2Status: extra.fileVault ?? 'ALL_ENCRYPTED' },
    userAndLocation: { username: 'alice', realname: 'Alice Doe', email: extra.email ?? 'alice@example.com', position: 'Engineer' },
    hardware: { serialNumber: `C02SERIAL${id}`, model: 'MacBook Pro (14-inch, 2023)' },
    groupMemberships: (extra.groups ?? []).map((g, i) => ({ groupId: String(i + 1), groupName: g, smartGroup: true })),
  };
}

/** A v2 mobile device detail record. */
export function jamfMobile(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    name: `iPhone ${id}`,
    udid: `UDID-MOBILE-${id}`,
    serialNumber: `F2LSERIAL${id}`,
    osVersion: '17.5.1',
    managed: true,
    supervised: true,
    type: 'ios',
    deviceOwnershipLevel: 'Institutional',
    lastInventoryUpdateTimestamp: new Date(Date.now() - 60_000).toISOString(),
    location: { username: 'alice', realName: 'Alice Doe', emailAddress: 'alice@example.com' },
    ios: { security: { dataProtected: true, passcodePresent: true, passcodeCompliant: true, jailBreakDetected: false } },
    ...extra,
  };
}
