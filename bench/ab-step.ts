/**
 * Paired, interleaved A/B of whole training steps in one process: `tsx bench/ab-step.ts
 * <old.node> <new.node> [model] [pairs]` (a step of bench/steps.ts, resnet by default). The two
 * addon builds' kernels take turns behind one registered accelerator (the model, batch and
 * optimizer are shared), one step each per pair, alternating which goes first, so drift and load
 * from other processes fall on both alike. Prints the median step of each and the median of the
 * per-pair time ratios (new / old).
 */
import { createRequire } from 'node:module';
import { registerAccelerator, type NativeKernels } from '../src/accelerator.js';
import { describeBackend, selectBackend } from '../src/kernels/backend.js';
import { AdamW } from '../src/optimizers/index.js';
import { pairedSteps, STEP_MODELS, stepModel, stepSetup } from './steps.js';

const [oldFile, newFile, modelName = 'resnet', pairsText = '30'] = process.argv.slice(2);
if (oldFile === undefined || newFile === undefined) {
  console.error(
    `usage: tsx bench/ab-step.ts <old.node> <new.node> [${STEP_MODELS.join('|')}] [pairs]`,
  );
  process.exit(2);
}
const require = createRequire(import.meta.url);
const builds = [require(oldFile) as NativeKernels, require(newFile) as NativeKernels];
let current = builds[0]!;
const proxy = new Proxy({} as NativeKernels, {
  get: (_, name) => {
    const f = (current as unknown as Record<string | symbol, unknown>)[name];
    return typeof f === 'function'
      ? (...args: unknown[]) =>
          (current as unknown as Record<string | symbol, (...a: unknown[]) => unknown>)[name]!(
            ...args,
          )
      : f;
  },
});
registerAccelerator(() => ({ kernels: proxy, error: null }));
await selectBackend('wasm');

const which = stepModel(modelName, 'ab-step');
const { loss, variables } = stepSetup(which);
const optimizer = new AdamW({ learningRate: 1e-3, predictionSteps: 1 });
const step = (build: 0 | 1): number => {
  current = builds[build]!;
  const t0 = performance.now();
  const l = optimizer.minimize(loss, true, variables)!;
  l.dataSync();
  l.dispose();
  return performance.now() - t0;
};
const result = pairedSteps(step, Number(pairsText));
console.log(`${which} on ${describeBackend()}, ${pairsText} pairs`);
console.log(
  `old ${result.median[0].toFixed(1)} ms, new ${result.median[1].toFixed(1)} ms; ` +
    `new/old time, median of pairs ${result.ratio.toFixed(3)} ` +
    `(quartiles ${result.quartiles[0].toFixed(3)}–${result.quartiles[1].toFixed(3)})`,
);
