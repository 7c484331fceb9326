import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_SYNTHETIC, syntheticData, powerLawCounts } from '../demo/dataset.js';
import { DataFileError, parseCsv, parseDataText, parseJsonLines, splitRows } from '../demo/data-file.js';
import { parseLosses, type LossName } from '../demo/losses.js';
import { backends } from '../lib/index.js';
import { Mlp } from '../demo/model.js';
import { Rng } from '../demo/rng.js';
import { Resvg } from '@resvg/resvg-js';
import { parseDemoArgs } from '../demo/args.js';
import { svgToPng } from '../demo/output.js';
import { meanSd } from '../demo/report.js';
import { OutputError, runDemo, UsageError } from '../demo/run.js';
import { COLOURS, perClassPlot, plotScene, sceneToSvg } from '../demo/svg.js';
import { topKAccuracy } from '../lib/metrics.js';

// Every folder a test writes under /tmp is made here and removed after the file's tests.
const scratch = mkdtempSync(join(tmpdir(), 'noised-topk-demo-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const tempDir = (prefix: string) => mkdtempSync(join(scratch, prefix));

function capture(onWrite?: (text: string) => void): { stream: Writable & { isTTY?: boolean }; text: () => string } {
  let buf = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      buf += String(chunk);
      onWrite?.(buf);
      cb();
    },
  });
  return { stream, text: () => buf };
}

const TINY = { classes: 12, genera: 4, features: 6, maxCount: 80, minCount: 3 };

describe('built-in dataset', () => {
  const data = syntheticData({ seed: 3 });

  it('is a pure function of the seed', () => {
    const again = syntheticData({ seed: 3 });
    expect(again.train.x).toEqual(data.train.x);
    expect(again.test.y).toEqual(data.test.y);
    const other = syntheticData({ seed: 4 });
    expect(other.train.x).not.toEqual(data.train.x);
    const r1 = new Rng(5);
    const r2 = new Rng(5);
    expect([r1.u32(), r1.u32()]).toEqual([r2.u32(), r2.u32()]);
  });

  it('has 100 classes with heavy-tailed training counts and every class in val and test', () => {
    expect(data.classes).toBe(100);
    const sorted = [...data.trainCounts].sort((a, b) => b - a);
    const { maxCount, minCount, alpha } = DEFAULT_SYNTHETIC;
    expect(sorted).toEqual(powerLawCounts(100, maxCount, minCount, alpha).sort((a, b) => b - a));
    expect(sorted[0]! / sorted[99]!).toBeGreaterThanOrEqual(100);
    // the 20 largest classes hold most of the data; most classes are few-shot (< 20)
    const total = sorted.reduce((a, b) => a + b, 0);
    expect(sorted.slice(0, 20).reduce((a, b) => a + b, 0) / total).toBeGreaterThan(0.7);
    expect(sorted.filter((c) => c < 20).length).toBeGreaterThan(40);
    for (const [split, counts] of [[data.train, data.trainCounts]] as const) {
      const seen = new Array<number>(100).fill(0);
      for (const y of split.y) seen[y]!++;
      expect(seen).toEqual(counts);
    }
    for (const split of [data.val, data.test]) {
      const seen = new Array<number>(100).fill(0);
      for (const y of split.y) seen[y]!++;
      expect(Math.min(...seen)).toBeGreaterThanOrEqual(4);
    }
    expect(data.train.x.length).toBe(data.train.n * data.features);
  });

  it('is ambiguous: with the true class means, top-1 is hard and top-5 much easier', () => {
    // nearest true mean, estimated from the training rows of each class
    const F = data.features;
    const mean = new Float64Array(100 * F);
    data.train.y.forEach((y, i) => {
      for (let f = 0; f < F; f++) mean[y * F + f] = mean[y * F + f]! + data.train.x[i * F + f]! / data.trainCounts[y]!;
    });
    const s = new Float32Array(data.test.n * 100);
    for (let i = 0; i < data.test.n; i++) {
      for (let c = 0; c < 100; c++) {
        let d = 0;
        for (let f = 0; f < F; f++) d += (data.test.x[i * F + f]! - mean[c * F + f]!) ** 2;
        s[i * 100 + c] = -d;
      }
    }
    const top1 = topKAccuracy(s, data.test.y, [data.test.n, 100], 1);
    const top5 = topKAccuracy(s, data.test.y, [data.test.n, 100], 5);
    expect(top1).toBeLessThan(0.75);
    expect(top5 - top1).toBeGreaterThan(0.15);
  });

  it('rejects bad settings', () => {
    expect(() => syntheticData({ classes: 1 })).toThrow(RangeError);
    expect(() => syntheticData({ classes: 10, genera: 11 })).toThrow(/genera must be an integer in \[1, 10\]/);
  });
});

describe('the model', () => {
  it('cosine head: scores in [-1, 1] and the gradient matches finite differences', () => {
    const shape = { features: 3, hidden: 4, classes: 3, cosine: true };
    const m = new Mlp(shape, 1);
    const x = Float32Array.from([0.5, -1, 2, 1, 0.2, -0.3]);
    const s = m.forward(x, 2);
    expect(s.every((v) => v >= -1 && v <= 1)).toBe(true);
    // loss = sum(scores * g): its gradient for w2 is what step() applies, with lr 1 and no momentum
    const g = Float32Array.from([0.3, -0.2, 0.5, -0.4, 0.1, 0.6]);
    const lossAt = (model: Mlp) => model.forward(x, 2).reduce((a, v, i) => a + v * g[i]!, 0);
    m.forward(x, 2);
    m.backward(g);
    const before = m.snapshot();
    m.step(1, 0, 0);
    const after = m.snapshot();
    const analytic = before[2]!.map((v, i) => v - after[2]![i]!);
    m.restore(before);
    const h = 1e-2;
    for (const i of [0, 5, 11]) {
      const plus = new Mlp(shape, 1);
      plus.restore(before);
      plus.w2[i] = before[2]![i]! + h;
      const minus = new Mlp(shape, 1);
      minus.restore(before);
      minus.w2[i] = before[2]![i]! - h;
      const numeric = (lossAt(plus) - lossAt(minus)) / (plus.w2[i]! - minus.w2[i]!);
      expect(Math.abs(analytic[i]! - numeric)).toBeLessThan(2e-3);
    }
  });
});

describe('data files', () => {
  it('reads CSV with or without a header, a named label column, quotes and string labels', () => {
    const a = parseCsv('1,2,cat\n3,4,dog\n', 'a.csv');
    expect(Array.from(a.x)).toEqual([1, 2, 3, 4]);
    expect(a.labels).toEqual(['cat', 'dog']);
    const b = parseCsv('f1,label,f2\n# a comment\n\n1,"a, b",2\n3,x,4\n', 'b.csv');
    expect(b.features).toBe(2);
    expect(Array.from(b.x)).toEqual([1, 2, 3, 4]);
    expect(b.labels).toEqual(['a, b', 'x']);
  });

  it('CSV errors name the file, the line and the problem', () => {
    expect(() => parseCsv('1,2,0\n1,2\n', 'd.csv')).toThrow(
      'd.csv:2: expected 3 fields (2 features and the label), got 2',
    );
    expect(() => parseCsv('a,b,label\n1,2,0\n\n1,zz,1\n', 'd.csv')).toThrow(
      'd.csv:4: field 2 (column "b") is "zz", not a finite number',
    );
    expect(() => parseCsv('1,2,0\n1,2,\n', 'd.csv')).toThrow('d.csv:2: the label (field 3) is empty');
    expect(() => parseCsv('1,2,"0\n', 'd.csv')).toThrow('d.csv:1: a quoted field is not closed');
    expect(() => parseCsv('\n# only a comment\n', 'd.csv')).toThrow('d.csv: no data rows');
    expect(() => parseCsv('1,NaN,0\n', 'd.csv')).toThrow(DataFileError);
    let caught: unknown;
    try {
      parseCsv('1,2,0\n3,4,1\n5,6\n', 'e.csv');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(DataFileError);
    expect((caught as DataFileError).line).toBe(3);
  });

  it('CSV by csv-parse: a byte order mark, CRLF, spaces, a # inside a field and a quoted line break are data', () => {
    const r = parseCsv(
      '\uFEFFf1,f2,label\r\n 1 , 2 ,"tag#1"\r\n3,4,"two\nlines"\r\n5,6,plain # not a comment\r\n',
      'c.csv',
    );
    expect(Array.from(r.x)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(r.labels).toEqual(['tag#1', 'two\nlines', 'plain # not a comment']);
    // the quoted line break makes record 1 two lines long: the next record is line 3 of the file
    expect(() => parseCsv('1,2,"a\nb"\n1,x,c\n', 'n.csv')).toThrow('n.csv:3: field 2 is "x", not a finite number');
    expect(() => parseCsv('1,2,0\n1,"x"y,0\n', 'q.csv')).toThrow(
      'q.csv:2: unexpected text after a quoted field (a quote inside a quoted field is written "")',
    );
    const caught = (() => {
      try {
        parseCsv('a,b,label\n1,2,"open\n', 'u.csv');
      } catch (e) {
        return e;
      }
    })();
    expect(caught).toBeInstanceOf(DataFileError);
    expect((caught as DataFileError).message).toMatch(/^u\.csv:2: a quoted field is not closed/);
  });

  it('JSON-lines errors name the file, the line and the problem', () => {
    const ok = parseJsonLines('{"features":[1,2],"label":0}\n\n{"features":[3,4],"label":"b"}\n', 'x.jsonl');
    expect(ok.labels).toEqual(['0', 'b']);
    expect(() => parseJsonLines('{"features":[1,2],"label":0}\n{"features":[1,2],"label":0\n', 'x.jsonl')).toThrow(
      /^x\.jsonl:2: not valid JSON/,
    );
    expect(() => parseJsonLines('{"features":[1,2],"label":0}\n\n{"features":[1],"label":0}\n', 'x.jsonl')).toThrow(
      'x.jsonl:3: "features" has 1 numbers, expected 2 (as on line 1)',
    );
    expect(() => parseJsonLines('{"features":[1,"a"],"label":0}\n', 'x.jsonl')).toThrow(
      'x.jsonl:1: features[1] is "a", not a finite number',
    );
    expect(() => parseJsonLines('{"features":[1,2],"label":1.5}\n', 'x.jsonl')).toThrow(
      'x.jsonl:1: "label" must be an integer or a non-empty string, got 1.5',
    );
    expect(() => parseJsonLines('{"label":1}\n', 'x.jsonl')).toThrow(
      'x.jsonl:1: "features" must be an array of numbers, got nothing',
    );
    expect(() => parseJsonLines('[1,2]\n', 'x.jsonl')).toThrow('x.jsonl:1: expected an object');
    expect(parseDataText('{"features":[1],"label":2}', 'no-extension').labels).toEqual(['2']);
  });

  it('splits per class, standardises with training statistics, keeps tiny classes in train', () => {
    const lines: string[] = [];
    for (let i = 0; i < 40; i++) lines.push(`${i},${2 * i + 5},${i % 4 === 0 ? 'b' : 'a'}`);
    lines.push('100,100,c', '101,101,c');
    const d = splitRows(parseCsv(lines.join('\n'), 'm.csv'), { seed: 1 }, 'm.csv');
    expect(d.classNames).toEqual(['a', 'b', 'c']);
    expect(d.train.n + d.val.n + d.test.n).toBe(42);
    expect(d.trainCounts).toEqual([24, 8, 2]); // a: 30 - 3 - 3, b: 10 - 1 - 1, c: all
    expect(Array.from(d.val.y).sort()).toEqual([0, 0, 0, 1]);
    const F = 2;
    for (let f = 0; f < F; f++) {
      let sum = 0;
      for (let i = 0; i < d.train.n; i++) sum += d.train.x[i * F + f]!;
      expect(Math.abs(sum / d.train.n)).toBeLessThan(1e-5);
    }
    expect(() => splitRows(parseCsv('1,a\n2,a\n3,a\n', 'one.csv'), { seed: 0 }, 'one.csv')).toThrow(
      'one.csv: the labels name 1 class; at least 2 are needed',
    );
  });
});

describe('demo command line', () => {
  it('parses the flags and rejects bad ones', () => {
    expect(parseDemoArgs(['--help'])).toBeNull();
    const o = parseDemoArgs([
      '--losses',
      'imbal,CE',
      '--epochs=3',
      '--k',
      '2',
      '--seed',
      '9',
      '--out',
      'x',
      '--data',
      'f.csv',
    ])!;
    expect(o).toMatchObject({ losses: ['imbal', 'ce'], epochs: 3, k: 2, seed: 9, out: 'x', data: 'f.csv' });
    expect(parseDemoArgs([])!.losses).toEqual(['ce', 'focal', 'ldam', 'bal', 'imbal', 'svm']);
    expect(parseDemoArgs([])!.normalizeLastLayer).toBeUndefined();
    expect(parseDemoArgs(['--normalize-ll'])!.normalizeLastLayer).toBe(true);
    expect(() => parseDemoArgs(['--normalize-ll=yes'])).toThrow(UsageError);
    expect(() => parseDemoArgs(['--epochs', '0'])).toThrow(UsageError);
    expect(() => parseDemoArgs(['--epochs'])).toThrow('--epochs needs a value');
    expect(() => parseDemoArgs(['--losses', 'hinge'])).toThrow(/unknown loss "hinge"/);
    expect(() => parseDemoArgs(['--bogus'])).toThrow('unknown option "--bogus"');
    expect(parseLosses('BalNoisedTopK, cross-entropy')).toEqual(['bal', 'ce']);
  });

  it('parses --seeds, --lr, --batch and --backend; an unknown flag names the nearest one', () => {
    expect(parseDemoArgs(['--seeds', '0,1,2', '--lr', '0.01', '--batch', '64', '--backend', 'js'])).toMatchObject({
      seeds: [0, 1, 2],
      seed: 0,
      lr: 0.01,
      batch: 64,
      backend: 'js',
    });
    expect(() => parseDemoArgs(['--epoch', '3'])).toThrow('unknown option "--epoch" (did you mean --epochs?)');
    expect(() => parseDemoArgs(['--Seeds=1'])).toThrow('unknown option "--Seeds" (did you mean --seeds?)');
    expect(() => parseDemoArgs(['--bogus'])).toThrow(/^unknown option "--bogus"; see --help$/);
    expect(() => parseDemoArgs(['--seed', '1', '--seeds', '1,2'])).toThrow('give --seed or --seeds, not both');
    expect(() => parseDemoArgs(['--seeds', '1,x'])).toThrow('--seeds must be an integer in [0, 4294967295], got "x"');
    expect(() => parseDemoArgs(['--seeds', '1,1'])).toThrow('--seeds has a repeated seed');
    expect(() => parseDemoArgs(['--lr=-1'])).toThrow('--lr must be a number in (0, 10], got "-1"');
    expect(() => parseDemoArgs(['--lr', '-1'])).toThrow(
      '--lr needs a value; for one that starts with a dash, write --lr=<value>',
    );
    expect(() => parseDemoArgs(['--batch', '0'])).toThrow('--batch must be an integer in [1, 65536], got "0"');
    expect(() => parseDemoArgs(['--backend', 'gpu'])).toThrow(
      '--backend must be one of auto, js, cpu, cuda, got "gpu"',
    );
    expect(() => parseDemoArgs(['stray'])).toThrow(/unexpected argument "stray"/);
  });

  it('--seeds: one run per seed and loss, the table is mean ± sd of them', () => {
    const cap = capture();
    const report = runDemo({
      losses: ['ce', 'imbal'],
      epochs: 2,
      k: 3,
      seed: 4,
      seeds: [4, 5, 6],
      out: tempDir('seeds-'),
      dataset: 'synthetic' as const,
      synthetic: TINY,
      stdout: cap.stream,
    });
    expect(report.runs).toHaveLength(3);
    for (const [l, s] of report.summary.entries()) {
      const macro = report.runs.map((seedRuns) => seedRuns[l]!.test.macroTopk);
      const mean = macro.reduce((a, b) => a + b, 0) / 3;
      expect(s.macroTopk.mean).toBeCloseTo(mean, 12);
      expect(s.macroTopk.sd).toBeCloseTo(Math.sqrt(macro.reduce((a, b) => a + (b - mean) ** 2, 0) / 2), 12);
      expect(cap.text()).toMatch(new RegExp(`^${s.label} +[\\d.]+ ± [\\d.]+ `, 'm'));
    }
    // The runs of seed 5 are the runs a one-seed demo with seed 5 makes.
    const alone = runDemo({
      losses: ['ce', 'imbal'],
      epochs: 2,
      k: 3,
      seed: 5,
      out: tempDir('seed5-'),
      dataset: 'synthetic' as const,
      synthetic: TINY,
      stdout: capture().stream,
    });
    expect(report.runs[1]!.map((r) => r.test)).toEqual(alone.results.map((r) => r.test));
    expect(cap.text()).toContain('mean ± sd over seeds 4,5,6');
    expect(meanSd([1, NaN, 3])).toEqual({ mean: 2, sd: Math.SQRT2, n: 2 });
  });

  it('--backend js trains to the same bits as cpu; --lr and --batch change the run', () => {
    const base = {
      losses: ['bal', 'imbal'] as LossName[],
      epochs: 2,
      k: 3,
      seed: 2,
      dataset: 'synthetic' as const,
      synthetic: TINY,
    };
    const js = runDemo({ ...base, backend: 'js', out: tempDir('js-'), stdout: capture().stream });
    const cap = capture();
    const cpu = runDemo({
      ...base,
      backend: backends().includes('cpu') ? 'cpu' : 'js',
      out: tempDir('cpu-'),
      stdout: cap.stream,
    });
    expect(js.results.map((r) => [r.trainLoss, r.test])).toEqual(cpu.results.map((r) => [r.trainLoss, r.test]));
    const lr = runDemo({ ...base, lr: 0.3, out: tempDir('lr-'), stdout: capture().stream });
    expect(lr.results[0]!.trainLoss).not.toEqual(cpu.results[0]!.trainLoss);
    const batch = runDemo({ ...base, batch: 7, out: tempDir('batch-'), stdout: capture().stream });
    expect(batch.results[0]!.trainLoss).not.toEqual(cpu.results[0]!.trainLoss);
    const saved = JSON.parse(readFileSync(batch.resultsPath, 'utf8')) as { batch: number; lr: number | null };
    expect(saved).toMatchObject({ batch: 7, lr: null });
  });

  it('a bad --out fails at once, before any training, with one line', () => {
    const dir = tempDir('out-');
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    for (const [out, message] of [
      [file, `--out ${file} exists and is not a directory`],
      [join(file, 'below'), `--out ${join(file, 'below')}: ${file} is not a directory`],
      [
        '/proc/noised-topk-demo',
        '--out /proc/noised-topk-demo: cannot create the directory /proc/noised-topk-demo (ENOENT)',
      ],
    ] as const) {
      const cap = capture();
      // (Before, /proc/... spun in a recursive mkdir: the test's timeout would catch that.)
      expect(() =>
        runDemo({
          losses: ['ce'],
          epochs: 50,
          k: 3,
          seed: 0,
          out,
          dataset: 'synthetic' as const,
          synthetic: TINY,
          stdout: cap.stream,
        }),
      ).toThrow(message);
      expect(cap.text()).toBe(''); // nothing trained, nothing printed
    }
    // A missing nested folder is created (mkdir -p).
    const nested = join(dir, 'x', 'y', 'z');
    runDemo({
      losses: ['ce'],
      epochs: 1,
      k: 3,
      seed: 0,
      out: nested,
      dataset: 'synthetic' as const,
      synthetic: TINY,
      stdout: capture().stream,
    });
    expect(existsSync(join(nested, 'results.json'))).toBe(true);
  });

  it('when writing fails after training, the table is already out and the error says so', () => {
    const out = tempDir('vanish-');
    // The folder turns into a file once the table is printed (a disk that went away).
    const cap = capture((text) => {
      if (text.includes('few-shot:') && !existsSync(join(out, '.gone'))) {
        rmSync(out, { recursive: true });
        writeFileSync(out, '');
        writeFileSync(`${out}.gone`, '');
      }
    });
    let err: unknown;
    try {
      runDemo({
        losses: ['ce'],
        epochs: 2,
        k: 3,
        seed: 0,
        out,
        dataset: 'synthetic' as const,
        synthetic: TINY,
        stdout: cap.stream,
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OutputError);
    expect((err as Error).message).toMatch(
      /^could not write .*per-class-top3\.svg \(ENOTDIR\); the table above has the results$/,
    );
    expect(cap.text()).toMatch(/^cross-entropy +\d/m);
  });

  it('a tiny run trains every loss, prints the table and writes the plot and results', () => {
    const out = tempDir('demo-');
    const cap = capture();
    const report = runDemo({
      losses: ['ce', 'focal', 'ldam', 'bal', 'imbal', 'svm'],
      epochs: 3,
      k: 3,
      seed: 1,
      out,
      dataset: 'synthetic',
      synthetic: { classes: 12, genera: 4, features: 6, maxCount: 80, minCount: 3 },
      stdout: cap.stream,
    });
    const text = cap.text();
    for (const label of ['cross-entropy', 'focal', 'LDAM', 'BalNoisedTopK', 'ImbalNoisedTopK', 'smooth top-k SVM'])
      expect(text).toMatch(new RegExp(`^${label} +\\d`, 'm'));
    expect(text).toMatch(/loss +top-1 +top-3 +macro top-3 +few-shot top-3 +best epoch +time/);
    expect(text).toContain('seed 1; wall time');
    expect(report.results).toHaveLength(6);
    for (const r of report.results) {
      expect(r.test.topk).toBeGreaterThanOrEqual(r.test.top1);
      expect(r.bestEpoch).toBeGreaterThanOrEqual(1);
      expect(r.trainLoss).toHaveLength(3);
      expect(r.trainLoss.every(Number.isFinite)).toBe(true);
    }
    // chance top-3 on 12 classes is 25%: a few epochs beat it clearly
    expect(report.results[0]!.test.topk).toBeGreaterThan(0.4);
    const svg = readFileSync(report.plotPath, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(6);
    // The legend carries each loss's macro top-k; the PNG beside the SVG is the same plot.
    for (const r of report.results)
      expect(svg).toContain(`${r.label} (macro top-3 ${(100 * r.test.macroTopk).toFixed(1)}%)`);
    expect(readFileSync(report.pngPath).subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    );
    const json = JSON.parse(readFileSync(report.resultsPath, 'utf8')) as {
      results: { perClassTopk: unknown[] }[];
      classNames: string[];
    };
    expect(json.results[0]!.perClassTopk).toHaveLength(12);
    expect(json.classNames).toHaveLength(12);
    // The table is printed before the files are written.
    expect(text.indexOf('few-shot:')).toBeLessThan(text.indexOf('plot: '));
    // the same seed gives the same numbers
    const again = runDemo({
      losses: ['imbal'],
      epochs: 3,
      k: 3,
      seed: 1,
      out,
      dataset: 'synthetic',
      synthetic: { classes: 12, genera: 4, features: 6, maxCount: 80, minCount: 3 },
      stdout: capture().stream,
    });
    expect(again.results[0]!.test).toEqual(report.results[4]!.test);
  });

  it('--data trains on a CSV file; a malformed one fails with its line', () => {
    const dir = tempDir('data-');
    const rng = new Rng(2);
    const rows: string[] = ['x1,x2,x3,label'];
    for (let i = 0; i < 120; i++) {
      const c = i % 6;
      rows.push(`${c + 0.5 * rng.normal()},${-c + 0.5 * rng.normal()},${rng.normal()},class${c}`);
    }
    const file = join(dir, 'mine.csv');
    writeFileSync(file, rows.join('\n'));
    const cap = capture();
    const report = runDemo({
      losses: ['ce', 'bal'],
      epochs: 2,
      k: 2,
      seed: 0,
      out: dir,
      data: file,
      stdout: cap.stream,
    });
    expect(report.data.classes).toBe(6);
    expect(cap.text()).toContain('mine.csv: 6 classes, 3 features');
    // results.json keeps the user's class names, in class-index order.
    const saved = JSON.parse(readFileSync(report.resultsPath, 'utf8')) as { classNames: string[] };
    expect(saved.classNames).toEqual(['class0', 'class1', 'class2', 'class3', 'class4', 'class5']);
    writeFileSync(file, `${rows.slice(0, 5).join('\n')}\n1,2,class0\n`);
    expect(() =>
      runDemo({ losses: ['ce'], epochs: 1, k: 2, seed: 0, out: dir, data: file, stdout: cap.stream }),
    ).toThrow(`${file}:6: expected 4 fields (3 features and the label), got 3`);
    expect(() =>
      runDemo({ losses: ['ce'], epochs: 1, k: 6, seed: 0, out: dir, data: join(dir, 'none.csv'), stdout: cap.stream }),
    ).toThrow(/cannot read the file \(ENOENT\)/);
  });

  it('--data must be a regular file under the size limit; a feature beyond float32 names its row and column', () => {
    const dir = tempDir('files-');
    const run = (data: string) => () =>
      runDemo({ losses: ['ce'], epochs: 1, k: 1, seed: 0, out: dir, data, stdout: capture().stream });
    expect(run('/dev/zero')).toThrow(
      '/dev/zero: must be a regular file (CSV or JSON lines), but it is a character device',
    );
    expect(run(dir)).toThrow(`${dir}: must be a regular file (CSV or JSON lines), but it is a directory`);
    const fifo = join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    expect(run(fifo)).toThrow(`${fifo}: must be a regular file (CSV or JSON lines), but it is a fifo`);
    const huge = join(dir, 'huge.csv');
    writeFileSync(huge, '');
    truncateSync(huge, 600 * 2 ** 20); // sparse: no disk used
    expect(run(huge)).toThrow(`${huge}: is 600 MiB; the limit is 512 MiB (the file is read whole)`);
    rmSync(huge);
    expect(() => parseCsv('a,b,label\n1,2,x\n3,1e39,y\n', 'f.csv')).toThrow(
      'f.csv:3: field 2 (column "b") is 1e39, not finite as a float32',
    );
    expect(() => parseJsonLines('{"features":[1,-4e38],"label":0}\n', 'f.jsonl')).toThrow(
      'f.jsonl:1: features[1] is -4e+38, not finite as a float32',
    );
  });

  it("the plot: x range from the data, the few-shot line, interval bars; the PNG is resvg's rendering of it", () => {
    const counts = [6, 9, 14, 30, 80, 400, 2000];
    const scene = plotScene(
      counts,
      [
        { label: 'one', perClass: [0, 0.25, 0.5, 0.75, 1, 1, 1], macro: 0.5 },
        { label: 'two', perClass: [0, 0, 0.5, 1, 1, 1, 1] },
      ],
      {
        k: 5,
        fewShotBelow: 20,
      },
    );
    const svg = perClassPlot(counts, [{ label: 'one', perClass: [0, 0.25, 0.5, 0.75, 1, 1, 1], macro: 0.5 }], {
      k: 5,
      fewShotBelow: 20,
    });
    // ticks only inside the data's range: 5 and 2000 are, 1 and 5000 are not
    expect(svg).toContain('>5<');
    expect(svg).toContain('>2000<');
    expect(svg).not.toContain('>1<');
    expect(svg).not.toContain('>5000<');
    expect(svg).toContain('few-shot: &lt; 20');
    expect(svg).toContain('stroke-dasharray');
    expect(svg).toContain('one (macro top-5 50.0%)');
    // The PNG is resvg's rendering of the same SVG, at twice its size, with every series' colour.
    const png = Buffer.from(svgToPng(sceneToSvg(scene)));
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.toString('latin1', 12, 16)).toBe('IHDR');
    expect(png.readUInt32BE(16)).toBe(2 * scene.width);
    expect(png.readUInt32BE(20)).toBe(2 * scene.height);
    const image = new Resvg(sceneToSvg(scene), { fitTo: { mode: 'zoom', value: 2 } }).render();
    expect([image.width, image.height]).toEqual([2 * scene.width, 2 * scene.height]);
    const px = image.pixels;
    for (const colour of COLOURS.slice(0, 2)) {
      const [r, g, b] = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
      let found = 0;
      for (let i = 0; i < px.length && found === 0; i += 4)
        if (px[i] === r && px[i + 1] === g && px[i + 2] === b && px[i + 3] === 255) found++;
      expect(found, colour).toBeGreaterThan(0);
    }
    // and the colour of a third series, not drawn, is absent: the search can fail
    const [r3, g3, b3] = [1, 3, 5].map((i) => parseInt(COLOURS[2]!.slice(i, i + 2), 16));
    let third = 0;
    for (let i = 0; i < px.length; i += 4) if (px[i] === r3 && px[i + 1] === g3 && px[i + 2] === b3) third++;
    expect(third).toBe(0);
  });

  it('the plot has one series per loss and log-spaced ticks', () => {
    const svg = perClassPlot([1, 10, 100, 1000], [{ label: 'a<b', perClass: [0, 0.5, NaN, 1] }], { k: 5 });
    expect(svg).toContain('a&lt;b');
    expect(svg.match(/<circle /g)).toHaveLength(3);
    for (const t of ['>1<', '>10<', '>100<', '>1000<']) expect(svg).toContain(t);
  });
});
