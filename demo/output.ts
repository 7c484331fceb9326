// The demo's output folder: checked and created before any training, written after the table.
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, isAbsolute } from 'node:path';
import type { DemoData } from './dataset.js';
import { isPlaceData } from './places.js';
import { Resvg } from '@resvg/resvg-js';
import { plotScene, sceneToSvg } from './svg.js';
import { FEW_SHOT_BELOW, type RunResult } from './train.js';
import { OutputError, UsageError } from './errors.js';
import type { DemoOptions, LossSummary } from './options.js';

const code = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/**
 * Makes sure `out` is a folder this process can write in, creating it (and missing parents)
 * first. mkdir -p is done by hand, one level at a time: Node 20's recursive mkdirSync loops
 * forever under /proc. Any problem is a UsageError naming the flag (--out, --save-logits), before
 * any training.
 */
export function prepareOutDir(out: string, flag = '--out'): string {
  const dir = resolve(out);
  const missing: string[] = [];
  for (let p = dir; ; ) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch (e) {
      const parent = dirname(p);
      if ((code(e) === 'ENOENT' || code(e) === 'ENOTDIR') && parent !== p) {
        missing.push(p);
        p = parent;
        continue;
      }
      throw new UsageError(`${flag} ${out}: cannot use ${p} (${code(e)})`);
    }
    if (!isDir)
      throw new UsageError(
        p === dir ? `${flag} ${out} exists and is not a directory` : `${flag} ${out}: ${p} is not a directory`,
      );
    break;
  }
  for (const p of missing.reverse()) {
    try {
      mkdirSync(p);
    } catch (e) {
      throw new UsageError(`${flag} ${out}: cannot create the directory ${p} (${code(e)})`);
    }
  }
  const probe = join(dir, `.noised-topk-write-check-${process.pid}`);
  try {
    writeFileSync(probe, '');
    rmSync(probe);
  } catch (e) {
    throw new UsageError(`${flag} ${out}: cannot write in ${dir} (${code(e)})`);
  }
  return dir;
}

/** A path as the user would type it: relative to the working folder when inside it. */
function shown(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

export interface Outputs {
  options: DemoOptions;
  seeds: number[];
  datasets: DemoData[];
  runs: RunResult[][];
  summary: LossSummary[];
  seconds: number;
  k: number;
  backend: string;
  batch: number;
}

export interface Written {
  svg: string;
  png: string;
  json: string;
  /** The same paths as the user would type them (relative inside the working folder). */
  shown: { svg: string; png: string; json: string };
}

/**
 * The PNG of the plot: the SVG rendered by resvg (@resvg/resvg-js, prebuilt binaries), at twice
 * the SVG's size. Fonts: the system's (resvg loads them; the SVG asks for sans-serif), so the
 * PNG's text is the SVG's text.
 */
export function svgToPng(svg: string): Uint8Array {
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: 2 },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}

export function writeOutputs(dir: string, r: Outputs): Written {
  const k = r.k;
  // Every (seed, class) is one point of the plot: with several seeds they are pooled.
  const counts = r.datasets.flatMap((d) => d.trainCounts);
  const series = r.summary.map((s, l) => ({
    label: s.label,
    perClass: r.runs.flatMap((seedRuns) => Array.from(seedRuns[l]!.test.perClassTopk)),
    macro: s.macroTopk.mean,
  }));
  const title =
    r.seeds.length > 1
      ? `Per-class top-${k} accuracy (test), seeds ${r.seeds.join(',')} pooled, against training examples`
      : `Per-class top-${k} accuracy (test) against training examples per class`;
  const scene = plotScene(counts, series, { k, title, fewShotBelow: FEW_SHOT_BELOW });
  const svg = join(dir, `per-class-top${k}.svg`);
  const png = join(dir, `per-class-top${k}.png`);
  const json = join(dir, 'results.json');
  const data = r.datasets[0]!;
  const doc = {
    data: data.description,
    dataset: r.options.data !== undefined ? 'file' : (r.options.dataset ?? 'places'),
    ...(isPlaceData(data) ? { target: data.target, trainRows: data.train.n, fullTrainRows: data.fullTrainRows } : {}),
    classNames: data.classNames,
    seed: r.seeds[0],
    seeds: r.seeds,
    epochs: r.options.epochs,
    k,
    batch: r.batch,
    lr: r.options.lr ?? null,
    kernels: r.backend,
    seconds: r.seconds,
    trainCounts: data.trainCounts,
    results: r.runs[0]!.map((run) => ({
      loss: run.label,
      bestEpoch: run.bestEpoch,
      valMacroTopk: run.valMacroTopk,
      top1: run.test.top1,
      topk: run.test.topk,
      macroTopk: run.test.macroTopk,
      fewShotTopk: run.test.fewShotTopk,
      perClassTopk: Array.from(run.test.perClassTopk, (v) => (Number.isNaN(v) ? null : v)),
      trainLoss: run.trainLoss,
      seconds: run.seconds,
    })),
    ...(r.seeds.length > 1
      ? {
          summary: r.summary,
          perSeed: r.seeds.map((seed, s) => ({
            seed,
            trainCounts: r.datasets[s]!.trainCounts,
            results: r.runs[s]!.map((run) => ({
              loss: run.label,
              top1: run.test.top1,
              topk: run.test.topk,
              macroTopk: run.test.macroTopk,
              fewShotTopk: run.test.fewShotTopk,
              bestEpoch: run.bestEpoch,
            })),
          })),
        }
      : {}),
  };
  const svgText = sceneToSvg(scene);
  for (const [file, body] of [
    [svg, () => svgText],
    [png, () => svgToPng(svgText)],
    [json, () => `${JSON.stringify(doc, null, 2)}\n`],
  ] as const) {
    try {
      writeFileSync(file, body());
    } catch (e) {
      throw new OutputError(`could not write ${file} (${code(e)}); the table above has the results`);
    }
  }
  return { svg, png, json, shown: { svg: shown(svg), png: shown(png), json: shown(json) } };
}
