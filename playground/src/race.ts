/**
 * A race: every run trains its own copy of the task (same start, same seed, same data order) with
 * its own optimizer, one step each in turn. The same code runs in the page's Web Worker and in
 * Node (playground/reference.ts), so the numbers can be checked against each other.
 */
import * as tf from '@tensorflow/tfjs';
import { createOptimizer, NonFiniteGradientError, type PackageOptimizer } from 'weight-prediction';
import { buildMlp } from 'weight-prediction/models';
import type { MnistSubset } from './mnist.js';
import type { FunctionTask, RaceSettings, RunSettings } from './settings.js';
import { GRADIENT_NOISE, SURFACES, seededNormalPair, seededUniform } from './surfaces.js';

export interface StepRecord {
  run: number;
  /** Steps taken so far by this run (1 after the first). */
  step: number;
  /** The minibatch loss the optimizer saw (at θ̂ when s > 0), float32. */
  loss: number;
  /** Wall time of the step: forward, backward, update and reading the loss back. */
  ms: number;
  /** 2-D tasks: θ after the step (float32 values). */
  theta?: [number, number];
  /** 2-D tasks: where this step took its gradient (θ̂; equals the previous θ when s = 0). */
  thetaHat?: [number, number];
  /** 2-D tasks: the noise-free loss at θ, float64. */
  lossAtTheta?: number;
  /** MNIST: test-set accuracy, on evaluation steps only. */
  accuracy?: number;
  /** Set when the run stopped here (diverged); it takes no further steps. */
  error?: string;
}

/** MNIST test accuracy is measured every this many steps (and at the last). */
export const EVAL_EVERY = 20;
/** The MNIST model: 784 → 128 (relu) → 10. */
export const MNIST_HIDDEN = [128];

interface Runner {
  settings: RunSettings;
  optimizer: PackageOptimizer;
  step: number;
  stopped: boolean;
  /** 2-D: the point; MNIST: the model. */
  theta?: tf.Variable;
  model?: tf.LayersModel;
  /** What the optimizer updates: θ, or the model's trainable weights. */
  variables?: tf.Variable[];
  noise?: () => number;
}

const now = (): number => performance.now();

function makeOptimizer(run: RunSettings): PackageOptimizer {
  return createOptimizer(run.optimizer, {
    learningRate: run.learningRate,
    weightDecay: run.weightDecay,
    predictionSteps: run.predictionSteps,
  });
}

function divergedMessage(runner: Runner, step: number, why: string): string {
  return `diverged at step ${step}: ${why}; lower lr (now ${runner.settings.learningRate}).`;
}

export class Race {
  private readonly runners: Runner[];
  private readonly data: MnistTensors | undefined;
  private readonly order: () => Int32Array;
  private round = 0;

  private constructor(
    readonly settings: RaceSettings,
    runners: Runner[],
    data: MnistTensors | undefined,
  ) {
    this.runners = runners;
    this.data = data;
    this.order = data ? batchOrder(settings, data.trainCount) : () => new Int32Array(0);
  }

  /** Builds every run's model and optimizer; the MNIST task needs `mnist`. */
  static create(settings: RaceSettings, mnist?: MnistSubset): Race {
    const runners: Runner[] = [];
    let data: MnistTensors | undefined;
    try {
      if (settings.task === 'mnist') {
        if (!mnist) throw new Error('the MNIST task needs the MNIST subset');
        data = mnistTensors(mnist);
      }
      settings.runs.forEach((run, i) => {
        const runner: Runner = {
          settings: run,
          optimizer: makeOptimizer(run),
          step: 0,
          stopped: false,
        };
        runners.push(runner);
        if (settings.task === 'mnist') {
          runner.model = buildMlp({
            inputShape: [784],
            hiddenUnits: MNIST_HIDDEN,
            numClasses: 10,
            seed: settings.seed,
          });
          runner.variables = runner.model.trainableWeights.map((w) => w.read() as tf.Variable);
        } else {
          const surface = SURFACES[settings.task];
          const start = tf.tensor1d(surface.start);
          runner.theta = tf.variable(start, true, `race_theta_${i}_${uid++}`);
          start.dispose();
          const uniform = seededUniform(settings.seed);
          let spare: number | undefined;
          runner.noise = () => {
            if (spare !== undefined) {
              const value = spare;
              spare = undefined;
              return value;
            }
            const [a, b] = seededNormalPair(uniform);
            spare = b;
            return a;
          };
        }
      });
    } catch (e) {
      disposeAll(runners, data);
      throw e;
    }
    return new Race(settings, runners, data);
  }

  /** True while some run has steps left and has not diverged. */
  get running(): boolean {
    return this.runners.some((r) => !r.stopped && r.step < this.settings.steps);
  }

  /**
   * One step of every live run. The run that goes first changes every round, so that no run's
   * step time always carries what the round before left behind (garbage, cold caches).
   */
  async next(): Promise<StepRecord[]> {
    const records: StepRecord[] = [];
    const batch = this.data ? this.order() : undefined;
    const count = this.runners.length;
    const first = this.round++ % count;
    for (let k = 0; k < count; k++) {
      const i = (first + k) % count;
      const runner = this.runners[i] as Runner;
      if (runner.stopped || runner.step >= this.settings.steps) continue;
      const record =
        this.settings.task === 'mnist'
          ? await this.mnistStep(i, runner, batch as Int32Array)
          : await this.surfaceStep(i, runner, this.settings.task);
      records.push(record);
    }
    return records;
  }

  private async surfaceStep(run: number, runner: Runner, task: FunctionTask): Promise<StepRecord> {
    const surface = SURFACES[task];
    const theta = runner.theta as tf.Variable;
    const noise: [number, number] =
      task === 'noisy-quadratic'
        ? [
            GRADIENT_NOISE * (runner.noise as () => number)(),
            GRADIENT_NOISE * (runner.noise as () => number)(),
          ]
        : [0, 0];
    let thetaHat: [number, number] = [NaN, NaN];
    const step = runner.step + 1;
    const start = now();
    let loss: number;
    try {
      const cost = runner.optimizer.minimize(
        () => {
          // The optimizer has put θ̂ into the variable for this evaluation.
          const values = theta.dataSync();
          thetaHat = [values[0] as number, values[1] as number];
          const [x, y] = tf.unstack(theta) as [tf.Scalar, tf.Scalar];
          return surface.lossTensor(x, y, noise);
        },
        true,
        [theta],
      ) as tf.Scalar;
      loss = (await cost.data())[0] as number;
      cost.dispose();
    } catch (e) {
      if (!(e instanceof NonFiniteGradientError)) throw e;
      runner.stopped = true;
      return {
        run,
        step,
        loss: NaN,
        ms: now() - start,
        thetaHat,
        error: divergedMessage(runner, step, 'the gradient is not finite'),
      };
    }
    const ms = now() - start;
    runner.step = step;
    const values = await theta.data();
    const point: [number, number] = [values[0] as number, values[1] as number];
    const record: StepRecord = {
      run,
      step,
      loss,
      ms,
      theta: point,
      thetaHat,
      lossAtTheta: surface.loss(point[0], point[1]),
    };
    if (!Number.isFinite(point[0]) || !Number.isFinite(point[1]) || !Number.isFinite(loss)) {
      runner.stopped = true;
      record.error = divergedMessage(runner, step, 'θ or the loss is not finite');
    }
    return record;
  }

  private async mnistStep(run: number, runner: Runner, batch: Int32Array): Promise<StepRecord> {
    const data = this.data as MnistTensors;
    const model = runner.model as tf.LayersModel;
    const step = runner.step + 1;
    const indices = tf.tensor1d(batch, 'int32');
    const x = tf.gather(data.trainX, indices);
    const y = tf.gather(data.trainY, indices);
    indices.dispose();
    const start = now();
    let loss: number;
    try {
      const cost = runner.optimizer.minimize(
        () =>
          tf.losses.softmaxCrossEntropy(
            y,
            model.apply(x, { training: true }) as tf.Tensor,
          ) as tf.Scalar,
        true,
        runner.variables,
      ) as tf.Scalar;
      loss = (await cost.data())[0] as number;
      cost.dispose();
    } catch (e) {
      if (!(e instanceof NonFiniteGradientError)) throw e;
      runner.stopped = true;
      return {
        run,
        step,
        loss: NaN,
        ms: now() - start,
        error: divergedMessage(runner, step, 'a gradient is not finite'),
      };
    } finally {
      x.dispose();
      y.dispose();
    }
    const ms = now() - start;
    runner.step = step;
    const record: StepRecord = { run, step, loss, ms };
    if (step % EVAL_EVERY === 0 || step === this.settings.steps) {
      const correct = tf.tidy(() =>
        tf.sum(
          tf.cast(
            tf.equal(tf.argMax(model.predict(data.testX) as tf.Tensor, -1), data.testY),
            'int32',
          ),
        ),
      );
      record.accuracy = ((await correct.data())[0] as number) / data.testCount;
      correct.dispose();
    }
    if (!Number.isFinite(loss)) {
      runner.stopped = true;
      record.error = divergedMessage(runner, step, 'the loss is not finite');
    }
    return record;
  }

  dispose(): void {
    disposeAll(this.runners, this.data);
  }
}

let uid = 0;

interface MnistTensors {
  trainX: tf.Tensor2D;
  trainY: tf.Tensor2D;
  testX: tf.Tensor2D;
  testY: tf.Tensor1D;
  trainCount: number;
  testCount: number;
}

function mnistTensors(mnist: MnistSubset): MnistTensors {
  const pixels = (images: Uint8Array): Float32Array => Float32Array.from(images, (p) => p / 255);
  return tf.tidy(() => ({
    trainX: tf.tensor2d(pixels(mnist.train.images), [mnist.train.count, 784]),
    trainY: tf.oneHot(tf.tensor1d(mnist.train.labels, 'int32'), 10).toFloat() as tf.Tensor2D,
    testX: tf.tensor2d(pixels(mnist.test.images), [mnist.test.count, 784]),
    testY: tf.tensor1d(mnist.test.labels, 'int32'),
    trainCount: mnist.train.count,
    testCount: mnist.test.count,
  }));
}

/** Minibatch indices: a fresh seeded permutation of the training set each epoch, shared by all runs. */
function batchOrder(settings: RaceSettings, count: number): () => Int32Array {
  const uniform = seededUniform(settings.seed);
  const size = Math.min(settings.batchSize, count);
  let permutation = new Int32Array(0);
  let at = 0;
  return () => {
    if (at + size > permutation.length) {
      permutation = Int32Array.from({ length: count }, (_, i) => i);
      for (let i = count - 1; i > 0; i--) {
        const j = Math.floor(uniform() * (i + 1));
        [permutation[i], permutation[j]] = [permutation[j] as number, permutation[i] as number];
      }
      at = 0;
    }
    at += size;
    return permutation.slice(at - size, at);
  };
}

function disposeAll(runners: Runner[], data: MnistTensors | undefined): void {
  for (const runner of runners) {
    runner.optimizer.dispose();
    runner.theta?.dispose();
    runner.model?.dispose();
  }
  if (data) tf.dispose([data.trainX, data.trainY, data.testX, data.testY]);
}
