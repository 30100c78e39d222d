// Tests import the package's modules directly, as the Node entry (src/node.ts) would load them:
// with the native addon registered as the accelerator.
import { registerNativeAddon } from '../src/kernels/native.js';

registerNativeAddon();
