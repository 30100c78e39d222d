/**
 * Paired, interleaved A/B of whole training steps in one process, with and without some of our
 * kernels: `tsx bench/ab-kernels.ts <resnet|vgg> <pairs> <kernel>[,<kernel>…]`. "Without" has the
 * named kernels replaced by the wasm backend's stock ones (or, for our own kernel names,
 * unregistered, so that their ops take the stock path they fall back to), "with" has ours; the model, batch and optimizer are shared, one step each
 * per pair, alternating which goes first. Prints the median step of each and the median of the
 * per-pair time ratios (with / without).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describeBackend, selectBackend } from '../src/kernels/backend.js';
import { registerNativeAddon } from '../src/kernels/native.js';
import { buildResNet, buildVggCnn } from '../src/models/index.js';
import { AdamW } from '../src/optimizers/index.js';
import { classificationLoss } from '../src/training/index.js';

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

const [model, shape] =
  which === 'vgg'
    ? [buildVggCnn({ inputShape: [32, 32, 3], numClasses: 10, seed: 1 }), [32, 32, 3]]
    : [buildResNet({ inputShape: [28, 28, 1], numClasses: 10, depth: 8, seed: 1 }), [28, 28, 1]];
const x = tf.randomNormal([64, ...shape], 0, 1, 'float32', 7);
const y = tf.tensor1d(
  Array.from({ length: 64 }, (_, i) => i % 10),
  'int32',
);
const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
const optimizer = new AdamW({ learningRate: 1e-3, predictionSteps: 1 });
const loss = () => classificationLoss(model.apply(x, { training: true }) as tf.Tensor, y, 10);
const step = (on: number): number => {
  setKernels(on === 1);
  const t0 = performance.now();
  const l = optimizer.minimize(loss, true, variables)!;
  l.dataSync();
  l.dispose();
  return performance.now() - t0;
};
for (let i = 0; i < 3; i++) [0, 1].forEach(step);
const before = tf.memory().numTensors;
const times: [number[], number[]] = [[], []];
const ratios: number[] = [];
for (let i = 0; i < Number(pairsText); i++) {
  const order = i % 2 === 0 ? [0, 1] : [1, 0];
  const t: number[] = [];
  for (const b of order) t[b] = step(b);
  times[0].push(t[0]!);
  times[1].push(t[1]!);
  ratios.push(t[1]! / t[0]!);
}
const median = (v: number[]) => [...v].sort((p, q) => p - q)[v.length >> 1]!;
console.log(
  `${which} on ${describeBackend()}, ${ratios.length} pairs, toggling ${kernels.join(', ')}`,
);
console.log(
  `without ${median(times[0]).toFixed(1)} ms, with ${median(times[1]).toFixed(1)} ms; ` +
    `with/without time, median of pairs ${median(ratios).toFixed(3)} ` +
    `(quartiles ${[...ratios].sort((p, q) => p - q)[ratios.length >> 2]!.toFixed(3)}–` +
    `${[...ratios].sort((p, q) => p - q)[(3 * ratios.length) >> 2]!.toFixed(3)}); ` +
    `tensors ${before} → ${tf.memory().numTensors}`,
);
