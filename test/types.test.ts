// Type-level tests of the conditional result types (issue 19): a loss's `loss`, `standardError`
// and `backward` argument follow its `reduction`, in the plain API, the functional forms and the
// tfjs bridge. expectTypeOf is checked by the type checker (`npm run typecheck` covers test/);
// at run time the calls do nothing, so the describe blocks below only build the values.
import type * as tf from '@tensorflow/tfjs-core';
import { describe, expectTypeOf, it } from 'vitest';
import {
  BalNoisedTopK,
  type BalNoisedTopKOptions,
  functional,
  type GradOutput,
  ImbalNoisedTopK,
  type LossResult,
  type LossStandardError,
  type LossValue,
  NoisedTopK,
  type NoisedTopKResult,
  type Reduction,
} from '../lib/index.js';
import * as tfjs from '../lib/tfjs.js';

describe('conditional result types', () => {
  it('LossValue, LossStandardError and GradOutput map each reduction', () => {
    expectTypeOf<LossValue<'mean'>>().toEqualTypeOf<number>();
    expectTypeOf<LossValue<'sum'>>().toEqualTypeOf<number>();
    expectTypeOf<LossValue<'none'>>().toEqualTypeOf<null>();
    expectTypeOf<LossStandardError<'mean'>>().toEqualTypeOf<number>();
    expectTypeOf<LossStandardError<'none'>>().toEqualTypeOf<Float32Array>();
    expectTypeOf<GradOutput<'sum'>>().toEqualTypeOf<number>();
    expectTypeOf<GradOutput<'none'>>().toEqualTypeOf<Float32Array>();
    // The union distributes: a reduction not known at compile time gives either.
    expectTypeOf<LossValue<Reduction>>().toEqualTypeOf<number | null>();
  });

  it('the module losses: the default is the mean; reduction none gives per-row types', () => {
    const mean = () => new BalNoisedTopK({ k: 2 }).forward(new Float32Array(6), [0, 1], [2, 3]);
    expectTypeOf(mean).returns.toEqualTypeOf<LossResult<'mean'>>();
    expectTypeOf<LossResult<'mean'>['loss']>().toEqualTypeOf<number>();
    expectTypeOf<LossResult<'mean'>['standardError']>().toEqualTypeOf<number>();
    expectTypeOf<LossResult<'mean'>['backward']>().parameter(0).toEqualTypeOf<number | undefined>();

    const none = () =>
      new ImbalNoisedTopK({ k: 2, maxM: 0.3, clsNumList: [3, 2, 1], reduction: 'none' }).forward(
        new Float32Array(6),
        [0, 1],
        [2, 3],
      );
    expectTypeOf(none).returns.toEqualTypeOf<LossResult<'none'>>();
    expectTypeOf<LossResult<'none'>['loss']>().toEqualTypeOf<null>();
    expectTypeOf<LossResult<'none'>['standardError']>().toEqualTypeOf<Float32Array>();
    expectTypeOf<LossResult<'none'>['backward']>().parameter(0).toEqualTypeOf<Float32Array | undefined>();

    const sum = () => new BalNoisedTopK({ k: 2, reduction: 'sum' });
    expectTypeOf(sum).returns.toEqualTypeOf<BalNoisedTopK<'sum'>>();
  });

  it('the functional losses follow reduction the same way', () => {
    const x = new Float32Array(6);
    const mean = () => functional.balNoisedTopKLoss(x, [0, 1], [2, 3], { k: 2, seed: 1n, offset: 0 });
    expectTypeOf(mean).returns.toEqualTypeOf<LossResult<'mean'>>();
    const none = () =>
      functional.imbalNoisedTopKLoss(x, [0, 1], [2, 3], {
        k: 2,
        margins: new Float32Array(3),
        reduction: 'none',
      });
    expectTypeOf(none).returns.toEqualTypeOf<LossResult<'none'>>();
  });

  it('options: k is required, an unknown reduction is refused', () => {
    expectTypeOf<{ k: number }>().toExtend<BalNoisedTopKOptions>();
    expectTypeOf<{ epsilon: number }>().not.toExtend<BalNoisedTopKOptions>();
    expectTypeOf<{ k: number; reduction: 'median' }>().not.toExtend<BalNoisedTopKOptions<Reduction>>();
  });

  it('the smoothed top-k result carries per-sample values and per-row standard errors', () => {
    const out = () => new NoisedTopK({ k: 1 }).forward(new Float32Array(4), [2, 2]);
    expectTypeOf(out).returns.toEqualTypeOf<NoisedTopKResult>();
    expectTypeOf<NoisedTopKResult['values']>().toEqualTypeOf<Float32Array>();
    expectTypeOf<NoisedTopKResult['sampleValues']>().toEqualTypeOf<Float32Array>();
  });

  it('tfjs: reduction none gives a Tensor1D, the others a Scalar; the class standardError too', () => {
    expectTypeOf<tfjs.TfLossTensor<'mean'>>().toEqualTypeOf<tf.Scalar>();
    expectTypeOf<tfjs.TfLossTensor<'none'>>().toEqualTypeOf<tf.Tensor1D>();
    const none = (s: tf.Tensor, y: tf.Tensor) => tfjs.balNoisedTopKLoss(s, y, { k: 2, reduction: 'none' });
    expectTypeOf(none).returns.toEqualTypeOf<tf.Tensor1D>();
    const mean = (s: tf.Tensor, y: tf.Tensor) =>
      tfjs.imbalNoisedTopKLoss(s, y, { k: 2, margins: new Float32Array([0.3, 0.2, 0.1]) });
    expectTypeOf(mean).returns.toEqualTypeOf<tf.Scalar>();
    const module = () => new tfjs.BalNoisedTopK({ k: 2, reduction: 'none' });
    expectTypeOf(module).returns.toEqualTypeOf<tfjs.BalNoisedTopK<'none'>>();
    expectTypeOf<tfjs.BalNoisedTopK<'none'>['apply']>().returns.toEqualTypeOf<tf.Tensor1D>();
    expectTypeOf<tfjs.BalNoisedTopK<'none'>['standardError']>().toEqualTypeOf<Float32Array | null>();
    expectTypeOf<tfjs.ImbalNoisedTopK['standardError']>().toEqualTypeOf<number | null>();
  });
});
