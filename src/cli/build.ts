// `tether build [paths...] -e <entrypoint>... -o bundle.tar.gz`: compiles policies to an OPA bundle.
import { accessSync, constants, statSync, writeFileSync } from 'node:fs';
import { dirname, relative, sep } from 'node:path';
import { createHash } from 'node:crypto';
import { compile, formatDiagnostics, parseAll } from '../compiler';
import { writeBundle } from '../engine/bundle';
import { collectSources, rulePaths } from '../engine/sources';
import { CommandError, parseArgs, UsageError, type CommandIO } from './args';

export const BUILD_USAGE = 'usage: tether build [paths...] -e <entrypoint>... [-o bundle.tar.gz] [--revision <rev>] [--strict]';

export async function runBuild(argv: string[], io: CommandIO): Promise<number> {
  const a = parseArgs(argv, { values: { '-e': 'e', '--entrypoint': 'e', '-o': 'o', '--output': 'o', '-r': 'rev', '--revision': 'rev' }, booleans: { '--strict': 'strict' }, usage: BUILD_USAGE });
  const entrypoints = (a.values.e ?? []).map((e) => e.replace(/^data\./, '').replace(/\./g, '/').replace(/^\/+/, ''));
  if (entrypoints.length === 0) throw new UsageError(`at least one -e entrypoint is required\n${BUILD_USAGE}`);
  const paths = a.positionals.length ? a.positionals : ['.'];
  const output = a.values.o?.[0] ?? 'bundle.tar.gz';
  checkOutput(output);
  const t0 = performance.now();
  const src = collectSources(paths);
  // As opa build: every entrypoint must name a rule (or a document prefix of rules) the policies define.
  const parsed = parseAll({ files: src.files, entrypoints: [] });
  if (parsed.diagnostics.length === 0) {
    const defined = rulePaths(parsed.modules);
    const bad = entrypoints.find((e) => e === '' || !defined.some((d) => d === e || d.startsWith(`${e}/`)));
    if (bad !== undefined) {
      io.err(`entrypoint "${bad}" does not refer to a rule or policy decision`);
      return 1;
    }
  }
  io.err(`compiling ${src.files.length} policy file(s), ${entrypoints.length} entrypoint(s)...`);
  const r = await compile({ files: src.files, entrypoints, strict: a.flags.has('strict') });
  if (!r.ok || !r.wasm) {
    io.err(formatDiagnostics(r.diagnostics, Object.fromEntries(src.files.map((f) => [f.name, f.text]))));
    io.err(`${r.diagnostics.length} error(s)`);
    return 1;
  }
  const revision = a.values.rev?.[0] ?? createHash('sha256').update(r.wasm).update(JSON.stringify(src.data)).digest('hex').slice(0, 16);
  // Sources are stored relative to the path they were found under, as `opa build` does.
  const roots = paths.map((p) => (statSync(p).isDirectory() ? p : dirname(p)));
  const bundlePath = (file: string): string => {
    const root = roots.find((r) => !relative(r, file).startsWith('..')) ?? '.';
    return relative(root, file).split(sep).join('/');
  };
  const sources = Object.fromEntries(src.files.map((f) => [bundlePath(f.name), f.text]));
  const bundle = writeBundle({ wasm: r.wasm, entrypoints, data: src.data, revision, sources });
  writeFileSync(output, bundle);
  io.err(`built ${output}: ${src.files.length} file(s), ${entrypoints.length} entrypoint(s), wasm ${r.wasm.length} bytes, bundle ${bundle.length} bytes, revision ${revision} in ${Math.round(performance.now() - t0)} ms`);
  return 0;
}

/** Fails before compiling when the bundle cannot be written where -o says. */
function checkOutput(output: string): void {
  const dir = dirname(output);
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CommandError(`-o ${output}: ${code === 'ENOTDIR' ? 'not a directory' : code === 'ENOENT' ? `directory ${dir} does not exist` : `cannot use directory ${dir} (${code})`}`);
  }
  if (!st.isDirectory()) throw new CommandError(`-o ${output}: not a directory`);
  let outputIsDir = false;
  try {
    outputIsDir = statSync(output).isDirectory();
  } catch {
    // not there yet (or not readable): the write check below speaks for the directory
  }
  if (outputIsDir) throw new CommandError(`-o ${output}: is a directory`);
  try {
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw new CommandError(`-o ${output}: directory ${dir} is not writable (${(e as NodeJS.ErrnoException).code})`);
  }
}
