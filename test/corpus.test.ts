// The benchmark corpus (bench/corpus.mjs, bench/corpus/): the .ntkl files parse and their
// headers match their sizes, a damaged file is refused with an error that names the fault, and
// the generated families are deterministic and have the laws bench/corpus/README.md states
// (tested statistically, each test with a control that it rejects).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CORPUS_DIR,
  corpusCases,
  encodeNtkl,
  type Family,
  FAMILY_WIDTHS,
  FAMILIES_FILE,
  fitRule,
  type FullRule,
  generate,
  listCorpus,
  loadFamilies,
  meanSd,
  makeRng,
  type NtklHeader,
  normalizeRule,
  parseNtkl,
  readNtkl,
  type Rule,
} from '../bench/corpus.mjs';
import { ks2, kolmogorovP, normalCdf } from './stats-kit.js';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'noised-topk-corpus-test-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** The family-wise level of this file's statistical tests: a correct generator fails rarely. */
const ALPHA = 1e-4;

function header(rows: number, classes: number, extra: Partial<NtklHeader> = {}): NtklHeader {
  return {
    format: 1,
    rows,
    classes,
    labels: Array.from({ length: rows }, (_, i) => i % classes),
    loss: 'bal-noised-topk',
    epoch: 3,
    stage: 'mid',
    target: 'country',
    source: 'test/corpus.test.ts',
    ...extra,
  };
}

function scoresOf(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3);
}

/** One-sample Kolmogorov-Smirnov test of x against the CDF cdf. */
function ksOne(x: ArrayLike<number>, cdf: (v: number) => number): { statistic: number; p: number } {
  const s = Float64Array.from(x).sort();
  const n = s.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(s[i]!);
    d = Math.max(d, (i + 1) / n - f, f - i / n);
  }
  return { statistic: d, p: kolmogorovP(d, Math.sqrt(n)) };
}

const SQRT3 = Math.sqrt(3);
const GUMBEL_S = Math.sqrt(6) / Math.PI;
const EULER = 0.5772156649015329;
/** The standardized tail laws' CDFs (bench/corpus.mjs: mean 0, variance 1). */
const tailCdf = {
  normal: normalCdf,
  uniform: (v: number) => Math.min(1, Math.max(0, (v + SQRT3) / (2 * SQRT3))),
  gumbel: (v: number) => Math.exp(-Math.exp(-(v / GUMBEL_S + EULER))),
};

/** The non-label scores of a generated file, as (x - loc) / scale (rules with no row variation). */
function standardized(g: { scores: Float32Array; labels: Int32Array; rows: number; classes: number }, rule: FullRule) {
  const out: number[] = [];
  for (let r = 0; r < g.rows; r++)
    for (let j = 0; j < g.classes; j++)
      if (j !== g.labels[r]) out.push((g.scores[r * g.classes + j]! - rule.location.mean) / rule.scale.median);
  return out;
}

describe('the .ntkl files', () => {
  it('every committed corpus file parses, and its header matches its size', () => {
    const files = listCorpus(CORPUS_DIR);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const bytes = fs.readFileSync(file);
      expect(bytes.subarray(0, 4).toString('ascii'), file).toBe('NTKL');
      const H = bytes.readUInt32LE(4);
      expect((8 + H) % 4, file).toBe(0);
      const p = readNtkl(file);
      expect(fs.statSync(file).size, file).toBe(8 + H + 4 * p.header.rows * p.header.classes);
      expect(p.scores.length).toBe(p.header.rows * p.header.classes);
      expect(p.labels.length).toBe(p.header.rows);
      for (const y of p.labels) expect(y >= 0 && y < p.header.classes).toBe(true);
      expect(p.scores.every(Number.isFinite)).toBe(true);
    }
  });

  it("the captured corpus: the demo's validation logits of both targets, the four stages of one loss", () => {
    const files = listCorpus(path.join(CORPUS_DIR, 'captured'));
    const headers = files.map((f) => readNtkl(f).header);
    for (const h of headers) expect(h.source).toMatch(/demo --save-logits/);
    const stages = (target: string, loss: string) =>
      headers
        .filter((h) => h.target === target && h.loss === loss)
        .map((h) => h.stage)
        .sort();
    expect(stages('country', 'ImbalNoisedTopK')).toEqual(['early', 'first', 'mid', 'selected']);
    expect(headers.some((h) => h.target === 'country' && h.classes === 246)).toBe(true);
    expect(headers.some((h) => h.target === 'region' && h.classes > 3000)).toBe(true);
  });

  it('round-trips a header and its scores, padding the header to a multiple of 4 bytes', () => {
    for (const source of ['', 'a', 'ab', 'abc', 'é', 'x'.repeat(101)]) {
      const h = header(3, 7, { source });
      const s = scoresOf(21);
      const bytes = encodeNtkl(h, s);
      const H = bytes.readUInt32LE(4);
      expect((8 + H) % 4).toBe(0);
      expect(bytes.length).toBe(8 + H + 4 * 21);
      // Padding is trailing spaces.
      expect(/^ *$/.test(bytes.subarray(8 + Buffer.byteLength(JSON.stringify(h)), 8 + H).toString())).toBe(true);
      const p = parseNtkl(bytes, 'rt');
      expect(p.header).toEqual(h);
      expect(Array.from(p.scores)).toEqual(Array.from(s));
      expect(Array.from(p.labels)).toEqual(h.labels);
      // From an unaligned view too (a Buffer from the pool may start anywhere).
      const shifted = Buffer.alloc(bytes.length + 1);
      bytes.copy(shifted, 1);
      expect(Array.from(parseNtkl(shifted.subarray(1), 'rt').scores)).toEqual(Array.from(s));
      // rowLimit keeps the first rows.
      const two = parseNtkl(bytes, 'rt', 2);
      expect(two.rows).toBe(2);
      expect(Array.from(two.scores)).toEqual(Array.from(s.subarray(0, 14)));
    }
  });

  it('refuses a damaged file with an error that names the file and the fault', () => {
    const good = encodeNtkl(header(2, 4), scoresOf(8));
    const withHeader = (h: unknown, n = 8) => {
      let json = Buffer.from(typeof h === 'string' ? h : JSON.stringify(h));
      json = Buffer.concat([json, Buffer.alloc((4 - ((8 + json.length) % 4)) % 4, 0x20)]);
      const b = Buffer.alloc(8 + json.length + 4 * n);
      b.write('NTKL', 0, 'ascii');
      b.writeUInt32LE(json.length, 4);
      json.copy(b, 8);
      return b;
    };
    const cases: Array<[string, Uint8Array, ErrorConstructor, RegExp]> = [
      ['short', good.subarray(0, 5), RangeError, /shorter than the 8-byte preamble/],
      ['magic', Buffer.concat([Buffer.from('NTKX'), good.subarray(4)]), RangeError, /not an \.ntkl file/],
      ['truncated', good.subarray(0, good.length - 4), RangeError, /says 8 \+ H \+ 4 \* rows \* classes/],
      ['trailing', Buffer.concat([good, Buffer.alloc(4)]), RangeError, /says 8 \+ H/],
      [
        'H past end',
        (() => {
          const b = Buffer.from(good);
          b.writeUInt32LE(1 << 20, 4);
          return b;
        })(),
        RangeError,
        /runs past the end/,
      ],
      [
        'H odd',
        (() => {
          const b = Buffer.from(good);
          b.writeUInt32LE(b.readUInt32LE(4) + 1, 4);
          return b;
        })(),
        RangeError,
        /not a multiple of 4/,
      ],
      ['json', withHeader('{not json'), RangeError, /not UTF-8 JSON/],
      [
        'utf8',
        (() => {
          const b = withHeader('{"a":"?"}  ', 0);
          b[14] = 0xff; // the '?': not UTF-8
          return b;
        })(),
        RangeError,
        /not UTF-8 JSON/,
      ],
      ['array', withHeader('[1, 2]'), TypeError, /the header must be a JSON object, got an array of length 2/],
      ['format', withHeader(header(2, 4, { format: 2 as 1 })), RangeError, /"format" must be 1/],
      [
        'rows type',
        withHeader({ ...header(2, 4), rows: '2' }),
        TypeError,
        /"rows" must be a positive integer, got the string "2"/,
      ],
      [
        'rows 0',
        withHeader({ ...header(2, 4), rows: 0, labels: [] }, 0),
        RangeError,
        /"rows" must be a positive integer/,
      ],
      [
        'labels length',
        withHeader({ ...header(2, 4), labels: [0] }),
        RangeError,
        /"labels" must be an array of length rows = 2/,
      ],
      [
        'label range',
        withHeader({ ...header(2, 4), labels: [0, 4] }),
        RangeError,
        /"labels"\[1\] must be an integer in \[0, classes = 4\), got number 4/,
      ],
      [
        'stage',
        withHeader(header(2, 4, { stage: 'late' as 'mid' })),
        RangeError,
        /"stage" must be one of first, early, mid, selected, generated/,
      ],
      [
        'target',
        withHeader(header(2, 4, { target: 'city' as 'country' })),
        RangeError,
        /"target" must be one of country, region, got/,
      ],
      [
        'synthetic captured',
        withHeader(header(2, 4, { target: 'synthetic' })),
        RangeError,
        /"target" must be one of country, region,/,
      ],
      [
        'generated without rule',
        withHeader(header(2, 4, { stage: 'generated', target: 'synthetic' })),
        TypeError,
        /"family" must be a string/,
      ],
      ['epoch', withHeader(header(2, 4, { epoch: -1 })), RangeError, /"epoch" must be a finite number >= 0/],
      ['loss', withHeader({ ...header(2, 4), loss: 5 }), TypeError, /"loss" must be a string/],
      [
        'NaN',
        (() => {
          const b = Buffer.from(good);
          b.writeFloatLE(Number.NaN, b.length - 8);
          return b;
        })(),
        RangeError,
        /score at row 1, class 2 is NaN/,
      ],
    ];
    for (const [what, bytes, Kind, msg] of cases) {
      let err: unknown;
      try {
        parseNtkl(bytes, `damaged-${what}.ntkl`);
      } catch (e) {
        err = e;
      }
      expect(err, what).toBeInstanceOf(Kind);
      expect((err as Error).message, what).toMatch(/^damaged-/);
      expect((err as Error).message, what).toMatch(msg);
    }
  });

  it('lists .ntkl files under a folder, nested ones too, sorted; a missing folder is an error', () => {
    const dir = fs.mkdtempSync(path.join(scratch, 'list-'));
    fs.mkdirSync(path.join(dir, 'region'));
    const bytes = encodeNtkl(header(2, 4), scoresOf(8));
    for (const f of ['b.ntkl', 'a.ntkl', 'region/c.ntkl']) fs.writeFileSync(path.join(dir, f), bytes);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'x');
    expect(listCorpus(dir).map((f) => path.relative(dir, f))).toEqual(['a.ntkl', 'b.ntkl', 'region/c.ntkl']);
    expect(() => listCorpus(path.join(dir, 'nope'))).toThrow(/does not exist/);
    // The benchmarks' cases: the files first (named by their path), then the families.
    const cases = corpusCases(dir, { families: [{ name: 'f', rows: 3, classes: 9, nSample: 2 }] });
    expect(cases.map((c) => [c.name, c.kind, c.rows, c.nSample])).toEqual([
      ['a', 'file', 2, 10],
      ['b', 'file', 2, 10],
      ['region/c', 'file', 2, 10],
      ['f', 'family', 3, 2],
    ]);
    expect(cases[3]!.load().scores.length).toBe(27);
    const quick = corpusCases(dir, { quick: true, families: [{ name: 'f', rows: 30, classes: 9, nSample: 2 }] });
    expect(quick.map((c) => [c.rows, c.nSample])).toEqual([
      [2, 2],
      [2, 2],
      [2, 2],
      [4, 2],
    ]);
  });
});

describe('the generated families', () => {
  it('families.json has the five shapes of issue 21 at each generated width, each named in the README', () => {
    const fams = loadFamilies();
    const readme = fs.readFileSync(path.join(CORPUS_DIR, 'README.md'), 'utf8');
    for (const [classes, rows, nSample] of FAMILY_WIDTHS) {
      for (const shape of ['normal', 'narrow', 'uniform', 'trained', 'wide']) {
        const f = fams.find((x) => x.name === `${shape}-d${classes}`);
        expect(f, `${shape}-d${classes}`).toBeDefined();
        expect([f!.rows, f!.nSample]).toEqual([rows, nSample]);
        expect(readme).toContain(`\`${shape}-dD\``);
      }
    }
    const rules = Object.fromEntries(
      fams.filter((f) => f.classes === 10000).map((f) => [f.name, normalizeRule(f.rule)]),
    );
    expect(rules['narrow-d10000']!.scale.median).toBe(0.1);
    expect(rules['uniform-d10000']!.scale.median).toBeCloseTo(2 / Math.sqrt(3), 12);
    expect(rules['uniform-d10000']!.tail.kind).toBe('uniform');
    expect(rules['trained-d10000']!.margin.mean).toBe(5);
    expect(rules['wide-d10000']!.scale.median).toBe(5);
    expect(fs.readFileSync(FAMILIES_FILE, 'utf8').length).toBeLessThan(64 * 1024);
  });

  it('is deterministic: the same family is the same bytes, a row prefix is the smaller family', () => {
    const fam: Family = { name: 't', rows: 16, classes: 300, seed: 9, rule: { tail: { kind: 'student', df: 5 } } };
    const a = generate(fam);
    const b = generate(fam);
    expect(Buffer.compare(encodeNtkl(a.header, a.scores), encodeNtkl(b.header, b.scores))).toBe(0);
    expect(a.header).toMatchObject({ stage: 'generated', target: 'synthetic', family: 't', seed: 9 });
    expect(a.header.rule).toEqual(normalizeRule(fam.rule));
    const other = generate({ ...fam, seed: 10 });
    expect(Buffer.compare(Buffer.from(a.scores.buffer), Buffer.from(other.scores.buffer))).not.toBe(0);
    // The --quick runs use each family's first rows: the same values as the full family's.
    const small = generate({ ...fam, rows: 4 });
    expect(Array.from(small.scores)).toEqual(Array.from(a.scores.subarray(0, 4 * 300)));
    expect(Array.from(small.labels)).toEqual(Array.from(a.labels.subarray(0, 4)));
    // The rng itself: a fixed stream per seed, in (0, 1).
    const r1 = makeRng(5);
    const r2 = makeRng(5);
    for (let i = 0; i < 1000; i++) {
      const v = r1.next();
      expect(v).toBe(r2.next());
      expect(v > 0 && v < 1).toBe(true);
    }
  });

  it('checks a family and its rule, naming the field', () => {
    expect(() => generate({ name: 'x', rows: 0, classes: 5 })).toThrow(/family x: rows must be a positive integer/);
    expect(() => generate({ name: 'x', rows: 2, classes: 5, rule: { tail: { kind: 'cauchy' as 'normal' } } })).toThrow(
      /family x: tail.kind must be one of normal, uniform, student, gumbel/,
    );
    expect(() => generate({ name: 'x', rows: 2, classes: 5, rule: { tail: { kind: 'student', df: 2 } } })).toThrow(
      /tail.df must be a finite number >= 2/,
    );
    expect(() => generate({ name: 'x', rows: 2, classes: 5, rule: { scale: { median: -1 } } })).toThrow(
      /scale.median must be a finite number/,
    );
    expect(() =>
      generate({ name: 'x', rows: 2, classes: 5, rule: { margin: { mean: 'big' as unknown as number } } }),
    ).toThrow(TypeError);
  });

  it('the five shapes have their laws (KS on every non-label score), and the controls are rejected', () => {
    const fams = loadFamilies().filter((f) => f.classes === 1000);
    expect(fams).toHaveLength(5);
    let tests = 0;
    for (const f of fams) {
      const g = generate({ ...f, rows: 48 });
      const rule = normalizeRule(f.rule);
      const cdf = tailCdf[rule.tail.kind as 'normal' | 'uniform'];
      const z = standardized(g, rule);
      const ks = ksOne(z, cdf);
      tests++;
      expect(ks.p, `${f.name}: KS p`).toBeGreaterThan(ALPHA / 12);
      // The control: the same scores against a spread 10% off are rejected.
      const off = ksOne(
        z.map((v) => v / 1.1),
        cdf,
      );
      expect(off.p, `${f.name}: control`).toBeLessThan(ALPHA / 12);
      // The label column: its lead over the location is the margin (in row sds), within 5 SE.
      const leads = Array.from(
        g.labels,
        (y, r) => (g.scores[r * g.classes + y]! - rule.location.mean) / rule.scale.median,
      );
      expect(Math.abs(meanSd(leads).mean - rule.margin.mean), `${f.name}: margin`).toBeLessThan(5 / Math.sqrt(48));
      if (rule.tail.kind === 'uniform') {
        for (const v of g.scores) expect(Math.abs(v)).toBeLessThanOrEqual(2);
      }
    }
    // And the normal shape is not uniform (the KS has the power to tell the tails apart).
    const normal = generate({ ...fams.find((f) => f.name === 'normal-d1000')!, rows: 48 });
    expect(ksOne(standardized(normal, normalizeRule({})), tailCdf.uniform).p).toBeLessThan(ALPHA / 12);
    expect(tests).toBe(5);
  });

  it("the 'student' and 'gumbel' tails have their laws (against an independent draw), with controls", () => {
    const n = 40_000;
    // Student's t, 5 df, by another construction: Z / sqrt(chi2_5 / 5), scaled to variance 1.
    const ref = makeRng(77);
    const tRef = Array.from({ length: n }, () => {
      let chi = 0;
      for (let i = 0; i < 5; i++) chi += ref.normal() ** 2;
      return (ref.normal() / Math.sqrt(chi / 5)) * Math.sqrt(3 / 5);
    });
    const t = standardized(
      generate({ name: 't', rows: 40, classes: 1001, rule: { tail: { kind: 'student', df: 5 } } }),
      normalizeRule({}),
    );
    expect(ks2(t, tRef).p).toBeGreaterThan(ALPHA / 4);
    // Control: t with 5 df is not normal at this size.
    expect(
      ks2(
        t,
        Array.from({ length: n }, () => ref.normal()),
      ).p,
    ).toBeLessThan(ALPHA / 4);
    const gum = standardized(
      generate({ name: 'g', rows: 40, classes: 1001, rule: { tail: { kind: 'gumbel' } } }),
      normalizeRule({}),
    );
    expect(ksOne(gum, tailCdf.gumbel).p).toBeGreaterThan(ALPHA / 4);
    // Control: its mirror image (a min-type law) is rejected.
    expect(
      ksOne(
        gum.map((v) => -v),
        tailCdf.gumbel,
      ).p,
    ).toBeLessThan(ALPHA / 4);
  });

  // The fit recovers a rule with row-to-row variation: each estimate within 5 of its standard
  // errors (README: the row-to-row spreads are net of one row's sampling noise). The fits pass
  // on seeds 1 to 12 (checked once by hand; the test runs seed 3).
  const R = 2000;
  const D = 200;
  function mismatches(fit: FullRule, rule: FullRule, kurt: number): string[] {
    const out: string[] = [];
    const n = D - 1;
    const near = (name: string, got: number, want: number, se: number) => {
      if (Math.abs(got - want) > 5 * se) out.push(`${name}: ${got} against ${want} (5 SE = ${5 * se})`);
    };
    const s = rule.scale.median;
    const perRow = Math.sqrt(rule.location.sd ** 2 + (s * s * Math.exp(2 * rule.scale.logSd ** 2)) / n);
    near('location.mean', fit.location.mean, rule.location.mean, perRow / Math.sqrt(R));
    // The spreads are compared as variances: an sd estimated near 0 is far from normal.
    near('location variance', fit.location.sd ** 2, rule.location.sd ** 2, perRow ** 2 * Math.sqrt(2 / R) + 1e-4);
    const logPerRow = Math.sqrt(rule.scale.logSd ** 2 + (kurt + 2) / (4 * n));
    near('log scale.median', Math.log(fit.scale.median), Math.log(s), (1.2533 * logPerRow) / Math.sqrt(R));
    near('scale.logSd variance', fit.scale.logSd ** 2, rule.scale.logSd ** 2, logPerRow ** 2 * Math.sqrt(2 / R) + 1e-4);
    const v = 1 + rule.margin.sd ** 2;
    near('margin.mean', fit.margin.mean, rule.margin.mean, Math.sqrt(v / R));
    // The variance of the label's z-score, 1 + sd^2, estimated with SE v sqrt((kurt + 2) / R).
    near('margin variance', 1 + fit.margin.sd ** 2, v, v * Math.sqrt((kurt + 2) / R) + 1e-3);
    if (fit.tail.kind !== rule.tail.kind) out.push(`tail: ${fit.tail.kind} against ${rule.tail.kind}`);
    return out;
  }
  const fitCases: Array<[string, Rule, number]> = [
    [
      'normal, all parameters varying',
      { location: { mean: 0.4, sd: 0.3 }, scale: { median: 2, logSd: 0.15 }, margin: { mean: 3, sd: 1 } },
      0,
    ],
    [
      'uniform, narrow',
      {
        location: { mean: -1, sd: 0.05 },
        scale: { median: 0.1, logSd: 0.1 },
        margin: { mean: 1, sd: 0.5 },
        tail: { kind: 'uniform' },
      },
      -1.2,
    ],
    [
      'gumbel, wide',
      {
        location: { mean: 2, sd: 1 },
        scale: { median: 5, logSd: 0.3 },
        margin: { mean: 5, sd: 2 },
        tail: { kind: 'gumbel' },
      },
      2.4,
    ],
    [
      'student 8 df',
      { scale: { median: 1, logSd: 0.05 }, margin: { mean: 4, sd: 0.7 }, tail: { kind: 'student', df: 8 } },
      3,
    ],
  ];
  for (const [what, rule, kurt] of fitCases) {
    it(`fitRule recovers the rule that made a family (${what}), and a shifted rule is rejected`, () => {
      const full = normalizeRule(rule);
      const g = generate({ name: 'fit', rows: R, classes: D, seed: 3, rule });
      const fit = fitRule(g);
      expect(mismatches(fit, full, kurt)).toEqual([]);
      if (full.tail.kind === 'student') expect(Math.abs(fit.tail.df! - 8)).toBeLessThan(6);
      // Controls: the same check fails against a rule shifted by 8 of its standard errors.
      const v = 1 + full.margin.sd ** 2;
      const shifted = { ...full, margin: { ...full.margin, mean: full.margin.mean + 8 * Math.sqrt(v / R) } };
      expect(mismatches(fit, shifted, kurt).join()).toMatch(/margin.mean/);
      const wider = { ...full, scale: { ...full.scale, median: full.scale.median * 1.1 } };
      expect(mismatches(fit, wider, kurt).join()).toMatch(/log scale.median/);
    });
  }

  it('the command line: fit prints family entries that load and regenerate the fitted shape; list and generate', () => {
    const cli = path.resolve(__dirname, '../bench/corpus.mjs');
    const src = fs.mkdtempSync(path.join(scratch, 'cli-'));
    const file = path.join(src, 'country-bal-seed0-mid.ntkl');
    const g0 = generate({ name: 'src', rows: 400, classes: 246, seed: 4, rule: fitCases[0]![1] });
    fs.writeFileSync(file, encodeNtkl({ ...header(400, 246), labels: Array.from(g0.labels) }, g0.scores));
    const r = spawnSync(process.execPath, [cli, 'fit', file], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const entries = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('  {'))
      .map((l) => JSON.parse(l.trim().replace(/,$/, '')) as Family);
    expect(entries.map((e) => e.name)).toEqual(FAMILY_WIDTHS.map(([d]) => `fit-country-bal-seed0-mid-d${d}`));
    const famFile = path.join(src, 'families.json');
    fs.writeFileSync(famFile, JSON.stringify({ format: 1, families: entries }));
    const loaded = loadFamilies(famFile);
    expect(loaded).toHaveLength(3);
    // The family regenerates the source's shape (a 400-row draw of the fitted rule, fitted again).
    const again = fitRule(generate({ ...loaded[0]!, rows: 400, classes: 246 }));
    const first = fitRule(g0);
    expect(again.margin.mean).toBeCloseTo(first.margin.mean, 0);
    expect(again.scale.median / first.scale.median).toBeCloseTo(1, 1);
    expect(again.location.mean).toBeCloseTo(first.location.mean, 0);
    const list = spawnSync(process.execPath, [cli, 'list'], { encoding: 'utf8' });
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/country-imbal-seed0-selected\.ntkl: 512 x 246, stage selected/);
    expect(list.stdout).toContain('family wide-d32768: 512 x 32768, nSample 5');
    const gen = spawnSync(process.execPath, [cli, 'generate', 'normal-d1000', '--out', src], { encoding: 'utf8' });
    expect(gen.status, gen.stderr).toBe(0);
    const written = readNtkl(path.join(src, 'normal-d1000.ntkl'));
    expect(written.header).toMatchObject({ family: 'normal-d1000', rows: 256, classes: 1000, stage: 'generated' });
    const bad = spawnSync(process.execPath, [cli, 'generate', 'nope', '--out', src], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/no family nope \(families: normal-d1000,/);
  });
});
