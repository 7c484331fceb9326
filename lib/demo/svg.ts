// The demo's plot: per-class test top-k accuracy against the class's training count (log
// axis), one colour per loss. Each class is a faint dot; the line joins the mean accuracy of
// groups of classes of similar frequency, which is what the eye compares.

export interface PlotSeries {
  label: string;
  /** Per-class accuracy in [0, 1]; NaN (no test rows) is skipped. */
  perClass: ArrayLike<number>;
}

const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (v: number): string => (Math.round(v * 10) / 10).toString();

/** Groups of about equal numbers of classes, by training count. */
function bins(counts: ArrayLike<number>, groups: number): number[][] {
  const order = Array.from({ length: counts.length }, (_, i) => i).sort((a, b) => counts[a]! - counts[b]! || a - b);
  const out: number[][] = [];
  const size = Math.max(1, Math.ceil(order.length / groups));
  for (let i = 0; i < order.length; i += size) out.push(order.slice(i, i + size));
  return out;
}

export function perClassPlot(
  trainCounts: ArrayLike<number>,
  series: PlotSeries[],
  o: { k: number; title?: string; width?: number; height?: number } = { k: 5 },
): string {
  const W = o.width ?? 820;
  const H = o.height ?? 500;
  const m = { left: 64, right: 190, top: 44, bottom: 56 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const counts = Array.from(trainCounts, (c) => Math.max(1, c));
  const lo = Math.floor(Math.log10(Math.min(...counts)));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...counts))));
  const px = (c: number) => m.left + ((Math.log10(Math.max(1, c)) - lo) / (hi - lo)) * pw;
  const py = (a: number) => m.top + (1 - a) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${m.left}" y="24" font-size="15">${esc(o.title ?? `Per-class top-${o.k} accuracy (test) against training examples per class`)}</text>`);
  // grid and axes
  for (let t = 0; t <= 10; t += 2) {
    const y = py(t / 10);
    out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${num(y)}" y2="${num(y)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 8}" y="${num(y + 4)}" text-anchor="end">${(t / 10).toFixed(1)}</text>`);
  }
  for (let e = lo; e <= hi; e++) {
    for (const mult of [1, 2, 5]) {
      const c = mult * 10 ** e;
      if (Math.log10(c) > hi + 1e-9) continue;
      const x = px(c);
      out.push(`<line x1="${num(x)}" x2="${num(x)}" y1="${m.top}" y2="${m.top + ph}" stroke="${mult === 1 ? '#d0d0d0' : '#f0f0f0'}"/>`);
      out.push(`<text x="${num(x)}" y="${m.top + ph + 18}" text-anchor="middle">${c}</text>`);
    }
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${H - 14}" text-anchor="middle">training examples of the class (log scale)</text>`);
  out.push(`<text transform="translate(18 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">top-${o.k} accuracy of the class</text>`);
  const groups = bins(counts, Math.min(10, counts.length));
  series.forEach((s, si) => {
    const colour = COLOURS[si % COLOURS.length]!;
    // a small horizontal offset per series keeps dots of equal classes apart
    const dx = (si - (series.length - 1) / 2) * 2;
    const dots: string[] = [];
    for (let c = 0; c < counts.length; c++) {
      const a = s.perClass[c]!;
      if (a === a) dots.push(`<circle cx="${num(px(counts[c]!) + dx)}" cy="${num(py(a))}" r="2.2"/>`);
    }
    out.push(`<g fill="${colour}" fill-opacity="0.35">${dots.join('')}</g>`);
    const pts: string[] = [];
    for (const g of groups) {
      const acc = g.map((c) => s.perClass[c]!).filter((a) => a === a);
      if (acc.length === 0) continue;
      const meanA = acc.reduce((a, b) => a + b, 0) / acc.length;
      const meanLog = g.reduce((a, c) => a + Math.log10(counts[c]!), 0) / g.length;
      pts.push(`${num(px(10 ** meanLog))},${num(py(meanA))}`);
    }
    out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${colour}" stroke-width="2.2"/>`);
    const ly = m.top + 12 + si * 20;
    out.push(`<line x1="${m.left + pw + 16}" x2="${m.left + pw + 40}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="2.5"/>`);
    out.push(`<text x="${m.left + pw + 46}" y="${ly + 4}">${esc(s.label)}</text>`);
  });
  const ly = m.top + 12 + series.length * 20 + 8;
  out.push(`<text x="${m.left + pw + 16}" y="${ly}" fill="#555" font-size="11">dots: classes; lines: means</text>`);
  out.push(`<text x="${m.left + pw + 16}" y="${ly + 14}" fill="#555" font-size="11">of ${groups.length} frequency groups</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
