/**
 * The package in a page, as a user bundles it: `import { AdamW } from 'weight-prediction'`.
 * Fits a small linear regression with AdamW and weight prediction (s = 1) on the backend named
 * in the URL, and writes the losses into the page.
 *
 * Bundle it (any bundler; esbuild here), then serve the folder with the TF.js wasm binaries:
 *   npx esbuild examples/browser/main.ts --bundle --format=esm --outfile=<dir>/main.js
 *   cp node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm <dir>/
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { AdamW, describeBackend } from 'weight-prediction';

const result = document.getElementById('result') as HTMLElement;

async function main(): Promise<void> {
  const backend = new URLSearchParams(location.search).get('backend') ?? 'webgl';
  if (backend === 'wasm') setWasmPaths(new URL('./', location.href).href);
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend '${backend}' did not start`);

  // y = x·w_true + 0.5 over 256 fixed points, fitted from zero.
  const x = tf.randomNormal([256, 8], 0, 1, 'float32', 1);
  const y = tf.tidy(() => tf.add(tf.matMul(x, tf.linspace(-1, 1, 8).reshape([8, 1])), 0.5));
  const w = tf.variable(tf.zeros([8, 1]), true, 'w');
  const b = tf.variable(tf.zeros([1]), true, 'b');
  const optimizer = new AdamW({ learningRate: 0.05, predictionSteps: 1 });
  const loss = () => tf.losses.meanSquaredError(y, tf.add(tf.matMul(x, w), b)) as tf.Scalar;

  const losses: number[] = [];
  for (let step = 0; step < 200; step++) {
    const cost = optimizer.minimize(loss, true, [w, b]) as tf.Scalar;
    losses.push((await cost.data())[0] as number);
    cost.dispose();
  }
  const summary = {
    backend: tf.getBackend(),
    // Which loops ran the optimizer steps (on wasm: the package's WebAssembly SIMD ones).
    description: describeBackend(),
    firstLoss: losses[0],
    lastLoss: losses[losses.length - 1],
    steps: losses.length,
  };
  result.textContent = JSON.stringify(summary);
  result.dataset['state'] = 'done';
}

main().catch((e: unknown) => {
  result.textContent = e instanceof Error ? e.message : String(e);
  result.dataset['state'] = 'error';
});
