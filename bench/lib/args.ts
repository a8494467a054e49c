// Command-line options of the benchmark scripts.

/** The number after `--name` on the command line, or `dflt` when the option is absent. */
export function numberArg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
