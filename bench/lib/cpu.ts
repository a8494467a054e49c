// CPU accounting of benchmark processes from /proc, and waiting for a server's background work to settle.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** CPU time (user + system, ms) a process has used so far, from /proc/<pid>/stat; NaN when gone. */
export function cpuMs(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK; // utime, stime (fields 14, 15)
  } catch {
    return NaN;
  }
}
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** Waits until `pid` uses under 5% of a core over 1 s (background work after the import), at most maxMs. */
export async function waitIdle(pid: number | undefined, maxMs = 60_000): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < maxMs) {
    const before = cpuMs(pid);
    await new Promise((r) => setTimeout(r, 1000));
    if (cpuMs(pid) - before < 50) break;
  }
  return (performance.now() - started) / 1000;
}

