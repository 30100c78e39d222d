import { setNativeKernelsEnabled } from '../../src/kernels/native.js';
import { defineWasmKernelTests } from './wasm-suite.js';

// The JS / XNNPACK kernels alone: the fallback when the native addon is absent.
defineWasmKernelTests('without the native addon', () => setNativeKernelsEnabled(false));
