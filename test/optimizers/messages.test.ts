import { describe, expect, it } from 'vitest';
import { describeValue } from '../../src/errors.js';
import { AdamW, SGD } from '../../src/index.js';

describe('numbers in error messages', () => {
  it.each([
    [NaN, 'NaN'],
    [Infinity, 'Infinity'],
    [-Infinity, '-Infinity'],
    [[0.9, NaN], '[0.9,NaN]'],
    [{ a: -Infinity, b: 'x' }, '{"a":-Infinity,"b":"x"}'],
    ['NaN', '"NaN"'],
    [undefined, 'undefined'],
    [1e-3, '0.001'],
  ])('describeValue(%s) is %s', (value, text) => {
    expect(describeValue(value)).toBe(text);
  });

  it.each([
    [() => new AdamW({ learningRate: NaN }), 'AdamW: invalid learningRate NaN:'],
    [() => new AdamW({ weightDecay: Infinity }), 'AdamW: invalid weightDecay Infinity:'],
    [() => new AdamW({ betas: [NaN, 0.999] }), 'AdamW: invalid betas[0] NaN:'],
    [() => new SGD({ learningRate: 0.1, momentum: -Infinity }), 'SGD: invalid momentum -Infinity:'],
  ])('an optimizer names the bad value as written (%#)', (make, message) => {
    expect(make).toThrow(message);
  });
});
