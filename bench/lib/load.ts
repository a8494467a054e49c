// Load generation for the HTTP benchmarks: one autocannon run, reduced to the figures we report.
import autocannon from 'autocannon';

/** The figures one load run reports (latencies in milliseconds). */
export interface LoadResult {
  label: string;
  requestsPerSec: number;
  p50: number;
  p99: number;
  p999: number;
  errors: number;
  non2xx: number;
}

/** Options for one run: a fixed rate (overallRate) or as fast as possible. */
export interface LoadOptions {
  label: string;
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** Bodies used round-robin, so that requests vary (subjects, devices). */
  bodies?: string[];
  connections?: number;
  durationSec?: number;
  overallRate?: number;
  /** Status codes that count as success besides 2xx (e.g. 403 for deny paths). */
  okStatuses?: number[];
}

/** Runs autocannon once and returns req/s and latency percentiles. */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  let i = 0;
  const bodies = opts.bodies;
  const result = await autocannon({
    url: opts.url,
    method: opts.method ?? 'GET',
    headers: { 'content-type': 'application/json', ...(opts.headers ?? {}) },
    connections: opts.connections ?? 32,
    duration: opts.durationSec ?? 10,
    overallRate: opts.overallRate,
    requests: bodies
      ? [{ setupRequest: (req: any) => ({ ...req, body: bodies[i++ % bodies.length] }) }]
      : undefined,
  } as any);
  const lat = result.latency as any;
  return {
    label: opts.label,
    requestsPerSec: result.requests.average,
    p50: lat.p50,
    p99: lat.p99,
    p999: lat.p99_9,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/** Formats results as a Markdown table with req/s ratios against a baseline row (one, or one per row). */
export function table<R extends LoadResult>(results: R[], baseline: LoadResult | ((r: R) => LoadResult)): string {
  const baselineOf = typeof baseline === 'function' ? baseline : () => baseline;
  const rows = results.map((r) =>
    `| ${r.label} | ${r.requestsPerSec.toFixed(0)} | ${(r.requestsPerSec / baselineOf(r).requestsPerSec).toFixed(2)} | ${r.p50} | ${r.p99} | ${r.p999} | ${r.errors} | ${r.non2xx} |`,
  );
  return [
    `| run | req/s | ratio to ${typeof baseline === 'function' ? 'baseline (same round)' : baseline.label} | p50 ms | p99 ms | p99.9 ms | errors | non-2xx |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}
