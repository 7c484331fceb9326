// Issue 9: every options object of every entry point refuses an unknown key with a TypeError
// that names the key and the nearest known one (or a hint for a foreign name). Each entry is
// first run with its valid options, so a refusal below is about the key and nothing else.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BalNoisedTopK,
  focalLoss,
  functional,
  ImbalNoisedTopK,
  ldamLoss,
  ldamMargins,
  NoisedTopK,
  rareClassTopKAccuracy,
} from '../lib/index.js';
import * as tfb from '../lib/tfjs.js';
import { setupTf } from './tfjs-helpers.js';

beforeAll(setupTf);

const x = Float32Array.from([0.5, -1, 2, 0.25, 1.5, -0.5]);
const shape = [2, 3];
const labels = [2, 0];
const margins = ldamMargins([10, 5, 2], 0.3);

/** An entry point: runs with `opts` merged into its valid options object. */
interface Entry {
  name: string;
  run: (extra: Record<string, unknown>) => unknown;
}

const entries: Entry[] = [
  { name: 'new NoisedTopK', run: (e) => new NoisedTopK({ k: 1, seed: 0, ...e }) },
  {
    name: 'NoisedTopK.forward outputs',
    run: (e) => new NoisedTopK({ k: 1, seed: 0 }).forward(x, shape, { out: new Float32Array(2), ...e }),
  },
  {
    name: 'NoisedTopK.forwardAsync outputs',
    run: (e) => new NoisedTopK({ k: 1, seed: 0 }).forwardAsync(x, shape, { ...e }),
  },
  { name: 'new BalNoisedTopK', run: (e) => new BalNoisedTopK({ k: 1, seed: 0, ...e }) },
  {
    name: 'new ImbalNoisedTopK',
    run: (e) => new ImbalNoisedTopK({ k: 1, maxM: 0.3, clsNumList: [10, 5, 2], seed: 0, ...e }),
  },
  { name: 'functional.noisedTopK', run: (e) => functional.noisedTopK(x, shape, { k: 1, seed: 0, offset: 0, ...e }) },
  {
    name: 'functional.noisedTopKAsync',
    run: (e) => functional.noisedTopKAsync(x, shape, { k: 1, seed: 0, offset: 0, ...e }),
  },
  {
    name: 'functional.balNoisedTopKLoss',
    run: (e) => functional.balNoisedTopKLoss(x, labels, shape, { k: 1, seed: 0, offset: 0, ...e }),
  },
  {
    name: 'functional.balNoisedTopKLossAsync',
    run: (e) => functional.balNoisedTopKLossAsync(x, labels, shape, { k: 1, seed: 0, offset: 0, ...e }),
  },
  {
    name: 'functional.imbalNoisedTopKLoss',
    run: (e) => functional.imbalNoisedTopKLoss(x, labels, shape, { k: 1, seed: 0, offset: 0, margins, ...e }),
  },
  {
    name: 'functional.imbalNoisedTopKLossAsync',
    run: (e) => functional.imbalNoisedTopKLossAsync(x, labels, shape, { k: 1, seed: 0, offset: 0, margins, ...e }),
  },
  {
    name: 'rareClassTopKAccuracy',
    run: (e) => rareClassTopKAccuracy(x, labels, shape, 1, { classCounts: [10, 5, 2], ...e }),
  },
  { name: 'focalLoss', run: (e) => focalLoss(x, labels, shape, { gamma: 2, ...e }) },
  { name: 'ldamLoss', run: (e) => ldamLoss(x, labels, shape, { clsNumList: [10, 5, 2], maxM: 0.3, ...e }) },
  { name: 'tfjs noisedTopK', run: (e) => tfb.noisedTopK(tf.tensor(x, shape), { k: 1, seed: 0, offset: 0, ...e }) },
  {
    name: 'tfjs balNoisedTopKLoss',
    run: (e) =>
      tfb.balNoisedTopKLoss(tf.tensor(x, shape), tf.tensor(labels, [2], 'int32'), { k: 1, seed: 0, offset: 0, ...e }),
  },
  {
    name: 'tfjs imbalNoisedTopKLoss',
    run: (e) =>
      tfb.imbalNoisedTopKLoss(tf.tensor(x, shape), tf.tensor(labels, [2], 'int32'), {
        k: 1,
        seed: 0,
        offset: 0,
        margins,
        ...e,
      }),
  },
  { name: 'new tfjs NoisedTopK', run: (e) => new tfb.NoisedTopK({ k: 1, seed: 0, ...e }) },
  { name: 'new tfjs BalNoisedTopK', run: (e) => new tfb.BalNoisedTopK({ k: 1, seed: 0, ...e }) },
  {
    name: 'new tfjs ImbalNoisedTopK',
    run: (e) => new tfb.ImbalNoisedTopK({ k: 1, maxM: 0.3, clsNumList: [10, 5, 2], seed: 0, ...e }),
  },
];

/** The error of run(extra), sync or async. */
async function errorOf(entry: Entry, extra: Record<string, unknown>): Promise<unknown> {
  try {
    await entry.run(extra);
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('every entry point refuses an unknown option', () => {
  it.each(entries.map((e) => [e.name, e] as const))(
    '%s: valid options run; an unknown key is a TypeError naming it',
    async (_name, entry) => {
      expect(await errorOf(entry, {})).toBeUndefined();
      const err = await errorOf(entry, { bogusOption: 1 });
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).toMatch(/^unknown option 'bogusOption' in (options|outputs)/);
      expect((err as Error).message).toMatch(/known options: /);
    },
  );

  it('names the nearest known option for the names found in issue 9', async () => {
    const topk = entries.find((e) => e.name === 'functional.noisedTopK')!;
    const bal = entries.find((e) => e.name === 'new BalNoisedTopK')!;
    const msg = async (entry: Entry, extra: Record<string, unknown>) =>
      ((await errorOf(entry, extra)) as Error).message;
    expect(await msg(topk, { nsample: 3 })).toMatch(
      /^unknown option 'nsample' in options \(did you mean 'nSample'\?\)/,
    );
    expect(await msg(topk, { n_sample: 3 })).toMatch(
      /^unknown option 'n_sample' in options \(did you mean 'nSample'\?\)/,
    );
    expect(await msg(topk, { eps: 0.1 })).toMatch(/^unknown option 'eps' in options \(did you mean 'epsilon'\?\)/);
    expect(await msg(topk, { reduction: 'sum' })).toMatch(/^unknown option 'reduction' in options/);
    expect(await msg(topk, { weight: new Float32Array(3) })).toMatch(/^unknown option 'weight' in options/);
    expect(await msg(bal, { ignore_index: -100 })).toMatch(/did you mean 'ignoreIndex'\?/);
    expect(await msg(bal, { reduce: false })).toMatch(/use reduction: 'mean' \| 'sum' \| 'none'/);
    // a hint only points to an option the entry has
    const op = entries.find((e) => e.name === 'new NoisedTopK')!;
    expect(await msg(op, { reduce: 1 })).not.toMatch(/reduction/);
    expect(await msg(op, { weights: 1 })).not.toMatch(/'weight'/);
    const focal = entries.find((e) => e.name === 'focalLoss')!;
    expect(await msg(focal, { eps: 1 })).not.toMatch(/epsilon/);
    // ldamLoss's margins and clsNumList/maxM are two ways to say one thing: both is refused, not one ignored
    expect(() => ldamLoss(x, labels, shape, { margins, maxM: 0.3 })).toThrow(
      new TypeError('options.margins and options.clsNumList/maxM exclude each other: give one'),
    );
    expect(await msg(focal, { weight: new Float32Array(3) })).toMatch(/^unknown option 'weight' in options/);
  });

  it("the plain API takes 'dim' and refuses 'axis'; the tfjs bridge takes 'axis' and refuses 'dim'", async () => {
    const plain = entries.filter((e) => e.name === 'functional.noisedTopK' || e.name === 'new NoisedTopK');
    for (const e of plain) {
      expect(await errorOf(e, { dim: 0 })).toBeUndefined();
      expect(((await errorOf(e, { axis: 0 })) as Error).message).toMatch(
        /^unknown option 'axis' in options \(noised-topk follows PyTorch and calls it 'dim'/,
      );
    }
    const bridge = entries.filter((e) => e.name === 'tfjs noisedTopK' || e.name === 'new tfjs NoisedTopK');
    for (const e of bridge) {
      expect(await errorOf(e, { axis: 0 })).toBeUndefined();
      const err = (await errorOf(e, { dim: 0 })) as Error;
      expect(err).toBeInstanceOf(TypeError);
      expect(err.message).toMatch(
        /^unknown option 'dim' in options \(the tfjs bridge follows tfjs and calls it 'axis'\)/,
      );
    }
    // and axis is honoured: reducing axis 0 of [2, 3] gives 3 values
    expect(tfb.noisedTopK(tf.tensor(x, shape), { k: 1, seed: 0, offset: 0, axis: 0 }).shape).toEqual([3]);
  });

  it('the loss conventions are known options of both losses, functional and module, plain and tfjs', async () => {
    const conv = { reduction: 'sum', weight: Float32Array.of(1, 2, 0.5), ignoreIndex: -100 };
    for (const name of [
      'new BalNoisedTopK',
      'new ImbalNoisedTopK',
      'functional.balNoisedTopKLoss',
      'functional.imbalNoisedTopKLossAsync',
      'tfjs balNoisedTopKLoss',
      'tfjs imbalNoisedTopKLoss',
      'new tfjs BalNoisedTopK',
      'new tfjs ImbalNoisedTopK',
    ]) {
      expect(await errorOf(entries.find((e) => e.name === name)!, conv), name).toBeUndefined();
    }
  });
});
