// The demo's --data input: the user's own features and labels, as CSV or JSON lines, for
// example embeddings from a frozen image backbone. Malformed input stops with the file, the
// line number and what was wrong.
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { CsvError, parse as parseCsvText } from 'csv-parse/sync';
import type { DemoData, Split } from './dataset.js';
import { Rng } from './rng.js';

/** A malformed data file; `line` is 1-based (0 when the problem is the file as a whole). */
export class DataFileError extends Error {
  readonly file: string;
  readonly line: number;

  constructor(file: string, line: number, message: string) {
    super(line > 0 ? `${file}:${line}: ${message}` : `${file}: ${message}`);
    this.name = 'DataFileError';
    this.file = file;
    this.line = line;
  }
}

export interface ParsedRows {
  /** Row-major features, rows * features. */
  x: Float32Array;
  /** Raw label of each row, as written in the file. */
  labels: string[];
  features: number;
}

const isNumber = (s: string): boolean => s.trim() !== '' && Number.isFinite(Number(s));
/** The model computes in float32: 1e39 is a finite double but Infinity once stored. */
const float32Finite = (v: number): boolean => Number.isFinite(Math.fround(v));
const FLOAT32_NOTE = 'not finite as a float32 (the largest is about 3.4e38)';

/** The largest --data file read (it is read whole into memory). */
export const MAX_DATA_BYTES = 512 * 1024 * 1024;

/**
 * Parser settings: '#' starts a comment only at the start of a line (a '#' inside a field is
 * data), blank lines are skipped, spaces around fields are trimmed, a UTF-8 byte order mark is
 * dropped. The column count is checked here rather than by the parser, to say which line has
 * how many fields against how many the first row has.
 */
const CSV_OPTIONS = {
  comment: '#',
  comment_no_infix: true,
  skip_empty_lines: true,
  trim: true,
  bom: true,
  relax_column_count: true,
} as const;

/** The parser's own failures, as one line that says what to fix. */
function csvSyntaxError(e: CsvError, file: string): DataFileError {
  const line = (e as CsvError & { lines?: number }).lines ?? 0;
  switch (e.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return new DataFileError(file, line, 'a quoted field is not closed (missing ")');
    case 'CSV_INVALID_CLOSING_QUOTE':
      return new DataFileError(
        file,
        line,
        'unexpected text after a quoted field (a quote inside a quoted field is written "")',
      );
    default:
      return new DataFileError(file, line, e.message.split('\n')[0]!);
  }
}

/**
 * CSV (RFC 4180, read by csv-parse): one row per record, the features then the label (the last
 * column, or the column named "label" when the first row is a header). A header is recognised
 * by a non-numeric feature field. Line numbers in errors are the file's lines (for a record with
 * a quoted line break, the line it ends on).
 */
export function parseCsv(text: string, file = 'data.csv'): ParsedRows {
  let width = -1;
  let labelCol = -1;
  let names: string[] | null = null;
  const x: number[] = [];
  const labels: string[] = [];
  // Each record is checked and stored as it is read, then dropped (on_record returns null): the
  // parser keeps no array of every record, so a file near MAX_DATA_BYTES is held about once as
  // text and once as numbers. A DataFileError thrown here leaves the parser unchanged.
  const onRecord = (fields: string[], lineNo: number): null => {
    if (width < 0) {
      width = fields.length;
      if (width < 2)
        throw new DataFileError(file, lineNo, `expected at least 2 fields (features, then the label), got ${width}`);
      const header = fields.slice(0, -1).some((f) => !isNumber(f));
      if (header) {
        names = fields;
        const named = fields.findIndex((f) => f.toLowerCase() === 'label');
        labelCol = named >= 0 ? named : width - 1;
        return null;
      }
      labelCol = width - 1;
    }
    if (fields.length !== width) {
      throw new DataFileError(
        file,
        lineNo,
        `expected ${width} fields (${width - 1} features and the label), got ${fields.length}`,
      );
    }
    for (let c = 0; c < width; c++) {
      if (c === labelCol) continue;
      const f = fields[c]!;
      const col = names ? ` (column ${JSON.stringify(names[c])})` : '';
      if (!isNumber(f))
        throw new DataFileError(file, lineNo, `field ${c + 1}${col} is ${JSON.stringify(f)}, not a finite number`);
      if (!float32Finite(Number(f)))
        throw new DataFileError(file, lineNo, `field ${c + 1}${col} is ${f}, ${FLOAT32_NOTE}`);
      x.push(Number(f));
    }
    const label = fields[labelCol]!;
    if (label === '') throw new DataFileError(file, lineNo, `the label (field ${labelCol + 1}) is empty`);
    labels.push(label);
    return null;
  };
  try {
    parseCsvText(text, {
      ...CSV_OPTIONS,
      on_record: (fields: string[], context: { lines: number }) => onRecord(fields, context.lines),
    });
  } catch (e) {
    if (e instanceof CsvError) throw csvSyntaxError(e, file);
    throw e;
  }
  if (labels.length === 0) throw new DataFileError(file, 0, 'no data rows');
  return { x: Float32Array.from(x), labels, features: width - 1 };
}

/** JSON lines: one object per line, {"features": [numbers], "label": integer or string}. */
export function parseJsonLines(text: string, file = 'data.jsonl'): ParsedRows {
  const lines = text.split(/\r?\n/);
  let features = -1;
  let firstLine = 0;
  const x: number[] = [];
  const labels: string[] = [];
  for (let li = 0; li < lines.length; li++) {
    const raw = lines[li]!.trim();
    const lineNo = li + 1;
    if (raw === '') continue;
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch (e) {
      throw new DataFileError(file, lineNo, `not valid JSON (${(e as Error).message})`);
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw new DataFileError(file, lineNo, 'expected an object {"features": [numbers], "label": ...}');
    }
    const o = obj as Record<string, unknown>;
    const f = o.features;
    if (!Array.isArray(f))
      throw new DataFileError(
        file,
        lineNo,
        `"features" must be an array of numbers, got ${f === undefined ? 'nothing' : JSON.stringify(f).slice(0, 40)}`,
      );
    if (features < 0) {
      features = f.length;
      firstLine = lineNo;
      if (features === 0) throw new DataFileError(file, lineNo, '"features" is empty');
    } else if (f.length !== features) {
      throw new DataFileError(
        file,
        lineNo,
        `"features" has ${f.length} numbers, expected ${features} (as on line ${firstLine})`,
      );
    }
    f.forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new DataFileError(file, lineNo, `features[${i}] is ${JSON.stringify(v)}, not a finite number`);
      }
      if (!float32Finite(v)) throw new DataFileError(file, lineNo, `features[${i}] is ${v}, ${FLOAT32_NOTE}`);
      x.push(v);
    });
    const label = o.label;
    if (typeof label === 'string' ? label.trim() === '' : !(typeof label === 'number' && Number.isInteger(label))) {
      throw new DataFileError(
        file,
        lineNo,
        `"label" must be an integer or a non-empty string, got ${label === undefined ? 'nothing' : JSON.stringify(label)}`,
      );
    }
    labels.push(String(label).trim());
  }
  if (labels.length === 0) throw new DataFileError(file, 0, 'no data rows');
  return { x: Float32Array.from(x), labels, features };
}

/** Parses by extension (.csv/.tsv-free CSV, .jsonl/.ndjson/.json), else by the first character. */
export function parseDataText(text: string, file: string): ParsedRows {
  const lower = file.toLowerCase();
  if (lower.endsWith('.csv')) return parseCsv(text, file);
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson') || lower.endsWith('.json'))
    return parseJsonLines(text, file);
  return text.trimStart().startsWith('{') ? parseJsonLines(text, file) : parseCsv(text, file);
}

export interface SplitOptions {
  seed: number;
  /** Fraction of each class held out for validation, and the same for test. Default 0.1. */
  holdOut?: number;
}

/**
 * Turns parsed rows into the demo's splits: per class, a seeded shuffle, then holdOut for
 * validation and holdOut for test (at least one each for classes with 3 or more rows; smaller
 * classes train only). Features are standardised with the training mean and deviation.
 */
export function splitRows(rows: ParsedRows, o: SplitOptions, file = 'data'): DemoData {
  const holdOut = o.holdOut ?? 0.1;
  const names = [...new Set(rows.labels)];
  const allInts = names.every((n) => /^-?\d+$/.test(n));
  names.sort(allInts ? (a, b) => Number(a) - Number(b) : undefined);
  if (names.length < 2)
    throw new DataFileError(file, 0, `the labels name ${names.length} class; at least 2 are needed`);
  const index = new Map(names.map((n, i) => [n, i]));
  const byClass: number[][] = names.map(() => []);
  for (const [i, l] of rows.labels.entries()) byClass[index.get(l)!]!.push(i);
  const rng = new Rng(o.seed, 300);
  const parts: [number[], number[], number[]] = [[], [], []];
  for (const members of byClass) {
    const m = rng.shuffle(Int32Array.from(members));
    const n = m.length;
    const h = n >= 3 ? Math.max(1, Math.floor(holdOut * n)) : 0;
    for (let i = 0; i < n; i++) parts[i < h ? 1 : i < 2 * h ? 2 : 0].push(m[i]!);
  }
  const F = rows.features;
  const mean = new Float64Array(F);
  const sd = new Float64Array(F);
  for (const r of parts[0]) for (let f = 0; f < F; f++) mean[f] = mean[f]! + rows.x[r * F + f]! / parts[0].length;
  for (const r of parts[0])
    for (let f = 0; f < F; f++) sd[f] = sd[f]! + (rows.x[r * F + f]! - mean[f]!) ** 2 / parts[0].length;
  for (let f = 0; f < F; f++) sd[f] = Math.sqrt(sd[f]!) || 1;
  const make = (ids: number[]): Split => {
    const order = rng.shuffle(Int32Array.from(ids));
    const x = new Float32Array(order.length * F);
    const y = new Int32Array(order.length);
    order.forEach((r, i) => {
      y[i] = index.get(rows.labels[r]!)!;
      for (let f = 0; f < F; f++) x[i * F + f] = (rows.x[r * F + f]! - mean[f]!) / sd[f]!;
    });
    return { x, y, n: order.length };
  };
  const [train, val, test] = parts.map(make) as [Split, Split, Split];
  if (val.n === 0 || test.n === 0) {
    throw new DataFileError(
      file,
      0,
      'too few rows to hold out validation and test examples (a class needs at least 3 rows)',
    );
  }
  const trainCounts = names.map(
    (_, c) =>
      byClass[c]!.length - (byClass[c]!.length >= 3 ? 2 * Math.max(1, Math.floor(holdOut * byClass[c]!.length)) : 0),
  );
  return {
    train,
    val,
    test,
    features: F,
    classes: names.length,
    trainCounts,
    classNames: names,
    description: `${basename(file)}: ${names.length} classes, ${F} features, ${train.n} train / ${val.n} val / ${test.n} test (stratified, seed ${o.seed})`,
  };
}

function kindOf(st: import('node:fs').Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a fifo';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

export function loadDataFile(path: string, seed: number): DemoData {
  // stat, not open: opening a fifo would wait for a writer, and /dev/zero never ends.
  let st: import('node:fs').Stats;
  try {
    st = statSync(path);
  } catch (e) {
    throw new DataFileError(
      path,
      0,
      `cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  if (!st.isFile())
    throw new DataFileError(path, 0, `must be a regular file (CSV or JSON lines), but it is ${kindOf(st)}`);
  if (st.size > MAX_DATA_BYTES) {
    throw new DataFileError(
      path,
      0,
      `is ${(st.size / 2 ** 20).toFixed(0)} MiB; the limit is ${MAX_DATA_BYTES / 2 ** 20} MiB (the file is read whole)`,
    );
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DataFileError(
      path,
      0,
      `cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  return splitRows(parseDataText(text, path), { seed }, path);
}
