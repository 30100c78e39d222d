import type { Schedule } from '../schedules/index.js';

/**
 * The largest s accepted. The papers use s = 1 to 3; past a few steps Δθ held fixed no longer
 * says where the weights go. The bound keeps a typo (1e9) from looping for minutes every step.
 */
export const MAX_PREDICTION_STEPS = 1000;

/** How the weights are extrapolated before each gradient (Guan, PAKDD 2023; XGrad: θ̂ = θ − s·η·Δθ). */
export interface PredictionConfig {
  /** s: how many steps ahead to predict; 0 turns prediction off. */
  steps: number;
  /** θ̂ also applies the decoupled weight decay of the s steps (off in the reference). */
  includeWeightDecay: boolean;
  /** For s > 1, use the schedule's lr for each of the s steps instead of s times the next one. */
  scheduleAware: boolean;
}

/** θ̂ = a·θ − b·Δθ. */
export interface Coefficients {
  a: number;
  b: number;
}

/**
 * The coefficients of every prediction made after `completed` updates, per weight decay λ: s steps
 * of θ ← (1 − η_i·λ)·θ − η_i·Δθ with Δθ held fixed, where the η_i are the next update's lr s times
 * (the reference) or each step's own lr (schedule-aware). Without the decay (the reference) that
 * is a = 1, b = Σ η_i. Computed in float64 on the host, once per step and λ (a step's variables
 * share one or two λ), with no allocation proportional to s.
 */
export function coefficientsAfter(
  config: PredictionConfig,
  schedule: Schedule,
  completed: number,
): (weightDecay: number) => Coefficients {
  let lastDecay = Number.NaN;
  let last: Coefficients = { a: 1, b: 0 };
  return (weightDecay) => {
    const decay = config.includeWeightDecay ? weightDecay : 0;
    if (decay === lastDecay) return last;
    const fixedLr = config.scheduleAware ? 0 : schedule(completed);
    let a = 1;
    let b = 0;
    for (let i = 0; i < config.steps; i++) {
      const lr = config.scheduleAware ? schedule(completed + i) : fixedLr;
      const keep = config.includeWeightDecay ? 1 - lr * decay : 1;
      a *= keep;
      b = b * keep + lr;
    }
    lastDecay = decay;
    last = { a, b };
    return last;
  };
}
