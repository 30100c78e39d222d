/**
 * `weight-prediction/kernels` under Node: the kernels of ./index.ts, with the native addon
 * registered as their accelerator before any is registered on a backend.
 */
import { registerNativeAddon } from './native.js';

registerNativeAddon();

export * from './index.js';
