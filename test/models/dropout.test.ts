import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import {
  deriveSeed,
  getDropoutState,
  SeededDropout,
  setDropoutSeed,
  setDropoutState,
} from '../../src/models/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** The layer's output on ones in training mode, as a plain array. */
function mask(layer: SeededDropout, size = 1000): Float32Array {
  return tf.tidy(() =>
    (layer.apply(tf.ones([size]), { training: true }) as tf.Tensor).dataSync(),
  ) as Float32Array;
}

describe('SeededDropout', () => {
  it('is the identity at inference and draws nothing', () => {
    setDropoutSeed(1);
    const layer = new SeededDropout({ rate: 0.5 });
    tf.tidy(() => {
      const x = tf.randomNormal([4, 5], 0, 1, 'float32', 1);
      for (const kwargs of [{}, { training: false }]) {
        expect((layer.apply(x, kwargs) as tf.Tensor).dataSync()).toEqual(x.dataSync());
      }
    });
    expect(getDropoutState()).toEqual({ seed: 1, counter: 0 });
  });

  it('drops about `rate` of the units and scales the rest by 1 / (1 − rate)', () => {
    setDropoutSeed(2);
    const layer = new SeededDropout({ rate: 0.3 });
    const m = mask(layer, 20_000);
    const kept = m.filter((v) => v !== 0);
    expect(new Set(kept)).toEqual(new Set([Math.fround(1 / 0.7)]));
    // Binomial standard deviation is 0.0032 here.
    expect(Math.abs(1 - kept.length / m.length - 0.3)).toBeLessThan(0.015);
  });

  it('draws a fresh mask on every training call, reproducibly from the seed', () => {
    const layer = new SeededDropout({ rate: 0.5 });
    setDropoutSeed(7);
    const [a, b, c] = [mask(layer), mask(layer), mask(layer)];
    expect(a).not.toEqual(b);
    expect(b).not.toEqual(c);
    expect(getDropoutState()).toEqual({ seed: 7, counter: 3 });
    setDropoutSeed(7);
    // Another layer instance sees the same stream: the masks depend on the stream, not the layer.
    const other = new SeededDropout({ rate: 0.5 });
    expect([mask(other), mask(layer), mask(other)]).toEqual([a, b, c]);
    setDropoutSeed(8);
    expect(mask(layer)).not.toEqual(a);
  });

  it('resumes from a saved state', () => {
    const layer = new SeededDropout({ rate: 0.4 });
    setDropoutSeed(3);
    const reference = [mask(layer), mask(layer), mask(layer), mask(layer)];
    setDropoutSeed(3);
    mask(layer);
    mask(layer);
    const saved = getDropoutState();
    saved.counter = 999; // a copy: changing it must not move the stream
    expect(getDropoutState().counter).toBe(2);
    const checkpoint = JSON.parse(JSON.stringify(getDropoutState()));
    setDropoutSeed(4);
    mask(layer);
    setDropoutState(checkpoint);
    expect([mask(layer), mask(layer)]).toEqual(reference.slice(2));
  });

  it('passes the gradient through the kept units only', () => {
    setDropoutSeed(5);
    const layer = new SeededDropout({ rate: 0.5 });
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.randomNormal([200], 0, 1, 'float32', 4);
      const g = tf.grad((v: tf.Tensor) => tf.sum(layer.apply(v, { training: true }) as tf.Tensor))(
        x,
      );
      setDropoutSeed(5);
      const m = layer.apply(tf.onesLike(x), { training: true }) as tf.Tensor;
      expect(g.dataSync()).toEqual(m.dataSync());
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad rates and states with UserInputError', () => {
    for (const rate of [1, -0.1, Number.NaN]) {
      expect(() => new SeededDropout({ rate })).toThrow(UserInputError);
    }
    expect(() => setDropoutSeed(-1)).toThrow(/dropout seed must be a non-negative integer/);
    expect(() => setDropoutSeed(1.5)).toThrow(UserInputError);
    expect(() => setDropoutState({ seed: 1, counter: -2 })).toThrow(/counter/);
    expect(() => setDropoutState(null as never)).toThrow(/\{seed, counter\}/);
  });

  it('serializes its rate', () => {
    const layer = new SeededDropout({ rate: 0.25, name: 'drop' });
    const config = layer.getConfig();
    expect(config.rate).toBe(0.25);
    const copy = tf.serialization.SerializationMap.getMap().classNameMap['SeededDropout'];
    expect(copy?.[0]).toBe(SeededDropout);
  });
});

describe('deriveSeed', () => {
  it('is deterministic, gives distinct seeds per stream and per base seed, in [0, 2^31)', () => {
    const seeds = new Set<number>();
    for (let s = 0; s < 100; s++) {
      for (let k = 0; k < 100; k++) {
        const v = deriveSeed(s, k);
        expect(v).toBe(deriveSeed(s, k));
        expect(Number.isInteger(v) && v >= 0 && v < 2 ** 31).toBe(true);
        seeds.add(v);
      }
    }
    expect(seeds.size).toBe(10_000);
    // Bits above 2^32 matter too (long runs overflow 32-bit counters).
    expect(deriveSeed(1, 2 ** 32 + 5)).not.toBe(deriveSeed(1, 5));
    expect(deriveSeed(2 ** 40, 0)).not.toBe(deriveSeed(0, 0));
  });
});
