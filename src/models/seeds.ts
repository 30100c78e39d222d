/** murmur3's 32-bit finalizer: a cheap bijective mix so nearby inputs give unrelated outputs. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A seed for stream `stream` of the generator seeded with `seed` (both non-negative safe integers):
 * each layer (and each dropout call) gets its own stream, so changing one layer never shifts the
 * initial weights of another. The result is an integer in [0, 2^31), which TF.js's seeded
 * initializers and `tf.randomUniform` accept.
 */
export function deriveSeed(seed: number, stream: number): number {
  // Fold all 53 bits of each input in (a counter can pass 2^32 in a long run).
  const seedLo = seed >>> 0;
  const seedHi = Math.floor(seed / 2 ** 32) >>> 0;
  const streamLo = stream >>> 0;
  const streamHi = Math.floor(stream / 2 ** 32) >>> 0;
  let h = fmix32(seedLo ^ 0x9e3779b9);
  h = fmix32(h ^ seedHi);
  h = fmix32(h ^ Math.imul(streamLo ^ 0x7f4a7c15, 0x2545f491));
  h = fmix32(h ^ streamHi);
  return h >>> 1;
}
