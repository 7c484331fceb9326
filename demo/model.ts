// The demo's model: one hidden ReLU layer and a classification head, trained by SGD with
// momentum and weight decay. The head is either linear (scores = W h + b) or cosine-normalised
// (scores = <h / |h|, w_c / |w_c|>, no bias), the last layer the paper uses for the scaled
// losses (LDAM, ImbalNoisedTopK): scores lie in [-1, 1] and the loss's scale sets their range.
import type { Split } from './dataset.js';
import { Rng } from './rng.js';

/**
 * What the trainer needs of a model: scores for some rows of a split, the gradient of the last
 * forward pass, an SGD step, and copies of the parameters to keep the best epoch. The MLP reads
 * dense rows; the embedding bag (demo/embedding-bag.ts) reads bags of n-gram ids.
 */
export interface Model {
  readonly classes: number;
  /** Scores [rows.length, classes] of the given rows of `split`. */
  forwardRows(split: Split, rows: Int32Array): Float32Array;
  /** Gradients from d loss / d scores [rows.length, classes] of the last forwardRows. */
  backward(dScores: Float32Array): void;
  step(lr: number, momentum: number, weightDecay: number): void;
  snapshot(): Float32Array[];
  restore(snap: Float32Array[]): void;
}

export interface ModelShape {
  features: number;
  hidden: number;
  classes: number;
  cosine: boolean;
}

/**
 * The normalized last layer (pytopk's `--normalize-ll`, used with the margin losses in its
 * experiments): the hidden features and each class's weights L2-normalised, the score their
 * cosine, no bias. It is the `cosine` head above; this turns it on for any loss (the losses whose
 * spec asks for it keep it either way).
 */
export function withNormalizedLastLayer(shape: ModelShape, normalizeLastLayer: boolean | undefined): ModelShape {
  return { ...shape, cosine: shape.cosine || normalizeLastLayer === true };
}

/** Added to norms so that an all-zero hidden vector or class weight stays finite. */
const NORM_EPS = 1e-6;

export class Mlp implements Model {
  readonly shape: ModelShape;
  /** [features, hidden] */
  readonly w1: Float32Array;
  readonly b1: Float32Array;
  /** [classes, hidden]: one row per class, the vector the cosine head normalises. */
  readonly w2: Float32Array;
  readonly b2: Float32Array;
  private readonly params: Float32Array[];
  private readonly grads: Float32Array[];
  private readonly velocity: Float32Array[];
  // Activations of the last forward pass, kept for backward.
  private x: Float32Array = new Float32Array(0);
  private batch = 0;
  private z1 = new Float32Array(0);
  private a = new Float32Array(0);
  private aNorm = new Float32Array(0);
  private wNorm = new Float32Array(0);

  constructor(shape: ModelShape, seed: number) {
    this.shape = { ...shape };
    const { features: F, hidden: H, classes: C } = shape;
    const rng = new Rng(seed, 100);
    // He initialisation for the ReLU layer, a smaller uniform for the head.
    this.w1 = Float32Array.from({ length: F * H }, () => rng.normal() * Math.sqrt(2 / F));
    this.b1 = new Float32Array(H);
    const bound = 1 / Math.sqrt(H);
    this.w2 = Float32Array.from({ length: C * H }, () => (2 * rng.uniform() - 1) * bound);
    this.b2 = new Float32Array(C);
    this.params = [this.w1, this.b1, this.w2, this.b2];
    this.grads = this.params.map((p) => new Float32Array(p.length));
    this.velocity = this.params.map((p) => new Float32Array(p.length));
  }

  private gathered = new Float32Array(0);

  get classes(): number {
    return this.shape.classes;
  }

  forwardRows(split: Split, rows: Int32Array): Float32Array {
    const F = this.shape.features;
    if (this.gathered.length < rows.length * F) this.gathered = new Float32Array(rows.length * F);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      this.gathered.set(split.x.subarray(r * F, (r + 1) * F), i * F);
    }
    return this.forward(this.gathered.subarray(0, rows.length * F), rows.length);
  }

  /** Copies of the parameters, to restore the best epoch. */
  snapshot(): Float32Array[] {
    return this.params.map((p) => p.slice());
  }

  restore(snap: Float32Array[]): void {
    for (const [i, p] of this.params.entries()) p.set(snap[i]!);
  }

  /** Scores [batch, classes] of rows x [batch, features]. */
  forward(x: Float32Array, batch: number): Float32Array {
    const { features: F, hidden: H, classes: C, cosine } = this.shape;
    if (this.z1.length < batch * H) {
      this.z1 = new Float32Array(batch * H);
      this.a = new Float32Array(batch * H);
      this.aNorm = new Float32Array(batch);
    }
    this.x = x;
    this.batch = batch;
    const { w1, b1, w2, b2, z1, a } = this;
    for (let i = 0; i < batch; i++) {
      const zi = i * H;
      for (let h = 0; h < H; h++) z1[zi + h] = b1[h]!;
      for (let f = 0; f < F; f++) {
        const xv = x[i * F + f]!;
        if (xv === 0) continue;
        const wf = f * H;
        for (let h = 0; h < H; h++) z1[zi + h] = z1[zi + h]! + xv * w1[wf + h]!;
      }
      let ss = 0;
      for (let h = 0; h < H; h++) {
        const v = z1[zi + h]! > 0 ? z1[zi + h]! : 0;
        a[zi + h] = v;
        ss += v * v;
      }
      this.aNorm[i] = Math.sqrt(ss) + NORM_EPS;
    }
    if (cosine) {
      if (this.wNorm.length !== C) this.wNorm = new Float32Array(C);
      for (let c = 0; c < C; c++) {
        let ss = 0;
        for (let h = 0; h < H; h++) ss += w2[c * H + h]! ** 2;
        this.wNorm[c] = Math.sqrt(ss) + NORM_EPS;
      }
    }
    const scores = new Float32Array(batch * C);
    for (let i = 0; i < batch; i++) {
      const ai = i * H;
      for (let c = 0; c < C; c++) {
        const wc = c * H;
        let s = 0;
        for (let h = 0; h < H; h++) s += a[ai + h]! * w2[wc + h]!;
        scores[i * C + c] = cosine ? s / (this.aNorm[i]! * this.wNorm[c]!) : s + b2[c]!;
      }
    }
    return scores;
  }

  /** Accumulates d loss / d parameters from dScores [batch, classes] of the last forward. */
  backward(dScores: Float32Array): void {
    const { features: F, hidden: H, classes: C, cosine } = this.shape;
    const { batch, x, w2, z1, a, aNorm, wNorm } = this;
    const [gw1, gb1, gw2, gb2] = this.grads as [Float32Array, Float32Array, Float32Array, Float32Array];
    for (const g of this.grads) g.fill(0);
    const da = new Float32Array(H);
    const dw2 = cosine ? new Float32Array(C * H) : gw2;
    for (let i = 0; i < batch; i++) {
      const ai = i * H;
      da.fill(0);
      if (cosine) {
        // s_ic = <u_i, v_c> with u = a / |a|, v = w / |w|: the gradient with respect to the
        // unnormalised vectors is the projection orthogonal to them, divided by their norm.
        const an = aNorm[i]!;
        for (let c = 0; c < C; c++) {
          const g = dScores[i * C + c]!;
          if (g === 0) continue;
          const wc = c * H;
          const wn = wNorm[c]!;
          const gu = g / wn; // d/du of g * <u, v>, with v = w / wn
          const gv = g / an; // d/dv, with u = a / an
          for (let h = 0; h < H; h++) {
            da[h] = da[h]! + gu * w2[wc + h]!;
            dw2[wc + h] = dw2[wc + h]! + gv * a[ai + h]!;
          }
        }
        // project da onto the tangent space of u and divide by |a|
        let dot = 0;
        for (let h = 0; h < H; h++) dot += da[h]! * a[ai + h]!;
        const k = dot / (an * an);
        for (let h = 0; h < H; h++) da[h] = (da[h]! - k * a[ai + h]!) / an;
      } else {
        for (let c = 0; c < C; c++) {
          const g = dScores[i * C + c]!;
          if (g === 0) continue;
          gb2[c] = gb2[c]! + g;
          const wc = c * H;
          for (let h = 0; h < H; h++) {
            da[h] = da[h]! + g * w2[wc + h]!;
            gw2[wc + h] = gw2[wc + h]! + g * a[ai + h]!;
          }
        }
      }
      for (let h = 0; h < H; h++) {
        if (z1[ai + h]! <= 0) continue;
        const g = da[h]!;
        gb1[h] = gb1[h]! + g;
        for (let f = 0; f < F; f++) gw1[f * H + h] = gw1[f * H + h]! + g * x[i * F + f]!;
      }
    }
    if (cosine) {
      // dw2 holds d/dv * (1/|w|) folded per row; finish the projection for each class row.
      for (let c = 0; c < C; c++) {
        const wc = c * H;
        const wn = wNorm[c]!;
        let dot = 0;
        for (let h = 0; h < H; h++) dot += dw2[wc + h]! * w2[wc + h]!;
        const k = dot / (wn * wn);
        for (let h = 0; h < H; h++) gw2[wc + h] = (dw2[wc + h]! - k * w2[wc + h]!) / wn;
      }
    }
  }

  /** SGD with momentum (PyTorch's form: v = mu v + g + wd p; p -= lr v). */
  step(lr: number, momentum: number, weightDecay: number): void {
    for (let j = 0; j < this.params.length; j++) {
      const p = this.params[j]!;
      const g = this.grads[j]!;
      const vel = this.velocity[j]!;
      for (let i = 0; i < p.length; i++) {
        const v = momentum * vel[i]! + g[i]! + weightDecay * p[i]!;
        vel[i] = v;
        p[i] = p[i]! - lr * v;
      }
    }
  }
}
