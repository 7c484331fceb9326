// The contract of lib/addon.ts against the binding: every kernel entry point reads exactly the
// fields its call interface declares (test/addon-calls.ts lists them, and tsc holds each list to
// its interface), each once, by name; a missing field is a TypeError naming it.
import { describe, expect, it } from 'vitest';
import { loadNative } from '../lib/native.js';
import {
  backwardCall,
  CALL_FIELDS,
  forwardCall,
  perturbedBackwardCall,
  perturbedForwardCall,
  topkCall,
} from './addon-calls.js';
import { testedBackends } from './helpers.js';

const hasCpu = testedBackends().includes('cpu');
const addon = hasCpu ? loadNative()! : null;

// A valid call of each kind: x [2, 3], reduced over 3.
const x = () => Float32Array.of(1, 5, 2, 4, 0, 3);
const calls = {
  forward: () => forwardCall(x(), 2, 3, 1, 1, 0.5, 2, null, 1, 2, 3, new Float32Array(2), new Int32Array(4)),
  backward: () => backwardCall(Int32Array.of(0, 1, 2, 0), Float32Array.of(1, 1), 2, 3, 1, 2, new Float32Array(6)),
  topk: () => topkCall(x(), 2, 3, 1, 2, true, true, new Float32Array(4), new Int32Array(4), true),
  perturbedForward: () =>
    perturbedForwardCall(x(), 2, 3, 1, 2, 0.5, 2, 1, 2, 3, new Float32Array(6), new Int32Array(8)),
  perturbedBackward: () =>
    perturbedBackwardCall(Int32Array.of(0, 1, 1, 2, 0, 2, 1, 2), x(), 2, 3, 1, 2, 0.5, 2, 1, 2, 3, new Float32Array(6)),
};
type Kind = keyof typeof calls;
/** Each kind's entry point, and the operation its errors name. */
const entries: Record<Kind, [entry: string, op: string]> = {
  forward: ['forward', 'noisedTopK'],
  backward: ['backward', 'noisedTopKBackward'],
  topk: ['topk', 'topk'],
  perturbedForward: ['perturbedTopK', 'perturbedTopK'],
  perturbedBackward: ['perturbedTopKBackward', 'perturbedTopKBackward'],
};
// Fields that may be left out: null noise, and topk's finite check (off when absent).
const optional = new Set(['forward.noise', 'forward.sampleValues', 'topk.checkFinite']);

/** The call behind a Proxy that records every property the addon reads. */
function recorded(call: object): { proxy: object; reads: string[] } {
  const reads: string[] = [];
  const proxy = new Proxy(call, {
    get(target, key, receiver) {
      reads.push(String(key));
      return Reflect.get(target, key, receiver);
    },
  });
  return { proxy, reads };
}

describe.skipIf(!hasCpu)('the addon reads each call by the fields of lib/addon.ts', () => {
  const direct = addon as unknown as Record<string, (call: unknown) => unknown>;
  const kinds = Object.keys(calls) as Kind[];

  it.each(kinds)('%s and its async twin read every declared field once, and nothing else', async (kind) => {
    const [entry] = entries[kind];
    for (const name of [entry, `${entry}Async`]) {
      const { proxy, reads } = recorded(calls[kind]());
      await direct[name]!(proxy);
      expect([...reads].sort(), name).toEqual([...CALL_FIELDS[kind]].sort());
    }
  });

  it.each(kinds)('%s: each required field left out is a TypeError naming it', (kind) => {
    const [entry, op] = entries[kind];
    for (const field of CALL_FIELDS[kind]) {
      if (optional.has(`${kind}.${field}`)) continue;
      const call: Record<string, unknown> = { ...calls[kind]() };
      delete call[field];
      expect(() => direct[entry]!(call), field).toThrow(TypeError);
      expect(() => direct[entry]!(call), field).toThrow(new RegExp(`^${op}: ${field} must be a`));
    }
  });

  it('the optional fields may be left out', () => {
    const { noise: _, ...noNoise } = calls.forward();
    expect(() => direct.forward!(noNoise)).not.toThrow();
    const { sampleValues: ___, ...noSampleValues } = calls.forward();
    expect(() => direct.forward!(noSampleValues)).not.toThrow();
    const { checkFinite: __, ...noCheck } = calls.topk();
    expect(direct.topk!(noCheck)).toBe(false);
  });
});
