import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SYNTHETIC, syntheticData, powerLawCounts } from '../lib/demo/dataset.js';
import { DataFileError, parseCsv, parseDataText, parseJsonLines, splitRows } from '../lib/demo/data-file.js';
import { parseLosses } from '../lib/demo/losses.js';
import { Mlp } from '../lib/demo/model.js';
import { Rng } from '../lib/demo/rng.js';
import { parseDemoArgs, runDemo, UsageError } from '../lib/demo/run.js';
import { perClassPlot } from '../lib/demo/svg.js';
import { topKAccuracy } from '../lib/metrics.js';

function capture(): { stream: Writable & { isTTY?: boolean }; text: () => string } {
  let buf = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      buf += String(chunk);
      cb();
    },
  });
  return { stream, text: () => buf };
}

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
      split.y.forEach((y) => seen[y]!++);
      expect(seen).toEqual(counts);
    }
    for (const split of [data.val, data.test]) {
      const seen = new Array<number>(100).fill(0);
      split.y.forEach((y) => seen[y]!++);
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
    expect(() => parseCsv('1,2,0\n1,2\n', 'd.csv')).toThrow('d.csv:2: expected 3 fields (2 features and the label), got 2');
    expect(() => parseCsv('a,b,label\n1,2,0\n\n1,zz,1\n', 'd.csv')).toThrow('d.csv:4: field 2 (column "b") is "zz", not a finite number');
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

  it('JSON-lines errors name the file, the line and the problem', () => {
    const ok = parseJsonLines('{"features":[1,2],"label":0}\n\n{"features":[3,4],"label":"b"}\n', 'x.jsonl');
    expect(ok.labels).toEqual(['0', 'b']);
    expect(() => parseJsonLines('{"features":[1,2],"label":0}\n{"features":[1,2],"label":0\n', 'x.jsonl')).toThrow(/^x\.jsonl:2: not valid JSON/);
    expect(() => parseJsonLines('{"features":[1,2],"label":0}\n\n{"features":[1],"label":0}\n', 'x.jsonl')).toThrow(
      'x.jsonl:3: "features" has 1 numbers, expected 2 (as on line 1)',
    );
    expect(() => parseJsonLines('{"features":[1,"a"],"label":0}\n', 'x.jsonl')).toThrow('x.jsonl:1: features[1] is "a", not a finite number');
    expect(() => parseJsonLines('{"features":[1,2],"label":1.5}\n', 'x.jsonl')).toThrow('x.jsonl:1: "label" must be an integer or a non-empty string, got 1.5');
    expect(() => parseJsonLines('{"label":1}\n', 'x.jsonl')).toThrow('x.jsonl:1: "features" must be an array of numbers, got nothing');
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
    expect(() => splitRows(parseCsv('1,a\n2,a\n3,a\n', 'one.csv'), { seed: 0 }, 'one.csv')).toThrow('one.csv: the labels name 1 class; at least 2 are needed');
  });
});

describe('demo command line', () => {
  it('parses the flags and rejects bad ones', () => {
    expect(parseDemoArgs(['--help'])).toBeNull();
    const o = parseDemoArgs(['--losses', 'imbal,CE', '--epochs=3', '--k', '2', '--seed', '9', '--out', 'x', '--data', 'f.csv'])!;
    expect(o).toMatchObject({ losses: ['imbal', 'ce'], epochs: 3, k: 2, seed: 9, out: 'x', data: 'f.csv' });
    expect(parseDemoArgs([])!.losses).toEqual(['ce', 'focal', 'ldam', 'bal', 'imbal', 'svm']);
    expect(() => parseDemoArgs(['--epochs', '0'])).toThrow(UsageError);
    expect(() => parseDemoArgs(['--epochs'])).toThrow('--epochs needs a value');
    expect(() => parseDemoArgs(['--losses', 'hinge'])).toThrow(/unknown loss "hinge"/);
    expect(() => parseDemoArgs(['--bogus'])).toThrow('unknown option "--bogus"');
    expect(parseLosses('BalNoisedTopK, cross-entropy')).toEqual(['bal', 'ce']);
  });

  it('a tiny run trains every loss, prints the table and writes the plot and results', () => {
    const out = mkdtempSync(join(tmpdir(), 'ntk-demo-'));
    const cap = capture();
    const report = runDemo({
      losses: ['ce', 'focal', 'ldam', 'bal', 'imbal', 'svm'],
      epochs: 3,
      k: 3,
      seed: 1,
      out,
      synthetic: { classes: 12, genera: 4, features: 6, maxCount: 80, minCount: 3 },
      stdout: cap.stream,
    });
    const text = cap.text();
    for (const label of ['cross-entropy', 'focal', 'LDAM', 'BalNoisedTopK', 'ImbalNoisedTopK', 'smooth top-k SVM']) expect(text).toMatch(new RegExp(`^${label} +\\d`, 'm'));
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
    const json = JSON.parse(readFileSync(report.resultsPath, 'utf8')) as { results: { perClassTopk: unknown[] }[] };
    expect(json.results[0]!.perClassTopk).toHaveLength(12);
    // the same seed gives the same numbers
    const again = runDemo({ losses: ['imbal'], epochs: 3, k: 3, seed: 1, out, synthetic: { classes: 12, genera: 4, features: 6, maxCount: 80, minCount: 3 }, stdout: capture().stream });
    expect(again.results[0]!.test).toEqual(report.results[4]!.test);
  });

  it('--data trains on a CSV file; a malformed one fails with its line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ntk-data-'));
    const rng = new Rng(2);
    const rows: string[] = ['x1,x2,x3,label'];
    for (let i = 0; i < 120; i++) {
      const c = i % 6;
      rows.push(`${c + 0.5 * rng.normal()},${-c + 0.5 * rng.normal()},${rng.normal()},class${c}`);
    }
    const file = join(dir, 'mine.csv');
    writeFileSync(file, rows.join('\n'));
    const cap = capture();
    const report = runDemo({ losses: ['ce', 'bal'], epochs: 2, k: 2, seed: 0, out: dir, data: file, stdout: cap.stream });
    expect(report.data.classes).toBe(6);
    expect(cap.text()).toContain('mine.csv: 6 classes, 3 features');
    writeFileSync(file, rows.slice(0, 5).join('\n') + '\n1,2,class0\n');
    expect(() => runDemo({ losses: ['ce'], epochs: 1, k: 2, seed: 0, out: dir, data: file, stdout: cap.stream })).toThrow(
      `${file}:6: expected 4 fields (3 features and the label), got 3`,
    );
    expect(() => runDemo({ losses: ['ce'], epochs: 1, k: 6, seed: 0, out: dir, data: join(dir, 'none.csv'), stdout: cap.stream })).toThrow(/cannot read the file \(ENOENT\)/);
  });

  it('the plot has one series per loss and log-spaced ticks', () => {
    const svg = perClassPlot([1, 10, 100, 1000], [{ label: 'a<b', perClass: [0, 0.5, NaN, 1] }], { k: 5 });
    expect(svg).toContain('a&lt;b');
    expect(svg.match(/<circle /g)).toHaveLength(3);
    for (const t of ['>1<', '>10<', '>100<', '>1000<']) expect(svg).toContain(t);
  });
});
