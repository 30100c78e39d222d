import { describe, expect, it } from 'vitest';
import {
  logGamma,
  mean,
  meanConfidenceInterval,
  pairedTTest,
  regularizedIncompleteBeta,
  sampleStd,
  studentTCdf,
  studentTQuantile,
  studentTTwoSidedP,
  summarize,
  welchTTest,
} from '../../src/report/stats.js';

// Reference values, computed once and pasted here:
// - scipy 1.10.1 (Debian python3-scipy): scipy.stats.t.cdf / t.sf, scipy.special.betainc / gammaln,
//   scipy.stats.ttest_rel (+ .confidence_interval(0.95)), scipy.stats.ttest_ind(equal_var=False).
// - t quantiles: mpmath 1.2.1 at 40 digits (bisection on 1 − I_x(df/2, 1/2) / 2 with
//   mpmath.betainc), because scipy's t.ppf (cephes stdtrit) is only good to about 1e-10 relative:
//   it gives 12.706204736432095 for df = 1, p = 0.975, where the exact tan(0.475π) = 12.7062047361747.

function expectRel(actual: number, expected: number, rel = 1e-10): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.abs(expected));
}

describe('summary statistics', () => {
  it('mean and sample std', () => {
    expect(mean([1, 2, 3, 4])).toBe(2.5);
    // Σ(x − 2.5)² = 5, divided by n − 1 = 3.
    expectRel(sampleStd([1, 2, 3, 4])!, Math.sqrt(5 / 3), 1e-15);
    expect(sampleStd([7])).toBeNull();
    expect(summarize([])).toBeNull();
    expect(summarize([3])).toEqual({ n: 1, mean: 3, std: null, min: 3, max: 3 });
    expect(() => summarize([1, NaN])).toThrow(/non-finite/);
  });

  it('the mean of many equal values is exact', () => {
    expect(mean(Array.from({ length: 1000 }, () => 0.1))).toBe(0.1);
  });
});

describe('special functions', () => {
  it('logGamma', () => {
    expectRel(logGamma(0.1), 2.252712651734206, 1e-13);
    expectRel(logGamma(50.5), 146.51925549072064, 1e-13);
    expectRel(logGamma(3), Math.log(2), 1e-14);
  });

  it('regularized incomplete beta', () => {
    expectRel(regularizedIncompleteBeta(0.3, 2.5, 0.5), 0.01892712407194565);
    expectRel(regularizedIncompleteBeta(0.9, 0.5, 3), 0.9996750253207289);
    expectRel(regularizedIncompleteBeta(0.4, 10, 20), 0.785318389762826);
    expect(regularizedIncompleteBeta(0, 2, 3)).toBe(0);
    expect(regularizedIncompleteBeta(1, 2, 3)).toBe(1);
    expect(() => regularizedIncompleteBeta(1.5, 2, 3)).toThrow(RangeError);
  });
});

describe('Student t distribution', () => {
  const quantiles: [number, number, number, number][] = [
    // df, t(0.975), t(0.9), t(0.001)
    [1, 12.706204736174705, 3.0776835371752536, -318.30883898555044],
    [2, 4.302652729749464, 1.8856180831641267, -22.327124770119877],
    [5, 2.5705818356363155, 1.475884048824481, -5.89342953135601],
    [30, 2.042272456301238, 1.3104150253913955, -3.385184866829305],
  ];
  it.each(quantiles)('quantiles for df = %d', (df, q975, q90, q001) => {
    expectRel(studentTQuantile(0.975, df), q975, 1e-13);
    expectRel(studentTQuantile(0.9, df), q90, 1e-13);
    expectRel(studentTQuantile(0.001, df), q001, 1e-12);
    // The quantile inverts the CDF.
    expectRel(studentTCdf(studentTQuantile(0.975, df), df), 0.975, 1e-13);
  });

  it('closed forms for df = 1 (Cauchy) and df = 2', () => {
    for (const p of [0.6, 0.9, 0.99]) {
      expectRel(studentTQuantile(p, 1), Math.tan(Math.PI * (p - 0.5)), 1e-13);
      const a = 4 * p * (1 - p);
      expectRel(studentTQuantile(p, 2), (2 * p - 1) * Math.sqrt(2 / a), 1e-13);
    }
  });

  it('extreme and central quantiles', () => {
    // References for p taken as its exact float64 value (mpmath.mpf(0.9999999)): in the far tail
    // the rounding of p itself moves the quantile by ~1e-10 relative.
    expectRel(studentTQuantile(0.9999999, 3), 222.57159098625124, 1e-13);
    expectRel(studentTQuantile(0.5000001, 5), 2.634305522753727e-7, 1e-12);
    expectRel(studentTCdf(2.634305522753727e-7, 5), 0.5000001, 1e-15);
    expect(studentTQuantile(0.5, 4)).toBe(0);
    expect(() => studentTQuantile(1, 4)).toThrow(RangeError);
    expect(() => studentTQuantile(0.5, 0)).toThrow(RangeError);
  });

  it('CDF and two-sided tail, fractional df', () => {
    expectRel(studentTCdf(2.5, 3), 0.9561466764959673, 1e-13);
    expectRel(studentTCdf(-1.2, 7.5), 0.133334461396611, 1e-12);
    // A tiny p-value keeps its relative precision (computed from the tail, not 1 − CDF).
    expectRel(studentTTwoSidedP(40, 10), 2.2808577430857475e-12, 1e-9);
    expect(studentTCdf(0, 3)).toBe(0.5);
  });
});

describe('t-tests', () => {
  const a = [0.9812, 0.979, 0.9825, 0.9801, 0.9818];
  const b = [0.9795, 0.9781, 0.981, 0.9799, 0.9802];

  it('paired t-test and 95 % CI match scipy.stats.ttest_rel', () => {
    const r = pairedTTest(a, b);
    expect(r.n).toBe(5);
    expect(r.df).toBe(4);
    expectRel(r.t!, 4.187663301827259, 1e-9);
    expectRel(r.p!, 0.013832542534852426, 1e-9);
    expectRel(r.meanDiff, 0.0011800000000000033, 1e-12);
    expectRel(r.stdDiff!, 0.0006300793600809409, 1e-9);
    expectRel(r.ci95![0], 0.0003976531425762315, 1e-9);
    expectRel(r.ci95![1], 0.001962346857423775, 1e-9);
    expect(r.note).toBeNull();
    // Swapping the arguments flips the sign, not the p-value.
    const s = pairedTTest(b, a);
    expectRel(s.t!, -4.187663301827259, 1e-9);
    expectRel(s.p!, r.p!, 1e-12);
  });

  it('n = 1 and constant differences report null, never NaN', () => {
    const one = pairedTTest([0.5], [0.4]);
    expect(one).toMatchObject({ n: 1, df: null, t: null, p: null, stdDiff: null, ci95: null });
    expectRel(one.meanDiff, 0.1, 1e-12);
    expect(one.note).toMatch(/one pair/);
    const constant = pairedTTest([2, 3, 4], [1, 2, 3]);
    expect(constant.t).toBeNull();
    expect(constant.p).toBeNull();
    expect(constant.ci95).toEqual([1, 1]);
    expect(JSON.stringify([one, constant])).not.toMatch(/NaN|Infinity/);
    expect(() => pairedTTest([1, 2], [1])).toThrow(RangeError);
  });

  it('Welch t-test matches scipy.stats.ttest_ind(equal_var=False)', () => {
    const r = welchTTest([27.3, 26.9, 27.8], [28.1, 28.6, 27.9, 28.4]);
    expectRel(r.t!, -3.023073404611217, 1e-9);
    expectRel(r.p!, 0.048311676365624764, 1e-9);
    expectRel(r.df!, 3.3929268217150286, 1e-9);
    expect(welchTTest([1], [2, 3]).p).toBeNull();
  });

  it('confidence interval of a mean', () => {
    // x = 1..4: mean 2.5, s = √(5/3), half width t(0.975, 3) · s / 2 (t from mpmath).
    const ci = meanConfidenceInterval([1, 2, 3, 4])!;
    const half = (3.1824463052837095 * Math.sqrt(5 / 3)) / 2;
    expectRel(ci[0], 2.5 - half, 1e-13);
    expectRel(ci[1], 2.5 + half, 1e-13);
    expect(meanConfidenceInterval([1])).toBeNull();
  });
});
