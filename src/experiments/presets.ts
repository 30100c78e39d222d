import type { OptimizerName } from '../optimizers/index.js';

/** Learning-rate schedules a preset or a flag can name; see `buildSchedule` in config.ts. */
export const SCHEDULE_NAMES = ['constant', 'cosine', 'step', 'warmup-cosine'] as const;
export type ScheduleName = (typeof SCHEDULE_NAMES)[number];

export type ImageDatasetName = 'mnist' | 'fashion-mnist' | 'cifar10' | 'cifar100';
export type CorpusName = 'gutenberg' | 'sotu' | 'text';

export interface ImageDataConfig {
  kind: 'image';
  dataset: ImageDatasetName;
  /** Keep the first N training / test images (all when absent). */
  trainLimit?: number;
  testLimit?: number;
  /**
   * Hold out this fraction of the (limited) training images as a validation split, drawn with a
   * fixed seed shared by every run; tuning chooses on it. Absent: no validation split.
   */
  validationFraction?: number;
  /** Random crop with 4-pixel padding and horizontal flip (CIFAR-style). */
  augment: boolean;
  /** Per-channel standardisation with the training split's mean and std. */
  normalize: boolean;
}

export interface TextDataConfig {
  kind: 'text';
  corpus: CorpusName;
  /** At most this many words (besides `<unk>` and `<eos>`): the most frequent in training. */
  vocabSize: number;
  /**
   * Only words seen at least this often in training enter the vocabulary (default 1); the others
   * are `<unk>` in training too (see `buildVocab`).
   */
  minCount?: number;
  /** Gutenberg books to use (default: the 17 books without the Bible). */
  books?: string[];
  /** Keep the first N training tokens (all when absent); the held-out splits stay whole. */
  trainTokens?: number;
  /** Keep the first N validation tokens (all when absent). */
  validTokens?: number;
}

export type ModelConfig =
  | { kind: 'mlp'; hiddenUnits: number[] }
  | { kind: 'vgg'; widths: number[]; convsPerBlock: number; denseUnits: number }
  | { kind: 'resnet'; depth: number; width: number }
  | {
      kind: 'lstm';
      layers: number;
      embeddingSize: number;
      hiddenSize: number;
      dropout: number;
      tieWeights: boolean;
    }
  | {
      kind: 'transformer';
      layers: number;
      width: number;
      heads: number;
      contextLength: number;
      dropout: number;
    };

export interface TrainingRecipe {
  epochs: number;
  /** Images per batch, or parallel token streams for language models. */
  batchSize: number;
  optimizer: OptimizerName;
  learningRate: number;
  schedule: ScheduleName;
  weightDecay: number;
  clipGlobalNorm?: number;
  /** BPTT window for language models. */
  bptt?: number;
}

export interface TaskPreset {
  name: string;
  description: string;
  data: ImageDataConfig | TextDataConfig;
  model: ModelConfig;
  recipe: TrainingRecipe;
}

const mnist = (extra: Partial<ImageDataConfig> = {}): ImageDataConfig => ({
  kind: 'image',
  dataset: 'mnist',
  augment: false,
  normalize: false,
  validationFraction: 0.1,
  ...extra,
});

/**
 * Every Gutenberg preset: at most the 10,000 most frequent training words, and only words seen
 * at least twice, so that `<unk>` occurs in training as in Penn Treebank even where the training
 * text has fewer than 10,000 distinct words (Persuasion: 5,579, all of which a size cap alone
 * would keep, leaving no `<unk>` in training and 3.7% in validation). With 2, the training `<unk>`
 * rate is the share of words seen once (Good–Turing's estimate of the chance of a new word).
 */
const gutenberg = (extra: Partial<TextDataConfig> = {}): TextDataConfig => ({
  kind: 'text',
  corpus: 'gutenberg',
  vocabSize: 10_000,
  minCount: 2,
  ...extra,
});

const lstm = (layers: number, size: number): ModelConfig => ({
  kind: 'lstm',
  layers,
  embeddingSize: size,
  hiddenSize: size,
  dropout: 0.2,
  tieWeights: true,
});

const cifar10 = (extra: Partial<ImageDataConfig> = {}): ImageDataConfig => ({
  kind: 'image',
  dataset: 'cifar10',
  augment: true,
  normalize: true,
  // 5,000 of the 50,000 training images.
  validationFraction: 0.1,
  ...extra,
});

/** Where every CIFAR-10 preset reads its data; see `resolveCifar10Source` in run.ts. */
const CIFAR10_SOURCE =
  'CIFAR-10 from --data-dir (class folders or the official binary batches), else ../shared/datasets/cifar10-jpeg next to the repository';

/**
 * CIFAR-10 presets. All standardise each channel with the training split's mean and std and
 * augment with a random crop (4-pixel zero padding) and a horizontal flip.
 */
const CIFAR10_PRESETS: TaskPreset[] = [
  // Sizes: measured with the wasm backend on this 2-core machine while two other trainings ran
  // (as in `compare --jobs 2`): ResNet-8 w16 ≈ 50 samples/s, ResNet-14 w16 ≈ 28, ResNet-20 w16 ≈ 13,
  // ResNet-8 w8 ≈ 108, VGG 32-64-128 (1 conv per block) ≈ 103, (2 per block) ≈ 44, all without
  // the native addon. cifar10-vgg is sized so its 3-seed AdamW vs s = 1 comparison (6 runs, 2 at a
  // time) takes about 2 h here without the addon; with it, it took 61 min (results/cifar10-vgg).
  // cifar10-resnet took about 1.5 h a run without the addon.
  {
    name: 'cifar10-resnet',
    description: `${CIFAR10_SOURCE}; all 50,000/10,000 images, CIFAR ResNet-8 width 16 (3 stages of 1 basic block, widths 16-32-64, BN), crop+flip, normalised, 5 epochs, batch 128, lr 2e-3 with cosine decay per step, weight decay 5e-4 (about 1.5 h a run here at ~50 samples/s)`,
    data: cifar10(),
    model: { kind: 'resnet', depth: 8, width: 16 },
    recipe: {
      epochs: 5,
      batchSize: 128,
      optimizer: 'adamw',
      learningRate: 2e-3,
      schedule: 'cosine',
      weightDecay: 5e-4,
    },
  },
  {
    name: 'cifar10-vgg',
    description: `${CIFAR10_SOURCE}; all 50,000/10,000 images, VGG-style CNN (conv3x3+BN+ReLU, 1 per block, widths 32-64-128, maxpool, dense 128), crop+flip, normalised, 4 epochs, batch 128, lr 1e-3 with cosine decay per step, weight decay 5e-4 (16–25 min a run here with the native addon, two runs at a time; about 35 min without it)`,
    data: cifar10(),
    model: { kind: 'vgg', widths: [32, 64, 128], convsPerBlock: 1, denseUnits: 128 },
    recipe: {
      epochs: 4,
      batchSize: 128,
      optimizer: 'adamw',
      learningRate: 1e-3,
      schedule: 'cosine',
      weightDecay: 5e-4,
    },
  },
  {
    name: 'cifar10-smoke',
    description: `Smoke test: ${CIFAR10_SOURCE}; first 500/200 images (class-balanced), ResNet-8 width 8, crop+flip, normalised, 1 epoch, batch 50, lr 2e-3 constant, weight decay 5e-4 (seconds a run)`,
    data: cifar10({ trainLimit: 500, testLimit: 200 }),
    model: { kind: 'resnet', depth: 8, width: 8 },
    recipe: {
      epochs: 1,
      batchSize: 50,
      optimizer: 'adamw',
      learningRate: 2e-3,
      schedule: 'constant',
      weightDecay: 5e-4,
    },
  },
];

/**
 * Named tasks mirroring the paper's two families (image classification, LSTM language modelling,
 * plus a Transformer language model)
 * at sizes a 2-core machine trains in minutes to hours. Every field can be overridden by a flag or
 * a JSON config.
 */
export const PRESETS: readonly TaskPreset[] = [
  {
    name: 'mnist-mlp',
    description:
      'MNIST (60k/10k), MLP 784-256-256-10 (ReLU), 5 epochs, batch 128, lr 1e-3 with cosine decay per step, weight decay 1e-2',
    data: mnist(),
    model: { kind: 'mlp', hiddenUnits: [256, 256] },
    recipe: {
      epochs: 5,
      batchSize: 128,
      optimizer: 'adamw',
      learningRate: 1e-3,
      schedule: 'cosine',
      weightDecay: 1e-2,
    },
  },
  {
    name: 'mnist-tiny',
    description:
      'Smoke test: first 2,000/500 MNIST images, MLP 784-32-10, 2 epochs, batch 64, lr 2e-3 constant',
    data: mnist({ trainLimit: 2000, testLimit: 500 }),
    model: { kind: 'mlp', hiddenUnits: [32] },
    recipe: {
      epochs: 2,
      batchSize: 64,
      optimizer: 'adamw',
      learningRate: 2e-3,
      schedule: 'constant',
      weightDecay: 1e-2,
    },
  },
  {
    name: 'mnist-cnn',
    description:
      'MNIST, VGG-style CNN (conv3x3+BN+ReLU ×1 per block, widths 16-32, maxpool, dense 64), 3 epochs, batch 64, lr 1e-3 cosine, weight decay 5e-4',
    data: mnist(),
    model: { kind: 'vgg', widths: [16, 32], convsPerBlock: 1, denseUnits: 64 },
    recipe: {
      epochs: 3,
      batchSize: 64,
      optimizer: 'adamw',
      learningRate: 1e-3,
      schedule: 'cosine',
      weightDecay: 5e-4,
    },
  },
  {
    name: 'fashion-resnet',
    description:
      'Fashion-MNIST (Debian dataset-fashion-mnist; first 20,000 training images, full 10,000 test), CIFAR-style ResNet-8 width 8 with BN, normalised inputs, 4 epochs, batch 64, lr 2e-3 cosine, weight decay 5e-4',
    data: {
      kind: 'image',
      dataset: 'fashion-mnist',
      trainLimit: 20_000,
      augment: false,
      normalize: true,
      validationFraction: 0.1,
    },
    model: { kind: 'resnet', depth: 8, width: 8 },
    recipe: {
      epochs: 4,
      batchSize: 64,
      optimizer: 'adamw',
      learningRate: 2e-3,
      schedule: 'cosine',
      weightDecay: 5e-4,
    },
  },
  ...CIFAR10_PRESETS,
  ...[1, 2, 3].map((layers): TaskPreset => ({
    name: `gutenberg-lstm${layers}`,
    description: `Austen's Persuasion from the Gutenberg corpus, PTB-style (90/5/5 split of its sentences: 79,602 / 3,244 / 4,566 tokens; vocabulary: the 3,039 training words seen at least twice, <unk> 3.2 / 6.0 / 6.9% of the tokens; Kneser-Ney bigram validation perplexity 153.2), ${layers}-layer LSTM LM, embedding = hidden = 128, tied weights, dropout 0.3, BPTT 35, 20 streams, 3 epochs, lr 3e-3 cosine, weight decay 1.2e-6, clipping 0.25`,
    data: gutenberg({ books: ['austen-persuasion'] }),
    model: { ...lstm(layers, 128), dropout: 0.3 } as ModelConfig,
    recipe: {
      epochs: 3,
      batchSize: 20,
      optimizer: 'adamw',
      learningRate: 3e-3,
      schedule: 'cosine',
      weightDecay: 1.2e-6,
      clipGlobalNorm: 0.25,
      bptt: 35,
    },
  })),
  {
    name: 'gutenberg17-lstm2',
    description:
      'Gutenberg (17 books without the Bible, PTB-style, 10k vocabulary: 1.25M / 71k / 74k tokens, <unk> 4.5 / 5.3 / 5.4%; Kneser-Ney bigram validation perplexity 224.5), 2-layer LSTM LM, embedding = hidden = 200, tied weights, dropout 0.2, BPTT 35, 20 streams, 2 epochs, lr 2e-3 cosine, weight decay 1.2e-6, clipping 0.25 (the full corpus: hours per run on a 2-core machine)',
    data: gutenberg(),
    model: lstm(2, 200),
    recipe: {
      epochs: 2,
      batchSize: 20,
      optimizer: 'adamw',
      learningRate: 2e-3,
      schedule: 'cosine',
      weightDecay: 1.2e-6,
      clipGlobalNorm: 0.25,
      bptt: 35,
    },
  },
  {
    name: 'gutenberg-transformer',
    description:
      "Austen's Persuasion from the Gutenberg corpus, PTB-style (as gutenberg-lstm1: 79,602 / 3,244 / 4,566 tokens, the 3,039 training words seen at least twice; Kneser-Ney bigram validation perplexity 153.2), GPT-style Transformer LM (pre-LayerNorm, 4 blocks, width 128, 4 heads, context 128, learned positions, tied embeddings, GELU), dropout 0.1, windows of 128 tokens read on their own, 16 streams, 6 epochs, lr 1e-3 with warmup-cosine, weight decay 1e-2, clipping 1",
    data: gutenberg({ books: ['austen-persuasion'] }),
    model: {
      kind: 'transformer',
      layers: 4,
      width: 128,
      heads: 4,
      contextLength: 128,
      dropout: 0.1,
    },
    recipe: {
      epochs: 6,
      batchSize: 16,
      optimizer: 'adamw',
      learningRate: 1e-3,
      schedule: 'warmup-cosine',
      weightDecay: 1e-2,
      clipGlobalNorm: 1,
      bptt: 128,
    },
  },
  {
    name: 'gutenberg-transformer-tiny',
    description:
      'Smoke test: first 20k Gutenberg training tokens, 2k vocabulary, Transformer LM 2 blocks, width 32, 2 heads, context 32, windows of 32, 10 streams, 2 epochs, lr 3e-3 constant, clipping 1',
    data: gutenberg({ vocabSize: 2000, trainTokens: 20_000, validTokens: 4_000 }),
    model: { kind: 'transformer', layers: 2, width: 32, heads: 2, contextLength: 32, dropout: 0 },
    recipe: {
      epochs: 2,
      batchSize: 10,
      optimizer: 'adamw',
      learningRate: 3e-3,
      schedule: 'constant',
      weightDecay: 1e-2,
      clipGlobalNorm: 1,
      bptt: 32,
    },
  },
  {
    name: 'gutenberg-tiny',
    description:
      'Smoke test: first 20k Gutenberg training tokens, 2k vocabulary, 1-layer LSTM 32, BPTT 20, 10 streams, 2 epochs, lr 3e-3 constant, clipping 0.25',
    data: gutenberg({ vocabSize: 2000, trainTokens: 20_000, validTokens: 4_000 }),
    model: { ...lstm(1, 32), dropout: 0 } as ModelConfig,
    recipe: {
      epochs: 2,
      batchSize: 10,
      optimizer: 'adamw',
      learningRate: 3e-3,
      schedule: 'constant',
      weightDecay: 1.2e-6,
      clipGlobalNorm: 0.25,
      bptt: 20,
    },
  },
];

export function presetNames(): string[] {
  return PRESETS.map((p) => p.name);
}
