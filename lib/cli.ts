#!/usr/bin/env node
// The package's command line: `noised-topk demo [options]`.
import { DataFileError } from './demo/data-file.js';
import { HELP, parseDemoArgs, runDemo, UsageError } from './demo/run.js';

const USAGE = `Usage: noised-topk <command> [options]

Commands:
  demo    train a small model with five losses on long-tailed data and compare top-k accuracy
          (noised-topk demo --help for its options)
`;

export function main(argv: string[]): number {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 1 : 0;
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
    if (e instanceof UsageError || e instanceof DataFileError) {
      process.stderr.write(`noised-topk demo: ${e.message}\n`);
      return e instanceof UsageError ? 2 : 1;
    }
    throw e;
  }
}

process.exitCode = main(process.argv.slice(2));
