export { adamFusedKernel } from './adam.js';
export { FusedSteps, type FusedStep } from './steps.js';
export { fusedBackend, type FusedBackend } from './storage.js';
export {
  fusedKernelOf,
  withFusedKernel,
  type FusedRuleKernel,
  type RuleWithFusedKernel,
} from './types.js';
