// How much CPU time the hypervisor took from this VM while something was measured ("steal" in
// /proc/stat: time a vCPU had work but the host ran something else). On the 2-core benchmark VM the
// p99 at 1,000 req/s followed it: over three full runs, Tether's paced runs at ≤ 1% steal had a median p99
// of 3.8 ms, those over 1% 8.6 ms (bench/README "Host steal").
import { readFileSync } from 'node:fs';

/** Cumulative CPU time of the whole machine, in clock ticks, from the aggregate `cpu` line. */
export interface CpuTicks {
  steal: number;
  /** user + nice + system + idle + iowait + irq + softirq + steal (guest time is inside user). */
  total: number;
}

/** Reads the aggregate `cpu` line of /proc/stat text; undefined when it has no steal column. */
export function parseProcStat(text: string): CpuTicks | undefined {
  const line = text.split('\n').find((l) => /^cpu\s/.test(l));
  const fields = line?.trim().split(/\s+/).slice(1, 9).map(Number);
  if (!fields || fields.length < 8 || fields.some((f) => !Number.isFinite(f))) return undefined;
  return { steal: fields[7], total: fields.reduce((a, b) => a + b, 0) };
}

/** The machine's CPU ticks now; undefined where /proc/stat cannot be read (not Linux). */
export function cpuTicks(): CpuTicks | undefined {
  try {
    return parseProcStat(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return undefined;
  }
}

/** The share (0–1) of the machine's CPU time stolen between two readings; NaN when either is missing. */
export function stealShare(before: CpuTicks | undefined, after: CpuTicks | undefined): number {
  if (!before || !after || after.total <= before.total) return NaN;
  return (after.steal - before.steal) / (after.total - before.total);
}

/** Runs `fn` and returns its result with the share of CPU time the host stole meanwhile. */
export async function withSteal<T>(fn: () => Promise<T>): Promise<{ value: T; steal: number }> {
  const before = cpuTicks();
  const value = await fn();
  return { value, steal: stealShare(before, cpuTicks()) };
}

/** A steal share as a percentage for a report ('-' when unknown). */
export const stealPct = (s: number): string => (Number.isFinite(s) ? `${(100 * s).toFixed(2)}%` : '-');

/**
 * Above this share a run is "host-disturbed": the hypervisor took more than 1% of the machine's CPU time
 * (200 ms of a 10 s run on 2 vCPUs, in stalls of 10-40 ms that each delay every request behind them).
 */
export const DISTURBED_STEAL = 0.01;
