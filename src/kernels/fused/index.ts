export { adamFusedKernel } from './adam.js';
export { lionFusedKernel } from './lion.js';
export { nadamFusedKernel } from './nadam.js';
export { FusedSteps, type FusedStep } from './steps.js';
export { fusedBackend, type FusedBackend } from './storage.js';
export {
  fusedKernelOf,
  withFusedKernel,
  type FusedRuleKernel,
  type RuleWithFusedKernel,
} from './types.js';
