import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from '../../src/kernels/index.js';
import {
  buildLstmLanguageModel,
  buildMlp,
  buildResNet,
  buildVggCnn,
  SeededDropout,
  setDropoutSeed,
  type RecurrentLanguageModel,
} from '../../src/models/index.js';
import {
  classificationLoss,
  expectTrainingWorks,
  randomBatch,
  trainableVariables,
  trainWithAdam,
} from './helpers.js';

beforeAll(async () => {
  registerWasmTrainingKernels(); // the stock wasm backend lacks conv and embedding gradients
  expect(await tf.setBackend('wasm')).toBe(true);
  expect(tf.getBackend()).toBe('wasm');
});

function lmBatch(): { inputs: tf.Tensor2D; targets: tf.Tensor1D } {
  return tf.tidy(() => {
    const tokens = tf.cast(tf.floor(tf.randomUniform([4, 9], 0, 20, 'float32', 7)), 'int32');
    return {
      inputs: tf.slice(tokens, [0, 0], [4, 8]) as tf.Tensor2D,
      targets: tf.reshape(tf.slice(tokens, [0, 1], [4, 8]), [-1]) as tf.Tensor1D,
    };
  });
}

function lmLoss(lm: RecurrentLanguageModel, inputs: tf.Tensor2D, targets: tf.Tensor1D) {
  return () =>
    tf.tidy(() => {
      const state = lm.zeroState(inputs.shape[0]);
      const [logits] = lm.model.apply([inputs, ...state], { training: true }) as tf.Tensor[];
      const flat = tf.reshape(logits as tf.Tensor, [-1, lm.vocabSize]);
      return tf.losses.softmaxCrossEntropy(tf.oneHot(targets, lm.vocabSize), flat) as tf.Scalar;
    });
}

describe('builders on the wasm backend', () => {
  it('SeededDropout draws the same masks as on the cpu backend', async () => {
    const layer = new SeededDropout({ rate: 0.5 });
    const draw = () =>
      tf.tidy(() => (layer.apply(tf.ones([500]), { training: true }) as tf.Tensor).dataSync());
    setDropoutSeed(9);
    const onWasm = [draw(), draw()];
    await tf.setBackend('cpu');
    setDropoutSeed(9);
    const onCpu = [draw(), draw()];
    await tf.setBackend('wasm');
    expect(onWasm).toEqual(onCpu);
    expect(onWasm[0]).not.toEqual(onWasm[1]);
  });

  it('MLP: forward and training', () => {
    setDropoutSeed(1);
    const model = buildMlp({
      inputShape: [12],
      hiddenUnits: [32],
      numClasses: 4,
      dropout: 0.2,
      seed: 2,
    });
    const { x, labels } = randomBatch([16, 12], 4, 5);
    tf.tidy(() => {
      expect((model.predict(x) as tf.Tensor).shape).toEqual([16, 4]);
    });
    const result = trainWithAdam(
      trainableVariables(model),
      classificationLoss(model, x, labels, 4),
      30,
    );
    expectTrainingWorks(result, 0.5);
    tf.dispose([x, labels]);
    model.dispose();
  });

  it.for([
    [
      'VGG',
      () =>
        buildVggCnn({
          inputShape: [8, 8, 3],
          numClasses: 4,
          widths: [4, 8],
          denseUnits: 16,
          seed: 2,
        }),
    ],
    [
      'ResNet-8',
      () => buildResNet({ inputShape: [8, 8, 3], numClasses: 4, depth: 8, width: 4, seed: 2 }),
    ],
  ] as const)('%s: forward and training', ([, build]) => {
    const model = build();
    const { x, labels } = randomBatch([8, 8, 8, 3], 4, 9);
    try {
      tf.tidy(() => {
        expect((model.predict(x) as tf.Tensor).shape).toEqual([8, 4]);
      });
      {
        const result = trainWithAdam(
          trainableVariables(model),
          classificationLoss(model, x, labels, 4),
          15,
        );
        expectTrainingWorks(result, 0.5);
      }
    } finally {
      tf.dispose([x, labels]);
      model.dispose();
    }
  });

  it.for([false, true])('LSTM LM (tied %s): forward and training', (tieWeights) => {
    setDropoutSeed(2);
    const lm = buildLstmLanguageModel({
      vocabSize: 20,
      embeddingSize: 8,
      hiddenSize: 8,
      layers: 2,
      dropout: 0.1,
      tieWeights,
      seed: 3,
    });
    const { inputs, targets } = lmBatch();
    const loss = lmLoss(lm, inputs, targets);
    try {
      tf.tidy(() => {
        const out = lm.model.predict([inputs, ...lm.zeroState(4)]) as tf.Tensor[];
        expect(out.map((t) => t.shape)).toEqual([
          [4, 8, 20],
          [4, 8],
          [4, 8],
          [4, 8],
          [4, 8],
        ]);
      });
      {
        const result = trainWithAdam(trainableVariables(lm.model), loss, 80, 0.03);
        expectTrainingWorks(result, 0.7);
      }
    } finally {
      tf.dispose([inputs, targets]);
      lm.model.dispose();
    }
  });
});
