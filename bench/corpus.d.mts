// Types of bench/corpus.mjs for the TypeScript tests that import it.
export const MAGIC: 'NTKL';
export const FORMAT: 1;
export const GENERATOR_VERSION: number;
export const CAPTURED_STAGES: string[];
export const STAGES: string[];
export const TARGETS: string[];
export const TAILS: Array<'normal' | 'uniform' | 'student' | 'gumbel'>;
export const CORPUS_DIR: string;
export const FAMILIES_FILE: string;
export const FAMILY_WIDTHS: Array<[number, number, number]>;

export interface NtklHeader {
  format: 1;
  rows: number;
  classes: number;
  labels: number[];
  loss: string;
  epoch: number;
  stage: 'first' | 'early' | 'mid' | 'selected' | 'generated';
  target: 'country' | 'region' | 'synthetic';
  source: string;
  family?: string;
  generator?: number;
  seed?: number;
  rule?: Rule;
  nSample?: number;
  [extra: string]: unknown;
}
export interface Rule {
  location?: { mean?: number; sd?: number };
  scale?: { median?: number; logSd?: number };
  margin?: { mean?: number; sd?: number };
  tail?: { kind?: 'normal' | 'uniform' | 'student' | 'gumbel'; df?: number };
}
export interface FullRule {
  location: { mean: number; sd: number };
  scale: { median: number; logSd: number };
  margin: { mean: number; sd: number };
  tail: { kind: 'normal' | 'uniform' | 'student' | 'gumbel'; df?: number };
}
export interface Family {
  name: string;
  rows: number;
  classes: number;
  seed?: number;
  nSample?: number;
  description?: string;
  rule?: Rule;
}
export interface Parsed {
  header: NtklHeader;
  rows: number;
  classes: number;
  scores: Float32Array;
  labels: Int32Array;
  dataOffset?: number;
}
export interface CorpusCase {
  name: string;
  kind: 'file' | 'family';
  file?: string;
  dataOffset?: number;
  family?: Family;
  rows: number;
  classes: number;
  nSample: number;
  stage: string;
  target: string;
  loss: string;
  epoch: number;
  load(): { scores: Float32Array; labels: Int32Array };
}
export function validateHeader(h: unknown, name?: string): NtklHeader;
export function parseNtkl(bytes: Uint8Array, name?: string, rowLimit?: number): Parsed & { dataOffset: number };
export function readNtkl(file: string, rowLimit?: number): Parsed & { dataOffset: number };
export function encodeNtkl(header: NtklHeader, scores: Float32Array): Buffer;
export function writeNtkl(file: string, header: NtklHeader, scores: Float32Array): void;
export function listCorpus(dir?: string): string[];
export function makeRng(seed: number): { u32(): number; next(): number; normal(): number };
export function normalizeRule(rule?: Rule, where?: string): FullRule;
export function generate(family: Family): Parsed;
export function loadFamilies(file?: string): Array<Family & { seed: number; nSample: number }>;
export function rowStats(parsed: Pick<Parsed, 'scores' | 'labels' | 'rows' | 'classes'>): {
  rowMean: Float64Array;
  rowSd: Float64Array;
  margin: Float64Array;
  skewness: number;
  excessKurtosis: number;
};
export function meanSd(a: ArrayLike<number> & Iterable<number>): { mean: number; sd: number };
export function fitRule(
  parsed: Pick<Parsed, 'scores' | 'labels' | 'rows' | 'classes'>,
): FullRule & { observed: { skewness: number; excessKurtosis: number } };
export function defaultNSample(classes: number): number;
export function corpusCases(
  dir?: string,
  opts?: { quick?: boolean; nSample?: number; only?: string; families?: Family[]; familiesFile?: string },
): CorpusCase[];
export const PLACEHOLDER: Family;
