import { describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import { Rng } from '../../src/data/rng.js';

describe('Rng (xoshiro128**)', () => {
  it('matches the reference xoshiro128** outputs from state [1, 2, 3, 4]', () => {
    // Hand-computed from the C reference (Blackman & Vigna): result = rotl(s1 * 5, 7) * 9.
    const rng = Rng.fromState([1, 2, 3, 4]);
    expect([rng.nextUint32(), rng.nextUint32(), rng.nextUint32()]).toEqual([11520, 0, 5927040]);
  });

  it('is deterministic per seed and differs between seeds', () => {
    const draw = (seed: number) => {
      const r = new Rng(seed);
      return Array.from({ length: 8 }, () => r.nextUint32());
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
    expect(draw(-1)).not.toEqual(draw(2 ** 32 - 1 + 2 ** 32));
  });

  it('restores exactly from a JSON round trip of its state', () => {
    const rng = new Rng(7);
    for (let i = 0; i < 100; i++) rng.nextUint32();
    const saved = JSON.parse(JSON.stringify(rng.getState())) as number[];
    const expected = Array.from({ length: 50 }, () => [
      rng.nextUint32(),
      rng.nextFloat(),
      rng.nextInt(37),
    ]);
    const restored = Rng.fromState(saved);
    const actual = Array.from({ length: 50 }, () => [
      restored.nextUint32(),
      restored.nextFloat(),
      restored.nextInt(37),
    ]);
    expect(actual).toEqual(expected);
    expect(restored.getState()).toEqual(rng.getState());
  });

  it('draws floats in [0, 1) and unbiased-looking integers in [0, n)', () => {
    const rng = new Rng(1);
    const counts = new Array<number>(6).fill(0);
    let sum = 0;
    for (let i = 0; i < 60000; i++) {
      const f = rng.nextFloat();
      expect(f >= 0 && f < 1).toBe(true);
      sum += f;
      const k = rng.nextInt(6);
      counts[k] = (counts[k] as number) + 1;
    }
    expect(sum / 60000).toBeGreaterThan(0.49);
    expect(sum / 60000).toBeLessThan(0.51);
    // Each bucket expects 10,000 (sd ≈ 91): ±500 is over 5 sd.
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(500);
    expect(new Rng(3).nextInt(2 ** 32)).toBeLessThan(2 ** 32);
  });

  it('shuffles into a permutation, deterministically', () => {
    const a = new Rng(5).permutation(1000);
    const b = new Rng(5).permutation(1000);
    expect(a).toEqual(b);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect([...a]).not.toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('derives independent streams by key', () => {
    expect(Rng.fromKey(9, 0).getState()).toEqual(Rng.fromKey(9, 0).getState());
    expect(Rng.fromKey(9, 0).getState()).not.toEqual(Rng.fromKey(9, 1).getState());
  });

  it('rejects bad seeds, states and ranges with UserInputError', () => {
    expect(() => new Rng(1.5)).toThrow(UserInputError);
    expect(() => Rng.fromState([1, 2, 3])).toThrow(/4 unsigned 32-bit integers/);
    expect(() => Rng.fromState([0, 0, 0, 0])).toThrow(UserInputError);
    expect(() => Rng.fromState([1, 2, 3, 2 ** 32])).toThrow(UserInputError);
    expect(() => new Rng(1).nextInt(0)).toThrow(/1 <= n <= 2\^32/);
  });
});
