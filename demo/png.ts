// The plot as a PNG, with no dependency: the scene of svg.ts rasterised at twice its size
// (coverage-based anti-aliasing for lines and dots, a bitmap font for text) and encoded with
// node:zlib. Good enough to open anywhere an SVG is awkward (chat, slides, a terminal image
// viewer); the SVG stays the precise one.
import { deflateSync } from 'node:zlib';
import { GLYPH_ADVANCE, GLYPH_HEIGHT, GLYPH_WIDTH, glyph } from './font.js';
import type { Scene } from './svg.js';

const SCALE = 2;

function rgb(hex: string): [number, number, number] {
  const h = hex.replace('#', '');
  const full = h.length === 3 ? h.replace(/./g, (c) => c + c) : h;
  return [parseInt(full.slice(0, 2), 16), parseInt(full.slice(2, 4), 16), parseInt(full.slice(4, 6), 16)];
}

class Canvas {
  readonly px: Uint8Array;

  constructor(
    readonly w: number,
    readonly h: number,
  ) {
    this.px = new Uint8Array(w * h * 3).fill(255);
  }

  blend(x: number, y: number, c: [number, number, number], a: number): void {
    if (x < 0 || y < 0 || x >= this.w || y >= this.h || a <= 0) return;
    const i = (y * this.w + x) * 3;
    const k = Math.min(1, a);
    for (let j = 0; j < 3; j++) this.px[i + j] = Math.round(this.px[i + j]! * (1 - k) + c[j]! * k);
  }

  /** A segment of the given width; each pixel takes the share of it the segment covers. */
  segment(
    x1: number,
    y1: number,
    x2: number,
    y2: number,
    width: number,
    c: [number, number, number],
    alpha = 1,
    dash = 0,
  ): void {
    const r = width / 2;
    const dx = x2 - x1;
    const dy = y2 - y1;
    const len2 = dx * dx + dy * dy;
    const len = Math.sqrt(len2);
    for (let y = Math.floor(Math.min(y1, y2) - r - 1); y <= Math.ceil(Math.max(y1, y2) + r + 1); y++) {
      for (let x = Math.floor(Math.min(x1, x2) - r - 1); x <= Math.ceil(Math.max(x1, x2) + r + 1); x++) {
        const cx = x + 0.5;
        const cy = y + 0.5;
        const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((cx - x1) * dx + (cy - y1) * dy) / len2));
        if (dash > 0 && Math.floor((t * len) / dash) % 2 === 1) continue;
        const d = Math.hypot(cx - (x1 + t * dx), cy - (y1 + t * dy));
        this.blend(x, y, c, alpha * Math.max(0, Math.min(1, r + 0.5 - d)));
      }
    }
  }

  disc(cx: number, cy: number, radius: number, c: [number, number, number], alpha: number): void {
    for (let y = Math.floor(cy - radius - 1); y <= Math.ceil(cy + radius + 1); y++) {
      for (let x = Math.floor(cx - radius - 1); x <= Math.ceil(cx + radius + 1); x++) {
        const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
        this.blend(x, y, c, alpha * Math.max(0, Math.min(1, radius + 0.5 - d)));
      }
    }
  }

  fillRect(x: number, y: number, w: number, h: number, c: [number, number, number]): void {
    for (let yy = Math.round(y); yy < Math.round(y + h); yy++)
      for (let xx = Math.round(x); xx < Math.round(x + w); xx++) this.blend(xx, yy, c, 1);
  }

  /** Text from the bitmap font; `dot` is the size of one font pixel; vertical reads bottom to top. */
  text(
    s: string,
    x: number,
    baseline: number,
    dot: number,
    anchor: 'start' | 'middle' | 'end',
    c: [number, number, number],
    vertical: boolean,
  ): void {
    const chars = [...s];
    const advance = GLYPH_ADVANCE * dot;
    const total = chars.length * advance - dot;
    const shift = anchor === 'start' ? 0 : anchor === 'middle' ? -total / 2 : -total;
    chars.forEach((ch, n) => {
      const g = glyph(ch);
      for (let row = 0; row < GLYPH_HEIGHT; row++) {
        for (let col = 0; col < GLYPH_WIDTH; col++) {
          if (!g[row * GLYPH_WIDTH + col]) continue;
          // along: position along the text; across: up from the baseline (row 6 sits on it)
          const along = shift + n * advance + col * dot;
          const across = (row - 7) * dot;
          for (let a = 0; a < dot; a++) {
            for (let b = 0; b < dot; b++) {
              if (vertical) this.blend(Math.round(x + across + b), Math.round(baseline - along - a), c, 1);
              else this.blend(Math.round(x + along + a), Math.round(baseline + across + b), c, 1);
            }
          }
        }
      }
    });
  }
}

export function rasterize(scene: Scene): Canvas {
  const cv = new Canvas(scene.width * SCALE, scene.height * SCALE);
  const S = SCALE;
  for (const s of scene.shapes) {
    switch (s.t) {
      case 'rect':
        if (s.fill) cv.fillRect(s.x * S, s.y * S, s.w * S, s.h * S, rgb(s.fill));
        if (s.stroke) {
          const c = rgb(s.stroke);
          const [x0, y0, x1, y1] = [s.x * S, s.y * S, (s.x + s.w) * S, (s.y + s.h) * S];
          cv.segment(x0, y0, x1, y0, S, c);
          cv.segment(x1, y0, x1, y1, S, c);
          cv.segment(x1, y1, x0, y1, S, c);
          cv.segment(x0, y1, x0, y0, S, c);
        }
        break;
      case 'line':
        cv.segment(s.x1 * S, s.y1 * S, s.x2 * S, s.y2 * S, s.width * S, rgb(s.stroke), 1, s.dash ? 5 * S : 0);
        break;
      case 'circle':
        cv.disc(s.cx * S, s.cy * S, s.r * S, rgb(s.fill), s.opacity);
        break;
      case 'polyline':
        for (let i = 1; i < s.pts.length; i++)
          cv.segment(
            s.pts[i - 1]![0] * S,
            s.pts[i - 1]![1] * S,
            s.pts[i]![0] * S,
            s.pts[i]![1] * S,
            s.width * S,
            rgb(s.stroke),
          );
        break;
      case 'text': {
        // about the cap height of a sans-serif font of that size
        const dot = Math.max(1, Math.round((s.size * S * 0.72) / 7));
        cv.text(s.s, s.x * S, s.y * S, dot, s.anchor, rgb(s.fill), s.vertical ?? false);
        break;
      }
    }
  }
  return cv;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), body.length + 4);
  return out;
}

/** An 8-bit RGB PNG of the image (filter 0 on every row). */
export function encodePng(width: number, height: number, rgbPixels: Uint8Array): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  const raw = Buffer.alloc(height * (width * 3 + 1));
  for (let y = 0; y < height; y++)
    raw.set(rgbPixels.subarray(y * width * 3, (y + 1) * width * 3), y * (width * 3 + 1) + 1);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

export function sceneToPng(scene: Scene): Buffer {
  const cv = rasterize(scene);
  return encodePng(cv.w, cv.h, cv.px);
}
