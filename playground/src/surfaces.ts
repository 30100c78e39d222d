/**
 * The 2-D test functions: each in TF.js (what the optimizers train on, float32) and in plain
 * float64 JS (the contour map and the loss at θ shown in the page).
 */
import * as tf from '@tensorflow/tfjs';
import type { FunctionTask } from './settings.js';

export interface Surface {
  title: string;
  start: [number, number];
  /** The plotted region: [xMin, xMax] and [yMin, yMax]. */
  xRange: [number, number];
  yRange: [number, number];
  /** The global minimum (or minima) to mark on the map. */
  minima: [number, number][];
  /** The loss at the minima (curves plot loss − this on a log scale). */
  minimumValue: number;
  /** Noise-free loss in float64. */
  loss(x: number, y: number): number;
  /** The training loss in TF.js; `noise` is this step's gradient noise (zero but for noisy-quadratic). */
  lossTensor(x: tf.Scalar, y: tf.Scalar, noise: [number, number]): tf.Scalar;
}

/** Standard deviation of each gradient component's noise in the noisy quadratic. */
export const GRADIENT_NOISE = 2;

export const SURFACES: Record<FunctionTask, Surface> = {
  rosenbrock: {
    title: 'Rosenbrock: (1 − x)² + 100 (y − x²)²',
    start: [-1.5, 2.5],
    xRange: [-2, 2],
    yRange: [-1, 3],
    minima: [[1, 1]],
    minimumValue: 0,
    loss: (x, y) => (1 - x) ** 2 + 100 * (y - x * x) ** 2,
    lossTensor: (x, y) =>
      tf.add(tf.square(tf.sub(1, x)), tf.mul(100, tf.square(tf.sub(y, tf.square(x))))),
  },
  beale: {
    title: 'Beale: Σ (cᵢ − x + x yⁱ)², c = 1.5, 2.25, 2.625',
    start: [-1, 1.5],
    xRange: [-4.5, 4.5],
    yRange: [-4.5, 4.5],
    minima: [[3, 0.5]],
    minimumValue: 0,
    loss: (x, y) =>
      (1.5 - x + x * y) ** 2 + (2.25 - x + x * y * y) ** 2 + (2.625 - x + x * y ** 3) ** 2,
    lossTensor: (x, y) => {
      const term = (c: number, power: number): tf.Scalar =>
        tf.square(tf.add(tf.sub(c, x), tf.mul(x, tf.pow(y, power)))) as tf.Scalar;
      return tf.addN([term(1.5, 1), term(2.25, 2), term(2.625, 3)]) as tf.Scalar;
    },
  },
  saddle: {
    title: 'Saddle: x² − y² + y⁴/4 (saddle at 0, minima at y = ±√2)',
    start: [1.8, 0.02],
    xRange: [-2, 2],
    yRange: [-2, 2],
    minima: [
      [0, Math.SQRT2],
      [0, -Math.SQRT2],
    ],
    minimumValue: -1,
    loss: (x, y) => x * x - y * y + y ** 4 / 4,
    lossTensor: (x, y) => tf.add(tf.sub(tf.square(x), tf.square(y)), tf.div(tf.pow(y, 4), 4)),
  },
  'noisy-quadratic': {
    title: `Noisy quadratic: (x² + 10 y²)/2, gradient noise σ = ${GRADIENT_NOISE}`,
    start: [-3.5, 2.5],
    xRange: [-4, 4],
    yRange: [-3, 3],
    minima: [[0, 0]],
    minimumValue: 0,
    loss: (x, y) => (x * x + 10 * y * y) / 2,
    // The linear term adds `noise` to the gradient and leaves the curvature alone.
    lossTensor: (x, y, noise) =>
      tf.addN([
        tf.div(tf.add(tf.square(x), tf.mul(10, tf.square(y))), 2),
        tf.mul(noise[0], x),
        tf.mul(noise[1], y),
      ]) as tf.Scalar,
  },
};

/** mulberry32: a small seeded generator, the same sequence in every JS engine. */
export function seededUniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal pairs by Box–Muller from `seededUniform`. */
export function seededNormalPair(uniform: () => number): [number, number] {
  const u = 1 - uniform();
  const v = uniform();
  const r = Math.sqrt(-2 * Math.log(u));
  return [r * Math.cos(2 * Math.PI * v), r * Math.sin(2 * Math.PI * v)];
}
