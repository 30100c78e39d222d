import { UserInputError } from '../errors.js';

const TWO_POW_32 = 4294967296;

/** splitmix32 finaliser: spreads every input bit over the output (seeding only). */
function mix32(x: number): number {
  x = (x + 0x9e3779b9) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

function checkSeedWord(value: number, what: string): void {
  if (!Number.isSafeInteger(value)) {
    throw new UserInputError(`${what} must be a safe integer, got ${String(value)}`);
  }
}

/**
 * A small seeded PRNG (xoshiro128**, Blackman & Vigna) whose whole state is four uint32 words, so a
 * checkpoint can save it with `getState()` and `Rng.fromState()` continues the exact same stream.
 * 32-bit integer arithmetic only: identical results on every platform.
 */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** @param seed any safe integer (negative and > 2^32 included: both 32-bit halves are mixed in). */
  constructor(seed: number) {
    checkSeedWord(seed, 'Rng seed');
    this.seedFrom([seed]);
  }

  /**
   * A generator seeded from several integers (e.g. an epoch seed and a batch index), so independent
   * streams can be derived by position without drawing through the ones before them.
   */
  static fromKey(...words: number[]): Rng {
    if (words.length === 0) throw new UserInputError('Rng.fromKey needs at least one integer');
    words.forEach((w, i) => checkSeedWord(w, `Rng.fromKey word ${i}`));
    const rng = new Rng(0);
    rng.seedFrom(words);
    return rng;
  }

  /** Restores a generator saved with `getState()`; it continues exactly where that one stopped. */
  static fromState(state: readonly number[]): Rng {
    if (
      !Array.isArray(state) ||
      state.length !== 4 ||
      !state.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32)
    ) {
      throw new UserInputError(
        `Rng state must be an array of 4 unsigned 32-bit integers (from Rng.getState()), got ${JSON.stringify(state)}`,
      );
    }
    if (state.every((w) => w === 0)) {
      throw new UserInputError('Rng state [0, 0, 0, 0] is invalid: xoshiro128** never leaves it');
    }
    const rng = new Rng(0);
    [rng.s0, rng.s1, rng.s2, rng.s3] = state as [number, number, number, number];
    return rng;
  }

  /** The full state as four uint32s: JSON-serialisable, restore with `Rng.fromState`. */
  getState(): number[] {
    return [this.s0, this.s1, this.s2, this.s3];
  }

  clone(): Rng {
    return Rng.fromState(this.getState());
  }

  /** Uniform integer in [0, 2^32). */
  nextUint32(): number {
    const s0 = this.s0;
    const s1 = this.s1;
    const s2 = this.s2;
    const s3 = this.s3;
    const x = Math.imul(s1, 5);
    const result = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    const n2 = (s2 ^ s0) >>> 0;
    const n3 = (s3 ^ s1) >>> 0;
    this.s1 = (s1 ^ n2) >>> 0;
    this.s0 = (s0 ^ n3) >>> 0;
    this.s2 = (n2 ^ t) >>> 0;
    this.s3 = ((n3 << 11) | (n3 >>> 21)) >>> 0;
    return result;
  }

  /** Uniform float in [0, 1) with 32 random bits (one draw). */
  nextFloat(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** Uniform integer in [0, n), unbiased (Lemire's multiply-and-reject); 1 <= n <= 2^32. */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new UserInputError(`Rng.nextInt(n) needs an integer 1 <= n <= 2^32, got ${String(n)}`);
    }
    if (n <= 2 ** 21) {
      // u * n < 2^53 stays exact. Reject draws whose low 32 bits fall under 2^32 mod n (the bias).
      const threshold = (TWO_POW_32 - n) % n;
      for (;;) {
        const m = this.nextUint32() * n;
        const high = Math.floor(m / TWO_POW_32);
        if (m - high * TWO_POW_32 >= threshold) return high;
      }
    }
    // Large n: plain modulo with rejection of the incomplete top block.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const u = this.nextUint32();
      if (u < limit) return u % n;
    }
  }

  /** Fisher–Yates shuffle in place (n − 1 draws); returns the same array. */
  shuffle<T extends { length: number; [i: number]: unknown }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  private seedFrom(words: readonly number[]): void {
    // Fold every word (both 32-bit halves) into a hash, then expand with splitmix32 into 4 words.
    let h = 0x6a09e667;
    for (const w of words) {
      const lo = w >>> 0;
      const hi = Math.floor(w / TWO_POW_32) >>> 0;
      h = mix32(h ^ lo);
      h = mix32(h ^ hi);
    }
    this.s0 = mix32(h);
    this.s1 = mix32(this.s0 ^ 0x243f6a88);
    this.s2 = mix32(this.s1 ^ 0x85a308d3);
    this.s3 = mix32(this.s2 ^ 0x13198a2e);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }
}
