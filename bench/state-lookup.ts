// Decision-path read benchmark of the state store at scale (issue 3: decision p99 with 1M identities and
// 2M devices within 2x of that with 10,000). Loads N identities + 2N devices into a durable store
// (reused across runs when --dir is given), reopens it cold, then times the reads one decision makes
// (getIdentity by alias, getDevice, listDevicesByOwner, listExceptions, getBreakGlass) for subjects
// drawn uniformly at random — the worst case for the LRU cache — and prints p50/p99/p99.9 in µs plus
// CPU µs per lookup.
// Usage: tsx bench/state-lookup.ts [--identities 10000,1000000] [--samples 50000] [--dir DIR] [--cache N]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStore, type ImportLine } from '../src/state/store';
import { fixture } from './lib/fixture';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const SIZES = opt('identities', '10000,1000000').split(',').map(Number);
const SAMPLES = Number(opt('samples', '50000'));
const CACHE = opt('cache', '') ? Number(opt('cache', '')) : undefined;
const KEEP = opt('dir', '');
const BATCH = 5000;

function populate(dbPath: string, n: number): void {
  const store = openSqliteStore({ path: dbPath, synchronous: 'normal' });
  try {
    if (store.counts().identity === n) return;
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    let batch: ImportLine[] = [];
    let line = 0;
    let lastReport = t0;
    let sinceReport = 0;
    for (const text of fixture(n)) {
      batch.push({ line: ++line, text });
      if (batch.length < BATCH) continue;
      const r = store.importBatch(batch);
      if (r.rejected) throw new Error(JSON.stringify(r.errors.slice(0, 2)));
      sinceReport += batch.length;
      batch = [];
      const t = process.hrtime.bigint();
      if (t - lastReport > 10_000_000_000n) {
        process.stderr.write(`  loaded ${line} records; last ${sinceReport} at ${Math.round(sinceReport / (Number(t - lastReport) / 1e9))}/s\n`);
        lastReport = t;
        sinceReport = 0;
      }
    }
    if (batch.length) store.importBatch(batch);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(cpu0);
    console.log(`loaded ${line} records in ${s.toFixed(1)} s: ${Math.round(line / s)} records/s, ${(((c.user + c.system) / line)).toFixed(1)} CPU µs/record (sync normal, batch ${BATCH})`);
  } finally {
    store.close();
  }
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

// Deterministic PRNG so runs at different sizes draw comparable sequences.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function measure(dbPath: string, n: number): void {
  const store = openSqliteStore({ path: dbPath, cacheSize: CACHE });
  try {
    const rand = rng(42);
    const once = () => {
      const i = Math.floor(rand() * n);
      const subject = store.getIdentity(`user-${i}@example.com`);
      if (!subject) throw new Error(`user-${i} missing`);
      const dev = store.getDevice(`dev-${i}-${i % 2 ? 'a' : 'b'}`);
      const owned = store.listDevicesByOwner(subject.id);
      if (!dev || owned.length !== 2) throw new Error(`devices of user-${i} missing`);
      store.listExceptions(subject.id);
      store.getBreakGlass(subject.id);
    };
    // Warm-up (JIT, SQLite page cache, LRU) with as many lookups as are measured.
    for (let k = 0; k < SAMPLES; k++) once();
    const times = new Float64Array(SAMPLES);
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < SAMPLES; k++) {
      const s = process.hrtime.bigint();
      once();
      times[k] = Number(process.hrtime.bigint() - s) / 1000;
    }
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(cpu0);
    const sorted = Array.from(times).sort((a, b) => a - b);
    console.log(
      `| ${n} | ${2 * n} | ${SAMPLES} | ${pct(sorted, 0.5).toFixed(1)} | ${pct(sorted, 0.99).toFixed(1)} | ${pct(sorted, 0.999).toFixed(1)} | ${((c.user + c.system) / SAMPLES).toFixed(1)} | ${Math.round(SAMPLES / wall)} |`,
    );
  } finally {
    store.close();
  }
}

function main() {
  const base = KEEP || fs.mkdtempSync(path.join(os.tmpdir(), 'tether-lookup-bench-'));
  fs.mkdirSync(base, { recursive: true });
  const rows: Array<() => void> = [];
  for (const n of SIZES) {
    const dbPath = path.join(base, `state-${n}.db`);
    populate(dbPath, n);
    rows.push(() => measure(dbPath, n));
  }
  console.log(`\n## Decision-path store reads, uniform random subjects, cache ${CACHE ?? 'default'} entries, load avg ${os.loadavg()[0].toFixed(1)}\n`);
  console.log('| identities | devices | lookups | p50 µs | p99 µs | p99.9 µs | CPU µs/lookup | lookups/s |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) r();
  if (!KEEP) fs.rmSync(base, { recursive: true, force: true });
}

main();
