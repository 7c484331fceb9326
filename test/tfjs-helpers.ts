// tfjs-core on its own registers no op gradients (the @tensorflow/tfjs union package and
// tfjs-node do). The small models in these tests need only a dense layer, so the gradients of
// its two ops are registered here when nobody has done it yet.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

// TensorFlow.js prints a hint about tfjs-node on first use; tests have no use for it.
tf.env().set('IS_TEST', true);

/** Sums dy over the axes along which `shape` was broadcast to dy's shape. */
function unbroadcast(dy: tf.Tensor, shape: number[]): tf.Tensor {
  const lead = dy.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < dy.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && dy.shape[i] !== 1)) axes.push(i);
  }
  return axes.length === 0 ? dy : tf.reshape(tf.sum(dy, axes), shape);
}

export async function setupTf(): Promise<void> {
  await tf.setBackend('cpu');
  if (!tf.getGradient('BatchMatMul')) {
    tf.registerGradient({
      kernelName: 'BatchMatMul',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved, attrs) => {
        const [a, b] = saved as [tf.Tensor2D, tf.Tensor2D];
        const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
        if (transposeA || transposeB) throw new Error('the test gradient of BatchMatMul handles no transposes');
        return {
          a: () => tf.matMul(dy as tf.Tensor2D, b, false, true),
          b: () => tf.matMul(a, dy as tf.Tensor2D, true, false),
        };
      },
    });
  }
  if (!tf.getGradient('Add')) {
    tf.registerGradient({
      kernelName: 'Add',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved) => {
        const [a, b] = saved as [tf.Tensor, tf.Tensor];
        const g = dy as tf.Tensor;
        return { a: () => unbroadcast(g, a.shape), b: () => unbroadcast(g, b.shape) };
      },
    });
  }
}

/** A deterministic Gaussian-ish stream for test data (no Math.random: runs must repeat). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function normals(n: number, seed: number): Float32Array {
  const u = lcg(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = u() || 1e-12;
    out[i] = Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * u());
  }
  return out;
}
