// Logits files (*.ntkl): a model's scores on validation rows, written by `--save-logits DIR`, the
// benchmark corpus's input (bench/ reads the same format). The layout:
//   bytes 0-3   ASCII "NTKL"
//   bytes 4-7   H, uint32 little-endian
//   8 .. 8+H    UTF-8 JSON header, padded with trailing spaces so that 8 + H is a multiple of 4
//   then        rows * classes float32 little-endian, row-major
// The header: {"format": 1, "rows", "classes", "labels": [int x rows], "loss", "epoch",
// "stage": "first" | "early" | "mid" | "selected", "target": "country" | "region", "source"}.
// The padding keeps the scores 4-byte aligned, so a reader can view them as a Float32Array
// without copying (on a little-endian machine).
import { writeFileSync } from 'node:fs';

export const LOGITS_MAGIC = 'NTKL';
export const LOGITS_FORMAT = 1;
export type LogitsStage = 'first' | 'early' | 'mid' | 'selected';
export const LOGITS_STAGES: readonly LogitsStage[] = ['first', 'early', 'mid', 'selected'];

export interface LogitsHeader {
  format: number;
  rows: number;
  classes: number;
  labels: number[];
  loss: string;
  epoch: number;
  stage: LogitsStage;
  target: 'country' | 'region';
  source: string;
}

export interface LogitsFile {
  header: LogitsHeader;
  scores: Float32Array;
}

/** The bytes of one file. `scores` is rows * classes, row-major. */
export function encodeLogits(header: Omit<LogitsHeader, 'format'>, scores: Float32Array): Uint8Array {
  const { rows, classes, labels } = header;
  if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`rows must be a positive integer, got ${rows}`);
  if (!Number.isInteger(classes) || classes < 2)
    throw new RangeError(`classes must be an integer >= 2, got ${classes}`);
  if (labels.length !== rows) throw new RangeError(`labels has ${labels.length} entries, expected rows = ${rows}`);
  if (scores.length !== rows * classes)
    throw new RangeError(`scores has ${scores.length} values, expected rows * classes = ${rows * classes}`);
  for (const [i, y] of labels.entries())
    if (!Number.isInteger(y) || y < 0 || y >= classes)
      throw new RangeError(`labels[${i}] must be an integer in [0, ${classes}), got ${y}`);
  const json = new TextEncoder().encode(
    JSON.stringify({
      format: LOGITS_FORMAT,
      rows,
      classes,
      labels: Array.from(labels),
      loss: header.loss,
      epoch: header.epoch,
      stage: header.stage,
      target: header.target,
      source: header.source,
    }),
  );
  const h = json.length + ((4 - ((8 + json.length) % 4)) % 4);
  const out = new Uint8Array(8 + h + 4 * scores.length);
  out.set(new TextEncoder().encode(LOGITS_MAGIC), 0);
  const view = new DataView(out.buffer);
  view.setUint32(4, h, true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + h);
  for (let i = 0; i < scores.length; i++) view.setFloat32(8 + h + 4 * i, scores[i]!, true);
  return out;
}

export function writeLogitsFile(path: string, header: Omit<LogitsHeader, 'format'>, scores: Float32Array): void {
  writeFileSync(path, encodeLogits(header, scores));
}

/** Reads one file back, checking that the header's rows and classes match the file's size. */
export function decodeLogits(bytes: Uint8Array, name = 'logits file'): LogitsFile {
  const fail = (why: string): never => {
    throw new RangeError(`${name}: ${why}`);
  };
  if (bytes.length < 8 || new TextDecoder().decode(bytes.subarray(0, 4)) !== LOGITS_MAGIC)
    fail('does not start with "NTKL"');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = view.getUint32(4, true);
  if ((8 + h) % 4 !== 0) fail(`header length ${h} leaves the scores unaligned`);
  if (8 + h > bytes.length) fail(`header length ${h} runs past the end (${bytes.length} bytes)`);
  let header: LogitsHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + h))) as LogitsHeader;
  } catch (e) {
    return fail(`header is not JSON (${(e as Error).message})`);
  }
  if (header.format !== LOGITS_FORMAT) fail(`format ${header.format}, expected ${LOGITS_FORMAT}`);
  const body = bytes.length - 8 - h;
  if (body !== 4 * header.rows * header.classes)
    fail(`${body} bytes of scores, the header says ${header.rows} x ${header.classes} float32`);
  if (!Array.isArray(header.labels) || header.labels.length !== header.rows)
    fail(`labels has ${header.labels?.length} entries, expected ${header.rows}`);
  const scores = new Float32Array(header.rows * header.classes);
  for (let i = 0; i < scores.length; i++) scores[i] = view.getFloat32(8 + h + 4 * i, true);
  return { header, scores };
}
