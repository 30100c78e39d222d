import type { Schedule } from '../schedules/index.js';

/** How the weights are extrapolated before each gradient (METHOD.md section 2). */
export interface PredictionConfig {
  /** s: how many steps ahead to predict; 0 turns prediction off. */
  steps: number;
  /** θ̂ also applies the decoupled weight decay of the s steps (off in the reference). */
  includeWeightDecay: boolean;
  /** For s > 1, use the schedule's lr for each of the s steps instead of s times the next one. */
  scheduleAware: boolean;
}

/**
 * The learning rates of the s updates being predicted, after `completed` updates: by default the
 * next update's lr repeated s times (the reference), or each step's own lr when schedule-aware.
 */
export function predictedLearningRates(
  config: PredictionConfig,
  schedule: Schedule,
  completed: number,
): number[] {
  // A plain loop: this runs every step, and Array.from with a mapping function measured 4 µs.
  const rates = new Array<number>(config.steps);
  for (let i = 0; i < config.steps; i++) {
    rates[i] = schedule(config.scheduleAware ? completed + i : completed);
  }
  return rates;
}

/**
 * Coefficients of θ̂ = a·θ − b·Δθ: s steps of θ ← (1 − η_i·λ)·θ − η_i·Δθ with Δθ held fixed.
 * Without the decay (the reference) that is a = 1, b = Σ η_i. Computed in float64 on the host.
 */
export function predictionCoefficients(
  config: PredictionConfig,
  learningRates: readonly number[],
  weightDecay: number,
): { a: number; b: number } {
  let a = 1;
  let b = 0;
  for (const lr of learningRates) {
    const keep = config.includeWeightDecay ? 1 - lr * weightDecay : 1;
    a *= keep;
    b = b * keep + lr;
  }
  return { a, b };
}
