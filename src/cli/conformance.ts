// `tether conformance [dir] [--case "<note>"] [--skip file]`: OPA's YAML cases through the compiler.
import { existsSync } from 'node:fs';
import { defaultCaseDir, formatReport, runConformance } from '../conformance/run';
import { parseArgs, type CommandIO } from './args';

export async function runConformanceCommand(argv: string[], io: CommandIO): Promise<number> {
  const a = parseArgs(argv, { values: { '--case': 'case', '--skip': 'skip' }, booleans: { '-v': 'verbose', '--verbose': 'verbose' } });
  const dir = a.positionals[0] ?? defaultCaseDir();
  if (!existsSync(dir)) {
    io.err(`conformance cases not found at ${dir}: pass a directory or set TETHER_CONFORMANCE_DIR (they live in ../shared/rego-conformance/cases)`);
    return 2;
  }
  const verbose = a.flags.has('verbose') || a.values.case !== undefined;
  const summary = await runConformance(dir, {
    caseNote: a.values.case?.[0],
    skipFile: a.values.skip?.[0],
    onResult: verbose ? (r) => io.err(`${r.status.toUpperCase()} ${r.note}${r.reason ? `\n  ${r.reason}` : ''}`) : undefined,
  });
  for (const f of summary.fileErrors) io.err(`rejected ${f.file}:\n  ${f.errors.join('\n  ')}`);
  io.out(formatReport(summary, a.positionals[0] ?? dir));
  return summary.failed === 0 ? 0 : 1;
}
