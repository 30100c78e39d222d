import { createOptimizer, type OptimizerName } from '../../src/optimizers/index.js';
import type { PackageOptimizer } from '../../src/optimizers/index.js';

/** One row per optimizer × option set, shared by the generic tests (DESIGN.md principle 6). */
export interface OptimizerRow {
  label: string;
  name: OptimizerName;
  options: Record<string, unknown>;
  /** Decoupled weight decay (θ ← θ·(1 − ηλ)), which the closed form of θ̂ must account for. */
  decoupledDecay: number;
  /** False for an optimizer without weight prediction (it rejects predictionSteps > 0). */
  predicts?: false;
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
  { label: 'nadam', name: 'nadam', options: { learningRate: 0.01 }, decoupledDecay: 0 },
  {
    label: 'nadam l2',
    name: 'nadam',
    options: { learningRate: 0.01, weightDecay: 0.01, momentumDecay: 0.01 },
    decoupledDecay: 0,
  },
  {
    label: 'nadam decoupled',
    name: 'nadam',
    options: { learningRate: 0.01, weightDecay: 0.01, decoupledWeightDecay: true },
    decoupledDecay: 0.01,
  },
  {
    label: 'lion',
    name: 'lion',
    options: { learningRate: 0.003, weightDecay: 0.1 },
    decoupledDecay: 0.1,
  },
  {
    label: 'schedule-free-adamw',
    name: 'schedule-free-adamw',
    options: { learningRate: 0.01, weightDecay: 0.01, warmupSteps: 3 },
    decoupledDecay: 0,
    predicts: false,
  },
  {
    label: 'lookahead-adamw',
    name: 'lookahead-adamw',
    options: { learningRate: 0.01, k: 3, alpha: 0.5 },
    decoupledDecay: 0.01,
  },
];

/** `s`, or 0 for a row without weight prediction. */
export function stepsFor(row: OptimizerRow, s: number): number {
  return row.predicts === false ? 0 : s;
}

export function build(row: OptimizerRow, extra: Record<string, unknown> = {}): PackageOptimizer {
  return createOptimizer(row.name, { ...row.options, ...extra });
}
