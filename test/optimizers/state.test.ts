import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdamW, type WeightPredictionOptimizer } from '../../src/optimizers/index.js';
import { cosineDecay, linearWarmup } from '../../src/schedules/index.js';
import { quarticLoss, uniqueVariable, values } from './helpers.js';
import { build, ROWS, stepsFor } from './table.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function problem() {
  const vars = [
    uniqueVariable([0.5, -0.3, 0.8, 0.1], 'w', [2, 2]),
    uniqueVariable([0.4, -0.9], 'b'),
  ];
  const a = [tf.tensor([1, 2, 0.5, 1.5], [2, 2]), tf.tensor([1.2, 0.7])];
  const c = [tf.tensor([1, -1, 0.5, 0.2], [2, 2]), tf.tensor([-0.5, 0.25])];
  const q = [tf.tensor([0.1, 0, 0.3, 0.2], [2, 2]), tf.tensor([0.2, 0.05])];
  return {
    vars,
    loss: () => quarticLoss(vars, a, c, q),
    dispose: () => tf.dispose([...vars, ...a, ...c, ...q]),
  };
}

describe.each(ROWS)('save and resume: $label', (row) => {
  it('getWeights/getConfig then setWeights on a fresh optimizer continues bit for bit', async () => {
    const schedule = linearWarmup(3, cosineDecay(row.options.learningRate as number, 40, 1e-4));
    const options = {
      learningRate: schedule,
      predictionSteps: stepsFor(row, 2),
      clipGlobalNorm: 5,
    };
    const p = problem();
    const straight = build(row, options);
    for (let k = 0; k < 10; k++) straight.minimize(p.loss, false, p.vars);
    const checkpointState = (await straight.getWeights()).map((w) => ({
      name: w.name,
      tensor: w.tensor.clone(),
    }));
    const checkpointTheta = p.vars.map((v) => v.clone());
    const config = straight.getConfig();
    for (let k = 0; k < 10; k++) straight.minimize(p.loss, false, p.vars);
    const expected = p.vars.map(values);

    p.vars.forEach((v, i) => v.assign(checkpointTheta[i]!));
    const cls = straight.constructor as typeof AdamW;
    const resumed = tf.serialization.SerializationMap.getMap().classNameMap[cls.className]![1](
      cls as never,
      config,
    ) as WeightPredictionOptimizer;
    await resumed.setWeights(checkpointState);
    tf.dispose(checkpointState.map((w) => w.tensor)); // setWeights must have copied them
    expect(resumed.iterations).toBe(10);
    for (let k = 0; k < 10; k++) resumed.minimize(p.loss, false, p.vars);
    p.vars.forEach((v, i) => expect(values(v)).toEqual(expected[i]));
    tf.dispose(checkpointTheta);
    p.dispose();
    [straight, resumed].forEach((o) => o.dispose());
  });
});

describe('model.save / tf.loadLayersModel with includeOptimizer', () => {
  it('round-trips the optimizer class, its config (patterns with "_" included) and its state', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ units: 4, inputShape: [3], activation: 'relu', name: 'hidden_layer' }),
        tf.layers.dense({ units: 1, name: 'out' }),
      ],
    });
    const optimizer = new AdamW({
      learningRate: cosineDecay(1e-2, 100),
      predictionSteps: 1,
      excludeFromWeightDecay: ['hidden_layer/bias$', 'out/bias$'],
    });
    model.compile({ optimizer, loss: 'meanSquaredError' });
    const x = tf.randomNormal([16, 3], 0, 1, 'float32', 1);
    const y = tf.randomNormal([16, 1], 0, 1, 'float32', 2);
    await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0 });

    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
      { includeOptimizer: true },
    );
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
    const restored = loaded.optimizer as AdamW;
    expect(restored).toBeInstanceOf(AdamW);
    expect(restored.getConfig()).toEqual(optimizer.getConfig());
    expect(restored.weightDecayFor('hidden_layer/bias')).toBe(0);
    expect(restored.weightDecayFor('hidden_layer/kernel')).toBe(1e-2);
    expect(restored.iterations).toBe(optimizer.iterations);
    const [before, after] = [await optimizer.getWeights(), await restored.getWeights()];
    expect(after.map((w) => w.name)).toEqual(before.map((w) => w.name));
    after.forEach((w, i) => expect(values(w.tensor)).toEqual(values(before[i]!.tensor)));
    tf.dispose([x, y]);
    model.dispose();
    loaded.dispose();
    optimizer.dispose();
    restored.dispose();
  });

  it('refuses to save a learning rate given as a bare function, saying what to do instead', () => {
    const optimizer = new AdamW({ learningRate: (step) => 1e-3 / (1 + step) });
    expect(() => optimizer.getConfig()).toThrow(/learningRate is a function.*schedule spec/);
  });
});
