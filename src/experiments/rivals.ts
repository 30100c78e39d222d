import { NO_PREDICTION, type OptimizerName } from '../optimizers/index.js';
import type { ScheduleName, TrainingRecipe } from './presets.js';

/**
 * How a preset's recipe (tuned for AdamW) is adapted to each rival when the user has not set the
 * value, following each reference's own advice:
 * - lion: lr ÷ 3 and λ × 3 (lion-pytorch's README: an lr 3–10× smaller than AdamW's and a λ 3–10×
 *   larger, so that the decay per step lr·λ stays the same);
 * - nadam: decoupled weight decay, so that λ means what it means for AdamW (PyTorch's NAdam adds
 *   λθ to the gradient by default, a much weaker decay at the same λ);
 * - schedule-free-adamw: a constant lr (the method replaces the schedule) with a linear warmup over
 *   the first 5% of updates (`warmupSteps`), as the presets' warmup-cosine schedule warms up;
 * - lookahead-adamw: AdamW's recipe, k = 5, α = 0.5 (the paper's).
 */
export const RIVAL_ADJUSTMENTS: Partial<
  Record<
    OptimizerName,
    {
      learningRateFactor?: number;
      weightDecayFactor?: number;
      schedule?: ScheduleName;
      options?: Record<string, unknown>;
      /** Fraction of the run's updates to warm up over (Schedule-Free's warmupSteps). */
      warmupFraction?: number;
    }
  >
> = {
  lion: { learningRateFactor: 1 / 3, weightDecayFactor: 3 },
  nadam: { options: { decoupledWeightDecay: true } },
  'schedule-free-adamw': { schedule: 'constant', warmupFraction: 0.05 },
};

/** The recipe and optimizer options of one optimizer, given what the user set explicitly. */
export function adaptRecipe(
  optimizer: OptimizerName,
  recipe: TrainingRecipe,
  explicit: { learningRate?: unknown; weightDecay?: unknown; schedule?: unknown },
  optimizerOptions: Record<string, unknown>,
): { recipe: TrainingRecipe; optimizerOptions: Record<string, unknown> } {
  const a = RIVAL_ADJUSTMENTS[optimizer];
  if (!a) return { recipe, optimizerOptions };
  return {
    recipe: {
      ...recipe,
      ...(explicit.learningRate === undefined &&
        a.learningRateFactor !== undefined && {
          learningRate: recipe.learningRate * a.learningRateFactor,
        }),
      ...(explicit.weightDecay === undefined &&
        a.weightDecayFactor !== undefined && {
          weightDecay: recipe.weightDecay * a.weightDecayFactor,
        }),
      ...(explicit.schedule === undefined && a.schedule !== undefined && { schedule: a.schedule }),
    },
    optimizerOptions: { ...a.options, ...optimizerOptions },
  };
}

/** Options that depend on the run's length (Schedule-Free's warmup), unless set explicitly. */
export function runLengthOptions(
  optimizer: OptimizerName,
  totalUpdates: number,
  optimizerOptions: Record<string, unknown>,
): Record<string, unknown> {
  const fraction = RIVAL_ADJUSTMENTS[optimizer]?.warmupFraction;
  if (fraction === undefined || optimizerOptions.warmupSteps !== undefined) return {};
  return { warmupSteps: Math.max(1, Math.round(totalUpdates * fraction)) };
}

/** Whether a comparison cell makes sense: no prediction for an optimizer that has none. */
export function cellApplies(optimizer: OptimizerName, predictionSteps: number): boolean {
  return predictionSteps === 0 || !NO_PREDICTION.includes(optimizer);
}
