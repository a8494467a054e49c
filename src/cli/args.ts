// A small argv parser for the tether sub-commands: flags with values (repeatable), booleans, positionals.

export interface ArgSpec {
  /** Flags taking a value; aliases map to the canonical name (e.g. {'-e': 'entrypoint'}). */
  values: Record<string, string>;
  /** Boolean flags. */
  booleans?: Record<string, string>;
}

export interface ParsedArgs {
  values: Record<string, string[]>;
  flags: Set<string>;
  positionals: string[];
}

export class UsageError extends Error {
  readonly code = 'usage_error';
}

/** Parses argv; `--flag=value` and `--flag value` both work; `--` ends flags. */
export function parseArgs(argv: string[], spec: ArgSpec): ParsedArgs {
  const out: ParsedArgs = { values: {}, flags: new Set(), positionals: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('-') && a !== '-') {
      const eq = a.indexOf('=');
      const flag = eq > 0 ? a.slice(0, eq) : a;
      if (spec.values[flag]) {
        const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
        if (v === undefined) throw new UsageError(`flag ${flag} needs a value`);
        (out.values[spec.values[flag]] ??= []).push(v);
        continue;
      }
      if (spec.booleans?.[flag]) {
        out.flags.add(spec.booleans[flag]);
        continue;
      }
      throw new UsageError(`unknown flag ${flag}`);
    }
    out.positionals.push(a);
  }
  return out;
}

/** What a command prints and returns; main() writes these and exits with the code. */
export interface CommandIO {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const stdio: CommandIO = {
  out: (s) => process.stdout.write(s.endsWith('\n') ? s : s + '\n'),
  err: (s) => process.stderr.write(s.endsWith('\n') ? s : s + '\n'),
};
