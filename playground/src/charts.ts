/** Canvas drawing: the loss map with trajectories, and per-run curves. */
import type { Surface } from './surfaces.js';

/** Run colours: saturated, so they stand out on the grey contour map (the tests look for them). */
export const RUN_COLORS = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#00a0b0'];

export interface Trajectory {
  color: string;
  /** θ_0, θ_1, … */
  thetas: [number, number][];
  /** θ̂_1, θ̂_2, …: where step t took its gradient. */
  thetaHats: [number, number][];
  showPrediction: boolean;
}

/** The contour shading of `surface`, cached per canvas size (the expensive part). */
export function renderContours(surface: Surface, width: number, height: number): ImageData {
  const image = new ImageData(width, height);
  const levels = new Float64Array(width * height);
  let top = 0;
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) {
      const [x, y] = toWorld(surface, width, height, col + 0.5, row + 0.5);
      const level = Math.log1p(Math.max(0, surface.loss(x, y) - surface.minimumValue));
      levels[row * width + col] = level;
      top = Math.max(top, level);
    }
  }
  const bands = 14;
  for (let i = 0; i < levels.length; i++) {
    const t = (levels[i] as number) / (top || 1);
    const band = (t * bands) % 1;
    const line = band < 0.07 ? 55 : 0;
    const grey = Math.round(245 - 110 * t) - line;
    image.data.set([grey, grey, grey, 255], i * 4);
  }
  return image;
}

function toWorld(s: Surface, w: number, h: number, col: number, row: number): [number, number] {
  return [
    s.xRange[0] + (col / w) * (s.xRange[1] - s.xRange[0]),
    s.yRange[1] - (row / h) * (s.yRange[1] - s.yRange[0]),
  ];
}

function toCanvas(s: Surface, w: number, h: number, [x, y]: [number, number]): [number, number] {
  return [
    ((x - s.xRange[0]) / (s.xRange[1] - s.xRange[0])) * w,
    ((s.yRange[1] - y) / (s.yRange[1] - s.yRange[0])) * h,
  ];
}

export function drawMap(
  canvas: HTMLCanvasElement,
  surface: Surface,
  contours: ImageData,
  trajectories: Trajectory[],
): void {
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  const { width: w, height: h } = canvas;
  ctx.putImageData(contours, 0, 0);
  const at = (p: [number, number]): [number, number] => toCanvas(surface, w, h, p);
  ctx.fillStyle = '#000';
  for (const minimum of surface.minima) {
    const [cx, cy] = at(minimum);
    ctx.beginPath();
    ctx.arc(cx, cy, 5, 0, 2 * Math.PI);
    ctx.fill();
  }
  for (const [i, t] of trajectories.entries()) {
    ctx.strokeStyle = t.color;
    ctx.fillStyle = t.color;
    // Earlier runs are drawn wider, so that a path another run retraces still shows at its edges.
    ctx.lineWidth = 2.5 + 2.5 * (trajectories.length - 1 - i);
    ctx.setLineDash([]);
    ctx.beginPath();
    t.thetas.forEach((p, i) => (i === 0 ? ctx.moveTo(...at(p)) : ctx.lineTo(...at(p))));
    ctx.stroke();
    if (t.showPrediction) {
      // θ̂_t next to θ_{t−1}, the weights it was predicted from: small rings along the path.
      ctx.lineWidth = 1;
      t.thetaHats.forEach((hat) => {
        ctx.beginPath();
        ctx.arc(...at(hat), 2.5, 0, 2 * Math.PI);
        ctx.stroke();
      });
      const last = t.thetaHats.length;
      const from = t.thetas[last - 1];
      const hat = t.thetaHats[last - 1];
      if (from && hat) {
        ctx.setLineDash([4, 3]);
        ctx.beginPath();
        ctx.moveTo(...at(from));
        ctx.lineTo(...at(hat));
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.beginPath();
        ctx.arc(...at(hat), 6, 0, 2 * Math.PI);
        ctx.stroke();
      }
    }
    const current = t.thetas[t.thetas.length - 1];
    if (current) {
      ctx.beginPath();
      ctx.arc(...at(current), 5, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
}

export interface Series {
  color: string;
  points: [number, number][];
}

/** Line chart of `series` over x in [0, xMax]; `log` plots log10 of y. */
export function drawCurves(
  canvas: HTMLCanvasElement,
  series: Series[],
  xMax: number,
  options: { log: boolean; yLabel: string },
): void {
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  const { width: w, height: h } = canvas;
  const pad = { left: 56, right: 12, top: 24, bottom: 30 };
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, w, h);
  const transform = (y: number): number => (options.log ? Math.log10(Math.max(y, 1e-12)) : y);
  let [lo, hi] = [Infinity, -Infinity];
  for (const s of series) {
    for (const [, y] of s.points) {
      if (!Number.isFinite(y)) continue;
      lo = Math.min(lo, transform(y));
      hi = Math.max(hi, transform(y));
    }
  }
  if (!Number.isFinite(lo)) [lo, hi] = [0, 1];
  if (hi - lo < 1e-9) [lo, hi] = [lo - 0.5, hi + 0.5];
  const px = (x: number): number => pad.left + (x / Math.max(xMax, 1)) * (w - pad.left - pad.right);
  const py = (y: number): number =>
    pad.top + ((hi - transform(y)) / (hi - lo)) * (h - pad.top - pad.bottom);
  ctx.strokeStyle = '#999';
  ctx.lineWidth = 1;
  ctx.strokeRect(pad.left, pad.top, w - pad.left - pad.right, h - pad.top - pad.bottom);
  ctx.fillStyle = '#333';
  ctx.font = '12px sans-serif';
  const label = (v: number): string =>
    options.log ? (10 ** v).toPrecision(2) : Math.abs(v) < 10 ? v.toFixed(2) : v.toFixed(0);
  ctx.fillText(label(hi), 4, pad.top + 4);
  ctx.fillText(label(lo), 4, h - pad.bottom);
  ctx.fillText('0', pad.left, h - 10);
  ctx.fillText(`step ${xMax}`, w - pad.right - 60, h - 10);
  ctx.fillText(options.yLabel, pad.left, 15);
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    let pen = false;
    for (const [x, y] of s.points) {
      if (!Number.isFinite(y)) {
        pen = false;
        continue;
      }
      if (pen) ctx.lineTo(px(x), py(y));
      else ctx.moveTo(px(x), py(y));
      pen = true;
    }
    ctx.stroke();
  }
}
