// SCIM bulk provisioning benchmark (issue 4): starts Tether in its own process with the SCIM server
// on, POSTs N Users to /scim/v2/Users as an IdP would (one request per user, a few in flight, as
// Okta/Entra provisioning does), checks every user became an active identity, reports users/s and
// latency percentiles, then looks users up by filter.
// Usage: tsx bench/scim-provision.ts [--users 10000] [--concurrency 8] [--sync-normal]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startChild, stopChild } from './lib/child-server';
import { numberArg } from './lib/args';

const USERS = numberArg('users', 10_000);
const CONCURRENCY = numberArg('concurrency', 8);
const SYNC = process.argv.includes('--sync-normal') ? 'normal' : 'full';
const SCIM_TOKEN = 'bench-scim-token';
const API_TOKEN = 'bench-api-token-0123456789';
const tsx = join(__dirname, '..', 'node_modules', '.bin', 'tsx');

function user(i: number): string {
  const userName = `scim-user-${i}@example.com`;
  return JSON.stringify({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
    userName,
    externalId: `00u${i.toString(36).padStart(8, '0')}`,
    name: { givenName: 'User', familyName: String(i) },
    displayName: `User ${i}`,
    emails: [{ value: userName, type: 'work', primary: true }],
    active: true,
    userType: i % 10 === 0 ? 'Contractor' : 'Employee',
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'Engineering', employeeNumber: String(i) },
  });
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tether-bench-scim-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = await startChild(
    [tsx, join(__dirname, '..', 'src', 'cli.ts'), 'serve'],
    { PORT: String(port), HOST: '127.0.0.1', TETHER_DATA_DIR: dir, TETHER_API_TOKEN: API_TOKEN, TETHER_SCIM_TOKEN: SCIM_TOKEN, TETHER_POLICY_WATCH: 'false', TETHER_DECISION_LOG: 'off', TETHER_LOG_LEVEL: 'error', TETHER_SQLITE_SYNC: SYNC },
    `${base}/health`,
  );
  try {
    const headers = { authorization: `Bearer ${SCIM_TOKEN}`, 'content-type': 'application/scim+json' };
    const latencies: number[] = [];
    let next = 0;
    let failures = 0;
    const started = process.hrtime.bigint();
    const worker = async () => {
      for (let i = next++; i < USERS; i = next++) {
        const t0 = process.hrtime.bigint();
        const res = await fetch(`${base}/scim/v2/Users`, { method: 'POST', headers, body: user(i) });
        await res.arrayBuffer();
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (res.status !== 201) failures++;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    latencies.sort((a, b) => a - b);

    // Every user must have become an active identity (read back through the state API).
    const probe = [0, Math.floor(USERS / 2), USERS - 1];
    for (const i of probe) {
      const res = await fetch(`${base}/v1/identities/scim-user-${i}@example.com`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
      const body = (await res.json()) as { status?: string };
      if (body.status !== 'active') throw new Error(`user ${i} is not an active identity: ${JSON.stringify(body)}`);
    }
    const list = (await (await fetch(`${base}/scim/v2/Users?count=1`, { headers })).json()) as { totalResults: number };

    // Lookups as IdPs do before each create/update.
    const lookups: number[] = [];
    for (let k = 0; k < 500; k++) {
      const i = (k * 7919) % USERS;
      const filter = encodeURIComponent(`userName eq "scim-user-${i}@example.com"`);
      const t0 = process.hrtime.bigint();
      const res = await fetch(`${base}/scim/v2/Users?filter=${filter}`, { headers });
      const body = (await res.json()) as { totalResults: number };
      lookups.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (body.totalResults !== 1) throw new Error(`lookup of user ${i} found ${body.totalResults}`);
    }
    lookups.sort((a, b) => a - b);

    const r = (n: number) => n.toFixed(1);
    console.log(`## SCIM bulk provisioning (${new Date().toISOString().slice(0, 10)})`);
    console.log('');
    console.log(`| users | concurrency | TETHER_SQLITE_SYNC | failures | seconds | users/s | p50 ms | p99 ms | max ms | totalResults | filter lookup p50 / p99 ms |`);
    console.log(`|---|---|---|---|---|---|---|---|---|---|---|`);
    console.log(
      `| ${USERS} | ${CONCURRENCY} | ${SYNC} | ${failures} | ${r(seconds)} | ${Math.round(USERS / seconds)} | ${r(pct(latencies, 50))} | ${r(pct(latencies, 99))} | ${r(latencies[latencies.length - 1])} | ${list.totalResults} | ${r(pct(lookups, 50))} / ${r(pct(lookups, 99))} |`,
    );
    if (failures > 0 || list.totalResults !== USERS) process.exitCode = 1;
  } finally {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
