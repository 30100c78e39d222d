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
import { STEP_MODELS, stepModel, stepSetup } from './steps.js';

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
const step = (build: number): number => {
  current = builds[build]!;
  const t0 = performance.now();
  const l = optimizer.minimize(loss, true, variables)!;
  l.dataSync();
  l.dispose();
  return performance.now() - t0;
};
for (let i = 0; i < 3; i++) [0, 1].forEach(step);
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
console.log(`${which} on ${describeBackend()}, ${ratios.length} pairs`);
console.log(
  `old ${median(times[0]).toFixed(1)} ms, new ${median(times[1]).toFixed(1)} ms; ` +
    `new/old time, median of pairs ${median(ratios).toFixed(3)}`,
);
