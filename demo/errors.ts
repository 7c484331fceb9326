// The demo's own errors. The command prints each as one line (no stack trace): they are
// mistakes in what was asked, not bugs.

/** A command-line mistake: the message says which flag and what was expected. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Writing the results failed after the table was printed: the message says so. */
export class OutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutputError';
  }
}
