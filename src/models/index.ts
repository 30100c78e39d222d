export type { RecurrentLanguageModel, SequenceLanguageModel } from './types.js';
export { buildMlp, MLP_ACTIVATIONS, type MlpActivation, type MlpOptions } from './mlp.js';
export { buildVggCnn, type VggCnnOptions } from './vgg.js';
export { buildResNet, type ResNetOptions } from './resnet.js';
export { buildLstmLanguageModel, type LstmLanguageModelOptions } from './lstm.js';
export {
  buildTransformerLanguageModel,
  type TransformerLanguageModel,
  type TransformerLanguageModelOptions,
} from './transformer.js';
export {
  causalMask,
  gelu,
  LayerNorm,
  layerNorm,
  PositionEmbedding,
  TransformerBlock,
  type LayerNormArgs,
  type PositionEmbeddingArgs,
  type TransformerBlockArgs,
} from './transformer-layers.js';
export {
  SeededDropout,
  setDropoutSeed,
  getDropoutState,
  setDropoutState,
  type DropoutState,
  type SeededDropoutArgs,
} from './dropout.js';
export {
  TiedOutputProjection,
  ZeroPadShortcut,
  type TiedOutputProjectionArgs,
  type ZeroPadShortcutArgs,
} from './layers.js';
export {
  ExplicitStateLstm,
  LstmOutput,
  type ExplicitStateLstmArgs,
  type LstmOutputArgs,
} from './lstm-layer.js';
export { countParameters, weightNames } from './params.js';
export { deriveSeed } from './seeds.js';
