// The benchmark's plot as SVG: plain text, no library, readable in any browser and on GitHub. One
// panel per step: wall time against N, ours solid red, the no-op baseline dashed blue, each series
// one <polyline> (with its points as circles) marked data-series="ours" or "baseline", so a test
// or a script can read the figures back out of the drawing.

export interface PlotPanel {
  title: string;
  /** Seconds per N, ours and baseline. */
  ours: [number, number][];
  baseline: [number, number][];
}

const OURS = "#c82828";
const BASE = "#2850c8";
const GRID = "#e1e1e1";

/** Text for an XML text node or attribute value. */
function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A coordinate, to a tenth of a pixel. */
function px(v: number): string {
  return String(Math.round(v * 10) / 10);
}

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

function text(x: number, y: number, s: string, attrs = ""): string {
  return `<text x="${px(x)}" y="${px(y)}"${attrs ? ` ${attrs}` : ""}>${esc(s)}</text>`;
}

function line(x1: number, y1: number, x2: number, y2: number, stroke: string, attrs = ""): string {
  return `<line x1="${px(x1)}" y1="${px(y1)}" x2="${px(x2)}" y2="${px(y2)}" stroke="${stroke}"${attrs ? ` ${attrs}` : ""}/>`;
}

/** Panels in a grid of `columns`, plus a legend and a caption; returns the SVG document. */
export function plotSvg(title: string, panels: PlotPanel[], caption: string, columns = 3): string {
  const pw = 340;
  const ph = 250;
  const rows = Math.ceil((panels.length + 1) / columns);
  const top = 40;
  const width = pw * columns;
  const height = top + ph * rows + 30;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    text(12, 24, title, 'font-size="16" font-weight="bold"'),
  ];
  panels.forEach((p, i) => {
    const ox = (i % columns) * pw;
    const oy = top + Math.floor(i / columns) * ph;
    const left = ox + 52;
    const right = ox + pw - 28;
    const upper = oy + 28;
    const lower = oy + ph - 40;
    const xs = [...p.ours, ...p.baseline].map(([n]) => n);
    const xMax = Math.max(...xs, 1);
    const { top: yMax, step } = niceAxis(Math.max(...[...p.ours, ...p.baseline].map(([, t]) => t), 0.001));
    const X = (n: number) => left + ((right - left) * n) / xMax;
    const Y = (t: number) => lower - ((lower - upper) * t) / yMax;
    out.push(`<g class="panel" data-step="${esc(p.title)}">`);
    out.push(text(ox + pw / 2, oy + 14, p.title, 'text-anchor="middle" font-weight="bold"'));
    for (let v = 0; v <= yMax + step / 2; v += step) {
      out.push(line(left, Y(v), right, Y(v), GRID));
      out.push(text(left - 6, Y(v) + 4, label(v), 'text-anchor="end"'));
    }
    for (const n of [...new Set(xs)].sort((a, b) => a - b)) {
      out.push(line(X(n), lower, X(n), lower + 4, "#000000"));
      out.push(text(X(n), lower + 17, String(n), 'text-anchor="middle"'));
    }
    out.push(line(left, upper, left, lower, "#000000"));
    out.push(line(left, lower, right, lower, "#000000"));
    out.push(text((left + right) / 2, lower + 32, "N", 'text-anchor="middle"'));
    out.push(text(ox + 8, upper - 8, "s"));
    const series = (name: "ours" | "baseline", pts: [number, number][], color: string, dash: string) => {
      const sorted = [...pts].sort((a, b) => a[0] - b[0]);
      const data = sorted.map(([n, t]) => `${n}:${t}`).join(" ");
      out.push(`<g data-series="${name}" data-values="${data}">`);
      out.push(`<polyline points="${sorted.map(([n, t]) => `${px(X(n))},${px(Y(t))}`).join(" ")}" fill="none" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ""}/>`);
      for (const [n, t] of sorted) out.push(`<circle cx="${px(X(n))}" cy="${px(Y(t))}" r="3" fill="${color}"><title>N=${n}: ${t.toFixed(2)} s</title></circle>`);
      out.push("</g>");
    };
    series("baseline", p.baseline, BASE, "6 4");
    series("ours", p.ours, OURS, "");
    out.push("</g>");
  });
  const li = panels.length;
  const lx = (li % columns) * pw + 40;
  const ly = top + Math.floor(li / columns) * ph + 60;
  out.push('<g class="legend">');
  out.push(line(lx, ly, lx + 40, ly, OURS, 'stroke-width="2"'));
  out.push(text(lx + 50, ly + 4, "ours (the site stack)"));
  out.push(line(lx, ly + 25, lx + 40, ly + 25, BASE, 'stroke-width="2" stroke-dasharray="6 4"'));
  out.push(text(lx + 50, ly + 29, "no-op baseline"));
  out.push(text(lx, ly + 58, "wall time (s) against N"));
  out.push(text(lx, ly + 74, "(Client Access servers)"));
  out.push("</g>");
  out.push(text(12, top + ph * rows + 16, caption, 'font-size="11"'));
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
