/**
 * The package's Node entry (`import 'weight-prediction'` under Node): the browser-safe core of
 * src/index.ts, with the native addon registered as its accelerator (loaded on first use; see
 * src/kernels/native.ts). Bundlers for the browser take src/index.ts instead.
 */
import { registerNativeAddon } from './kernels/native.js';

registerNativeAddon();

export * from './index.js';
export { NATIVE_ENV, nativeUnavailableReason, setNativeKernelsEnabled } from './kernels/native.js';
