/**
 * The optional native addon (build/Release/weight_prediction.node, built by `npm install` /
 * `npm ci` with node-gyp against OpenBLAS), registered as the accelerator by the package's Node
 * entries (src/node.ts; the CLI and `weight-prediction/training` through it). It runs the fused
 * optimizer loops and the matmul and convolution kernels in C++ on all cores, directly on the cpu
 * backend's arrays or the wasm heap. When it is absent (no compiler, no OpenBLAS, install scripts
 * not run) or disabled with WEIGHT_PREDICTION_NATIVE=0, everything falls back to the JS loops and
 * the wasm kernels. Node-only: the core reaches the addon through src/kernels/accelerator.ts.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  accelerator,
  acceleratorUnavailableReason,
  hasAcceleratorProvider,
  registerAccelerator,
  setAcceleratorEnabled,
  type AcceleratorLoad,
  type NativeKernels,
} from '../accelerator.js';

export type { NativeKernels };

/** The environment variable that switches the addon off (`0`, `false` or `off`). */
export const NATIVE_ENV = 'WEIGHT_PREDICTION_NATIVE';

/** The package root: this file is src/kernels/native.ts or dist/kernels/native.js. */
function packageRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

function load(): AcceleratorLoad {
  const file = join(packageRoot(), 'build', 'Release', 'weight_prediction.node');
  if (!existsSync(file)) return { kernels: null, error: `${file} is not built` };
  try {
    return { kernels: createRequire(import.meta.url)(file) as NativeKernels, error: null };
  } catch (e) {
    return { kernels: null, error: `${file} failed to load: ${(e as Error).message}` };
  }
}

/**
 * Registers the addon as the accelerator (loaded lazily, on first use), unless one is registered
 * already; WEIGHT_PREDICTION_NATIVE=0 registers it switched off.
 */
export function registerNativeAddon(): void {
  if (hasAcceleratorProvider()) return;
  registerAccelerator(load);
  if (['0', 'false', 'off'].includes((process.env[NATIVE_ENV] ?? '').toLowerCase())) {
    setAcceleratorEnabled(false);
  }
}

/** The addon when it is built, loads and is enabled; else null. */
export function nativeKernels(): NativeKernels | null {
  registerNativeAddon();
  return accelerator();
}

/** Why the addon is not in use (for logs), or null when it is. */
export function nativeUnavailableReason(): string | null {
  registerNativeAddon();
  return acceleratorUnavailableReason();
}

/**
 * Switches the addon on or off for the optimizer loops from now on (benchmarks and tests compare
 * both paths). Kernels already registered on a backend keep the choice made at registration.
 */
export function setNativeKernelsEnabled(on: boolean): void {
  registerNativeAddon();
  setAcceleratorEnabled(on);
}
