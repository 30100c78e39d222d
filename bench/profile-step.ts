/**
 * Where a training step's time goes, per TF.js kernel: `npm run profile -- <mlp|vgg|resnet|lstm|transformer>
 * [wasm|cpu]`. One AdamW (s = 1) step on a fixed random batch, after warm-up, through tf.profile.
 * Kernel times include nested kernels (an op's wrapper contains its kernels), so the column is
 * not additive; the steady step time is printed first.
 */
import * as tf from '@tensorflow/tfjs';
import { describeBackend, selectBackend, type BackendPreference } from '../src/kernels/backend.js';
import { AdamW } from '../src/optimizers/index.js';
import { stepModel, stepSetup } from './steps.js';

const which = stepModel(process.argv[2] ?? 'vgg', 'profile');
await selectBackend((process.argv[3] ?? 'wasm') as BackendPreference);

const { loss, variables } = stepSetup(which);
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
