/**
 * Starts a TF.js backend in the worker: the one asked for, else the next that initialises (in the
 * order webgl, wasm, cpu), saying which failed and why. wasm and cpu get the package's training
 * kernels through its `selectBackend`, exactly as in Node.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { describeBackend, selectBackend } from 'weight-prediction';
import { BACKENDS, type Backend } from './settings.js';

export interface BackendChoice {
  backend: Backend;
  /** describeBackend()'s line, e.g. "wasm (SIMD on, 1 thread), native addon off: …". */
  description: string;
  /** One line per backend that failed before this one. */
  fallbacks: string[];
}

async function start(backend: Backend, wasmBase: string): Promise<void> {
  if (backend === 'webgl') {
    // setBackend resolves false (and logs) when no WebGL context can be made.
    if (!(await tf.setBackend('webgl'))) throw new Error('no WebGL context could be created');
    await tf.ready();
    return;
  }
  if (backend === 'wasm') setWasmPaths(wasmBase);
  await selectBackend(backend);
}

export async function startBackend(requested: Backend, wasmBase: string): Promise<BackendChoice> {
  const order = [requested, ...BACKENDS.filter((b) => b !== requested)];
  const fallbacks: string[] = [];
  for (const [i, backend] of order.entries()) {
    try {
      await start(backend, wasmBase);
      return { backend, description: describeBackend(), fallbacks };
    } catch (e) {
      const next = order[i + 1];
      fallbacks.push(
        `Backend ${backend} failed to initialise (${(e as Error).message})` +
          (next ? `; falling back to ${next}.` : '.'),
      );
    }
  }
  throw new Error(`No TF.js backend could start: ${fallbacks.join(' ')}`);
}
