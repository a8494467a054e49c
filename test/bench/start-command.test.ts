// Benchmarks start Tether the way users do: with npm start's environment and node flags, read from
// package.json, and the Docker image runs node with the same flags.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseStartScript, TETHER_START } from '../../bench/lib/child-server';

const root = join(__dirname, '..', '..');

test('parses the variables and node flags of a start script', () => {
  expect(parseStartScript('A=1 B_2=x=y node --flag-one --flag-two=3 --require tsx/cjs src/cli.ts serve')).toEqual({
    env: { A: '1', B_2: 'x=y' },
    nodeFlags: ['--flag-one', '--flag-two=3'],
  });
  expect(parseStartScript('node --require tsx/cjs src/cli.ts serve')).toEqual({ env: {}, nodeFlags: [] });
});

test('refuses a start script that does not run node', () => {
  expect(() => parseStartScript('A=1 tsx src/cli.ts serve')).toThrow('does not run node');
});

test("the benchmarks' Tether gets npm start's huge pages, young-generation size and exposed gc", () => {
  expect(TETHER_START.env).toEqual({ GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' });
  expect(TETHER_START.nodeFlags).toEqual(['--max-semi-space-size=2', '--expose-gc']);
});

test("npm start's node flags give the heap settle its gc function (src/api/heap-settle.ts)", () => {
  const script = `console.log(typeof require(${JSON.stringify(join(root, 'src/api/heap-settle.ts'))}).exposedGc())`;
  const run = spawnSync(process.execPath, [...TETHER_START.nodeFlags, '--require', 'tsx/cjs', '-e', script], { cwd: root, encoding: 'utf8' });
  expect(run.stderr).toBe('');
  expect(run.stdout.trim()).toBe('function');
});

test('the Docker image runs node with the same flags as npm start', () => {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]) as string[];
  expect(cmd.slice(1, 1 + TETHER_START.nodeFlags.length)).toEqual(TETHER_START.nodeFlags);
  for (const [k, v] of Object.entries(TETHER_START.env)) expect(dockerfile).toContain(`${k}=${v}`);
});
