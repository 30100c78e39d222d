import { createOptimizer, type OptimizerName } from '../../src/optimizers/index.js';
import type { WeightPredictionOptimizer } from '../../src/optimizers/index.js';

/** One row per optimizer × option set, shared by the generic tests (DESIGN.md principle 6). */
export interface OptimizerRow {
  label: string;
  name: OptimizerName;
  options: Record<string, unknown>;
  /** Decoupled weight decay (θ ← θ·(1 − ηλ)), which the closed form of θ̂ must account for. */
  decoupledDecay: number;
}

export const ROWS: OptimizerRow[] = [
  { label: 'adamw', name: 'adamw', options: { learningRate: 0.01 }, decoupledDecay: 0.01 },
  {
    label: 'adamw amsgrad',
    name: 'adamw',
    options: { learningRate: 0.01, amsgrad: true },
    decoupledDecay: 0.01,
  },
  {
    label: 'adam l2',
    name: 'adam',
    options: { learningRate: 0.01, weightDecay: 0.01 },
    decoupledDecay: 0,
  },
  { label: 'sgd', name: 'sgd', options: { learningRate: 0.05 }, decoupledDecay: 0 },
  {
    label: 'sgd momentum',
    name: 'sgd',
    options: { learningRate: 0.05, momentum: 0.9 },
    decoupledDecay: 0,
  },
  {
    label: 'sgd nesterov l2',
    name: 'sgd',
    options: { learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 },
    decoupledDecay: 0,
  },
  { label: 'rmsprop', name: 'rmsprop', options: { learningRate: 0.01 }, decoupledDecay: 0 },
  {
    label: 'rmsprop centered momentum',
    name: 'rmsprop',
    options: { learningRate: 0.01, centered: true, momentum: 0.5 },
    decoupledDecay: 0,
  },
  {
    label: 'adabelief',
    name: 'adabelief',
    options: { learningRate: 0.01, weightDecay: 0.01 },
    decoupledDecay: 0.01,
  },
  {
    label: 'adabelief amsgrad l2',
    name: 'adabelief',
    options: { learningRate: 0.01, amsgrad: true, decoupledWeightDecay: false, weightDecay: 0.01 },
    decoupledDecay: 0,
  },
];

export function build(
  row: OptimizerRow,
  extra: Record<string, unknown> = {},
): WeightPredictionOptimizer {
  return createOptimizer(row.name, { ...row.options, ...extra });
}
