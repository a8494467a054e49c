#!/usr/bin/env node
// The tether command line: serve | build | eval | test | conformance | import.
import './cli/early-hangup'; // first: a SIGHUP while `serve` starts must not end it
import { CommandError, engineErrorText, HelpRequested, stdio, UsageError, type CommandIO } from './cli/args';
import { runBuild } from './cli/build';
import { runConformanceCommand } from './cli/conformance';
import { runEval } from './cli/eval';
import { runTestCommand } from './cli/test';
import { EngineError } from './engine/errors';
import { ConfigError } from './config';
import { StateUnavailableError } from './state/errors';

export const USAGE = `usage: tether <command> [args]
  serve                                         run the policy decision service
  build [paths...] -e <entrypoint>... -o <out>  compile policies into an OPA bundle (.tar.gz)
  eval [-d <path>]... [-i input.json] '<query>' evaluate a query, printing the result set as JSON
  test [-v] [--strict] [dir]                    run test_* rules of *_test.rego files (default: policies);
                                                print(...) output is shown for failures, for all with -v;
                                                --strict (also build, eval): unused imports and := vars are errors
  conformance [dir] [--case "<note>"]           run OPA's Rego conformance cases
  import ...                                    import records (see tether import --help)`;

/** Runs one command; returns the process exit code. */
export async function main(argv: string[], io: CommandIO = stdio): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'build':
        return await runBuild(rest, io);
      case 'eval':
        return await runEval(rest, io);
      case 'test':
        return await runTestCommand(rest, io);
      case 'conformance':
        return await runConformanceCommand(rest, io);
      case 'serve': {
        // Owned by the service engineers; loaded lazily so the CLI works without the server's deps.
        const server = require('./server') as { serve: (argv?: string[]) => unknown };
        await server.serve(rest);
        return 0;
      }
      case 'import': {
        const imp = require('./cli/import') as { runImport: (argv: string[], io?: CommandIO) => Promise<number> | number };
        return (await imp.runImport(rest, io)) ?? 0;
      }
      case undefined:
        io.err(USAGE);
        return 2;
      case '-h':
      case '--help':
      case 'help':
        io.out(USAGE);
        return 0;
      default:
        io.err(`unknown command ${cmd}\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof HelpRequested) {
      io.out(e.usage);
      return 0;
    }
    if (e instanceof UsageError) {
      io.err(e.message);
      return 2;
    }
    // Configuration mistakes (EX_CONFIG); the message names the variable.
    if (e instanceof ConfigError) {
      io.err(e.message);
      return 78;
    }
    if (e instanceof CommandError) {
      io.err(e.message);
      return 1;
    }
    // The data dir's store cannot be opened (not a database, a damaged write-ahead log): the environment's, not a bug.
    if (e instanceof StateUnavailableError) {
      io.err(e.message);
      return 1;
    }
    if (e instanceof EngineError) {
      io.err(engineErrorText(e));
      return 1;
    }
    const errno = userErrno(e);
    if (errno) {
      io.err(errno);
      return 1;
    }
    throw e; // a bug: exit 70 below
  }
}

// Errno failures caused by the environment the user gave (a missing or unwritable path, a port in use),
// not by a bug: said as `<path>: <what>` instead of a stack trace.
const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EACCES: 'permission denied (EACCES)',
  EPERM: 'operation not permitted (EPERM)',
  EROFS: 'read-only file system (EROFS)',
  ENOSPC: 'no space left on device (ENOSPC)',
  EEXIST: 'already exists',
  EADDRINUSE: 'address in use (EADDRINUSE)',
  EADDRNOTAVAIL: 'address not available (EADDRNOTAVAIL)',
};

function userErrno(e: unknown): string | undefined {
  const err = e as NodeJS.ErrnoException & { address?: string; port?: number };
  if (!err || typeof err !== 'object' || typeof err.code !== 'string' || !(err.code in ERRNO_TEXT)) return undefined;
  const item = err.path ?? (err.port !== undefined ? `${err.address ?? ''}:${err.port}` : undefined);
  return item ? `${item}: ${ERRNO_TEXT[err.code]}` : `${err.syscall ?? 'error'}: ${ERRNO_TEXT[err.code]}`;
}

if (require.main === module) {
  // `tether test | head`: a reader that went away is not an error worth a stack trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? 0);
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      // The reason, not a stack trace (TETHER_LOG_LEVEL=debug adds it, for a bug report).
      const err = e as Error;
      const detail = process.env.TETHER_LOG_LEVEL === 'debug' ? (err.stack ?? String(e)) : `${err.name ?? 'Error'}: ${err.message ?? String(e)}`;
      process.stderr.write(`tether: ${detail}\n`);
      process.exitCode = 70;
    },
  );
}
