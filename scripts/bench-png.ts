// The benchmark's plot, drawn without a plotting library: an RGB raster, straight lines, a 5×7
// bitmap font (upper case, digits, a little punctuation), written as a PNG with node:zlib's deflate
// and CRC-32. One panel per step: time against N, ours solid, the no-op baseline dashed.
import { crc32, deflateSync } from "node:zlib";

type Rgb = [number, number, number];

/** 5×7 glyphs, one string of five 0/1 columns per row. Text is drawn upper-cased. */
const FONT: Record<string, string[]> = {
  "0": ["01110", "10001", "10011", "10101", "11001", "10001", "01110"],
  "1": ["00100", "01100", "00100", "00100", "00100", "00100", "01110"],
  "2": ["01110", "10001", "00001", "00010", "00100", "01000", "11111"],
  "3": ["11110", "00001", "00001", "01110", "00001", "00001", "11110"],
  "4": ["00010", "00110", "01010", "10010", "11111", "00010", "00010"],
  "5": ["11111", "10000", "11110", "00001", "00001", "10001", "01110"],
  "6": ["00110", "01000", "10000", "11110", "10001", "10001", "01110"],
  "7": ["11111", "00001", "00010", "00100", "01000", "01000", "01000"],
  "8": ["01110", "10001", "10001", "01110", "10001", "10001", "01110"],
  "9": ["01110", "10001", "10001", "01111", "00001", "00010", "01100"],
  A: ["01110", "10001", "10001", "11111", "10001", "10001", "10001"],
  B: ["11110", "10001", "10001", "11110", "10001", "10001", "11110"],
  C: ["01110", "10001", "10000", "10000", "10000", "10001", "01110"],
  D: ["11100", "10010", "10001", "10001", "10001", "10010", "11100"],
  E: ["11111", "10000", "10000", "11110", "10000", "10000", "11111"],
  F: ["11111", "10000", "10000", "11110", "10000", "10000", "10000"],
  G: ["01110", "10001", "10000", "10111", "10001", "10001", "01111"],
  H: ["10001", "10001", "10001", "11111", "10001", "10001", "10001"],
  I: ["01110", "00100", "00100", "00100", "00100", "00100", "01110"],
  J: ["00111", "00010", "00010", "00010", "00010", "10010", "01100"],
  K: ["10001", "10010", "10100", "11000", "10100", "10010", "10001"],
  L: ["10000", "10000", "10000", "10000", "10000", "10000", "11111"],
  M: ["10001", "11011", "10101", "10101", "10001", "10001", "10001"],
  N: ["10001", "10001", "11001", "10101", "10011", "10001", "10001"],
  O: ["01110", "10001", "10001", "10001", "10001", "10001", "01110"],
  P: ["11110", "10001", "10001", "11110", "10000", "10000", "10000"],
  Q: ["01110", "10001", "10001", "10001", "10101", "10010", "01101"],
  R: ["11110", "10001", "10001", "11110", "10100", "10010", "10001"],
  S: ["01111", "10000", "10000", "01110", "00001", "00001", "11110"],
  T: ["11111", "00100", "00100", "00100", "00100", "00100", "00100"],
  U: ["10001", "10001", "10001", "10001", "10001", "10001", "01110"],
  V: ["10001", "10001", "10001", "10001", "10001", "01010", "00100"],
  W: ["10001", "10001", "10001", "10101", "10101", "10101", "01010"],
  X: ["10001", "10001", "01010", "00100", "01010", "10001", "10001"],
  Y: ["10001", "10001", "10001", "01010", "00100", "00100", "00100"],
  Z: ["11111", "00001", "00010", "00100", "01000", "10000", "11111"],
  " ": ["00000", "00000", "00000", "00000", "00000", "00000", "00000"],
  ".": ["00000", "00000", "00000", "00000", "00000", "01100", "01100"],
  ",": ["00000", "00000", "00000", "00000", "01100", "00100", "01000"],
  ":": ["00000", "01100", "01100", "00000", "01100", "01100", "00000"],
  "-": ["00000", "00000", "00000", "11111", "00000", "00000", "00000"],
  "/": ["00001", "00010", "00010", "00100", "01000", "01000", "10000"],
  "(": ["00010", "00100", "01000", "01000", "01000", "00100", "00010"],
  ")": ["01000", "00100", "00010", "00010", "00010", "00100", "01000"],
  "=": ["00000", "00000", "11111", "00000", "11111", "00000", "00000"],
  "×": ["00000", "10001", "01010", "00100", "01010", "10001", "00000"],
};

class Canvas {
  readonly pixels: Uint8Array;

  constructor(readonly width: number, readonly height: number, background: Rgb = [255, 255, 255]) {
    this.pixels = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.pixels.set(background, i * 3);
  }

  dot(x: number, y: number, color: Rgb, size = 1): void {
    const r = Math.floor(size / 2);
    for (let dy = -r; dy < size - r; dy++) {
      for (let dx = -r; dx < size - r; dx++) {
        const px = Math.round(x) + dx;
        const py = Math.round(y) + dy;
        if (px >= 0 && py >= 0 && px < this.width && py < this.height) this.pixels.set(color, (py * this.width + px) * 3);
      }
    }
  }

  /** A line `width` pixels thick; `dash` pixels on, `dash` off when given. */
  line(x0: number, y0: number, x1: number, y1: number, color: Rgb, width = 1, dash = 0): void {
    const steps = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0)));
    for (let i = 0; i <= steps; i++) {
      if (dash > 0 && Math.floor(i / dash) % 2 === 1) continue;
      this.dot(x0 + ((x1 - x0) * i) / steps, y0 + ((y1 - y0) * i) / steps, color, width);
    }
  }

  text(x: number, y: number, text: string, color: Rgb, scale = 1): void {
    let cx = x;
    for (const ch of text.toUpperCase()) {
      const glyph = FONT[ch] ?? FONT[" "];
      glyph.forEach((row, gy) => {
        for (let gx = 0; gx < 5; gx++) {
          if (row[gx] === "1") {
            for (let sy = 0; sy < scale; sy++) for (let sx = 0; sx < scale; sx++) this.dot(cx + gx * scale + sx, y + gy * scale + sy, color);
          }
        }
      });
      cx += 6 * scale;
    }
  }

  static textWidth(text: string, scale = 1): number {
    return text.length * 6 * scale;
  }

  png(): Buffer {
    const raw = Buffer.alloc((this.width * 3 + 1) * this.height);
    for (let y = 0; y < this.height; y++) {
      raw[y * (this.width * 3 + 1)] = 0; // filter: none
      raw.set(this.pixels.subarray(y * this.width * 3, (y + 1) * this.width * 3), y * (this.width * 3 + 1) + 1);
    }
    const header = Buffer.alloc(13);
    header.writeUInt32BE(this.width, 0);
    header.writeUInt32BE(this.height, 4);
    header[8] = 8; // bit depth
    header[9] = 2; // colour type: RGB
    return Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk("IHDR", header),
      chunk("IDAT", deflateSync(raw)),
      chunk("IEND", Buffer.alloc(0)),
    ]);
  }
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

export interface PlotPanel {
  title: string;
  /** Seconds per N, ours and baseline. */
  ours: [number, number][];
  baseline: [number, number][];
}

const BLACK: Rgb = [0, 0, 0];
const GRID: Rgb = [225, 225, 225];
const OURS: Rgb = [200, 40, 40];
const BASE: Rgb = [40, 80, 200];

/** A "nice" axis maximum and step for values up to `max`. */
function niceAxis(max: number): { top: number; step: number } {
  const rough = Math.max(max, 1e-3) / 4;
  const mag = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= rough) ?? 10 * mag;
  return { top: Math.ceil(max / step) * step || step, step };
}

function label(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(v < 1 ? 2 : 1);
}

/** Panels in a grid of `columns`, plus a legend and a caption; returns the PNG. */
export function plotPng(title: string, panels: PlotPanel[], caption: string, columns = 3): Buffer {
  const pw = 340;
  const ph = 250;
  const cells = panels.length + 1;
  const rows = Math.ceil(cells / columns);
  const top = 36;
  const canvas = new Canvas(pw * columns, top + ph * rows + 24);
  canvas.text(12, 12, title, BLACK, 2);
  panels.forEach((p, i) => {
    const ox = (i % columns) * pw;
    const oy = top + Math.floor(i / columns) * ph;
    const left = ox + 52;
    const right = ox + pw - 28;
    const upper = oy + 28;
    const lower = oy + ph - 36;
    const xs = [...p.ours, ...p.baseline].map(([n]) => n);
    const xMax = Math.max(...xs, 1);
    const { top: yMax, step } = niceAxis(Math.max(...[...p.ours, ...p.baseline].map(([, t]) => t), 0.001));
    const X = (n: number) => left + ((right - left) * n) / xMax;
    const Y = (t: number) => lower - ((lower - upper) * t) / yMax;
    canvas.text(ox + (pw - Canvas.textWidth(p.title)) / 2, oy + 10, p.title, BLACK);
    for (let v = 0; v <= yMax + step / 2; v += step) {
      canvas.line(left, Y(v), right, Y(v), GRID);
      const l = label(v);
      canvas.text(left - 6 - Canvas.textWidth(l), Y(v) - 3, l, BLACK);
    }
    for (const n of [...new Set(xs)].sort((a, b) => a - b)) {
      canvas.line(X(n), lower, X(n), lower + 4, BLACK);
      canvas.text(X(n) - Canvas.textWidth(String(n)) / 2, lower + 8, String(n), BLACK);
    }
    canvas.line(left, upper, left, lower, BLACK);
    canvas.line(left, lower, right, lower, BLACK);
    canvas.text((left + right) / 2 - 3, lower + 20, "N", BLACK);
    canvas.text(ox + 6, upper - 12, "S", BLACK);
    const series = (pts: [number, number][], color: Rgb, dash: number) => {
      const sorted = [...pts].sort((a, b) => a[0] - b[0]);
      sorted.forEach(([n, t], j) => {
        canvas.dot(X(n), Y(t), color, 6);
        if (j > 0) canvas.line(X(sorted[j - 1][0]), Y(sorted[j - 1][1]), X(n), Y(t), color, 2, dash);
      });
    };
    series(p.baseline, BASE, 6);
    series(p.ours, OURS, 0);
  });
  const li = panels.length;
  const lx = (li % columns) * pw + 40;
  const ly = top + Math.floor(li / columns) * ph + 60;
  canvas.line(lx, ly + 3, lx + 40, ly + 3, OURS, 2);
  canvas.text(lx + 50, ly, "OURS (SITE STACK)", BLACK);
  canvas.line(lx, ly + 28, lx + 40, ly + 28, BASE, 2, 6);
  canvas.text(lx + 50, ly + 25, "NO-OP BASELINE", BLACK);
  canvas.text(lx, ly + 55, "WALL TIME (S) AGAINST N", BLACK);
  canvas.text(lx, ly + 70, "(CLIENT ACCESS SERVERS)", BLACK);
  canvas.text(12, top + ph * rows + 6, caption, BLACK);
  return canvas.png();
}
