import { nativeKernels } from '../../src/kernels/native.js';
import { defineWasmKernelTests } from './wasm-suite.js';

// With the native addon's matmul and convolution kernels on top when it is built, on 2 threads
// (the tests otherwise run with one: see vitest.config.ts) so the work splitting is covered.
defineWasmKernelTests('native addon when built', () => void nativeKernels()?.setThreads(2));
