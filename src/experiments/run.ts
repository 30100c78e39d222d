import * as tf from '@tensorflow/tfjs';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { augmentBatch, channelStats, type ChannelStats } from '../data/batching.js';
import { loadCifar10, loadCifar100 } from '../data/cifar.js';
import {
  defaultCifar10JpegDir,
  loadCifar10Jpeg,
  type ImageFolderLoadInfo,
} from '../data/image-folder.js';
import { loadGutenbergCorpus, loadSotuCorpus, loadTextCorpus } from '../data/corpora.js';
import { loadFashionMnist, loadMnist } from '../data/mnist.js';
import { holdOutValidation } from '../data/validation.js';
import type { ImageClassificationDataset, LanguageModelCorpus } from '../data/types.js';
import { UserInputError } from '../errors.js';
import {
  buildLstmLanguageModel,
  buildMlp,
  buildResNet,
  buildTransformerLanguageModel,
  buildVggCnn,
  type SequenceLanguageModel,
} from '../models/index.js';
import { createOptimizer } from '../optimizers/index.js';
import { trainClassifier, trainLanguageModel, type TrainResult } from '../training/index.js';
import type { ProgressMode } from '../training/progress.js';
import { buildSchedule, type RunConfig } from './config.js';
import type { ImageDataConfig, TextDataConfig } from './presets.js';
import { runLengthOptions } from './rivals.js';

export interface RunOptions {
  outDir?: string;
  resume?: boolean;
  overwrite?: boolean;
  progress?: ProgressMode;
  command?: string;
  /** The backend in full (`describeBackend()`), recorded in the run's summary. */
  backendDescription?: string;
  /** Called after every update (see TrainOptions.onStep). */
  onStep?: (step: number, loss: number) => void;
}

function requireDataDir(config: RunConfig, what: string): string {
  if (!config.dataDir) {
    throw new UserInputError(
      `Task ${config.task} reads ${what} from a folder: pass --data-dir <folder>`,
    );
  }
  return config.dataDir;
}

/** Where a CIFAR-10 task reads its images from. */
export type Cifar10Source =
  { kind: 'binary'; dir: string } | { kind: 'folder'; dir: string; fromDefault: boolean };

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();
const CIFAR10_HELP =
  'pass --data-dir <folder>: either class folders train/<class>/ and test/<class>/ of 32x32 JPEG or PNG images (airplane, automobile, …, truck), or the official binary batches (data_batch_1.bin … test_batch.bin, from https://www.cs.toronto.edu/~kriz/cifar.html)';

/**
 * The CIFAR-10 data of a task: `--data-dir` when given (the official binary batches when it, or its
 * `cifar-10-batches-bin/`, holds `data_batch_1.bin`; else class folders), else the JPEG copy the
 * development machines keep next to the repository (`findDefault`, which returns undefined where
 * there is none), else a UserInputError asking for `--data-dir`.
 */
export function resolveCifar10Source(
  task: string,
  dataDir: string | undefined,
  findDefault: () => string | undefined = defaultCifar10JpegDir,
): Cifar10Source {
  if (dataDir === undefined) {
    const defaultDir = findDefault();
    if (defaultDir !== undefined) return { kind: 'folder', dir: defaultDir, fromDefault: true };
    throw new UserInputError(`Task ${task} needs CIFAR-10: ${CIFAR10_HELP}`);
  }
  if (!isDir(dataDir)) {
    throw new UserInputError(`--data-dir ${dataDir} is not a folder: ${CIFAR10_HELP}`);
  }
  if (
    existsSync(join(dataDir, 'data_batch_1.bin')) ||
    existsSync(join(dataDir, 'cifar-10-batches-bin', 'data_batch_1.bin'))
  ) {
    return { kind: 'binary', dir: dataDir };
  }
  const hasClassFolders = readdirSync(dataDir).some(
    (name) => !name.startsWith('.') && isDir(join(dataDir, name)),
  );
  if (!hasClassFolders) {
    throw new UserInputError(
      `--data-dir ${dataDir} holds neither data_batch_1.bin nor class folders: ${CIFAR10_HELP}`,
    );
  }
  return { kind: 'folder', dir: dataDir, fromDefault: false };
}

/** A task's images, and the per-channel stats its batches are standardised with. */
export interface TaskImages {
  data: ImageClassificationDataset;
  /** The training split's `channelStats`, when the task normalises; for `trainClassifier`. */
  normalize?: ChannelStats;
}

/**
 * Loads the images of a task and, when the task normalises, the training split's per-channel stats
 * (the batches are standardised as they are built, so no normalised copy of the data is made).
 * `log` gets a line about slow loads (decoding image folders), for people watching.
 */
export function loadImageData(
  config: RunConfig,
  data: ImageDataConfig,
  log?: (line: string) => void,
): TaskImages {
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
    case 'cifar10': {
      const source = resolveCifar10Source(config.task, config.dataDir);
      if (source.kind === 'binary') {
        dataset = loadCifar10(source.dir, limits);
        break;
      }
      const onLoad = (info: ImageFolderLoadInfo) =>
        log?.(
          `CIFAR-10: ${info.images} images from ${info.source === 'cache' ? `the cache ${info.cacheFile}` : source.dir} in ${info.seconds.toFixed(1)} s`,
        );
      dataset = loadCifar10Jpeg(source.dir, { ...limits, onLoad });
      break;
    }
    case 'cifar100':
      dataset = loadCifar100(requireDataDir(config, 'the CIFAR-100 binary files'), limits);
      break;
  }
  // Held out before the stats are taken, so validation images inform nothing the model trains with.
  if (data.validationFraction !== undefined) {
    dataset = holdOutValidation(dataset, data.validationFraction);
  }
  return data.normalize
    ? { data: dataset, normalize: channelStats(dataset.train, dataset.imageShape[2]) }
    : { data: dataset };
}

export function loadCorpus(config: RunConfig, data: TextDataConfig): LanguageModelCorpus {
  const options = { vocabSize: data.vocabSize, minCount: data.minCount };
  let corpus: LanguageModelCorpus;
  switch (data.corpus) {
    case 'gutenberg':
      corpus = loadGutenbergCorpus({ ...options, ...(data.books && { books: data.books }) });
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
    ...(options.backendDescription !== undefined && {
      backendDescription: options.backendDescription,
    }),
    ...(options.onStep !== undefined && { onStep: options.onStep }),
  };
  const makeOptimizer = (stepsPerEpoch: number) =>
    createOptimizer(recipe.optimizer, {
      ...runLengthOptions(recipe.optimizer, recipe.epochs * stepsPerEpoch, config.optimizerOptions),
      ...config.optimizerOptions,
      learningRate: buildSchedule(recipe, stepsPerEpoch),
      weightDecay: recipe.weightDecay,
      predictionSteps: config.predictionSteps,
      ...(recipe.clipGlobalNorm !== undefined && { clipGlobalNorm: recipe.clipGlobalNorm }),
    });

  if (config.data.kind === 'image') {
    if (config.model.kind === 'lstm' || config.model.kind === 'transformer') {
      throw new UserInputError(
        `Task ${config.task}: an ${config.model.kind === 'lstm' ? 'LSTM' : 'Transformer'} language model needs a text dataset`,
      );
    }
    const { data, normalize } = loadImageData(
      config,
      config.data,
      options.progress === 'none' ? undefined : (line) => process.stderr.write(`${line}\n`),
    );
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
        ...(normalize && { normalize }),
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

  const modelConfig = config.model;
  if (modelConfig.kind !== 'lstm' && modelConfig.kind !== 'transformer') {
    throw new UserInputError(
      `Task ${config.task}: a text dataset needs a language model (kind 'lstm' or 'transformer')`,
    );
  }
  const corpus = loadCorpus(config, config.data);
  const bptt = recipe.bptt ?? 35;
  const streamLength = Math.floor(corpus.train.length / recipe.batchSize);
  if (streamLength < 2) {
    throw new UserInputError(
      `Invalid batch size ${recipe.batchSize}: ${corpus.train.length} training tokens leave fewer than 2 per stream`,
    );
  }
  const lm: SequenceLanguageModel =
    modelConfig.kind === 'lstm'
      ? buildLstmLanguageModel({
          vocabSize: corpus.vocab.length,
          embeddingSize: modelConfig.embeddingSize,
          hiddenSize: modelConfig.hiddenSize,
          layers: modelConfig.layers,
          dropout: modelConfig.dropout,
          tieWeights: modelConfig.tieWeights,
          seed: config.seed,
        })
      : buildTransformerLanguageModel({
          vocabSize: corpus.vocab.length,
          width: modelConfig.width,
          heads: modelConfig.heads,
          layers: modelConfig.layers,
          contextLength: modelConfig.contextLength,
          dropout: modelConfig.dropout,
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
    case 'transformer':
      throw new UserInputError(`Task ${config.task}: a language model needs a text dataset`);
  }
}
