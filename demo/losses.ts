// The losses the demo compares, with the settings the paper used on Pl@ntNet-300K, and the
// smooth top-k SVM (Berrada et al. 2018), the baseline pytopk's experiments also run (tau 1).
// The demo uses the library as an installed package would: through its public entry point
// (a self-reference, resolved by package.json "exports" to dist/).
import {
  BalNoisedTopK,
  crossEntropyLoss,
  focalLoss,
  ImbalNoisedTopK,
  ldamLoss,
  ldamMargins,
  SmoothTopKSvm,
  type BackendOption,
} from 'noised-topk';

export type LossName = 'ce' | 'focal' | 'ldam' | 'bal' | 'imbal' | 'svm';

export const LOSS_NAMES: LossName[] = ['ce', 'focal', 'ldam', 'bal', 'imbal', 'svm'];

export interface LossValue {
  loss: number;
  backward(): Float32Array;
}

export type LossFn = (scores: Float32Array, labels: Int32Array, shape: [number, number]) => LossValue;

export interface LossSpec {
  name: LossName;
  /** How the table and the plot call it. */
  label: string;
  /** One line on its settings, for top-k. */
  settings(k: number): string;
  /** Scaled losses act on cosine scores (normalised last layer), as in the paper. */
  cosine: boolean;
  /**
   * Base learning rate for the demo's model: the best validation macro top-5 among 0.005, 0.02
   * and 0.05 on the built-in data at seed 0, 30 epochs (docs/demo.md).
   */
  lr: number;
  /**
   * Base learning rate for the place-name model (the embedding bag): the best validation macro
   * top-5 on the grid of docs/demo.md, seed 0, the default run's budget.
   */
  placeLr: number;
  /** `backend` runs the top-k losses' kernels (the classic losses are TypeScript only). */
  make(trainCounts: number[], k: number, seed: number, backend?: BackendOption): LossFn;
}

export const LOSSES: Record<LossName, LossSpec> = {
  ce: {
    name: 'ce',
    label: 'cross-entropy',
    settings: () => 'linear head',
    cosine: false,
    lr: 0.02,
    placeLr: 3,
    make: () => crossEntropyLoss,
  },
  focal: {
    name: 'focal',
    label: 'focal',
    settings: () => 'gamma 2, linear head',
    cosine: false,
    lr: 0.02,
    placeLr: 3,
    make: () => (s, y, shape) => focalLoss(s, y, shape, { gamma: 2 }),
  },
  ldam: {
    name: 'ldam',
    label: 'LDAM',
    settings: () => 'max_m 0.2, scale 40, cosine head',
    cosine: true,
    lr: 0.05,
    placeLr: 0.1,
    make: (counts) => {
      const margins = ldamMargins(counts, 0.2);
      return (s, y, shape) => ldamLoss(s, y, shape, { margins, scale: 40 });
    },
  },
  bal: {
    name: 'bal',
    label: 'BalNoisedTopK',
    settings: (k) => `k ${k}, eps 1, S 5, linear head`,
    cosine: false,
    lr: 0.005,
    placeLr: 10,
    make: (_counts, k, seed, backend) => {
      const crit = new BalNoisedTopK({ k, epsilon: 1.0, nSample: 5, seed, backend });
      return (s, y, shape) => crit.forward(s, y, shape);
    },
  },
  imbal: {
    name: 'imbal',
    label: 'ImbalNoisedTopK',
    settings: (k) => `k ${k}, eps 0.01, max_m 0.2, scale 60, S 5, cosine head`,
    cosine: true,
    lr: 0.02,
    placeLr: 0.1,
    make: (counts, k, seed, backend) => {
      const crit = new ImbalNoisedTopK({
        k,
        epsilon: 0.01,
        maxM: 0.2,
        clsNumList: counts,
        scale: 60,
        nSample: 5,
        seed,
        backend,
      });
      return (s, y, shape) => crit.forward(s, y, shape);
    },
  },
  svm: {
    name: 'svm',
    label: 'smooth top-k SVM',
    settings: (k) => `k ${k}, tau 1, alpha 1, linear head`,
    cosine: false,
    // Chosen like the others: validation macro top-5 at seed 0, 30 epochs, was 44.7 / 67.0 / 67.1
    // at 0.005 / 0.02 / 0.05 (docs/ops.md, In the demo).
    lr: 0.05,
    placeLr: 10,
    make: (_counts, k) => {
      const crit = new SmoothTopKSvm({ k, tau: 1, alpha: 1 });
      return (s, y, shape) => crit.forward(s, y, shape);
    },
  },
};

const ALIASES: Record<string, LossName> = {
  ce: 'ce',
  'cross-entropy': 'ce',
  crossentropy: 'ce',
  focal: 'focal',
  ldam: 'ldam',
  bal: 'bal',
  balnoisedtopk: 'bal',
  imbal: 'imbal',
  imbalnoisedtopk: 'imbal',
  svm: 'svm',
  smoothsvm: 'svm',
  smoothtopksvm: 'svm',
};

/** Parses a comma-separated list of loss names (case-insensitive, aliases allowed). */
export function parseLosses(list: string): LossName[] {
  const out: LossName[] = [];
  for (const raw of list.split(',')) {
    const key = raw.trim().toLowerCase();
    if (key === '') continue;
    const name = ALIASES[key];
    if (!name) {
      throw new RangeError(
        `--losses: unknown loss ${JSON.stringify(raw.trim())}; expected a comma-separated list of ${LOSS_NAMES.join(', ')}`,
      );
    }
    if (!out.includes(name)) out.push(name);
  }
  if (out.length === 0)
    throw new RangeError(`--losses: expected at least one of ${LOSS_NAMES.join(', ')}, got ${JSON.stringify(list)}`);
  return out;
}
