/**
 * Small-sample statistics for comparing optimizer configurations over a handful of seeds: summary
 * statistics, Student's t distribution (CDF and quantile through the regularized incomplete beta
 * function), the paired t-test with its confidence interval, and Welch's unpaired t-test.
 *
 * Nothing here returns NaN: a quantity that is undefined for the data (a standard deviation of one
 * value, a t statistic of identical differences) is `null`, which JSON keeps and the report shows
 * as "n/a".
 */

/** Mean, spread and range of a sample. `std` is the sample (n − 1) standard deviation. */
export interface Summary {
  n: number;
  mean: number;
  /** Sample standard deviation; null when n < 2. */
  std: number | null;
  min: number;
  max: number;
}

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('mean of an empty sample');
  // Two-pass mean (sum then correction) keeps float64 error at the ulp level for long samples.
  let sum = 0;
  for (const x of xs) sum += x;
  const m = sum / xs.length;
  let correction = 0;
  for (const x of xs) correction += x - m;
  return m + correction / xs.length;
}

/** Sample standard deviation (divides by n − 1); null when n < 2. */
export function sampleStd(xs: readonly number[]): number | null {
  if (xs.length < 2) return null;
  const m = mean(xs);
  let ss = 0;
  for (const x of xs) ss += (x - m) * (x - m);
  return Math.sqrt(ss / (xs.length - 1));
}

/** Summary of a non-empty sample; null for an empty one. */
export function summarize(xs: readonly number[]): Summary | null {
  if (xs.length === 0) return null;
  for (const x of xs) {
    if (!Number.isFinite(x)) throw new RangeError(`summarize: non-finite value ${x}`);
  }
  return {
    n: xs.length,
    mean: mean(xs),
    std: sampleStd(xs),
    min: Math.min(...xs),
    max: Math.max(...xs),
  };
}

const LANCZOS_G = 7;
const LANCZOS_COEFFICIENTS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos approximation, g = 7, about 15 significant digits). */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma needs x > 0, got ${x}`);
  if (x < 0.5) {
    // Reflection keeps the series in its accurate range: Γ(x)Γ(1−x) = π / sin(πx).
    return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  }
  const z = x - 1;
  let a = LANCZOS_COEFFICIENTS[0]!;
  const t = z + LANCZOS_G + 0.5;
  for (let i = 1; i < LANCZOS_COEFFICIENTS.length; i++) a += LANCZOS_COEFFICIENTS[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * Continued fraction for I_x(a, b) (Numerical Recipes' betacf), evaluated with the modified Lentz
 * method. Converges fast for x < (a + 1) / (a + b + 2).
 */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  const eps = 1e-16;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10_000; m++) {
    const m2 = 2 * m;
    // Even step.
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    // Odd step.
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < eps) return h;
  }
  throw new Error(`incomplete beta continued fraction did not converge (a=${a}, b=${b}, x=${x})`);
}

/** The regularized incomplete beta function I_x(a, b), for a, b > 0 and 0 ≤ x ≤ 1. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0) || !(b > 0)) throw new RangeError(`incomplete beta needs a, b > 0 (a=${a}, b=${b})`);
  if (!(x >= 0 && x <= 1)) throw new RangeError(`incomplete beta needs 0 ≤ x ≤ 1, got ${x}`);
  if (x === 0) return 0;
  if (x === 1) return 1;
  const logFront =
    logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  const front = Math.exp(logFront);
  // Use the continued fraction where it converges; otherwise the symmetry I_x(a,b) = 1 − I_{1−x}(b,a).
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x)) / a;
  return 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

function checkDf(df: number): void {
  if (!(df > 0) || !Number.isFinite(df)) {
    throw new RangeError(`Student t needs finite degrees of freedom > 0, got ${df}`);
  }
}

/** P(T > |t|), from I_{df/(df+t²)}(df/2, 1/2): full relative precision however small. */
function tTail(t: number, df: number): number {
  return 0.5 * regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/**
 * P(0 < T < |t|), from I_{t²/(df+t²)}(1/2, df/2): full relative precision for small |t|, where
 * df/(df+t²) rounds to 1 and the tail form cannot resolve t.
 */
function tCenter(t: number, df: number): number {
  return 0.5 * regularizedIncompleteBeta((t * t) / (df + t * t), 0.5, df / 2);
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom (df may be fractional, as in Welch). */
export function studentTCdf(t: number, df: number): number {
  checkDf(df);
  if (Number.isNaN(t)) throw new RangeError('studentTCdf: t is NaN');
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  if (t * t < df) return t >= 0 ? 0.5 + tCenter(t, df) : 0.5 - tCenter(t, df);
  return t > 0 ? 1 - tTail(t, df) : tTail(t, df);
}

/** Two-sided p-value P(|T| ≥ |t|). */
export function studentTTwoSidedP(t: number, df: number): number {
  checkDf(df);
  if (Number.isNaN(t)) throw new RangeError('studentTTwoSidedP: t is NaN');
  if (!Number.isFinite(t)) return 0;
  return 2 * tTail(t, df);
}

/** Density of Student's t, used for Newton polishing of the quantile. */
function studentTPdf(t: number, df: number): number {
  const logC = logGamma((df + 1) / 2) - logGamma(df / 2) - 0.5 * Math.log(df * Math.PI);
  return Math.exp(logC - ((df + 1) / 2) * Math.log1p((t * t) / df));
}

/** The p-quantile of Student's t: the t with P(T ≤ t) = p, for 0 < p < 1. */
export function studentTQuantile(p: number, df: number): number {
  checkDf(df);
  if (!(p > 0 && p < 1)) throw new RangeError(`studentTQuantile needs 0 < p < 1, got ${p}`);
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  // Upper half: find x = df/(df+t²) with I_x(df/2, 1/2) = 2(1 − p) by bisection (I_x increases
  // with x), which cannot diverge, then polish t with Newton steps on the CDF.
  const target = 2 * (1 - p);
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 2000; i++) {
    const mid = 0.5 * (lo + hi);
    if (mid === lo || mid === hi) break;
    if (regularizedIncompleteBeta(mid, df / 2, 0.5) < target) lo = mid;
    else hi = mid;
  }
  const x = 0.5 * (lo + hi);
  let t = Math.sqrt((df * (1 - x)) / x);
  // t from x loses digits when x is near 1 (t near 0). Newton steps on a residual computed to full
  // relative precision recover them: CDF(t) − p = center(t) − (p − ½) = (1 − p) − tail(t).
  for (let i = 0; i < 4; i++) {
    const residual = t * t < df ? tCenter(t, df) - (p - 0.5) : 1 - p - tTail(t, df);
    const step = residual / studentTPdf(t, df);
    if (!Number.isFinite(step)) break;
    const next = t - step;
    if (!(next > 0)) break;
    t = next;
  }
  return t;
}

/** Result of a t-test. Fields are null where the data leave them undefined (see `note`). */
export interface TTestResult {
  /** Number of pairs (paired) or total observations (Welch). */
  n: number;
  /** Degrees of freedom; null when the test is undefined. */
  df: number | null;
  t: number | null;
  /** Two-sided p-value. */
  p: number | null;
  /** Why t / p are null, when they are. */
  note: string | null;
}

/** A paired comparison: differences x − y per pair, their mean, 95 % CI and the paired t-test. */
export interface PairedComparison extends TTestResult {
  meanDiff: number;
  /** Sample standard deviation of the differences; null when n < 2. */
  stdDiff: number | null;
  /** 95 % confidence interval of the mean difference; null when n < 2. */
  ci95: [number, number] | null;
}

function checkSample(name: string, xs: readonly number[]): void {
  for (const x of xs) {
    if (!Number.isFinite(x)) throw new RangeError(`${name}: non-finite value ${x}`);
  }
}

/** Confidence interval of the mean of `xs` at `level` (default 95 %); null when n < 2. */
export function meanConfidenceInterval(
  xs: readonly number[],
  level = 0.95,
): [number, number] | null {
  checkSample('meanConfidenceInterval', xs);
  if (!(level > 0 && level < 1))
    throw new RangeError(`confidence level must be in (0, 1), got ${level}`);
  const s = sampleStd(xs);
  if (s === null) return null;
  const m = mean(xs);
  const half = (studentTQuantile(0.5 + level / 2, xs.length - 1) * s) / Math.sqrt(xs.length);
  return [m - half, m + half];
}

/**
 * Paired t-test of x against y (same length, pair i = x[i], y[i]): tests whether the mean of
 * x[i] − y[i] is zero. With n = 1 only the difference is reported.
 */
export function pairedTTest(x: readonly number[], y: readonly number[]): PairedComparison {
  if (x.length !== y.length) {
    throw new RangeError(`pairedTTest needs equal lengths, got ${x.length} and ${y.length}`);
  }
  if (x.length === 0) throw new RangeError('pairedTTest needs at least one pair');
  checkSample('pairedTTest x', x);
  checkSample('pairedTTest y', y);
  const d = x.map((xi, i) => xi - y[i]!);
  const n = d.length;
  const meanDiff = mean(d);
  const stdDiff = sampleStd(d);
  if (stdDiff === null) {
    return {
      n,
      df: null,
      t: null,
      p: null,
      meanDiff,
      stdDiff: null,
      ci95: null,
      note: 'one pair only: no standard deviation, confidence interval or test',
    };
  }
  const df = n - 1;
  const se = stdDiff / Math.sqrt(n);
  const half = studentTQuantile(0.975, df) * se;
  const ci95: [number, number] = [meanDiff - half, meanDiff + half];
  if (se === 0) {
    return {
      n,
      df,
      t: null,
      p: null,
      meanDiff,
      stdDiff,
      ci95,
      note: 'all differences are equal: the t statistic is undefined',
    };
  }
  const t = meanDiff / se;
  return { n, df, t, p: studentTTwoSidedP(t, df), meanDiff, stdDiff, ci95, note: null };
}

/** Welch's unequal-variance t-test of mean(x) − mean(y), for unpaired samples. */
export function welchTTest(
  x: readonly number[],
  y: readonly number[],
): TTestResult & { meanDiff: number } {
  if (x.length === 0 || y.length === 0) throw new RangeError('welchTTest needs non-empty samples');
  checkSample('welchTTest x', x);
  checkSample('welchTTest y', y);
  const n = x.length + y.length;
  const meanDiff = mean(x) - mean(y);
  const sx = sampleStd(x);
  const sy = sampleStd(y);
  if (sx === null || sy === null) {
    return {
      n,
      df: null,
      t: null,
      p: null,
      meanDiff,
      note: 'each sample needs at least two values for Welch’s test',
    };
  }
  const vx = (sx * sx) / x.length;
  const vy = (sy * sy) / y.length;
  const se2 = vx + vy;
  if (se2 === 0) {
    return {
      n,
      df: null,
      t: null,
      p: null,
      meanDiff,
      note: 'both samples have zero variance: the t statistic is undefined',
    };
  }
  // Welch–Satterthwaite degrees of freedom.
  const df = (se2 * se2) / ((vx * vx) / (x.length - 1) + (vy * vy) / (y.length - 1));
  const t = meanDiff / Math.sqrt(se2);
  return { n, df, t, p: studentTTwoSidedP(t, df), meanDiff, note: null };
}
