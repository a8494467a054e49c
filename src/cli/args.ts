// A small argv parser for the tether sub-commands: flags with values (repeatable), booleans, positionals.

export interface ArgSpec {
  /** Flags taking a value; aliases map to the canonical name (e.g. {'-e': 'entrypoint'}). */
  values: Record<string, string>;
  /** Boolean flags. */
  booleans?: Record<string, string>;
  /** The command's usage: `-h`/`--help` then throws HelpRequested with it (printed to stdout, exit 0). */
  usage?: string;
}

export interface ParsedArgs {
  values: Record<string, string[]>;
  flags: Set<string>;
  positionals: string[];
}

export class UsageError extends Error {
  readonly code = 'usage_error';
}

/** `-h`/`--help`: main() prints the message (the command's usage) on stdout and exits 0. */
export class HelpRequested extends Error {
  constructor(readonly usage: string) {
    super(usage);
    this.name = 'HelpRequested';
  }
}

/** A failure the user can fix (a bad file, a path that is not a directory, a port in use): exit 1, the message alone. */
export class CommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandError';
  }
}

/** An engine error as `code: message`, without repeating a code the message already starts with or names. */
export function engineErrorText(e: { code: string; message: string }): string {
  return new RegExp(`\\b${e.code}\\b`).test(e.message) ? e.message : `${e.code}: ${e.message}`;
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
    if ((a === '-h' || a === '--help') && spec.usage !== undefined && !spec.values[a] && !spec.booleans?.[a]) throw new HelpRequested(spec.usage);
    if (a.startsWith('-') && a !== '-') {
      const eq = a.indexOf('=');
      const flag = eq > 0 ? a.slice(0, eq) : a;
      if (spec.values[flag]) {
        const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
        if (v === undefined) throw new UsageError(`flag ${flag} needs a value${spec.usage ? `\n${spec.usage}` : ''}`);
        (out.values[spec.values[flag]] ??= []).push(v);
        continue;
      }
      if (spec.booleans?.[flag]) {
        out.flags.add(spec.booleans[flag]);
        continue;
      }
      throw new UsageError(`unknown flag ${flag}${spec.usage ? `\n${spec.usage}` : ''}`);
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
