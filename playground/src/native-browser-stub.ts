/**
 * TEMPORARY (until issue 13's browser-safe core is merged): src/kernels/native.ts reaches node:fs,
 * node:module, node:path and node:url to load the native addon, which a browser bundle cannot
 * resolve. The playground's Vite config and the browser tests' esbuild plugin swap that module for
 * this one, which says the addon is absent — as it always is in a browser.
 */
import type { NativeKernels } from '../../src/kernels/native.js';

export type { NativeKernels };
export const NATIVE_ENV = 'WEIGHT_PREDICTION_NATIVE';

export function nativeKernels(): NativeKernels | null {
  return null;
}

export function nativeUnavailableReason(): string | null {
  return 'no native addon in a browser';
}

export function setNativeKernelsEnabled(_on: boolean): void {}
