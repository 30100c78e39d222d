import * as tf from '@tensorflow/tfjs';
import { augmentBatch, channelStats, normalizeImages } from '../data/batching.js';
import { loadCifar10, loadCifar100 } from '../data/cifar.js';
import { loadGutenbergCorpus, loadSotuCorpus, loadTextCorpus } from '../data/corpora.js';
import { loadFashionMnist, loadMnist } from '../data/mnist.js';
import type { ImageClassificationDataset, LanguageModelCorpus } from '../data/types.js';
import { UserInputError } from '../errors.js';
import { buildLstmLanguageModel, buildMlp, buildResNet, buildVggCnn } from '../models/index.js';
import { createOptimizer } from '../optimizers/index.js';
import { trainClassifier, trainLanguageModel, type TrainResult } from '../training/index.js';
import type { ProgressMode } from '../training/progress.js';
import { buildSchedule, type RunConfig } from './config.js';
import type { ImageDataConfig, TextDataConfig } from './presets.js';

export interface RunOptions {
  outDir?: string;
  resume?: boolean;
  overwrite?: boolean;
  progress?: ProgressMode;
  command?: string;
}

function requireDataDir(config: RunConfig, what: string): string {
  if (!config.dataDir) {
    throw new UserInputError(
      `Task ${config.task} reads ${what} from a folder: pass --data-dir <folder>`,
    );
  }
  return config.dataDir;
}

export function loadImageData(
  config: RunConfig,
  data: ImageDataConfig,
): ImageClassificationDataset {
  const limits = {
    ...(data.trainLimit !== undefined && { trainLimit: data.trainLimit }),
    ...(data.testLimit !== undefined && { testLimit: data.testLimit }),
  };
  let dataset: ImageClassificationDataset;
  switch (data.dataset) {
    case 'mnist':
      dataset = loadMnist(limits);
      break;
    case 'fashion-mnist':
      dataset = config.dataDir
        ? loadFashionMnist(config.dataDir, limits)
        : loadFashionMnist(undefined, limits);
      break;
    case 'cifar10':
      dataset = loadCifar10(requireDataDir(config, 'the CIFAR-10 binary batches'), limits);
      break;
    case 'cifar100':
      dataset = loadCifar100(requireDataDir(config, 'the CIFAR-100 binary files'), limits);
      break;
  }
  if (data.normalize) {
    const stats = channelStats(dataset.train, dataset.imageShape[2]);
    dataset = {
      ...dataset,
      train: normalizeImages(dataset.train, stats),
      test: normalizeImages(dataset.test, stats),
    };
  }
  return dataset;
}

export function loadCorpus(config: RunConfig, data: TextDataConfig): LanguageModelCorpus {
  const options = { vocabSize: data.vocabSize };
  let corpus: LanguageModelCorpus;
  switch (data.corpus) {
    case 'gutenberg':
      corpus = loadGutenbergCorpus(options);
      break;
    case 'sotu':
      corpus = loadSotuCorpus(options);
      break;
    case 'text':
      corpus = loadTextCorpus({
        dir: requireDataDir(config, 'train.txt, valid.txt and test.txt'),
        ...options,
      });
      break;
  }
  const cut = (ids: Int32Array, n?: number) => (n === undefined ? ids : ids.subarray(0, n));
  return {
    ...corpus,
    train: cut(corpus.train, data.trainTokens),
    valid: cut(corpus.valid, data.validTokens),
  };
}

/**
 * Trains one configuration with one seed: loads its data, builds its model (initialised from the
 * seed) and optimizer (its schedule laid over the run's updates), and runs the training loop.
 */
export async function runOne(config: RunConfig, options: RunOptions = {}): Promise<TrainResult> {
  const { recipe } = config;
  const common = {
    epochs: recipe.epochs,
    batchSize: recipe.batchSize,
    seed: config.seed,
    logEvery: config.logEvery,
    checkpointEvery: options.outDir ? config.checkpointEvery : 0,
    config: config as unknown as Record<string, unknown>,
    label: config.label,
    task: config.task,
    ...(options.outDir !== undefined && { outDir: options.outDir }),
    ...(options.resume !== undefined && { resume: options.resume }),
    ...(options.overwrite !== undefined && { overwrite: options.overwrite }),
    ...(options.progress !== undefined && { progress: options.progress }),
    ...(options.command !== undefined && { command: options.command }),
  };
  const makeOptimizer = (stepsPerEpoch: number) =>
    createOptimizer(recipe.optimizer, {
      ...config.optimizerOptions,
      learningRate: buildSchedule(recipe, stepsPerEpoch),
      weightDecay: recipe.weightDecay,
      predictionSteps: config.predictionSteps,
      ...(recipe.clipGlobalNorm !== undefined && { clipGlobalNorm: recipe.clipGlobalNorm }),
    });

  if (config.data.kind === 'image') {
    if (config.model.kind === 'lstm') {
      throw new UserInputError(`Task ${config.task}: an LSTM language model needs a text dataset`);
    }
    const data = loadImageData(config, config.data);
    if (recipe.batchSize > data.train.count) {
      throw new UserInputError(
        `Invalid batch size ${recipe.batchSize}: larger than the ${data.train.count} training images of ${data.name}`,
      );
    }
    const model = buildImageModel(config, data);
    const optimizer = makeOptimizer(Math.ceil(data.train.count / recipe.batchSize));
    try {
      return await trainClassifier({
        ...common,
        model,
        data,
        optimizer,
        ...(config.data.augment && {
          augment: (images, count, shape, rng) => {
            images.set(augmentBatch(images, count, shape, rng).subarray(0, images.length));
          },
          augmentName: 'crop4-flip',
        }),
      });
    } finally {
      model.dispose();
      optimizer.dispose();
    }
  }

  if (config.model.kind !== 'lstm') {
    throw new UserInputError(`Task ${config.task}: a text dataset needs an LSTM language model`);
  }
  const corpus = loadCorpus(config, config.data);
  const bptt = recipe.bptt ?? 35;
  const streamLength = Math.floor(corpus.train.length / recipe.batchSize);
  if (streamLength < 2) {
    throw new UserInputError(
      `Invalid batch size ${recipe.batchSize}: ${corpus.train.length} training tokens leave fewer than 2 per stream`,
    );
  }
  const lm = buildLstmLanguageModel({
    vocabSize: corpus.vocab.length,
    embeddingSize: config.model.embeddingSize,
    hiddenSize: config.model.hiddenSize,
    layers: config.model.layers,
    dropout: config.model.dropout,
    tieWeights: config.model.tieWeights,
    seed: config.seed,
  });
  const optimizer = makeOptimizer(Math.ceil((streamLength - 1) / bptt));
  try {
    return await trainLanguageModel({ ...common, model: lm, corpus, optimizer, bptt });
  } finally {
    lm.model.dispose();
    optimizer.dispose();
  }
}

function buildImageModel(config: RunConfig, data: ImageClassificationDataset): tf.LayersModel {
  const base = { inputShape: data.imageShape, numClasses: data.numClasses, seed: config.seed };
  const m = config.model;
  switch (m.kind) {
    case 'mlp':
      return buildMlp({ ...base, hiddenUnits: m.hiddenUnits });
    case 'vgg':
      return buildVggCnn({
        ...base,
        widths: m.widths,
        convsPerBlock: m.convsPerBlock,
        denseUnits: m.denseUnits,
      });
    case 'resnet':
      return buildResNet({ ...base, depth: m.depth, width: m.width });
    case 'lstm':
      throw new UserInputError(`Task ${config.task}: an LSTM needs a text dataset`);
  }
}
