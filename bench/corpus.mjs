// The benchmark corpus (bench/corpus/): logits that training produces, in `.ntkl` files, and
// generated families for the widths no dataset here has. Both benchmarks read it through this
// module (npm run bench -- --corpus; npm run bench:native -- --corpus, whose runner passes the
// cases to bench_native), so the Node and the C++ run time the same bytes.
//
// The .ntkl format (written by `npm run demo -- --save-logits DIR`, and by generate() below):
//   bytes 0-3   ASCII "NTKL"
//   bytes 4-7   H, uint32 little-endian
//   8 .. 8+H    UTF-8 JSON header, padded with trailing spaces so that 8 + H is a multiple of 4
//   then        rows * classes float32 little-endian, row-major (row r's scores are contiguous)
// Header fields: format (1), rows, classes, labels (rows integers in [0, classes)), loss, epoch,
// stage ("first" | "early" | "mid" | "selected" for captured logits, "generated" for a family),
// target ("country" | "region"; "synthetic" for a generated family), source. A generated family
// adds family (its name), seed and rule (the parameters below), so a file says how it was made.
//
// Generated families (bench/corpus/families.json, documented in bench/corpus/README.md). Row r:
//   loc_r   ~ N(location.mean, location.sd^2)                     per-row location
//   scale_r = scale.median * exp(scale.logSd * N(0, 1))           per-row spread (the row's sd)
//   m_r     ~ N(margin.mean, margin.sd^2)                          the label's lead, in row sds
//   x[r, j] = loc_r + scale_r * (T_rj + (j == y_r ? m_r : 0))     T_rj i.i.d. from the tail law,
// the tail law standardized to mean 0 and variance 1: 'normal'; 'uniform' on [-sqrt 3, sqrt 3];
// 'student' (Student's t with tail.df > 2 degrees of freedom, scaled to variance 1); 'gumbel'
// (the max-type extreme value law, right-skewed, standardized). Labels are uniform on the classes.
// Every draw comes from one seeded generator (xoshiro128**), in a fixed order, so a family is the
// same bytes on every run and machine with the same V8 (Math.log, Math.cos: V8's fdlibm port).
// fitRule() estimates these parameters back from any corpus file, which is how a family is refit
// to the captured logits (node bench/corpus.mjs fit FILE...).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const MAGIC = 'NTKL';
export const FORMAT = 1;
/** Bumped whenever generate() would make other bytes from the same family (caches key on it). */
export const GENERATOR_VERSION = 1;
export const CAPTURED_STAGES = ['first', 'early', 'mid', 'selected'];
export const STAGES = [...CAPTURED_STAGES, 'generated'];
export const TARGETS = ['country', 'region'];
export const TAILS = ['normal', 'uniform', 'student', 'gumbel'];

const here = path.dirname(fileURLToPath(import.meta.url));
/** The committed corpus directory. */
export const CORPUS_DIR = path.join(here, 'corpus');
/** The generated families' definitions. */
export const FAMILIES_FILE = path.join(CORPUS_DIR, 'families.json');

const littleEndian = os.endianness() === 'LE';

function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  return `${typeof v} ${String(v)}`;
}

function fieldError(name, field, expected, got, Kind = RangeError) {
  return new Kind(`${name}: header field "${field}" must be ${expected}, got ${describe(got)}`);
}

function isPositiveInt(v) {
  return Number.isSafeInteger(v) && v > 0;
}

/**
 * Checks a parsed header (the JSON object) against the format; name (a file name) is used in
 * the errors. Throws a TypeError for a wrong type, a RangeError for a bad value.
 */
export function validateHeader(h, name = 'header') {
  if (h === null || typeof h !== 'object' || Array.isArray(h))
    throw new TypeError(`${name}: the header must be a JSON object, got ${describe(h)}`);
  if (h.format !== FORMAT) throw fieldError(name, 'format', `${FORMAT}`, h.format);
  for (const f of ['rows', 'classes']) {
    if (typeof h[f] !== 'number') throw fieldError(name, f, 'a positive integer', h[f], TypeError);
    if (!isPositiveInt(h[f])) throw fieldError(name, f, 'a positive integer', h[f]);
  }
  if (!Array.isArray(h.labels)) throw fieldError(name, 'labels', `an array of ${h.rows} integers`, h.labels, TypeError);
  if (h.labels.length !== h.rows)
    throw fieldError(name, 'labels', `an array of length rows = ${h.rows}`, h.labels.length);
  for (let i = 0; i < h.labels.length; i++) {
    const y = h.labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= h.classes)
      throw new RangeError(
        `${name}: header field "labels"[${i}] must be an integer in [0, classes = ${h.classes}), got ${describe(y)}`,
      );
  }
  for (const f of ['loss', 'source'])
    if (typeof h[f] !== 'string') throw fieldError(name, f, 'a string', h[f], TypeError);
  if (typeof h.epoch !== 'number') throw fieldError(name, 'epoch', 'a number', h.epoch, TypeError);
  if (!Number.isFinite(h.epoch) || h.epoch < 0) throw fieldError(name, 'epoch', 'a finite number >= 0', h.epoch);
  if (!STAGES.includes(h.stage)) throw fieldError(name, 'stage', `one of ${STAGES.join(', ')}`, h.stage);
  const targets = h.stage === 'generated' ? [...TARGETS, 'synthetic'] : TARGETS;
  if (!targets.includes(h.target)) throw fieldError(name, 'target', `one of ${targets.join(', ')}`, h.target);
  if (h.stage === 'generated') {
    if (typeof h.family !== 'string')
      throw fieldError(name, 'family', 'a string (generated files)', h.family, TypeError);
    if (h.rule === null || typeof h.rule !== 'object')
      throw fieldError(name, 'rule', 'an object (generated files)', h.rule, TypeError);
  }
  return h;
}

/**
 * Parses the bytes of one .ntkl file: { header, scores (Float32Array, rows * classes), labels
 * (Int32Array), dataOffset }. name is used in the errors. rowLimit (optional) keeps only the
 * first rowLimit rows (the header still has to match the whole file's size).
 */
export function parseNtkl(bytes, name = 'ntkl', rowLimit = Number.POSITIVE_INFINITY) {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${name}: expected a Uint8Array or Buffer`);
  if (bytes.length < 8) throw new RangeError(`${name}: ${bytes.length} bytes, shorter than the 8-byte preamble`);
  const magic = String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]);
  if (magic !== MAGIC)
    throw new RangeError(`${name}: not an .ntkl file (magic ${JSON.stringify(magic)}, expected "NTKL")`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const H = dv.getUint32(4, true);
  const dataOffset = 8 + H;
  if ((8 + H) % 4 !== 0) throw new RangeError(`${name}: 8 + header length ${H} = ${8 + H} is not a multiple of 4`);
  if (dataOffset > bytes.length)
    throw new RangeError(`${name}: header length ${H} runs past the end of the file (${bytes.length} bytes)`);
  let header;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataOffset)));
  } catch (err) {
    throw new RangeError(`${name}: the header is not UTF-8 JSON (${err.message})`);
  }
  validateHeader(header, name);
  const expected = dataOffset + 4 * header.rows * header.classes;
  if (bytes.length !== expected)
    throw new RangeError(
      `${name}: ${bytes.length} bytes, but the header (H = ${H}, rows ${header.rows}, classes ${header.classes}) ` +
        `says 8 + H + 4 * rows * classes = ${expected}`,
    );
  const rows = Math.min(header.rows, rowLimit);
  const n = rows * header.classes;
  const scores = new Float32Array(n);
  if (littleEndian && (bytes.byteOffset + dataOffset) % 4 === 0) {
    scores.set(new Float32Array(bytes.buffer, bytes.byteOffset + dataOffset, n));
  } else {
    for (let i = 0; i < n; i++) scores[i] = dv.getFloat32(dataOffset + 4 * i, true);
  }
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(scores[i]))
      throw new RangeError(
        `${name}: score at row ${Math.floor(i / header.classes)}, class ${i % header.classes} is ${scores[i]} (scores must be finite)`,
      );
  }
  const labels = Int32Array.from(header.labels.slice(0, rows));
  return { header, rows, classes: header.classes, scores, labels, dataOffset };
}

/** Reads and validates one .ntkl file (see parseNtkl). */
export function readNtkl(file, rowLimit) {
  return parseNtkl(fs.readFileSync(file), file, rowLimit);
}

/** The bytes of an .ntkl file for a header (validated) and its rows * classes scores. */
export function encodeNtkl(header, scores) {
  validateHeader(header, 'encodeNtkl');
  if (!(scores instanceof Float32Array) || scores.length !== header.rows * header.classes)
    throw new RangeError(
      `encodeNtkl: scores must be a Float32Array of rows * classes = ${header.rows * header.classes}, got ${scores?.length}`,
    );
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (4 - ((8 + json.length) % 4)) % 4;
  if (pad > 0) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const out = Buffer.alloc(8 + json.length + 4 * scores.length);
  out.write(MAGIC, 0, 'ascii');
  out.writeUInt32LE(json.length, 4);
  json.copy(out, 8);
  const off = 8 + json.length;
  if (littleEndian) Buffer.from(scores.buffer, scores.byteOffset, scores.byteLength).copy(out, off);
  else for (let i = 0; i < scores.length; i++) out.writeFloatLE(scores[i], off + 4 * i);
  return out;
}

export function writeNtkl(file, header, scores) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, encodeNtkl(header, scores));
}

/** Every .ntkl file under dir (recursively), sorted by path; [] when dir has none. */
export function listCorpus(dir = CORPUS_DIR) {
  if (!fs.existsSync(dir)) throw new RangeError(`corpus directory ${dir} does not exist`);
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.endsWith('.ntkl')) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

// ---------------------------------------------------------------------------------------------
// The generator.

/** xoshiro128** (Blackman and Vigna), seeded through splitmix32; next() gives a double in (0, 1). */
export function makeRng(seed) {
  let z = seed >>> 0;
  const split = () => {
    z = (z + 0x9e3779b9) >>> 0;
    let t = z;
    t = Math.imul(t ^ (t >>> 16), 0x85ebca6b);
    t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35);
    return (t ^ (t >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  const u32 = () => {
    const b5 = Math.imul(b, 5);
    const r = Math.imul((b5 << 7) | (b5 >>> 25), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = (d << 11) | (d >>> 21);
    return r;
  };
  // 53 random bits, plus half an ulp: never 0, never 1.
  const next = () => ((u32() >>> 5) * 67108864 + (u32() >>> 6) + 0.5) / 9007199254740992;
  let spare = Number.NaN;
  const normal = () => {
    if (!Number.isNaN(spare)) {
      const s = spare;
      spare = Number.NaN;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(next()));
    const th = 2 * Math.PI * next();
    spare = r * Math.sin(th);
    return r * Math.cos(th);
  };
  return { u32, next, normal };
}

const EULER_GAMMA = 0.5772156649015329;

/** A draw from the standardized tail law (mean 0, variance 1). */
function tailSampler(rng, tail, where) {
  const kind = tail?.kind ?? 'normal';
  if (kind === 'normal') return rng.normal;
  if (kind === 'uniform') {
    const w = 2 * Math.sqrt(3);
    return () => (rng.next() - 0.5) * w;
  }
  if (kind === 'gumbel') {
    const s = Math.sqrt(6) / Math.PI;
    return () => (-Math.log(-Math.log(rng.next())) - EULER_GAMMA) * s;
  }
  if (kind === 'student') {
    const nu = tail.df;
    if (typeof nu !== 'number' || !(nu > 2) || !Number.isFinite(nu))
      throw new RangeError(`${where}: tail.df must be a finite number > 2 (the variance exists), got ${describe(nu)}`);
    const s = Math.sqrt((nu - 2) / nu);
    // Bailey's polar method: exact Student's t from two uniforms.
    return () => {
      for (;;) {
        const u = 2 * rng.next() - 1;
        const v = 2 * rng.next() - 1;
        const w = u * u + v * v;
        if (w >= 1 || w === 0) continue;
        return u * Math.sqrt((nu * (w ** (-2 / nu) - 1)) / w) * s;
      }
    };
  }
  throw new RangeError(`${where}: tail.kind must be one of ${TAILS.join(', ')}, got ${describe(kind)}`);
}

function num(v, dflt, where, field, min = Number.NEGATIVE_INFINITY) {
  if (v === undefined) return dflt;
  if (typeof v !== 'number') throw new TypeError(`${where}: ${field} must be a number, got ${describe(v)}`);
  if (!Number.isFinite(v) || v < min)
    throw new RangeError(`${where}: ${field} must be a finite number >= ${min}, got ${v}`);
  return v;
}

/** The rule with every default filled in and every field checked. */
export function normalizeRule(rule = {}, where = 'rule') {
  if (rule === null || typeof rule !== 'object') throw new TypeError(`${where}: the rule must be an object`);
  const tail = { kind: rule.tail?.kind ?? 'normal' };
  if (!TAILS.includes(tail.kind))
    throw new RangeError(`${where}: tail.kind must be one of ${TAILS.join(', ')}, got ${describe(tail.kind)}`);
  if (tail.kind === 'student') tail.df = num(rule.tail.df, undefined, where, 'tail.df', 2.000001);
  if (tail.kind === 'student' && tail.df === undefined)
    throw new RangeError(`${where}: tail.df is required for the 'student' tail`);
  return {
    location: {
      mean: num(rule.location?.mean, 0, where, 'location.mean'),
      sd: num(rule.location?.sd, 0, where, 'location.sd', 0),
    },
    scale: {
      median: num(rule.scale?.median, 1, where, 'scale.median', Number.MIN_VALUE),
      logSd: num(rule.scale?.logSd, 0, where, 'scale.logSd', 0),
    },
    margin: {
      mean: num(rule.margin?.mean, 0, where, 'margin.mean'),
      sd: num(rule.margin?.sd, 0, where, 'margin.sd', 0),
    },
    tail,
  };
}

/**
 * Generates a family: { header, rows, classes, scores, labels } with a header that records the
 * rule. family: { name, rows, classes, seed, rule, nSample? }. Deterministic in (seed, rule, rows,
 * classes): the draws are made row by row in the order label, location, scale, margin, then the
 * classes' tail values.
 */
export function generate(family) {
  const where = `family ${family?.name ?? '(unnamed)'}`;
  if (typeof family?.name !== 'string') throw new TypeError(`${where}: name must be a string`);
  for (const f of ['rows', 'classes'])
    if (!isPositiveInt(family[f])) throw new RangeError(`${where}: ${f} must be a positive integer, got ${family[f]}`);
  const seed = family.seed ?? 1;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new RangeError(`${where}: seed must be an integer in [0, 2^32), got ${seed}`);
  const rule = normalizeRule(family.rule, where);
  const { rows, classes } = family;
  const rng = makeRng(seed);
  const tail = tailSampler(rng, rule.tail, where);
  const scores = new Float32Array(rows * classes);
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const y = Math.min(classes - 1, Math.floor(rng.next() * classes));
    labels[r] = y;
    const loc = rule.location.mean + rule.location.sd * rng.normal();
    const scale = rule.scale.median * Math.exp(rule.scale.logSd * rng.normal());
    const m = rule.margin.mean + rule.margin.sd * rng.normal();
    const base = r * classes;
    for (let j = 0; j < classes; j++) {
      const t = tail();
      scores[base + j] = loc + scale * (j === y ? t + m : t);
    }
  }
  const header = {
    format: FORMAT,
    rows,
    classes,
    labels: Array.from(labels),
    loss: 'none',
    epoch: 0,
    stage: 'generated',
    target: 'synthetic',
    source: `bench/corpus.mjs generate(): family ${family.name}`,
    family: family.name,
    generator: GENERATOR_VERSION,
    seed,
    rule,
    ...(family.nSample === undefined ? {} : { nSample: family.nSample }),
  };
  return { header, rows, classes, scores, labels };
}

/** The families of bench/corpus/families.json (or another file of that form), checked. */
export function loadFamilies(file = FAMILIES_FILE) {
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!Array.isArray(j.families)) throw new TypeError(`${file}: "families" must be an array`);
  const names = new Set();
  return j.families.map((f, i) => {
    const where = `${file}: families[${i}] (${f?.name})`;
    if (typeof f.name !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/.test(f.name))
      throw new RangeError(`${where}: name must be lower-case letters, digits, '.', '_' or '-'`);
    if (names.has(f.name)) throw new RangeError(`${where}: the name is used twice`);
    names.add(f.name);
    for (const k of ['rows', 'classes', 'nSample'])
      if (!isPositiveInt(f[k])) throw new RangeError(`${where}: ${k} must be a positive integer, got ${f[k]}`);
    normalizeRule(f.rule, where);
    return { seed: 1, ...f };
  });
}

// ---------------------------------------------------------------------------------------------
// Statistics and the fit.

/**
 * The shape of a corpus file's scores, row by row: each row's mean and sd over its non-label
 * columns, the label's z-score within its row (the margin, in row sds), and the skewness and
 * excess kurtosis of the pooled standardized non-label scores (the tail).
 */
export function rowStats({ scores, labels, rows, classes }) {
  const rowMean = new Float64Array(rows);
  const rowSd = new Float64Array(rows);
  const margin = new Float64Array(rows);
  let m3 = 0;
  let m4 = 0;
  let n = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    const y = labels[r];
    let s = 0;
    for (let j = 0; j < classes; j++) if (j !== y) s += scores[base + j];
    const mean = s / (classes - 1);
    let v = 0;
    for (let j = 0; j < classes; j++) {
      if (j === y) continue;
      const d = scores[base + j] - mean;
      v += d * d;
    }
    const sd = Math.sqrt(v / Math.max(1, classes - 2));
    rowMean[r] = mean;
    rowSd[r] = sd;
    margin[r] = sd > 0 ? (scores[base + y] - mean) / sd : 0;
    if (sd > 0) {
      for (let j = 0; j < classes; j++) {
        if (j === y) continue;
        const z = (scores[base + j] - mean) / sd;
        const z2 = z * z;
        m3 += z2 * z;
        m4 += z2 * z2;
        n++;
      }
    }
  }
  return {
    rowMean,
    rowSd,
    margin,
    skewness: n > 0 ? m3 / n : 0,
    excessKurtosis: n > 0 ? m4 / n - 3 : 0,
  };
}

export function meanSd(a) {
  let s = 0;
  for (const v of a) s += v;
  const mean = s / a.length;
  let q = 0;
  for (const v of a) q += (v - mean) * (v - mean);
  return { mean, sd: a.length > 1 ? Math.sqrt(q / (a.length - 1)) : 0 };
}

function median(a) {
  const s = Float64Array.from(a).sort();
  const i = s.length >> 1;
  return s.length % 2 ? s[i] : (s[i - 1] + s[i]) / 2;
}

/**
 * Estimates a family rule from a parsed corpus file (what generate() would need to make scores
 * of the same spread, margin and tail). The row-to-row spreads subtract the sampling noise a
 * single row's estimate has, so a file generated by a rule fits back to that rule. The tail: a
 * skewness above 0.5 is 'gumbel'; else an excess kurtosis below -0.6 is 'uniform', above 0.3 is
 * Student's t with df = 4 + 6 / kurtosis (the t law's excess kurtosis is 6 / (df - 4)); else 'normal'.
 */
export function fitRule(parsed) {
  const { classes } = parsed;
  if (classes < 3) throw new RangeError(`fitRule: needs at least 3 classes, got ${classes}`);
  const st = rowStats(parsed);
  const n = classes - 1;
  const loc = meanSd(st.rowMean);
  const scaleMedian = median(st.rowSd);
  // A row's mean has variance scale^2 / n; a row's sd's log has variance about (kurt + 2) / (4 n);
  // a row's margin z-score has variance 1 (the label's own tail draw) plus that of the estimate.
  const locSd = Math.sqrt(Math.max(0, loc.sd ** 2 - scaleMedian ** 2 / n));
  const logSds = Array.from(st.rowSd, (s) => Math.log(Math.max(s, 1e-30)));
  const logSd = Math.sqrt(Math.max(0, meanSd(logSds).sd ** 2 - (st.excessKurtosis + 2) / (4 * n)));
  const mg = meanSd(st.margin);
  const marginSd = Math.sqrt(Math.max(0, mg.sd ** 2 - 1 - (1 + mg.mean ** 2 / 2) / n));
  let tail;
  if (st.skewness > 0.5) tail = { kind: 'gumbel' };
  else if (st.excessKurtosis < -0.6) tail = { kind: 'uniform' };
  else if (st.excessKurtosis > 0.3) tail = { kind: 'student', df: round(4 + 6 / st.excessKurtosis, 3) };
  else tail = { kind: 'normal' };
  return {
    location: { mean: round(loc.mean, 4), sd: round(locSd, 4) },
    scale: { median: round(scaleMedian, 4), logSd: round(logSd, 4) },
    margin: { mean: round(mg.mean, 4), sd: round(marginSd, 4) },
    tail,
    observed: { skewness: round(st.skewness, 4), excessKurtosis: round(st.excessKurtosis, 4) },
  };
}

function round(v, digits) {
  const p = 10 ** digits;
  return Math.round(v * p) / p;
}

// ---------------------------------------------------------------------------------------------
// The benchmark's cases.

/** The generated widths, as [classes, rows, nSample] (bench/corpus/families.json uses these). */
export const FAMILY_WIDTHS = [
  [1000, 256, 5],
  [10000, 1024, 10],
  [32768, 512, 5],
];

/** nSample for a captured file of this width (the issue's sizes: 10 up to 10,000 classes, then 5). */
export function defaultNSample(classes) {
  return classes > 10000 ? 5 : 10;
}

/**
 * The cases a corpus run times, in order: every .ntkl file under dir, then every family.
 * opts.quick: every file's first 8 rows and every family at 4 rows, nSample 2 (a smoke run).
 * opts.nSample overrides every case's. opts.only: a substring a case's name must contain.
 * A case: { name, kind: 'file' | 'family', rows, classes, nSample, stage, target, loss, epoch,
 * file?, family?, load(): { scores, labels } }.
 */
export function corpusCases(dir = CORPUS_DIR, opts = {}) {
  const quick = Boolean(opts.quick);
  const families = opts.families ?? loadFamilies(opts.familiesFile ?? FAMILIES_FILE);
  const cases = [];
  for (const file of listCorpus(dir)) {
    // The header is read (and the size checked) now, the scores when the case runs.
    const parsed = readNtkl(file, 0);
    const h = parsed.header;
    const rows = quick ? Math.min(8, h.rows) : h.rows;
    cases.push({
      name: path.relative(dir, file).replace(/\.ntkl$/, ''),
      kind: 'file',
      file,
      dataOffset: parsed.dataOffset,
      rows,
      classes: h.classes,
      nSample: opts.nSample ?? (quick ? 2 : (h.nSample ?? defaultNSample(h.classes))),
      stage: h.stage,
      target: h.target,
      loss: h.loss,
      epoch: h.epoch,
      load: () => {
        const p = readNtkl(file, rows);
        return { scores: p.scores, labels: p.labels };
      },
    });
  }
  for (const f of families) {
    const fam = quick ? { ...f, rows: Math.min(4, f.rows) } : f;
    cases.push({
      name: f.name,
      kind: 'family',
      family: fam,
      rows: fam.rows,
      classes: fam.classes,
      nSample: opts.nSample ?? (quick ? 2 : fam.nSample),
      stage: 'generated',
      target: 'synthetic',
      loss: 'none',
      epoch: 0,
      load: () => {
        const g = generate(fam);
        return { scores: g.scores, labels: g.labels };
      },
    });
  }
  return opts.only ? cases.filter((c) => c.name.includes(opts.only)) : cases;
}

// ---------------------------------------------------------------------------------------------
// Command line: node bench/corpus.mjs list [DIR] | fit FILE... | generate NAME... --out DIR

function cli() {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === 'list') {
    const dir = rest[0] ?? CORPUS_DIR;
    for (const file of listCorpus(dir)) {
      const p = readNtkl(file, 0);
      const h = p.header;
      console.log(
        `${path.relative(dir, file)}: ${h.rows} x ${h.classes}, stage ${h.stage}, target ${h.target}, loss ${h.loss}, epoch ${h.epoch}, ${fs.statSync(file).size} bytes`,
      );
    }
    for (const f of loadFamilies()) console.log(`family ${f.name}: ${f.rows} x ${f.classes}, nSample ${f.nSample}`);
  } else if (cmd === 'fit') {
    // Per file: the fitted rule, and family entries at the generated widths, ready for families.json.
    for (const file of rest) {
      const { observed, ...rule } = fitRule(readNtkl(file));
      console.log(`${file}: ${JSON.stringify({ ...rule, observed })}`);
      const stem = path
        .basename(file, '.ntkl')
        .toLowerCase()
        .replace(/[^a-z0-9._-]+/g, '-');
      for (const [classes, rows, nSample] of FAMILY_WIDTHS)
        console.log(
          `  ${JSON.stringify({ name: `fit-${stem}-d${classes}`, description: `fitted to ${path.basename(file)}`, rows, classes, nSample, seed: 1, rule })},`,
        );
    }
  } else if (cmd === 'generate') {
    const i = rest.indexOf('--out');
    if (i < 0 || i + 1 >= rest.length) throw new Error('generate: --out DIR is required');
    const out = rest[i + 1];
    const names = rest.filter((_, j) => j !== i && j !== i + 1);
    const all = loadFamilies();
    for (const name of names) {
      const f = all.find((x) => x.name === name);
      if (!f) throw new RangeError(`generate: no family ${name} (families: ${all.map((x) => x.name).join(', ')})`);
      const g = generate(f);
      const file = path.join(out, `${name}.ntkl`);
      writeNtkl(file, g.header, g.scores);
      console.log(`wrote ${file}`);
    }
  } else {
    console.error('usage: node bench/corpus.mjs list [DIR] | fit FILE... | generate NAME... --out DIR');
    process.exit(2);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    cli();
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
