/**
 * A tiny PNG bar chart with no dependencies (plain functions): RGBA pixels, a 5×7 bitmap font for labels, zlib
 * from node for the IDAT. Enough for the benchmarks' figures under bench/out/.
 */
import { deflateSync } from "node:zlib";

/** 5×7 glyphs, one row per 5-bit number (MSB left). Unknown characters draw as blanks. */
const FONT: Record<string, readonly number[]> = {
  "0": [14, 17, 19, 21, 25, 17, 14], "1": [4, 12, 4, 4, 4, 4, 14], "2": [14, 17, 1, 2, 4, 8, 31], "3": [31, 2, 4, 2, 1, 17, 14],
  "4": [2, 6, 10, 18, 31, 2, 2], "5": [31, 16, 30, 1, 1, 17, 14], "6": [6, 8, 16, 30, 17, 17, 14], "7": [31, 1, 2, 4, 8, 8, 8],
  "8": [14, 17, 17, 14, 17, 17, 14], "9": [14, 17, 17, 15, 1, 2, 12], A: [14, 17, 17, 31, 17, 17, 17], B: [30, 17, 17, 30, 17, 17, 30],
  C: [14, 17, 16, 16, 16, 17, 14], D: [28, 18, 17, 17, 17, 18, 28], E: [31, 16, 16, 30, 16, 16, 31], F: [31, 16, 16, 30, 16, 16, 16],
  G: [14, 17, 16, 23, 17, 17, 15], H: [17, 17, 17, 31, 17, 17, 17], I: [14, 4, 4, 4, 4, 4, 14], J: [7, 2, 2, 2, 2, 18, 12],
  K: [17, 18, 20, 24, 20, 18, 17], L: [16, 16, 16, 16, 16, 16, 31], M: [17, 27, 21, 21, 17, 17, 17], N: [17, 17, 25, 21, 19, 17, 17],
  O: [14, 17, 17, 17, 17, 17, 14], P: [30, 17, 17, 30, 16, 16, 16], Q: [14, 17, 17, 17, 21, 18, 13], R: [30, 17, 17, 30, 20, 18, 17],
  S: [15, 16, 16, 14, 1, 1, 30], T: [31, 4, 4, 4, 4, 4, 4], U: [17, 17, 17, 17, 17, 17, 14], V: [17, 17, 17, 17, 17, 10, 4],
  W: [17, 17, 17, 21, 21, 21, 10], X: [17, 17, 10, 4, 10, 17, 17], Y: [17, 17, 10, 4, 4, 4, 4], Z: [31, 1, 2, 4, 8, 16, 31],
  ".": [0, 0, 0, 0, 0, 12, 12], "-": [0, 0, 0, 31, 0, 0, 0], "/": [1, 1, 2, 4, 8, 16, 16], ":": [0, 12, 12, 0, 12, 12, 0],
  "(": [2, 4, 8, 8, 8, 4, 2], ")": [8, 4, 2, 2, 2, 4, 8], "%": [24, 25, 2, 4, 8, 19, 3], ",": [0, 0, 0, 0, 12, 4, 8], " ": [0, 0, 0, 0, 0, 0, 0],
};

type Rgb = readonly [number, number, number];
export type BarGroup = { readonly label: string; readonly bars: readonly { readonly label: string; readonly value: number; readonly color: Rgb }[] };
export type Panel = { readonly title: string; readonly unit: string; readonly groups: readonly BarGroup[] };

type Canvas = {
  readonly w: number;
  readonly h: number;
  rect(x: number, y: number, w: number, h: number, c: Rgb): void;
  text(x: number, y: number, s: string, c?: Rgb, scale?: number): void;
  png(): Buffer;
};

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const c = Buffer.alloc(4);
  c.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, c]);
}

/** A white RGBA canvas with rectangles, 5×7 text and PNG encoding. */
function canvas(w: number, h: number): Canvas {
  const px = Buffer.alloc(w * h * 4, 255);
  const rect = (x: number, y: number, rw: number, rh: number, c: Rgb) => {
    for (let j = Math.max(0, Math.floor(y)); j < Math.min(h, Math.floor(y + rh)); j++) {
      for (let i = Math.max(0, Math.floor(x)); i < Math.min(w, Math.floor(x + rw)); i++) {
        const o = (j * w + i) * 4;
        px[o] = c[0];
        px[o + 1] = c[1];
        px[o + 2] = c[2];
        px[o + 3] = 255;
      }
    }
  };
  const text = (x: number, y: number, s: string, c: Rgb = [0, 0, 0], scale = 1) => {
    let cx = x;
    for (const ch of s.toUpperCase()) {
      const g = FONT[ch] ?? FONT[" "];
      g.forEach((row, r) => {
        for (let b = 0; b < 5; b++) if (row & (16 >> b)) rect(cx + b * scale, y + r * scale, scale, scale, c);
      });
      cx += 6 * scale;
    }
  };
  const png = () => {
    const raw = Buffer.alloc((w * 4 + 1) * h);
    for (let j = 0; j < h; j++) px.copy(raw, j * (w * 4 + 1) + 1, j * w * 4, (j + 1) * w * 4);
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(w, 0);
    ihdr.writeUInt32BE(h, 4);
    ihdr[8] = 8; // bit depth
    ihdr[9] = 6; // RGBA
    return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), pngChunk("IHDR", ihdr), pngChunk("IDAT", deflateSync(raw)), pngChunk("IEND", Buffer.alloc(0))]);
  };
  return { w, h, rect, text, png };
}

const fmt = (v: number) => (v >= 100 ? Math.round(v).toLocaleString("en-US") : v >= 10 ? v.toFixed(1) : v.toFixed(2));

/** Panels side by side, each a grouped bar chart with its own scale, values printed on the bars. */
export function barChartPng(title: string, panels: readonly Panel[]): Buffer {
  const pw = 420;
  const ph = 320;
  const c = canvas(pw * panels.length + 20, ph + 60);
  c.text(10, 10, title, [0, 0, 0], 2);
  panels.forEach((p, pi) => {
    const x0 = 10 + pi * pw;
    const y0 = 50;
    c.text(x0 + 10, y0, `${p.title} (${p.unit})`);
    const max = Math.max(...p.groups.flatMap((g) => g.bars.map((b) => b.value)), 1e-9);
    const plotTop = y0 + 30;
    const plotH = ph - 110;
    const base = plotTop + plotH;
    c.rect(x0 + 10, base, pw - 30, 1, [0, 0, 0]);
    const gw = (pw - 40) / p.groups.length;
    p.groups.forEach((g, gi) => {
      const bw = Math.min(40, (gw - 20) / g.bars.length);
      const gx = x0 + 20 + gi * gw;
      g.bars.forEach((b, bi) => {
        const h = (b.value / max) * plotH;
        const bx = gx + bi * (bw + 4);
        c.rect(bx, base - h, bw, h, b.color);
        c.text(bx, base - h - 10, fmt(b.value));
        c.text(bx, base + 6 + bi * 10, b.label);
      });
      c.text(gx, base + 6 + g.bars.length * 10 + 4, g.label);
    });
  });
  return c.png();
}
