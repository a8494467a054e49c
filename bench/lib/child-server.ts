// Starts a server under test in its own process (so the load generator never shares its event loop)
// and waits until it answers.
import { spawn, ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

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

/** How `npm start` runs Tether: its environment and node's flags, read from package.json's start script. */
export interface StartCommand {
  env: Record<string, string>;
  nodeFlags: string[];
}

/**
 * Parses a start script of the form `VAR=value … node --flag … --require tsx/cjs src/cli.ts serve`, so
 * benchmarks start Tether exactly as `npm start` does instead of keeping a copy of its settings.
 */
export function parseStartScript(script: string): StartCommand {
  const words = script.trim().split(/\s+/);
  const env: Record<string, string> = {};
  let i = 0;
  for (; i < words.length && /^[A-Z_][A-Z0-9_]*=/.test(words[i]); i++) {
    const eq = words[i].indexOf('=');
    env[words[i].slice(0, eq)] = words[i].slice(eq + 1);
  }
  if (words[i] !== 'node') throw new Error(`start script does not run node after its variables: ${script}`);
  const nodeFlags: string[] = [];
  for (i++; i < words.length && words[i].startsWith('--') && words[i] !== '--require'; i++) nodeFlags.push(words[i]);
  return { env, nodeFlags };
}

/** What `npm start` gives Tether (package.json), so benchmarks measure what users run. */
export const TETHER_START: StartCommand = parseStartScript(
  (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start,
);

/** The command line of `tether serve` as `npm start` runs it, with `extraNodeFlags` (profiling, tuning) added. */
export function tetherServeArgs(extraNodeFlags: string[] = []): string[] {
  return [process.execPath, ...TETHER_START.nodeFlags, ...extraNodeFlags, '--require', 'tsx/cjs', join(__dirname, '..', '..', 'src', 'cli.ts'), 'serve'];
}

/**
 * Spawns `args` with env, then polls readyUrl until it answers 200 (or fails after timeoutMs). Its stdout is
 * dropped unless BENCH_CHILD_STDOUT is set (for node's --trace-gc through `--tether-flags`); stderr is shown.
 */
export async function startChild(args: string[], env: Record<string, string>, readyUrl: string, timeoutMs = 120_000): Promise<ChildProcess> {
  const child = spawn(args[0], args.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', process.env.BENCH_CHILD_STDOUT ? 'inherit' : 'ignore', 'inherit'] });
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
