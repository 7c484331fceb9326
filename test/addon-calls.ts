// Call objects for the tests that call the addon directly, built from positional values in the
// order of lib/addon.ts's fields (short to write where a test lists many calls).
import type {
  BackwardCall,
  ForwardCall,
  PerturbedBackwardCall,
  PerturbedForwardCall,
  SamplerName,
  TopKCall,
} from '../lib/addon.js';

type F32 = Float32Array;
type I32 = Int32Array;

export const forwardCall = (
  x: F32,
  outer: number,
  d: number,
  inner: number,
  k: number,
  epsilon: number,
  nSample: number,
  noise: F32 | null,
  seedLo: number,
  seedHi: number,
  offset: number,
  values: F32,
  positions: I32,
  sampler: SamplerName = 'dense',
  sampleValues: F32 | null = null,
): ForwardCall => ({
  x,
  outer,
  d,
  inner,
  k,
  epsilon,
  nSample,
  noise,
  seedLo,
  seedHi,
  offset,
  values,
  positions,
  sampler,
  sampleValues,
});

export const backwardCall = (
  positions: I32,
  rowScale: F32,
  outer: number,
  d: number,
  inner: number,
  nSample: number,
  grad: F32,
): BackwardCall => ({ positions, rowScale, outer, d, inner, nSample, grad });

export const topkCall = (
  x: F32,
  outer: number,
  d: number,
  inner: number,
  k: number,
  largest: boolean,
  sorted: boolean,
  values: F32,
  indices: I32,
  checkFinite = false,
): TopKCall => ({ x, outer, d, inner, k, largest, sorted, values, indices, checkFinite });

export const perturbedForwardCall = (
  x: F32,
  outer: number,
  d: number,
  inner: number,
  k: number,
  epsilon: number,
  nSample: number,
  seedLo: number,
  seedHi: number,
  offset: number,
  mask: F32,
  indices: I32,
): PerturbedForwardCall => ({ x, outer, d, inner, k, epsilon, nSample, seedLo, seedHi, offset, mask, indices });

export const perturbedBackwardCall = (
  indices: I32,
  grad: F32,
  outer: number,
  d: number,
  inner: number,
  k: number,
  epsilon: number,
  nSample: number,
  seedLo: number,
  seedHi: number,
  offset: number,
  gradX: F32,
): PerturbedBackwardCall => ({ indices, grad, outer, d, inner, k, epsilon, nSample, seedLo, seedHi, offset, gradX });

/** Every key of T, each once: a list that misses a field of the interface does not compile. */
type AllKeys<T, L extends readonly (keyof T)[]> = Exclude<keyof T, L[number]> extends never ? L : never;
const fieldsOf =
  <T>() =>
  <const L extends readonly (keyof T)[]>(list: AllKeys<T, L>) =>
    list;

/** Each call object's fields, in the order the positional helpers above take them. */
export const CALL_FIELDS = {
  forward: fieldsOf<ForwardCall>()([
    'x',
    'outer',
    'd',
    'inner',
    'k',
    'epsilon',
    'nSample',
    'noise',
    'seedLo',
    'seedHi',
    'offset',
    'values',
    'positions',
    'sampler',
    'sampleValues',
  ]),
  backward: fieldsOf<BackwardCall>()(['positions', 'rowScale', 'outer', 'd', 'inner', 'nSample', 'grad']),
  topk: fieldsOf<TopKCall>()([
    'x',
    'outer',
    'd',
    'inner',
    'k',
    'largest',
    'sorted',
    'values',
    'indices',
    'checkFinite',
  ]),
  perturbedForward: fieldsOf<PerturbedForwardCall>()([
    'x',
    'outer',
    'd',
    'inner',
    'k',
    'epsilon',
    'nSample',
    'seedLo',
    'seedHi',
    'offset',
    'mask',
    'indices',
  ]),
  perturbedBackward: fieldsOf<PerturbedBackwardCall>()([
    'indices',
    'grad',
    'outer',
    'd',
    'inner',
    'k',
    'epsilon',
    'nSample',
    'seedLo',
    'seedHi',
    'offset',
    'gradX',
  ]),
};

/**
 * A call object of any values, for tests that hand the addon hostile ones: the i-th value goes
 * to the i-th field, and fields past the last value are left out (a missing field).
 */
export function callOf(kind: keyof typeof CALL_FIELDS, ...values: unknown[]): Record<string, unknown> {
  const fields = CALL_FIELDS[kind];
  return Object.fromEntries(values.slice(0, fields.length).map((v, i) => [fields[i]!, v]));
}
