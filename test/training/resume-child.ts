/**
 * Child process for the kill-and-resume test: trains a tiny model with frequent checkpoints and,
 * when it finishes, writes the final weights to `<outDir>/final-weights.json`.
 *
 * usage: node --import tsx test/training/resume-child.ts <classifier|lm> <outDir> <fresh|resume> [stepDelayMs]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { AdamW } from '../../src/optimizers/index.js';
import { trainClassifier, trainLanguageModel } from '../../src/training/index.js';
import type { Augmentation, TrainResult } from '../../src/training/index.js';
import { syntheticCorpus, syntheticImages, tinyLstm, tinyMlp } from './fixtures.js';

const [task, outDir, mode, delay] = process.argv.slice(2);
if (
  !outDir ||
  (task !== 'classifier' && task !== 'lm') ||
  (mode !== 'fresh' && mode !== 'resume')
) {
  throw new Error('usage: resume-child.ts <classifier|lm> <outDir> <fresh|resume> [stepDelayMs]');
}
const stepDelayMs = Number(delay ?? 0);

const brightness: Augmentation = (images, _count, _shape, rng) => {
  for (let i = 0; i < images.length; i++) images[i] = images[i]! * (0.9 + 0.2 * rng.nextFloat());
};

await tf.setBackend('cpu');
const common = {
  outDir,
  seed: 4,
  checkpointEvery: 2,
  logEvery: 1,
  resume: mode === 'resume',
  progress: 'none' as const,
  // Slows the run so the parent can kill it between any two steps.
  onStep: () => new Promise<void>((r) => setTimeout(r, stepDelayMs)),
};
let model: tf.LayersModel;
let result: TrainResult;
if (task === 'classifier') {
  model = tinyMlp(3, 0.2);
  result = await trainClassifier({
    ...common,
    model,
    data: syntheticImages(),
    // Predicting weights exercises the optimizer's full state in the checkpoint.
    optimizer: new AdamW({ learningRate: 0.02, predictionSteps: 1 }),
    epochs: 4,
    batchSize: 16,
    augment: brightness,
  });
} else {
  const lm = tinyLstm(2, 0.2);
  model = lm.model;
  result = await trainLanguageModel({
    ...common,
    model: lm,
    corpus: syntheticCorpus(),
    optimizer: new AdamW({ learningRate: 0.01, predictionSteps: 1 }),
    epochs: 3,
    batchSize: 4,
    bptt: 10,
    evalBatchSize: 4,
  });
}
const weights = model.weights.map((w) => ({
  name: w.originalName,
  values: Array.from(w.read().dataSync()),
}));
fs.writeFileSync(
  path.join(outDir, 'final-weights.json'),
  JSON.stringify({ weights, steps: result.summary.steps }),
);
