// `tether conformance [dir] [--case "<note>"] [--skip file]`: OPA's YAML cases through the compiler.
import { existsSync, statSync } from 'node:fs';
import { defaultCaseDir, formatReport, runConformance } from '../conformance/run';
import { parseArgs, UsageError, type CommandIO } from './args';

export const CONFORMANCE_USAGE = 'usage: tether conformance [dir] [--case "<note>"] [--skip file] [-v]   (default dir: TETHER_CONFORMANCE_DIR or ../shared/rego-conformance/cases)';

export async function runConformanceCommand(argv: string[], io: CommandIO): Promise<number> {
  const a = parseArgs(argv, { values: { '--case': 'case', '--skip': 'skip' }, booleans: { '-v': 'verbose', '--verbose': 'verbose' }, usage: CONFORMANCE_USAGE });
  if (a.positionals.length > 1) throw new UsageError(`one case directory at most\n${CONFORMANCE_USAGE}`);
  const dir = a.positionals[0] ?? defaultCaseDir();
  if (!existsSync(dir)) {
    io.err(`conformance cases not found at ${dir}: pass a directory or set TETHER_CONFORMANCE_DIR (they live in ../shared/rego-conformance/cases)`);
    return 2;
  }
  if (!statSync(dir).isDirectory()) {
    io.err(`conformance: ${dir} is not a directory (pass the directory of the YAML case files)\n${CONFORMANCE_USAGE}`);
    return 2;
  }
  const verbose = a.flags.has('verbose') || a.values.case !== undefined;
  const summary = await runConformance(dir, {
    caseNote: a.values.case?.[0],
    skipFile: a.values.skip?.[0],
    onResult: verbose ? (r) => io.err(`${r.status.toUpperCase()} ${r.note}${r.reason ? `\n  ${r.reason}` : ''}`) : undefined,
  });
  if (summary.passed + summary.failed + summary.skipped === 0 && summary.fileErrors.length === 0) {
    io.err(a.values.case ? `no conformance case "${a.values.case[0]}" in ${dir}` : `no conformance cases in ${dir}`);
    return 1;
  }
  for (const f of summary.fileErrors) io.err(`rejected ${f.file}:\n  ${f.errors.join('\n  ')}`);
  io.out(formatReport(summary, a.positionals[0] ?? dir));
  return summary.failed === 0 ? 0 : 1;
}
