import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';

/** A small seeded generator (mulberry32) so every case is reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform values in [-1, 1), or rectified (about half exact zeros) to provoke ties and skips. */
export function randomValues(n: number, seed: number, rectified = false): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = next() * 2 - 1;
    out[i] = rectified ? Math.max(0, v) : v;
  }
  return out;
}

/** Runs `fn` on `backend` and returns its result's values and shape, disposing everything. */
export async function runOn(
  backend: string,
  fn: () => tf.Tensor,
): Promise<{ values: Float32Array | Int32Array | Uint8Array; shape: number[] }> {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const t = tf.tidy(fn);
  const values = t.dataSync() as Float32Array | Int32Array | Uint8Array;
  const shape = t.shape;
  t.dispose();
  expect(tf.memory().numTensors).toBe(before);
  return { values: values.slice(), shape };
}

/** max |a − b| ≤ tol · max(max |b|, 1e-6): error relative to the reference's scale. */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol = 1e-4,
): void {
  expect(actual.length).toBe(expected.length);
  let scale = 1e-6;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]!));
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  }
  expect(worst / scale).toBeLessThanOrEqual(tol);
}

/**
 * Each pair equal (NaN with NaN) or within one float32 ulp, and at most `maxDiffering` of them
 * not bit for bit: native loops that transcribe JS ones, where glibc's exp and V8's Math.exp may
 * round a double differently.
 */
export function expectWithinOneUlp(
  actual: Float32Array,
  expected: Float32Array,
  maxDiffering: number,
): void {
  expect(actual.length).toBe(expected.length);
  let differing = 0;
  for (let i = 0; i < expected.length; i++) {
    const [a, b] = [actual[i]!, expected[i]!];
    if (Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))) continue;
    differing++;
    const ulp = Math.max(Math.abs(b), 1e-38) * 2 ** -23;
    expect(Math.abs(a - b), `at ${i}: ${a} vs ${b}`).toBeLessThanOrEqual(ulp);
  }
  expect(differing).toBeLessThanOrEqual(maxDiffering);
}
