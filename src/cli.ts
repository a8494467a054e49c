#!/usr/bin/env node
// The tether command line: serve | build | eval | test | conformance | import.
import './cli/early-hangup'; // first: a SIGHUP while `serve` starts must not end it
import { stdio, UsageError, type CommandIO } from './cli/args';
import { runBuild } from './cli/build';
import { runConformanceCommand } from './cli/conformance';
import { runEval } from './cli/eval';
import { runTestCommand } from './cli/test';
import { EngineError } from './engine/errors';

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
        const imp = require('./cli/import') as { runImport: (argv: string[]) => Promise<number> | number };
        return (await imp.runImport(rest)) ?? 0;
      }
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        io.out(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        io.err(`unknown command ${cmd}\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(e.message);
      return 2;
    }
    if (e instanceof EngineError) {
      io.err(`${e.code}: ${e.message}`);
      return 1;
    }
    throw e;
  }
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
