// Node-only (files, checkpoints): training here uses the native addon when it is built.
import { registerNativeAddon } from '../kernels/native.js';

registerNativeAddon();

export * from './log-format.js';
export {
  train,
  checkTrainOptions,
  CHECKPOINT_FILE,
  type TaskAdapter,
  type TrainBatch,
  type TrainOptions,
  type TrainResult,
} from './loop.js';
export {
  trainClassifier,
  classificationLoss,
  type Augmentation,
  type ClassifierTrainOptions,
} from './classification.js';
export {
  trainLanguageModel,
  languageModelLoss,
  type LanguageModelTrainOptions,
} from './language-model.js';
export {
  CHECKPOINT_MAGIC,
  CHECKPOINT_VERSION,
  configHash,
  stableStringify,
  encodeCheckpoint,
  decodeCheckpoint,
  saveCheckpoint,
  loadCheckpoint,
  validateCheckpoint,
  modelVariableSpecs,
  type CheckpointExpectation,
  type CheckpointState,
  type NamedArray,
} from './checkpoint.js';
export { writeFileAtomic, ensureWritableDir, JsonLinesWriter } from '../files.js';
export { createProgress, type ProgressDisplay, type ProgressMode } from './progress.js';
