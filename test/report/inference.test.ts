import { describe, expect, it } from 'vitest';
import {
  holmAdjust,
  minimumDetectableEffect,
  pairedTPower,
  wilcoxonSignedRank,
} from '../../src/report/inference.js';

// References computed with SciPy 1.17.1 (float64):
//   stats.wilcoxon(d, method='exact') for untied differences;
//   the MDE from brentq on stats.nct.sf(tc, n-1, δ√n) + stats.nct.cdf(-tc, n-1, δ√n) = 0.8.
describe('wilcoxonSignedRank', () => {
  it('matches SciPy exact p without ties', () => {
    const r = wilcoxonSignedRank([0.1, -0.2, 0.3, 0.4, 0.5], [0, 0, 0, 0, 0]);
    expect(r.n).toBe(5);
    expect(r.wPlus).toBe(13);
    expect(r.p).toBeCloseTo(0.1875, 12);
    expect(r.minAttainableP).toBeCloseTo(0.0625, 12);
  });

  it('with ties, equals the enumeration of all 2^n sign flips over average ranks', () => {
    // Enumerated in Python over itertools.product([0, 1], repeat=7) with scipy.stats.rankdata.
    const r = wilcoxonSignedRank([0.1, -0.2, 0.3, 0.3, 0.5, 0.7, -0.05], new Array(7).fill(0));
    expect(r.wPlus).toBe(24);
    expect(r.p).toBeCloseTo(0.09375, 12);
  });

  it('drops zero differences; 3 seeds can never reach p < 0.25', () => {
    const r = wilcoxonSignedRank([1, 2, 3, 4], [1, 1, 1, 1]);
    expect(r.n).toBe(3);
    expect(r.p).toBeCloseTo(0.25, 12);
    expect(wilcoxonSignedRank([1, 2], [1, 2]).p).toBeNull();
  });
});

describe('holmAdjust', () => {
  it('step-down, monotone, capped at 1, in input order, null kept', () => {
    expect(holmAdjust([0.01, 0.04, null, 0.03])).toEqual([0.03, 0.06, null, 0.06]);
    expect(holmAdjust([0.5, 0.6])).toEqual([1, 1]);
  });
});

describe('minimumDetectableEffect (paired t, two-sided 5%, 80% power)', () => {
  it('matches the noncentral-t solution', () => {
    expect(minimumDetectableEffect(1, 3)).toBeCloseTo(3.2640435496995726, 6);
    expect(minimumDetectableEffect(1, 5)).toBeCloseTo(1.6819969659555625, 6);
    expect(minimumDetectableEffect(1, 12)).toBeCloseTo(0.8886542652935039, 6);
    expect(minimumDetectableEffect(0.3, 12)).toBeCloseTo(0.3 * 0.8886542652935039, 6);
    expect(minimumDetectableEffect(null, 3)).toBeNull();
    expect(minimumDetectableEffect(1, 1)).toBeNull();
  });

  it('the power at no effect is the level', () => {
    for (const n of [2, 3, 8]) expect(pairedTPower(0, n)).toBeCloseTo(0.05, 6);
  });
});
