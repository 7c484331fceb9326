// End to end from Node: BalNoisedTopK(k=5, epsilon=1) forward + backward on host Float32Arrays,
// backend 'cuda' against 'cpu', through the built package (dist/). Run by scripts/gpu-check.sh.
// Usage: node bench/cuda/node_e2e.mjs [--out FILE]   (markdown table to stdout / FILE)
import { writeFileSync } from 'node:fs';
import { BalNoisedTopK, backends } from '../../dist/index.js';

const cases = [
  [64, 100, 10],
  [32, 1081, 5],
  [256, 1000, 5],
  [1024, 10000, 10],
  [4096, 32768, 5],
];
const have = backends();
const list = ['cpu', 'cuda'].filter((b) => have.includes(b));
const lines = [
  '# noised-topk from Node.js: BalNoisedTopK(k=5, epsilon=1) forward + backward, host arrays in and out',
  '',
  `Backends: ${have.join(', ')}. Median ms per forward + backward (sync API).`,
  '',
  `| case (B, D, S) | ${list.map((b) => `${b} ms`).join(' | ')} |`,
  `|---|${list.map(() => '---').join('|')}|`,
];

function median(a) {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

for (const [B, D, S] of cases) {
  const scores = new Float32Array(B * D);
  for (let i = 0; i < scores.length; i++) scores[i] = Math.sin(i * 12.9898) * 3;
  const labels = Int32Array.from({ length: B }, (_, r) => (r * 7919) % D);
  const cells = [];
  for (const backend of list) {
    if (backend === 'cpu' && B * D * S > 50e6) {
      cells.push('(skipped)');
      continue;
    }
    const loss = new BalNoisedTopK({ k: 5, epsilon: 1, nSample: S, seed: 1, backend });
    const times = [];
    const runs = B * D * S > 50e6 ? 8 : 40;
    for (let it = 0; it < runs + 5; it++) {
      const t0 = process.hrtime.bigint();
      const r = loss.forward(scores, labels, [B, D]);
      r.backward();
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (it >= 5) times.push(ms);
    }
    cells.push(median(times).toFixed(4));
  }
  const line = `| (${B}, ${D}, ${S}) | ${cells.join(' | ')} |`;
  console.log(line);
  lines.push(line);
}
const text = `${lines.join('\n')}\n`;
console.log(`\n${text}`);
const i = process.argv.indexOf('--out');
if (i > 0 && process.argv[i + 1]) writeFileSync(process.argv[i + 1], text);
