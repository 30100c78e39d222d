/**
 * Paired, interleaved A/B of whole training steps in one process, with and without some of our
 * kernels: `tsx bench/ab-kernels.ts <mlp|vgg|resnet|lstm|transformer> <pairs> <kernel>[,<kernel>…]`. "Without" has the
 * named kernels replaced by the wasm backend's stock ones (or, for our own kernel names,
 * unregistered, so that their ops take the stock path they fall back to), "with" has ours; the model, batch and optimizer are shared, one step each
 * per pair, alternating which goes first. Prints the median step of each and the median of the
 * per-pair time ratios (with / without).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describeBackend, selectBackend } from '../src/kernels/backend.js';
import { registerNativeAddon } from '../src/kernels/native.js';
import { AdamW } from '../src/optimizers/index.js';
import { pairedSteps, stepModel, stepSetup } from './steps.js';

const [which = 'resnet', pairsText = '30', names = ''] = process.argv.slice(2);
const kernels = names.split(',').filter((n) => n !== '');
// The stock kernels, registered by importing the wasm backend, before ours replace them.
const stock = new Map(kernels.map((name) => [name, tf.getKernel(name, 'wasm')]));
registerNativeAddon();
await selectBackend('wasm');
const ours = new Map(
  kernels.map((name) => {
    const config = tf.getKernel(name, 'wasm');
    if (config === undefined) throw new Error(`ab-kernels: no kernel '${name}' on wasm`);
    return [name, config];
  }),
);
const setKernels = (on: boolean) => {
  for (const name of kernels) {
    const config = (on ? ours : stock).get(name);
    if (tf.getKernel(name, 'wasm') === config) continue;
    if (tf.getKernel(name, 'wasm') !== undefined) tf.unregisterKernel(name, 'wasm');
    if (config !== undefined) tf.registerKernel(config);
  }
};

const { loss, variables } = stepSetup(stepModel(which, 'ab-kernels'));
const optimizer = new AdamW({ learningRate: 1e-3, predictionSteps: 1 });
const step = (on: 0 | 1): number => {
  setKernels(on === 1);
  const t0 = performance.now();
  const l = optimizer.minimize(loss, true, variables)!;
  l.dataSync();
  l.dispose();
  return performance.now() - t0;
};
// One step of each first: the optimizer's slots are made then, not counted as a leak.
step(0);
step(1);
const before = tf.memory().numTensors;
const result = pairedSteps(step, Number(pairsText));
console.log(`${which} on ${describeBackend()}, ${pairsText} pairs, toggling ${kernels.join(', ')}`);
console.log(
  `without ${result.median[0].toFixed(1)} ms, with ${result.median[1].toFixed(1)} ms; ` +
    `with/without time, median of pairs ${result.ratio.toFixed(3)} ` +
    `(quartiles ${result.quartiles[0].toFixed(3)}–${result.quartiles[1].toFixed(3)}); ` +
    `tensors ${before} → ${tf.memory().numTensors}`,
);
