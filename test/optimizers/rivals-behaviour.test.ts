import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import {
  AdamW,
  createOptimizer,
  Lion,
  Lookahead,
  NAdam,
  ScheduleFreeAdamW,
} from '../../src/optimizers/index.js';
import { values } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Made once: constructing it allocates tensors, which the leak check below would count. */
const TFJS_ADAM = tf.train.adam(0.01);

/** Bad input: one clear message naming the option and its accepted range. */
const invalid: [string, () => unknown, RegExp][] = [
  [
    'NAdam β1 = 1',
    () => new NAdam({ betas: [1, 0.999] }),
    /NAdam: invalid betas\[0\] 1: expected a number in \[0, 1\)/,
  ],
  [
    'Lion β2 = 1',
    () => new Lion({ betas: [0.9, 1] }),
    /Lion: invalid betas\[1\] 1: expected a number in \[0, 1\)/,
  ],
  [
    'NAdam ψ < 0',
    () => new NAdam({ momentumDecay: -1 }),
    /NAdam: invalid momentumDecay -1: expected a finite number >= 0/,
  ],
  [
    'Schedule-Free warmup < 0',
    () => new ScheduleFreeAdamW({ warmupSteps: -1 }),
    /ScheduleFreeAdamW: invalid warmupSteps -1: expected an integer >= 0/,
  ],
  [
    'Schedule-Free r < 0',
    () => new ScheduleFreeAdamW({ r: -0.5 }),
    /ScheduleFreeAdamW: invalid r -0.5: expected a finite number >= 0/,
  ],
  [
    'Schedule-Free with prediction',
    () => new ScheduleFreeAdamW({ predictionSteps: 1 }),
    /ScheduleFreeAdamW: predictionSteps must be 0: Schedule-Free already takes its gradient at y/,
  ],
  [
    'Lion includeWeightDecay is allowed, L2 NAdam includeWeightDecay is not',
    () => new NAdam({ includeWeightDecay: true, predictionSteps: 1 }),
    /NAdam: includeWeightDecay applies to decoupled weight decay only/,
  ],
  [
    'Lookahead k < 1',
    () => new Lookahead({ optimizer: new AdamW(), k: 0 }),
    /Lookahead: invalid k 0: expected an integer >= 1/,
  ],
  [
    'Lookahead α = 0',
    () => new Lookahead({ optimizer: new AdamW(), alpha: 0 }),
    /Lookahead: invalid alpha 0: expected a finite number in \(0, 1\]/,
  ],
  [
    'Lookahead α > 1',
    () => new Lookahead({ optimizer: new AdamW(), alpha: 1.5 }),
    /Lookahead: invalid alpha 1.5: expected a finite number <= 1 and > 0, i.e. in \(0, 1\]/,
  ],
  [
    'Lookahead over a TF.js optimizer',
    () => new Lookahead({ optimizer: TFJS_ADAM as never }),
    /Lookahead: invalid optimizer a Adam, which is not an optimizer of this package: expected an optimizer of this package/,
  ],
  [
    'Lookahead over a plain object',
    () => new Lookahead({ optimizer: { lr: 1 } as never }),
    /Lookahead: invalid optimizer \{"lr":1\}: expected an optimizer of this package/,
  ],
  [
    'Lookahead without an optimizer',
    () => new Lookahead({} as never),
    /Lookahead: invalid optimizer nothing/,
  ],
  [
    'Lookahead predictionSteps',
    () => new Lookahead({ optimizer: new AdamW(), predictionSteps: 1 } as never),
    /Lookahead: predictionSteps is not an option of Lookahead: .* new Lookahead\(\{ optimizer: new AdamW\(\{ predictionSteps: 1 \}\) \}\)/,
  ],
  [
    'lookahead-adamw with k = 0',
    () => createOptimizer('lookahead-adamw', { k: 0 }),
    /Lookahead: invalid k 0/,
  ],
];

describe('rivals: bad input', () => {
  it.each(invalid)('%s', (_label, make, message) => {
    const before = tf.memory().numTensors;
    expect(make).toThrow(UserInputError);
    expect(make).toThrow(message);
    expect(tf.memory().numTensors).toBe(before);
  });
});

/** A small model: dense 4 → 3 → 2, fixed weights, regression data. */
function model() {
  const m = tf.sequential({
    layers: [
      tf.layers.dense({
        units: 3,
        inputShape: [4],
        activation: 'tanh',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
      tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  const xs = tf.randomNormal([32, 4], 0, 1, 'float32', 3);
  const ys = tf.randomNormal([32, 2], 0, 1, 'float32', 4);
  return { m, xs, ys };
}

describe('Schedule-Free AdamW: evaluation weights', () => {
  it('the loss sees y; model.evaluate, model.predict and model.save see x', async () => {
    const { m, xs, ys } = model();
    const optimizer = new ScheduleFreeAdamW({ learningRate: 0.05, weightDecay: 0.01 });
    const seen: number[][] = [];
    const firstKernel = () => values(m.layers[0]!.getWeights()[0]!);
    const loss = (t: tf.Tensor, p: tf.Tensor) => {
      seen.push(firstKernel());
      return tf.losses.meanSquaredError(t, p);
    };
    m.compile({ optimizer, loss });
    const after: number[][] = [];
    await m.fit(xs, ys, {
      epochs: 2,
      batchSize: 8,
      shuffle: false,
      verbose: 0,
      callbacks: { onBatchEnd: async () => void after.push(firstKernel()) },
    });
    expect(optimizer.iterations).toBe(8);

    // y = x + (1 − β1)·(z − x) from the saved state, for the first kernel.
    const state = await optimizer.getWeights();
    const kernelName = (m.layers[0]!.getWeights()[0] as tf.Variable).name;
    const offset = values(state.find((w) => w.name === `${kernelName}/zOffset`)!.tensor);
    const x = firstKernel();
    const y = x.map((xi, i) => xi + 0.1 * offset[i]!);
    expect(offset.some((d) => Math.abs(d) > 1e-4)).toBe(true); // y really differs from x

    // During fit: the first update makes z = x (its averaging weight c is 1), so the second
    // gradient is taken at x too; every later one at y_t = x_t + (1 − β1)(z_t − x_t) ≠ x_t.
    expect(seen[1]).toEqual(after[0]);
    for (let b = 2; b < seen.length; b++) expect(seen[b]).not.toEqual(after[b - 1]);
    // Outside minimize the variables hold x: the end of fit, evaluate, predict and save.
    expect(x).toEqual(after.at(-1));
    const evaluated = (m.evaluate(xs, ys, { batchSize: 32 }) as tf.Scalar).dataSync()[0]!;
    const atX = tf.tidy(
      () => tf.losses.meanSquaredError(ys, m.predict(xs) as tf.Tensor).dataSync()[0]!,
    );
    expect(evaluated).toBeCloseTo(atX, 6);
    let saved: Float32Array | undefined;
    await m.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = new Float32Array(artifacts.weightData as ArrayBuffer);
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    // The first weight saved is the first kernel (4 × 3): x, not y.
    expect(Array.from(saved!.subarray(0, 12))).toEqual(x);
    expect(Array.from(saved!.subarray(0, 12))).not.toEqual(y.map(Math.fround));
    tf.dispose([xs, ys, ...state.map((w) => w.tensor)]);
    m.dispose();
    optimizer.dispose();
  });
});

describe('drop-in: model.fit trains with every rival and leaks nothing', () => {
  const makers: [string, () => tf.Optimizer][] = [
    ['NAdam s = 1', () => new NAdam({ learningRate: 0.01, predictionSteps: 1 })],
    ['Lion s = 1', () => new Lion({ learningRate: 0.003, weightDecay: 0.1, predictionSteps: 1 })],
    ['ScheduleFreeAdamW', () => new ScheduleFreeAdamW({ learningRate: 0.01, warmupSteps: 4 })],
    [
      'Lookahead(AdamW s = 1)',
      () =>
        new Lookahead({ optimizer: new AdamW({ learningRate: 0.01, predictionSteps: 1 }), k: 3 }),
    ],
  ];
  it.each(makers)('%s', async (_label, make) => {
    const { m, xs, ys } = model();
    const optimizer = make();
    m.compile({ optimizer, loss: 'meanSquaredError' });
    const first = await m.fit(xs, ys, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
    const tensorsAfterFirstFit = tf.memory().numTensors;
    const history = await m.fit(xs, ys, { epochs: 20, batchSize: 8, shuffle: false, verbose: 0 });
    expect(tf.memory().numTensors).toBe(tensorsAfterFirstFit);
    const losses = history.history.loss as number[];
    expect(losses.at(-1)!).toBeLessThan((first.history.loss as number[])[0]!);
    tf.dispose([xs, ys]);
    m.dispose();
    optimizer.dispose();
  });
});

describe('Lookahead', () => {
  it('synchronises every k updates: φ ← φ + α(θ − φ), θ ← φ, in a custom loop', () => {
    const w = tf.variable(tf.tensor([0.5, -1.0]), true, 'lookahead_probe_w');
    const target = tf.tensor([2, 1]);
    const loss = () => w.sub(target).square().sum() as tf.Scalar;
    const plain = new AdamW({ learningRate: 0.1, weightDecay: 0 });
    const wrapped = new Lookahead({
      optimizer: new AdamW({ learningRate: 0.1, weightDecay: 0 }),
      k: 2,
      alpha: 0.25,
    });
    const shadow = tf.variable(w.clone(), true, 'lookahead_probe_shadow');
    const shadowLoss = () => shadow.sub(target).square().sum() as tf.Scalar;
    const phi0 = values(w);
    // Update 1: both optimizers take the same AdamW step.
    wrapped.minimize(loss, false, [w]);
    plain.minimize(shadowLoss, false, [shadow]);
    expect(values(w)).toEqual(values(shadow));
    // Update 2: the fast weights after AdamW's step, then pulled to φ0 + α(θ − φ0).
    wrapped.minimize(loss, false, [w]);
    plain.minimize(shadowLoss, false, [shadow]);
    const fast = values(shadow);
    const expected = phi0.map((p, i) =>
      Math.fround(p + Math.fround(Math.fround(fast[i]! - p) * 0.25)),
    );
    values(w).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
    expect(wrapped.iterations).toBe(2);
    [wrapped, plain].forEach((o) => o.dispose());
    tf.dispose([w, shadow, target]);
  });
});
