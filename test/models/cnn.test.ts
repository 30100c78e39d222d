import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import {
  buildResNet,
  buildVggCnn,
  countParameters,
  setDropoutSeed,
  weightNames,
  ZeroPadShortcut,
} from '../../src/models/index.js';
import {
  classificationLoss,
  expectDifferentRandomWeights,
  expectSameWeights,
  expectTrainingWorks,
  randomBatch,
  trainableVariables,
  trainWithAdam,
} from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// The cpu backend's conv filter gradient is a naive loop: keep images and widths tiny.
const tinyVgg = { inputShape: [8, 8, 3] as [number, number, number], numClasses: 4 };
const tinyResNet = { ...tinyVgg, depth: 8, width: 4 };

describe('buildVggCnn', () => {
  it('maps NHWC images to [batch, numClasses] logits', () => {
    const model = buildVggCnn({ ...tinyVgg, widths: [4, 8], denseUnits: 6, seed: 1 });
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      expect((model.predict(tf.ones([2, 8, 8, 3])) as tf.Tensor).shape).toEqual([2, 4]);
    });
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('has the documented parameter counts', () => {
    const cifar = buildVggCnn({ inputShape: [32, 32, 3], numClasses: 10, seed: 0 });
    const convs =
      3 * 9 * 32 + 32 * 9 * 32 + 32 * 9 * 64 + 64 * 9 * 64 + 64 * 9 * 128 + 128 * 9 * 128;
    const bn = 2 * (32 + 32 + 64 + 64 + 128 + 128);
    expect(countParameters(cifar)).toBe(convs + bn + (4 * 4 * 128 + 1) * 128 + 129 * 10);
    expect(countParameters(cifar)).toBe(551_018);
    expect(countParameters(cifar, 'all')).toBe(551_018 + bn);
    cifar.dispose();
    // Without BatchNorm the convolutions get biases; no hidden dense layer.
    const plain = buildVggCnn({
      ...tinyVgg,
      widths: [4, 8],
      convsPerBlock: 1,
      denseUnits: 0,
      batchNorm: false,
      seed: 0,
    });
    expect(countParameters(plain, 'all')).toBe(3 * 9 * 4 + 4 + 4 * 9 * 8 + 8 + (2 * 2 * 8 + 1) * 4);
    plain.dispose();
  });

  it('is reproducible from its seed, with stable names', () => {
    const opts = { ...tinyVgg, widths: [4, 8], denseUnits: 6 };
    const a = buildVggCnn({ ...opts, seed: 3 });
    const b = buildVggCnn({ ...opts, seed: 3 });
    const c = buildVggCnn({ ...opts, seed: 4 });
    expectSameWeights(a, b);
    expectDifferentRandomWeights(a, c);
    // model.weights lists the trainable weights first, then the moving statistics.
    expect(weightNames(a).slice(0, 4)).toEqual([
      'block1.conv1/kernel',
      'block1.bn1/gamma',
      'block1.bn1/beta',
      'block1.conv2/kernel',
    ]);
    expect(weightNames(a)).toContain('block2.bn2/moving_variance');
    expect(weightNames(b)).toEqual(weightNames(a));
    expect(weightNames(c)).toEqual(weightNames(a));
    [a, b, c].forEach((m) => m.dispose());
  });

  it('rejects bad options with UserInputError', () => {
    expect(() => buildVggCnn({ ...tinyVgg, widths: [4, 8, 16, 32], seed: 0 })).toThrow(
      /too small for 4 2×2 pools/,
    );
    expect(() => buildVggCnn({ ...tinyVgg, widths: [], seed: 0 })).toThrow(UserInputError);
    expect(() => buildVggCnn({ ...tinyVgg, convsPerBlock: 0, seed: 0 })).toThrow(/convsPerBlock/);
    expect(() =>
      buildVggCnn({
        inputShape: [8, 8] as unknown as [number, number, number],
        numClasses: 2,
        seed: 0,
      }),
    ).toThrow(/\[height, width, channels\]/);
  });

  it('trains with Adam on random data, tensors flat', () => {
    setDropoutSeed(1);
    const model = buildVggCnn({
      ...tinyVgg,
      widths: [4, 8],
      denseUnits: 16,
      dropout: 0.1,
      seed: 2,
    });
    const { x, labels } = randomBatch([8, 8, 8, 3], 4, 9);
    const result = trainWithAdam(
      trainableVariables(model),
      classificationLoss(model, x, labels, 4),
      15,
    );
    expectTrainingWorks(result, 0.5);
    tf.dispose([x, labels]);
    model.dispose();
  });
});

describe('buildResNet', () => {
  it('maps NHWC images to logits, for odd sizes too', () => {
    for (const side of [8, 9]) {
      const model = buildResNet({ ...tinyResNet, inputShape: [side, side, 3], seed: 1 });
      tf.tidy(() => {
        expect((model.predict(tf.ones([2, side, side, 3])) as tf.Tensor).shape).toEqual([2, 4]);
      });
      model.dispose();
    }
  });

  it('has the paper-sized parameter counts', () => {
    const cifar = { inputShape: [32, 32, 3] as [number, number, number], numClasses: 10, seed: 0 };
    const r20 = buildResNet(cifar);
    expect(r20.layers.filter((l) => /conv|logits/.test(l.name))).toHaveLength(20);
    // stem + 3 stages of 3 blocks × 2 convs (+ BN γ, β) + dense
    const conv = (i: number, o: number) => i * 9 * o + 2 * o;
    const expected =
      conv(3, 16) +
      6 * conv(16, 16) +
      conv(16, 32) +
      5 * conv(32, 32) +
      conv(32, 64) +
      5 * conv(64, 64) +
      64 * 10 +
      10;
    expect(countParameters(r20)).toBe(expected);
    expect(countParameters(r20)).toBe(269_722);
    expect(countParameters(r20, 'all') - countParameters(r20)).toBe(1_376);
    r20.dispose();
    const r56 = buildResNet({ ...cifar, depth: 56 });
    expect(countParameters(r56)).toBe(853_018);
    r56.dispose();
    const r20b = buildResNet({ ...cifar, shortcut: 'projection' });
    expect(countParameters(r20b)).toBe(269_722 + 16 * 32 + 2 * 32 + 32 * 64 + 2 * 64);
    r20b.dispose();
  });

  it('requires depth 6n + 2', () => {
    for (const depth of [21, 2, 0, 20.5]) {
      expect(() => buildResNet({ ...tinyResNet, depth, seed: 0 })).toThrow(UserInputError);
    }
    expect(() => buildResNet({ ...tinyResNet, depth: 21, seed: 0 })).toThrow(/6n \+ 2.*got 21/);
  });

  it('is reproducible from its seed, with stable names', () => {
    const a = buildResNet({ ...tinyResNet, seed: 5 });
    const b = buildResNet({ ...tinyResNet, seed: 5 });
    const c = buildResNet({ ...tinyResNet, seed: 6 });
    expectSameWeights(a, b);
    expectDifferentRandomWeights(a, c);
    expect(weightNames(a)).toEqual(weightNames(b));
    expect(weightNames(a)).toContain('stage2.block1.conv1/kernel');
    expect(a.getLayer('stage3.block1.shortcut')).toBeInstanceOf(ZeroPadShortcut);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('zero-pad shortcut is x[:, ::2, ::2, :] with zero channels appended', () => {
    const layer = new ZeroPadShortcut({ strides: 2, filters: 5 });
    for (const [h, w] of [
      [4, 6],
      [5, 3],
    ] as const) {
      tf.tidy(() => {
        const x = tf.randomNormal([2, h, w, 3], 0, 1, 'float32', 1);
        const y = layer.apply(x) as tf.Tensor;
        const xs = x.arraySync() as number[][][][];
        const expected = xs.map((img) =>
          img
            .filter((_, i) => i % 2 === 0)
            .map((row) => row.filter((_, j) => j % 2 === 0).map((px) => [...px, 0, 0])),
        );
        expect(y.shape).toEqual([2, Math.ceil(h / 2), Math.ceil(w / 2), 5]);
        expect(y.arraySync()).toEqual(expected);
      });
    }
  });

  it('survives a save / load round trip (custom layer registered)', async () => {
    const model = buildResNet({ ...tinyResNet, seed: 7 });
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved as tf.io.ModelArtifacts));
    expect(weightNames(loaded)).toEqual(weightNames(model));
    // The models' own wrappers (fused batch norm, add without a copy) are stock layers to a file.
    // (A stock ReLU's unset maxValue comes back as null: compared as JSON with undefined as null.)
    const layers = (m: tf.LayersModel) =>
      JSON.stringify(
        m.layers.map((l) => [l.getClassName(), l.getConfig()]),
        (_, v: unknown) => (v === undefined ? null : v),
      );
    expect(layers(loaded)).toEqual(layers(model));
    expect(new Set(model.layers.map((l) => l.getClassName()))).toEqual(
      new Set([
        'InputLayer',
        'Conv2D',
        'BatchNormalization',
        'ReLU',
        'ZeroPadShortcut',
        'Add',
        'GlobalAveragePooling2D',
        'Dense',
      ]),
    );
    tf.tidy(() => {
      const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 2);
      const diff = tf.sub(model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor);
      expect(tf.max(tf.abs(diff)).dataSync()[0]).toBe(0);
    });
    model.dispose();
    loaded.dispose();
  });

  it('computes no gradient for the input images (the stem conv’s data)', async () => {
    const model = buildResNet({ ...tinyResNet, seed: 9 });
    const { x, labels } = randomBatch([2, 8, 8, 3], 4, 12);
    const convs = model.layers.filter((l) => l.getClassName() === 'Conv2D').length;
    const profile = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(
        classificationLoss(model, x, labels, 4),
        trainableVariables(model),
      );
      tf.dispose([value, ...Object.values(grads)]);
    });
    const count = (name: string) => profile.kernels.filter((k) => k.name === name).length;
    expect(count('Conv2DBackpropFilter')).toBe(convs);
    expect(count('Conv2DBackpropInput')).toBe(convs - 1);
    tf.dispose([x, labels]);
    model.dispose();
  });

  it.each(['zero-pad', 'projection'] as const)(
    'trains with Adam on random data (%s shortcut), tensors flat',
    (shortcut) => {
      const model = buildResNet({ ...tinyResNet, shortcut, seed: 8 });
      const { x, labels } = randomBatch([8, 8, 8, 3], 4, 11);
      const movingMean = model.getLayer('stem.bn').getWeights()[2]?.dataSync().slice();
      const result = trainWithAdam(
        trainableVariables(model),
        classificationLoss(model, x, labels, 4),
        15,
      );
      expectTrainingWorks(result, 0.5);
      // Training-mode passes update the BatchNorm moving statistics...
      const after = model.getLayer('stem.bn').getWeights()[2]?.dataSync().slice();
      expect(after).not.toEqual(movingMean);
      // ...and inference passes do not.
      tf.dispose(model.predict(x));
      expect(model.getLayer('stem.bn').getWeights()[2]?.dataSync()).toEqual(after);
      tf.dispose([x, labels]);
      model.dispose();
    },
  );
});
