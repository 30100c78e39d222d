/**
 * Where a training step's time goes, per TF.js kernel: `npm run profile -- <mlp|vgg|resnet|lstm|transformer>
 * [wasm|cpu]`. One AdamW (s = 1) step on a fixed random batch, after warm-up, through tf.profile.
 * Kernel times include nested kernels (an op's wrapper contains its kernels), so the column is
 * not additive; the steady step time is printed first.
 */
import * as tf from '@tensorflow/tfjs';
import { describeBackend, selectBackend, type BackendPreference } from '../src/kernels/backend.js';
import {
  buildLstmLanguageModel,
  buildMlp,
  buildResNet,
  buildTransformerLanguageModel,
  buildVggCnn,
} from '../src/models/index.js';
import { AdamW } from '../src/optimizers/index.js';
import { classificationLoss, languageModelLoss } from '../src/training/index.js';

const MODELS = ['mlp', 'vgg', 'resnet', 'lstm', 'transformer'] as const;
const which = (process.argv[2] ?? 'vgg') as (typeof MODELS)[number];
if (!MODELS.includes(which)) {
  console.error(`profile: unknown model '${which}': use one of ${MODELS.join(', ')}`);
  process.exit(2);
}
await selectBackend((process.argv[3] ?? 'wasm') as BackendPreference);

function setup(): { loss: () => tf.Scalar; variables: tf.Variable[] } {
  if (which === 'transformer') {
    // bench/run.ts's Transformer row: 4 blocks × 128, 4 heads, context 128, batch 8.
    const lm = buildTransformerLanguageModel({
      layers: 4,
      width: 128,
      heads: 4,
      contextLength: 128,
      vocabSize: 10_000,
      dropout: 0,
      seed: 1,
    });
    const tokens = (seed: number) => tf.randomUniform([8, 128], 0, 10_000, 'int32', seed);
    const [x, y] = [tokens(9), tokens(10)];
    return {
      variables: lm.model.trainableWeights.map((w) => w.read() as tf.Variable),
      loss: () => languageModelLoss(lm.model.apply(x, { training: true }) as tf.Tensor, y, 10_000),
    };
  }
  if (which === 'lstm') {
    const lm = buildLstmLanguageModel({
      vocabSize: 10_000,
      embeddingSize: 128,
      hiddenSize: 128,
      layers: 1,
      dropout: 0,
      tieWeights: false,
      seed: 1,
    });
    const tokens = () => tf.randomUniform([20, 35], 0, 10_000, 'int32', 9);
    const [x, y] = [tokens(), tokens()];
    const state = lm.zeroState(20);
    return {
      variables: lm.model.trainableWeights.map((w) => w.read() as tf.Variable),
      loss: () =>
        languageModelLoss(
          (lm.model.apply([x, ...state], { training: true }) as tf.Tensor[])[0]!,
          y,
          10_000,
        ),
    };
  }
  const [model, shape, batch] =
    which === 'mlp'
      ? [buildMlp({ inputShape: [784], numClasses: 10, seed: 1 }), [784], 128]
      : which === 'vgg'
        ? [buildVggCnn({ inputShape: [32, 32, 3], numClasses: 10, seed: 1 }), [32, 32, 3], 64]
        : [
            buildResNet({ inputShape: [28, 28, 1], numClasses: 10, depth: 8, seed: 1 }),
            [28, 28, 1],
            64,
          ];
  const x = tf.randomNormal([batch, ...shape], 0, 1, 'float32', 7);
  const y = tf.tensor1d(
    Array.from({ length: batch }, (_, i) => i % 10),
    'int32',
  );
  return {
    variables: model.trainableWeights.map((w) => w.read() as tf.Variable),
    loss: () => classificationLoss(model.apply(x, { training: true }) as tf.Tensor, y, 10),
  };
}

const { loss, variables } = setup();
const optimizer = new AdamW({ learningRate: 1e-3, predictionSteps: 1 });
const step = () => optimizer.minimize(loss, false, variables);
for (let i = 0; i < 3; i++) step();
const reps = which === 'mlp' || which === 'lstm' ? 30 : 5;
const t0 = performance.now();
for (let i = 0; i < reps; i++) step();
console.log(
  `${which} on ${describeBackend()}: ${((performance.now() - t0) / reps).toFixed(1)} ms/step`,
);
const totals = new Map<string, number>();
const info = await tf.profile(() => void step());
for (const k of info.kernels) {
  totals.set(k.name, (totals.get(k.name) ?? 0) + (k.kernelTimeMs as number));
}
for (const [name, ms] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
  console.log(`${name.padEnd(34)} ${ms.toFixed(1).padStart(8)} ms`);
}
