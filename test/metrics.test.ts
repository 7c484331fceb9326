import { describe, expect, it } from 'vitest';
import {
  macroTopKAccuracy,
  perClassTopKAccuracy,
  rareClassTopKAccuracy,
  topKAccuracy,
  topKHits,
} from '../lib/metrics.js';

// Six rows over four classes, worked out by hand under the tie rule (larger first, NaN above
// +Infinity, -0 equal to +0, equal scores: lower index first).
const scores = Float32Array.from([
  0.1,
  0.5,
  0.5,
  0.2, // label 2: column 1 ties it and ranks above (lower index) -> rank 2
  0.1,
  0.5,
  0.5,
  0.2, // label 1: wins the tie -> rank 1
  NaN,
  Infinity,
  3,
  3, // label 1: NaN ranks above +Infinity -> rank 2
  -0,
  0,
  -1,
  -2, // label 1: -0 equals +0, column 0 ranks above -> rank 2
  NaN,
  NaN,
  0,
  0, // label 1: two NaN tie, column 0 ranks above -> rank 2
  1,
  2,
  3,
  4, // label 3 -> rank 1
]);
const labels = Int32Array.from([2, 1, 1, 1, 1, 3]);
const shape = [6, 4];

describe('top-k metrics under the tie rule', () => {
  it('per-row hits', () => {
    expect(Array.from(topKHits(scores, labels, shape, 1))).toEqual([0, 1, 0, 0, 0, 1]);
    expect(Array.from(topKHits(scores, labels, shape, 2))).toEqual([1, 1, 1, 1, 1, 1]);
    expect(Array.from(topKHits(scores, labels, shape, 4))).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('a label below k others misses top-k and ranks count ties once', () => {
    // scores 3, 3, 3, 1 with label 2: columns 0 and 1 rank above -> rank 3
    const s = Float32Array.from([3, 3, 3, 1]);
    expect(Array.from(topKHits(s, [2], [1, 4], 2))).toEqual([0]);
    expect(Array.from(topKHits(s, [2], [1, 4], 3))).toEqual([1]);
    // -Infinity label with everyone else finite
    expect(Array.from(topKHits(Float32Array.from([-Infinity, -5, -6]), [0], [1, 3], 2))).toEqual([0]);
  });

  it('top-k accuracy', () => {
    expect(topKAccuracy(scores, labels, shape, 1)).toBeCloseTo(2 / 6, 15);
    expect(topKAccuracy(scores, labels, shape, 2)).toBe(1);
    expect(topKAccuracy(new Float64Array(scores), Array.from(labels), shape, 1)).toBeCloseTo(2 / 6, 15);
  });

  it('per-class and macro accuracy: classes without rows are NaN and left out of the mean', () => {
    const pc = perClassTopKAccuracy(scores, labels, shape, 1);
    expect(pc[0]).toBeNaN();
    expect(Array.from(pc.slice(1))).toEqual([0.25, 0, 1]);
    expect(macroTopKAccuracy(scores, labels, shape, 1)).toBeCloseTo((0.25 + 0 + 1) / 3, 15);
    // the micro average weighs class 1 by its 4 rows; the macro one does not
    expect(macroTopKAccuracy(scores, labels, shape, 1)).not.toBeCloseTo(topKAccuracy(scores, labels, shape, 1), 3);
  });

  it('rare-class accuracy averages the classes whose training count is below the cut', () => {
    const classCounts = [100, 50, 5, 10];
    expect(rareClassTopKAccuracy(scores, labels, shape, 1, { clsNumList: classCounts })).toBe(0.5);
    expect(rareClassTopKAccuracy(scores, labels, shape, 1, { clsNumList: classCounts, below: 6 })).toBe(0);
    expect(rareClassTopKAccuracy(scores, labels, shape, 1, { clsNumList: classCounts, below: 3 })).toBeNaN();
    expect(rareClassTopKAccuracy(scores, labels, shape, 1, { clsNumList: classCounts, below: 1000 })).toBeCloseTo(
      (0.25 + 0 + 1) / 3,
      15,
    );
  });

  it('rejects bad arguments with the parameter, the expected and the got', () => {
    expect(() => topKAccuracy([1, 2] as unknown as Float32Array, [0], [1, 2], 1)).toThrow(
      /scores must be a Float32Array or a Float64Array, got an Array/,
    );
    expect(() => topKAccuracy(scores, labels, shape, 0)).toThrow(RangeError);
    expect(() => topKAccuracy(scores, labels, shape, 5)).toThrow(/k must be an integer in \[1, 4\].*got 5/);
    expect(() => topKAccuracy(scores, labels, [4, 6, 1], 1)).toThrow(/shape must be \[rows, classes\]/);
    expect(() => topKAccuracy(scores, labels, [5, 4], 1)).toThrow(RangeError);
    expect(() => topKAccuracy(scores, [0, 0, 0, 0, 0, 4], shape, 1)).toThrow(
      /labels\[5\] must be an integer in \[0, 3\], got 4/,
    );
    expect(() => rareClassTopKAccuracy(scores, labels, shape, 1, { clsNumList: [1, 2] })).toThrow(
      /clsNumList has length 2, expected 4/,
    );
    expect(() => rareClassTopKAccuracy(scores, labels, shape, 1, {} as never)).toThrow(TypeError);
  });
});
