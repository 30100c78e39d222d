import { defineWasmKernelTests } from './wasm-suite.js';

// With the native addon's matmul and convolution kernels on top when it is built.
defineWasmKernelTests('native addon when built');
