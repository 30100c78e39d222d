import { describe, expect, it } from 'vitest';
import { comparisonCells, resolveRun } from '../../src/experiments/config.js';
import { runLengthOptions } from '../../src/experiments/rivals.js';

describe('compare with the rivals', () => {
  it('Schedule-Free runs once with s = 0; the others get every s', () => {
    const cells = comparisonCells({
      task: 'mnist-mlp',
      optimizer: ['adamw', 'schedule-free-adamw', 'nadam', 'lion', 'lookahead-adamw'],
    });
    expect(cells.map((c) => `${c.optimizer}/${c.predictionSteps}`)).toEqual([
      'adamw/0',
      'adamw/1',
      'schedule-free-adamw/0',
      'nadam/0',
      'nadam/1',
      'lion/0',
      'lion/1',
      'lookahead-adamw/0',
      'lookahead-adamw/1',
    ]);
    expect(comparisonCells({ optimizer: ['schedule-free-adamw'], predictionSteps: [1] })).toEqual([
      { optimizer: 'schedule-free-adamw', predictionSteps: 0 },
    ]);
  });

  it("each rival gets its own defaults from the preset's AdamW recipe, unless set", () => {
    const cell = (optimizer: 'lion' | 'nadam' | 'schedule-free-adamw' | 'adamw') => ({
      optimizer,
      predictionSteps: 0,
    });
    const adamw = resolveRun({ task: 'mnist-mlp' }, cell('adamw'), 1);
    const lion = resolveRun({ task: 'mnist-mlp' }, cell('lion'), 1);
    expect(lion.recipe.learningRate).toBeCloseTo(adamw.recipe.learningRate / 3, 15);
    expect(lion.recipe.weightDecay).toBeCloseTo(adamw.recipe.weightDecay * 3, 15);
    expect(lion.label).toBe('lion');
    const lionSet = resolveRun({ task: 'mnist-mlp', learningRate: 5e-4 }, cell('lion'), 1);
    expect(lionSet.recipe.learningRate).toBe(5e-4);
    const nadam = resolveRun({ task: 'mnist-mlp' }, cell('nadam'), 1);
    expect(nadam.optimizerOptions).toEqual({ decoupledWeightDecay: true });
    const sf = resolveRun({ task: 'mnist-mlp' }, cell('schedule-free-adamw'), 1);
    expect(sf.recipe.schedule).toBe('constant');
    expect(runLengthOptions('schedule-free-adamw', 2345, {})).toEqual({ warmupSteps: 117 });
    expect(runLengthOptions('schedule-free-adamw', 2345, { warmupSteps: 3 })).toEqual({});
    expect(runLengthOptions('adamw', 2345, {})).toEqual({});
    expect(adamw.recipe.schedule).toBe('cosine');
  });
});
