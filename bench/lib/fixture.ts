// The benchmark state fixture: N identities with two devices each, imported through POST
// /v1/state/import, then waiting until the lifecycle service has re-derived every imported identity,
// so decision figures measure decisions alone, not decisions competing with the background catch-up.
import { createHash } from 'node:crypto';
import type { PacedVariant } from './paced';

/** Bearer token the benchmark servers run with. */
export const BENCH_TOKEN = 'bench-token-0123456789abcdef';

/** Aliases of user i: its email (callers add an IdP id). */
export type AliasesOf = (i: number) => string[];
const emailOnly: AliasesOf = (i) => [`user-${i}@example.com`];

/** A GUID-shaped id fixed by its seed: how Entra, Intune and Jamf name users and devices (no order to them). */
export function guid(seed: string): string {
  const h = createHash('sha1').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * NDJSON lines for n identities (each with two devices; every tenth user's second one non-compliant).
 * Ids are `user-<i>` / `dev-<i>-a|b` (ascending runs, what the decision benchmarks ask for), or with
 * `randomIds` GUIDs, with emails to match: a store then writes every batch all over its B-trees.
 */
export function* fixture(n: number, aliases: AliasesOf = emailOnly, randomIds = false): Generator<string> {
  const now = new Date().toISOString();
  for (let i = 0; i < n; i++) {
    const id = randomIds ? guid(`user-${i}`) : `user-${i}`;
    const names = randomIds ? [`${guid(`mail-${i}`).slice(0, 13)}@example.com`] : aliases(i);
    yield JSON.stringify({ kind: 'identity', record: { id, status: 'active', type: 'employee', risk_tier: 'standard', proofed: true, aliases: names, activated_at: '2026-01-01T00:00:00Z', source: 'bench', observed_at: now, version: 1 } });
    for (const [suffix, compliant] of [['a', true], ['b', i % 10 !== 0]] as const) {
      const device = randomIds ? guid(`dev-${i}-${suffix}`) : `dev-${i}-${suffix}`;
      yield JSON.stringify({ kind: 'device', record: { id: device, owner: id, enrolled: true, compliant, encrypted: true, platform: 'macos', os_version: '14.6.1', ownership: 'corporate', source: 'bench', observed_at: now, version: 1 } });
    }
  }
}

/**
 * Imports the fixture in 50,000-line requests; returns records per second. The request bodies are built
 * before the clock starts, as `tether import` reads a file: the figure is the server's, not the time
 * this process takes to make up records between requests (the server sat idle during it).
 */
export async function importFixture(base: string, n: number, aliases?: AliasesOf): Promise<number> {
  const bodies: Buffer[] = []; // off the V8 heap: 1M identities are ~900 MB of NDJSON
  let batch: string[] = [];
  for (const line of fixture(n, aliases)) {
    batch.push(line);
    if (batch.length >= 50_000) {
      bodies.push(Buffer.from(batch.join('\n') + '\n'));
      batch = [];
    }
  }
  if (batch.length) bodies.push(Buffer.from(batch.join('\n') + '\n'));
  const started = process.hrtime.bigint();
  let total = 0;
  for (const body of bodies) {
    const res = await fetch(`${base}/v1/state/import`, { method: 'POST', headers: { authorization: `Bearer ${BENCH_TOKEN}`, 'content-type': 'application/x-ndjson' }, body });
    const out = (await res.json()) as { imported: number; rejected: number };
    if (!res.ok || out.rejected) throw new Error(`import failed: ${res.status} ${JSON.stringify(out).slice(0, 300)}`);
    total += out.imported;
    process.stderr.write(`\rimported ${total} of ${3 * n} records`);
  }
  process.stderr.write('\n');
  return total / (Number(process.hrtime.bigint() - started) / 1e9);
}

/** Polls /metrics until no lifecycle recheck is due (the post-import catch-up is done); returns seconds waited. */
export async function waitForLifecycleCatchUp(base: string, timeoutMs = 1_800_000): Promise<number> {
  const started = Date.now();
  let zeroes = 0;
  while (Date.now() - started < timeoutMs) {
    const text = await (await fetch(`${base}/metrics`)).text();
    const m = /^tether_lifecycle_rechecks_due (\d+(?:\.\d+)?)$/m.exec(text);
    if (!m) throw new Error('tether_lifecycle_rechecks_due is missing from /metrics');
    // Two zero readings in a row: the drain also finished the refreshes it had already started.
    zeroes = Number(m[1]) === 0 ? zeroes + 1 : 0;
    if (zeroes >= 2) {
      process.stderr.write('\n');
      return (Date.now() - started) / 1000;
    }
    process.stderr.write(`\rlifecycle catch-up: ${m[1]} identities due   `);
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`lifecycle catch-up not done within ${timeoutMs} ms`);
}

/**
 * Waits until every resident replica holds the whole store (tether_state_resident_complete 1, dirty 0):
 * the fill after a start or a bulk import runs in the background. Returns the seconds waited.
 */
export async function waitForResident(base: string, timeoutMs = 600_000): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const text = await (await fetch(`${base}/metrics`)).text();
    const read = (name: string) => [...text.matchAll(new RegExp(`^${name}\\{replica="(\\w+)"\\} (\\d+(?:\\.\\d+)?)$`, 'gm'))].map((m) => ({ replica: m[1], value: Number(m[2]) }));
    const complete = read('tether_state_resident_complete');
    const entries = read('tether_state_resident_entries');
    if (complete.length === 0) return 0; // residency off
    const dirty = read('tether_state_resident_dirty').reduce((n, r) => n + r.value, 0);
    if (complete.every((r) => r.value === 1) && dirty === 0) {
      process.stderr.write('\n');
      return (Date.now() - started) / 1000;
    }
    process.stderr.write(`\rresident fill: ${entries.map((e) => `${e.replica} ${e.value}`).join(', ')} entries, ${dirty} dirty   `);
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`resident replicas not complete within ${timeoutMs} ms`);
}

/** `count` /v1/decide bodies for users spread over all n identities (stride 7919, coprime with n). */
export function decideBodies(n: number, count = 5000): string[] {
  const bodies: string[] = [];
  for (let k = 0; k < count; k++) {
    const i = (k * 7919) % n;
    bodies.push(JSON.stringify({ action: 'access', subject: `user-${i}@example.com`, device: `dev-${i}-${k % 2 ? 'a' : 'b'}`, resource: { app: 'wiki' } }));
  }
  return bodies;
}

/** The same bodies as paced-load variants. */
export function decideVariants(n: number, count?: number): PacedVariant[] {
  return decideBodies(n, count).map((body) => ({ method: 'POST', path: '/v1/decide', headers: { 'content-type': 'application/json' }, body }));
}
