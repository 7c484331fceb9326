// The demo's plot: per-class test top-k accuracy against the class's training count (log
// axis), one colour per loss. The plot is built once as a list of shapes and written as SVG
// here; the PNG is resvg's rendering of that SVG (output.ts), so the two cannot disagree.
// Per-class accuracies take few distinct values (k hits out of a handful of test rows), so
// dots of equal classes would sit on each other: they are jittered and faint, and what the eye
// should compare is drawn on top: each frequency group's mean with its 95% interval.

export interface PlotSeries {
  label: string;
  /** Per-point accuracy in [0, 1]; NaN (no test rows) is skipped. */
  perClass: ArrayLike<number>;
  /** Macro top-k of the loss, shown in the legend. */
  macro?: number;
}

export type Shape =
  | { t: 'rect'; x: number; y: number; w: number; h: number; fill?: string; stroke?: string }
  | { t: 'line'; x1: number; y1: number; x2: number; y2: number; stroke: string; width: number; dash?: boolean }
  | { t: 'circle'; cx: number; cy: number; r: number; fill: string; opacity: number }
  | { t: 'polyline'; pts: [number, number][]; stroke: string; width: number }
  | {
      t: 'text';
      x: number;
      y: number;
      s: string;
      size: number;
      anchor: 'start' | 'middle' | 'end';
      fill: string;
      vertical?: boolean;
    };

export interface Scene {
  width: number;
  height: number;
  shapes: Shape[];
}

export const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

/** Groups of about equal numbers of points, by training count. */
function bins(counts: ArrayLike<number>, groups: number): number[][] {
  const order = Array.from({ length: counts.length }, (_, i) => i).sort((a, b) => counts[a]! - counts[b]! || a - b);
  const out: number[][] = [];
  const size = Math.max(1, Math.ceil(order.length / groups));
  for (let i = 0; i < order.length; i += size) out.push(order.slice(i, i + size));
  return out;
}

/** A deterministic offset in [-1, 1) per (point, series): jitter that is the same on every run. */
function jitter(i: number, si: number, salt: number): number {
  let h = Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(si + 1, 0x85ebca77) ^ Math.imul(salt, 0xc2b2ae3d);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h ^= h >>> 13;
  return ((h >>> 0) / 2 ** 32) * 2 - 1;
}

export interface PlotOptions {
  k: number;
  title?: string;
  width?: number;
  height?: number;
  /** Classes below this many training examples are "few-shot": a dashed line marks it. */
  fewShotBelow?: number;
}

export function plotScene(trainCounts: ArrayLike<number>, series: PlotSeries[], o: PlotOptions): Scene {
  const W = o.width ?? 920;
  const H = o.height ?? 520;
  const m = { left: 64, right: 300, top: 44, bottom: 56 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const shapes: Shape[] = [];
  const text = (x: number, y: number, s: string, extra: Partial<Extract<Shape, { t: 'text' }>> = {}) =>
    shapes.push({ t: 'text', x, y, s, size: 12, anchor: 'start', fill: '#000', ...extra });
  const counts = Array.from(trainCounts, (c) => Math.max(1, c));
  // The x range is the data's, with a little room at both ends (not whole decades).
  const lo0 = Math.log10(Math.min(...counts));
  const hi0 = Math.log10(Math.max(...counts));
  const pad = Math.max(0.05, (hi0 - lo0) * 0.04);
  const lo = lo0 - pad;
  const hi = hi0 + pad;
  const px = (c: number) => m.left + ((Math.log10(Math.max(1, c)) - lo) / (hi - lo)) * pw;
  const py = (a: number) => m.top + (1 - a) * ph;
  shapes.push({ t: 'rect', x: 0, y: 0, w: W, h: H, fill: '#ffffff' });
  text(m.left, 24, o.title ?? `Per-class top-${o.k} accuracy (test) against training examples per class`, { size: 15 });
  for (let t = 0; t <= 10; t += 2) {
    const y = py(t / 10);
    shapes.push({ t: 'line', x1: m.left, x2: m.left + pw, y1: y, y2: y, stroke: '#e5e5e5', width: 1 });
    text(m.left - 8, y + 4, (t / 10).toFixed(1), { anchor: 'end' });
  }
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    for (const mult of [1, 2, 5]) {
      const c = mult * 10 ** e;
      const lc = Math.log10(c);
      if (lc < lo - 1e-9 || lc > hi + 1e-9) continue;
      const x = px(c);
      shapes.push({
        t: 'line',
        x1: x,
        x2: x,
        y1: m.top,
        y2: m.top + ph,
        stroke: mult === 1 ? '#d0d0d0' : '#f0f0f0',
        width: 1,
      });
      text(x, m.top + ph + 18, String(c), { anchor: 'middle' });
    }
  }
  shapes.push({ t: 'rect', x: m.left, y: m.top, w: pw, h: ph, stroke: '#888888' });
  text(m.left + pw / 2, H - 14, 'training examples of the class (log scale)', { anchor: 'middle' });
  text(18, m.top + ph / 2, `top-${o.k} accuracy of the class`, { anchor: 'middle', vertical: true });
  if (o.fewShotBelow !== undefined) {
    const lc = Math.log10(o.fewShotBelow);
    if (lc > lo && lc < hi) {
      const x = px(o.fewShotBelow);
      shapes.push({ t: 'line', x1: x, x2: x, y1: m.top, y2: m.top + ph, stroke: '#555555', width: 1.2, dash: true });
      text(x - 4, m.top + 14, `few-shot: < ${o.fewShotBelow}`, { anchor: 'end', fill: '#555555', size: 11 });
    }
  }
  const groups = bins(counts, Math.min(8, counts.length));
  const spread = Math.min(14, (pw / Math.max(1, groups.length)) * 0.5);
  series.forEach((s, si) => {
    const colour = COLOURS[si % COLOURS.length]!;
    for (let c = 0; c < counts.length; c++) {
      const a = s.perClass[c]!;
      if (!Number.isNaN(a)) {
        shapes.push({
          t: 'circle',
          cx: px(counts[c]!) + 5 * jitter(c, si, 1),
          cy: py(a) + 3 * jitter(c, si, 2),
          r: 2,
          fill: colour,
          opacity: 0.25,
        });
      }
    }
    // Group means side by side (one slot per series) with their 95% normal interval.
    const dx = series.length > 1 ? (si / (series.length - 1) - 0.5) * spread : 0;
    const pts: [number, number][] = [];
    for (const g of groups) {
      const acc = g.map((c) => s.perClass[c]!).filter((a) => !Number.isNaN(a));
      if (acc.length === 0) continue;
      const mean = acc.reduce((a, b) => a + b, 0) / acc.length;
      const sd = acc.length > 1 ? Math.sqrt(acc.reduce((a, b) => a + (b - mean) ** 2, 0) / (acc.length - 1)) : 0;
      const half = (1.96 * sd) / Math.sqrt(acc.length);
      const meanLog = g.reduce((a, c) => a + Math.log10(counts[c]!), 0) / g.length;
      const x = px(10 ** meanLog) + dx;
      shapes.push({
        t: 'line',
        x1: x,
        x2: x,
        y1: py(Math.min(1, mean + half)),
        y2: py(Math.max(0, mean - half)),
        stroke: colour,
        width: 1.5,
      });
      shapes.push({ t: 'rect', x: x - 2.5, y: py(mean) - 2.5, w: 5, h: 5, fill: colour });
      pts.push([x, py(mean)]);
    }
    shapes.push({ t: 'polyline', pts, stroke: colour, width: 2 });
    const ly = m.top + 12 + si * 20;
    shapes.push({ t: 'line', x1: m.left + pw + 16, x2: m.left + pw + 40, y1: ly, y2: ly, stroke: colour, width: 2.5 });
    const macro =
      s.macro !== undefined && !Number.isNaN(s.macro) ? ` (macro top-${o.k} ${(100 * s.macro).toFixed(1)}%)` : '';
    text(m.left + pw + 46, ly + 4, `${s.label}${macro}`);
  });
  const ly = m.top + 12 + series.length * 20 + 8;
  text(m.left + pw + 16, ly, 'dots: classes (jittered)', { fill: '#555555', size: 11 });
  text(m.left + pw + 16, ly + 14, `squares: means of ${groups.length} frequency groups,`, {
    fill: '#555555',
    size: 11,
  });
  text(m.left + pw + 16, ly + 28, 'bars: their 95% intervals', { fill: '#555555', size: 11 });
  return { width: W, height: H, shapes };
}

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (v: number): string => (Math.round(v * 10) / 10).toString();

export function sceneToSvg(scene: Scene): string {
  const out: string[] = [];
  const { width: W, height: H } = scene;
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  for (const s of scene.shapes) {
    switch (s.t) {
      case 'rect':
        out.push(
          `<rect x="${num(s.x)}" y="${num(s.y)}" width="${num(s.w)}" height="${num(s.h)}" fill="${s.fill ?? 'none'}"${s.stroke ? ` stroke="${s.stroke}"` : ''}/>`,
        );
        break;
      case 'line':
        out.push(
          `<line x1="${num(s.x1)}" x2="${num(s.x2)}" y1="${num(s.y1)}" y2="${num(s.y2)}" stroke="${s.stroke}" stroke-width="${s.width}"${s.dash ? ' stroke-dasharray="5 4"' : ''}/>`,
        );
        break;
      case 'circle':
        out.push(
          `<circle cx="${num(s.cx)}" cy="${num(s.cy)}" r="${s.r}" fill="${s.fill}" fill-opacity="${s.opacity}"/>`,
        );
        break;
      case 'polyline':
        out.push(
          `<polyline points="${s.pts.map(([x, y]) => `${num(x)},${num(y)}`).join(' ')}" fill="none" stroke="${s.stroke}" stroke-width="${s.width}"/>`,
        );
        break;
      case 'text': {
        const anchor = s.anchor === 'start' ? '' : ` text-anchor="${s.anchor}"`;
        const size = s.size === 12 ? '' : ` font-size="${s.size}"`;
        const fill = s.fill === '#000' ? '' : ` fill="${s.fill}"`;
        const place = s.vertical
          ? `transform="translate(${num(s.x)} ${num(s.y)}) rotate(-90)"`
          : `x="${num(s.x)}" y="${num(s.y)}"`;
        out.push(`<text ${place}${anchor}${size}${fill}>${esc(s.s)}</text>`);
        break;
      }
    }
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export function perClassPlot(trainCounts: ArrayLike<number>, series: PlotSeries[], o: PlotOptions = { k: 5 }): string {
  return sceneToSvg(plotScene(trainCounts, series, o));
}
