#!/usr/bin/env node
// The package's command line: `noised-topk demo [options]`, `noised-topk --version`.
// Every failure is one line on stderr and a non-zero status: 2 for a mistake in the command
// line, 1 for anything else. A stack trace is shown only with NOISED_TOPK_DEBUG=1.
import { readFileSync } from 'node:fs';
import { DataFileError } from './demo/data-file.js';
import { OutputError, UsageError } from './demo/errors.js';
import { HELP, parseDemoArgs, runDemo } from './demo/run.js';

const USAGE = `Usage: noised-topk <command> [options]

Commands:
  demo         train a small model with five losses on long-tailed data and compare top-k accuracy
               (noised-topk demo --help for its options)
  --version    print the package version
`;

function version(): string {
  // dist/cli.js -> ../package.json, in the repository and in an installed package alike.
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function main(argv: string[]): number {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 1 : 0;
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (command !== 'demo') {
    process.stderr.write(`noised-topk: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return 1;
  }
  try {
    const options = parseDemoArgs(rest);
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
    process.stderr.write(`noised-topk demo: ${message.split('\n')[0]}${expected ? '' : ' (NOISED_TOPK_DEBUG=1 shows where)'}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}

process.exitCode = main(process.argv.slice(2));
