import { logGamma, sampleStd, studentTQuantile } from './stats.js';

/**
 * Statistics a reviewer asks for beside the paired t-test: a non-parametric paired test, a
 * multiplicity correction for secondary comparisons, and the resolution of a comparison (the
 * smallest difference it would detect).
 */

/** Wilcoxon signed-rank test of paired samples: exact two-sided p over all sign flips. */
export interface WilcoxonResult {
  /** Pairs with a non-zero difference (zeros are dropped, Wilcoxon's own rule). */
  n: number;
  /** Sum of the ranks of the positive differences. */
  wPlus: number;
  /** Two-sided p; null when every difference is zero. */
  p: number | null;
  /** The smallest p these n pairs can give (2 / 2^n): with 3 seeds it is 0.25. */
  minAttainableP: number | null;
}

export function wilcoxonSignedRank(x: readonly number[], y: readonly number[]): WilcoxonResult {
  if (x.length !== y.length) {
    throw new RangeError(`wilcoxonSignedRank needs equal lengths, got ${x.length} and ${y.length}`);
  }
  const d = x.map((xi, i) => xi - y[i]!).filter((v) => v !== 0);
  for (const v of d) if (!Number.isFinite(v)) throw new RangeError(`non-finite difference ${v}`);
  const n = d.length;
  if (n === 0) return { n, wPlus: 0, p: null, minAttainableP: null };
  // Average ranks of |d| (ties share their mean rank), doubled so they are integers.
  const order = d.map((v, i) => [Math.abs(v), i] as const).sort((a, b) => a[0] - b[0]);
  const rank2 = new Array<number>(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && order[j + 1]![0] === order[i]![0]) j++;
    for (let k = i; k <= j; k++) rank2[order[k]![1]] = i + j + 2; // 2 × mean of ranks i+1 … j+1
    i = j + 1;
  }
  const total2 = rank2.reduce((a, b) => a + b, 0);
  const wPlus2 = d.reduce((a, v, i) => a + (v > 0 ? rank2[i]! : 0), 0);
  // Null distribution of the doubled W+: every sign equally likely, independently.
  let dist = new Float64Array(total2 + 1);
  dist[0] = 1;
  for (const r of rank2) {
    const next = new Float64Array(total2 + 1);
    for (let s = 0; s <= total2; s++) {
      const q = dist[s]!;
      if (q === 0) continue;
      next[s] = next[s]! + 0.5 * q;
      next[s + r] = next[s + r]! + 0.5 * q;
    }
    dist = next;
  }
  const center = total2 / 2;
  const observed = Math.abs(wPlus2 - center);
  let p = 0;
  for (let s = 0; s <= total2; s++) {
    if (Math.abs(s - center) >= observed - 1e-9) p += dist[s]!;
  }
  return { n, wPlus: wPlus2 / 2, p: Math.min(1, p), minAttainableP: Math.min(1, 2 / 2 ** n) };
}

/** Holm's step-down adjustment: adjusted p-values, in the input's order (null stays null). */
export function holmAdjust(ps: readonly (number | null)[]): (number | null)[] {
  const present = ps
    .map((p, i) => [p, i] as const)
    .filter((e): e is readonly [number, number] => e[0] !== null)
    .sort((a, b) => a[0] - b[0]);
  const m = present.length;
  const out: (number | null)[] = ps.map(() => null);
  let running = 0;
  present.forEach(([p, i], k) => {
    running = Math.max(running, Math.min(1, (m - k) * p));
    out[i] = running;
  });
  return out;
}

/** Standard normal upper tail Q(z) = P(Z > z), to about 1e-7 relative (Numerical Recipes erfc). */
function normalUpperTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t *
                              (-1.13520398 +
                                t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return z >= 0 ? erfc / 2 : 1 - erfc / 2;
}

/**
 * Power of the two-sided one-sample (paired) t-test at level `alpha` with n pairs, when the true
 * mean difference is `effect` standard deviations: P(|T'| > t_crit) for the noncentral t with
 * df = n − 1 and noncentrality effect·√n, integrated over the chi distribution of the sample
 * standard deviation (Simpson's rule in u = √V, where the integrand is smooth).
 */
export function pairedTPower(effect: number, n: number, alpha = 0.05): number {
  const df = n - 1;
  const tCrit = studentTQuantile(1 - alpha / 2, df);
  const nc = effect * Math.sqrt(n);
  // V ~ χ²(df); with V = u², the density of u is 2u·f(u²).
  const logNorm = -(df / 2) * Math.log(2) - logGamma(df / 2);
  const upper = Math.sqrt(df + 12 * Math.sqrt(2 * df) + 60);
  const steps = 4000;
  const h = upper / steps;
  let sum = 0;
  for (let k = 0; k <= steps; k++) {
    const u = k * h;
    const v = u * u;
    // At u = 0 the density of u is 0 for df ≥ 2 and 2·e^logNorm (its limit) for df = 1.
    const density =
      u === 0
        ? df === 1
          ? 2 * Math.exp(logNorm)
          : 0
        : 2 * u * Math.exp(logNorm + (df / 2 - 1) * Math.log(v) - v / 2);
    const cut = tCrit * Math.sqrt(v / df);
    const reject = normalUpperTail(cut - nc) + normalUpperTail(cut + nc);
    sum += (k === 0 || k === steps ? 1 : k % 2 === 0 ? 2 : 4) * density * reject;
  }
  return (sum * h) / 3;
}

/**
 * The minimum detectable effect of a paired comparison: the mean difference the two-sided paired
 * t-test at level `alpha` detects with probability `power`, with n pairs whose differences spread
 * like `stdDiff`. Null with fewer than 2 pairs or no spread to go by.
 */
export function minimumDetectableEffect(
  stdDiff: number | null,
  n: number,
  power = 0.8,
  alpha = 0.05,
): number | null {
  if (stdDiff === null || !Number.isFinite(stdDiff) || n < 2) return null;
  let lo = 0;
  let hi = 1;
  while (pairedTPower(hi, n, alpha) < power) hi *= 2;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (pairedTPower(mid, n, alpha) < power) lo = mid;
    else hi = mid;
  }
  return ((lo + hi) / 2) * stdDiff;
}

/** Paired differences' standard deviation, for `minimumDetectableEffect`. */
export function pairedSpread(x: readonly number[], y: readonly number[]): number | null {
  return sampleStd(x.map((xi, i) => xi - y[i]!));
}
