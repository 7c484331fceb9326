// The place-name model: fastText's classifier. Each name is a bag of hashed n-gram ids
// (demo/ngrams.ts); its vector h is the mean of their rows in an embedding table E
// [buckets, dim]; a head turns h into class scores. The head is linear (W h + b), or the cosine
// head of the scaled losses (LDAM, ImbalNoisedTopK): <h / |h|, w_c / |w_c|>, no bias, scores in
// [-1, 1], as demo/model.ts's MLP has.
// Training: the head by SGD with momentum and weight decay (PyTorch's form), like the MLP; the
// embedding table, of which a batch touches a few hundred of 65,536 rows, by plain sparse SGD
// (fastText's rule: no momentum, no weight decay) at the rate lr / (1 - momentum), the long-run
// step of momentum SGD, so both parts move at comparable speed. Only touched rows are written.
import type { Split } from './dataset.js';
import type { Model } from './model.js';
import { Rng } from './rng.js';

export interface EmbeddingBagShape {
  buckets: number;
  dim: number;
  classes: number;
  cosine: boolean;
}

/** Added to norms so that an all-zero vector stays finite (as in the MLP). */
const NORM_EPS = 1e-6;

export class EmbeddingBag implements Model {
  readonly shape: EmbeddingBagShape;
  /** [buckets, dim] */
  readonly emb: Float32Array;
  /** [classes, dim]: one row per class. */
  readonly w: Float32Array;
  readonly b: Float32Array;
  private readonly gw: Float32Array;
  private readonly gb: Float32Array;
  private readonly vw: Float32Array;
  private readonly vb: Float32Array;
  // The last forward pass, kept for backward and step.
  private bags: Split['bags'] = undefined;
  private rows: Int32Array = new Int32Array(0);
  private h = new Float32Array(0);
  private hNorm = new Float32Array(0);
  private wNorm = new Float32Array(0);
  private dh = new Float32Array(0);

  constructor(shape: EmbeddingBagShape, seed: number) {
    this.shape = { ...shape };
    const { buckets: B, dim: D, classes: C } = shape;
    const rng = new Rng(seed, 100);
    // fastText's input init, U(-1/dim, 1/dim); the head as the MLP's, U(-1/sqrt(dim), 1/sqrt(dim)).
    this.emb = Float32Array.from({ length: B * D }, () => (2 * rng.uniform() - 1) / D);
    const bound = 1 / Math.sqrt(D);
    this.w = Float32Array.from({ length: C * D }, () => (2 * rng.uniform() - 1) * bound);
    this.b = new Float32Array(C);
    this.gw = new Float32Array(C * D);
    this.gb = new Float32Array(C);
    this.vw = new Float32Array(C * D);
    this.vb = new Float32Array(C);
  }

  get classes(): number {
    return this.shape.classes;
  }

  snapshot(): Float32Array[] {
    return [this.emb.slice(), this.w.slice(), this.b.slice()];
  }

  restore(snap: Float32Array[]): void {
    this.emb.set(snap[0]!);
    this.w.set(snap[1]!);
    this.b.set(snap[2]!);
  }

  /** Scores [rows.length, classes] of the given rows of a split of bags. */
  forwardRows(split: Split, rows: Int32Array): Float32Array {
    const bags = split.bags;
    if (!bags) throw new TypeError('EmbeddingBag needs a split of bags (place names), got dense rows');
    const { dim: D, classes: C, cosine } = this.shape;
    const m = rows.length;
    if (this.h.length < m * D) {
      this.h = new Float32Array(m * D);
      this.hNorm = new Float32Array(m);
      this.dh = new Float32Array(m * D);
    }
    this.bags = bags;
    this.rows = rows;
    const { emb, w, b, h } = this;
    h.fill(0, 0, m * D);
    for (let i = 0; i < m; i++) {
      const r = rows[i]!;
      const lo = bags.offsets[r]!;
      const hi = bags.offsets[r + 1]!;
      const hi0 = i * D;
      for (let j = lo; j < hi; j++) {
        const e = bags.ids[j]! * D;
        for (let d = 0; d < D; d++) h[hi0 + d] = h[hi0 + d]! + emb[e + d]!;
      }
      const inv = hi > lo ? 1 / (hi - lo) : 0;
      let ss = 0;
      for (let d = 0; d < D; d++) {
        const v = h[hi0 + d]! * inv;
        h[hi0 + d] = v;
        ss += v * v;
      }
      this.hNorm[i] = Math.sqrt(ss) + NORM_EPS;
    }
    if (cosine) {
      if (this.wNorm.length !== C) this.wNorm = new Float32Array(C);
      for (let c = 0; c < C; c++) {
        let ss = 0;
        for (let d = 0; d < D; d++) ss += w[c * D + d]! ** 2;
        this.wNorm[c] = Math.sqrt(ss) + NORM_EPS;
      }
    }
    const scores = new Float32Array(m * C);
    for (let i = 0; i < m; i++) {
      const hi0 = i * D;
      for (let c = 0; c < C; c++) {
        const wc = c * D;
        let s = 0;
        for (let d = 0; d < D; d++) s += h[hi0 + d]! * w[wc + d]!;
        scores[i * C + c] = cosine ? s / (this.hNorm[i]! * this.wNorm[c]!) : s + b[c]!;
      }
    }
    return scores;
  }

  /** Gradients of the head, and d loss / d h per row for the embedding step, from dScores [m, C]. */
  backward(dScores: Float32Array): void {
    const { dim: D, classes: C, cosine } = this.shape;
    const m = this.rows.length;
    const { w, h, hNorm, wNorm, gw, gb, dh } = this;
    gw.fill(0);
    gb.fill(0);
    dh.fill(0, 0, m * D);
    for (let i = 0; i < m; i++) {
      const hi0 = i * D;
      if (cosine) {
        // s_ic = <u_i, v_c>, u = h / |h|, v = w / |w|: the gradient for the unnormalised vectors
        // is the part orthogonal to them, over their norm (the MLP's cosine head, same algebra).
        const hn = hNorm[i]!;
        for (let c = 0; c < C; c++) {
          const g = dScores[i * C + c]!;
          if (g === 0) continue;
          const wc = c * D;
          const gu = g / wNorm[c]!;
          const gv = g / hn;
          for (let d = 0; d < D; d++) {
            dh[hi0 + d] = dh[hi0 + d]! + gu * w[wc + d]!;
            gw[wc + d] = gw[wc + d]! + gv * h[hi0 + d]!;
          }
        }
        let dot = 0;
        for (let d = 0; d < D; d++) dot += dh[hi0 + d]! * h[hi0 + d]!;
        const k = dot / (hn * hn);
        for (let d = 0; d < D; d++) dh[hi0 + d] = (dh[hi0 + d]! - k * h[hi0 + d]!) / hn;
      } else {
        for (let c = 0; c < C; c++) {
          const g = dScores[i * C + c]!;
          if (g === 0) continue;
          gb[c] = gb[c]! + g;
          const wc = c * D;
          for (let d = 0; d < D; d++) {
            dh[hi0 + d] = dh[hi0 + d]! + g * w[wc + d]!;
            gw[wc + d] = gw[wc + d]! + g * h[hi0 + d]!;
          }
        }
      }
    }
    if (cosine) {
      // gw holds, per class, d/dv over |h|: project out the row's own direction, over |w|.
      for (let c = 0; c < C; c++) {
        const wc = c * D;
        const wn = wNorm[c]!;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += gw[wc + d]! * w[wc + d]!;
        const k = dot / (wn * wn);
        for (let d = 0; d < D; d++) gw[wc + d] = (gw[wc + d]! - k * w[wc + d]!) / wn;
      }
    }
  }

  step(lr: number, momentum: number, weightDecay: number): void {
    const { dim: D } = this.shape;
    for (const [p, g, vel] of [
      [this.w, this.gw, this.vw],
      [this.b, this.gb, this.vb],
    ] as const) {
      for (let i = 0; i < p.length; i++) {
        const v = momentum * vel[i]! + g[i]! + weightDecay * p[i]!;
        vel[i] = v;
        p[i] = p[i]! - lr * v;
      }
    }
    // d h_i / d E[id] = (times the id occurs in the bag) / bag length.
    const bags = this.bags!;
    const elr = lr / (1 - momentum);
    const { emb, dh, rows } = this;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const lo = bags.offsets[r]!;
      const hi = bags.offsets[r + 1]!;
      if (hi === lo) continue;
      const f = elr / (hi - lo);
      const hi0 = i * D;
      for (let j = lo; j < hi; j++) {
        const e = bags.ids[j]! * D;
        for (let d = 0; d < D; d++) emb[e + d] = emb[e + d]! - f * dh[hi0 + d]!;
      }
    }
  }
}
