/**
 * The training steps the profile and A/B scripts time: one model, batch and loss per name, on
 * fixed random data (bench/run.ts's rows for the language models).
 */
import * as tf from '@tensorflow/tfjs';
import {
  buildLstmLanguageModel,
  buildMlp,
  buildResNet,
  buildTransformerLanguageModel,
  buildVggCnn,
} from '../src/models/index.js';
import { classificationLoss, languageModelLoss } from '../src/training/index.js';

export const STEP_MODELS = ['mlp', 'vgg', 'resnet', 'lstm', 'transformer'] as const;
export type StepModel = (typeof STEP_MODELS)[number];

/** Parses a model name from the command line, or exits naming the choices. */
export function stepModel(name: string, script: string): StepModel {
  if (!(STEP_MODELS as readonly string[]).includes(name)) {
    console.error(`${script}: unknown model '${name}': use one of ${STEP_MODELS.join(', ')}`);
    process.exit(2);
  }
  return name as StepModel;
}

/** The model's loss on its fixed batch, and its trainable variables. */
export function stepSetup(which: StepModel): { loss: () => tf.Scalar; variables: tf.Variable[] } {
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

/**
 * A paired, interleaved A/B: `pairs` times one step of each side (`step(0)`, `step(1)`), which
 * goes first alternating, after 3 warm-up pairs, so that drift and load from other processes fall
 * on both alike. Returns each side's median step and the median and quartiles of the per-pair
 * ratios side 1 / side 0.
 */
export function pairedSteps(
  step: (side: 0 | 1) => number,
  pairs: number,
): { median: [number, number]; ratio: number; quartiles: [number, number] } {
  for (let i = 0; i < 3; i++) [0, 1].forEach((side) => step(side as 0 | 1));
  const times: [number[], number[]] = [[], []];
  const ratios: number[] = [];
  for (let i = 0; i < pairs; i++) {
    const t: number[] = [];
    for (const side of i % 2 === 0 ? [0, 1] : [1, 0]) t[side] = step(side as 0 | 1);
    times[0].push(t[0]!);
    times[1].push(t[1]!);
    ratios.push(t[1]! / t[0]!);
  }
  const at = (v: number[], q: number) => [...v].sort((a, b) => a - b)[Math.floor(q * v.length)]!;
  return {
    median: [at(times[0], 0.5), at(times[1], 0.5)],
    ratio: at(ratios, 0.5),
    quartiles: [at(ratios, 0.25), at(ratios, 0.75)],
  };
}
