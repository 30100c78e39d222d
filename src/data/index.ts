export type { ImageClassificationDataset, ImageSplit, LanguageModelCorpus } from './types.js';
export { Rng } from './rng.js';
export { parseIdx, readIdxFile, type IdxArray, type IdxDtype } from './idx.js';
export type { SplitLimits } from './util.js';
export {
  DEFAULT_FASHION_MNIST_DIR,
  FASHION_MNIST_CLASS_NAMES,
  MNIST_CLASS_NAMES,
  loadFashionMnist,
  loadIdxImageFolder,
  loadMnist,
  mnistDataDir,
} from './mnist.js';
export { CIFAR10_CLASS_NAMES, loadCifar10, loadCifar100, type Cifar100Options } from './cifar.js';
export {
  DEFAULT_VOCAB_SIZE,
  EOS,
  NUM,
  UNK,
  buildCorpus,
  buildVocab,
  corpusFromDocuments,
  corpusStats,
  documentLines,
  encodeLines,
  splitDocumentLines,
  splitSentences,
  tokenizePtb,
  tokenizeWhitespace,
  type Segmentation,
  type SplitLines,
  type Tokenization,
  type VocabOptions,
} from './text.js';
export {
  defaultGutenbergBooks,
  gutenbergBookNames,
  loadGutenbergCorpus,
  loadSotuCorpus,
  loadTextCorpus,
  type CorpusOptions,
  type GutenbergOptions,
  type SotuOptions,
  type TextCorpusOptions,
} from './corpora.js';
export {
  augmentBatch,
  batchify,
  bpttWindow,
  bpttWindowCount,
  bpttWindows,
  channelStats,
  classificationBatches,
  imagesToFloat,
  type AugmentOptions,
  type Batchified,
  type BpttWindow,
  type ChannelStats,
  type ClassificationBatch,
  type ClassificationBatchOptions,
  type ClassificationEpoch,
} from './batching.js';
export {
  DEFAULT_CIFAR10_JPEG_DIR,
  defaultCifar10JpegDir,
  loadCifar10Jpeg,
  loadImageFolder,
  type Cifar10JpegOptions,
  type ImageFolderLoadInfo,
  type ImageFolderOptions,
} from './image-folder.js';
export {
  DEFAULT_KNESER_NEY_DISCOUNT,
  kneserNeyBaseline,
  kneserNeyPerplexity,
  trainKneserNeyBigram,
  type KneserNeyBaseline,
  type KneserNeyBigram,
  type KneserNeyOptions,
} from './kneser-ney.js';
export { CACHE_ENV, resolveCacheDir } from './cache.js';
