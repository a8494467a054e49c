// Starts a server under test in its own process (so the load generator never shares its event loop)
// and waits until it answers.
import { spawn, ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** Finds a free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Spawns `args` with env, then polls readyUrl until it answers 200 (or fails after timeoutMs). */
/** The environment `npm start` gives Tether (package.json), so benchmarks measure what users run. */
export const TETHER_START_ENV = { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' };

export async function startChild(args: string[], env: Record<string, string>, readyUrl: string, timeoutMs = 120_000): Promise<ChildProcess> {
  const child = spawn(args[0], args.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}`);
    try {
      const res = await fetch(readyUrl);
      if (res.ok) return child;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error(`${readyUrl} not ready within ${timeoutMs} ms`);
}

/** Stops a child and waits for it to exit. */
export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  });
}
