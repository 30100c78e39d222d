export { describeBackend, selectBackend, type BackendPreference } from './backend.js';
export { registerCpuTrainingKernels } from './cpu.js';
export { registerWasmTrainingKernels } from './wasm.js';
