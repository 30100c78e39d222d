import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from '../../src/kernels/index.js';
import { RELU_GRAD } from '../../src/kernels/relu-grad.js';
import { expectClose, randomValues, rng, runOn } from './helpers.js';

/**
 * The wasm training kernels against the stock cpu backend. Shared by two test files: with the
 * native addon's kernels on top (when it is built) and with the JS/XNNPACK kernels alone.
 */

type Pad =
  'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

/** Registers the kernels (after `before`, which may switch the addon off) and defines the tests. */
export function defineWasmKernelTests(label: string, before: () => void = () => {}): void {
  beforeAll(async () => {
    before();
    registerWasmTrainingKernels();
    registerWasmTrainingKernels(); // idempotent
    expect(await tf.setBackend('wasm')).toBe(true);
  });

  /** The same computation on the stock cpu backend (reference) and on wasm with our kernels. */
  async function compare(fn: () => tf.Tensor, tol = 1e-4): Promise<void> {
    const reference = await runOn('cpu', fn);
    const actual = await runOn('wasm', fn);
    expect(actual.shape).toEqual(reference.shape);
    expectClose(actual.values, reference.values, tol);
  }

  const convCases: {
    x: [number, number, number, number];
    f: [number, number, number, number];
    stride: number | [number, number];
    pad: Pad;
  }[] = [
    { x: [1, 5, 5, 1], f: [3, 3, 1, 1], stride: 1, pad: 'same' },
    { x: [2, 7, 6, 3], f: [3, 3, 3, 5], stride: 1, pad: 'same' },
    { x: [3, 7, 9, 4], f: [3, 3, 4, 6], stride: 2, pad: 'same' },
    { x: [2, 8, 8, 5], f: [3, 3, 5, 4], stride: 1, pad: 'valid' },
    { x: [2, 9, 7, 3], f: [3, 2, 3, 7], stride: 2, pad: 'valid' },
    { x: [2, 8, 8, 6], f: [1, 1, 6, 3], stride: 2, pad: 'valid' },
    { x: [1, 6, 7, 2], f: [5, 5, 2, 3], stride: [1, 2], pad: 'same' },
    // Large enough for the native kernels to split the batch into chunks across threads.
    { x: [5, 32, 32, 16], f: [3, 3, 16, 8], stride: 1, pad: 'same' },
    // Output channels a multiple of 8: the native direct convolution (native/direct_conv.cc),
    // in blocks of 16 channels, then 8, 6 pixels at a time, then one; its input gradient too
    // when the stride is 1 and the input channels are a multiple of 8.
    { x: [2, 9, 10, 8], f: [3, 3, 8, 16], stride: 1, pad: 'same' },
    { x: [3, 8, 13, 16], f: [3, 3, 16, 24], stride: 2, pad: 'same' },
    { x: [2, 7, 7, 1], f: [3, 3, 1, 16], stride: 1, pad: 'valid' },
    { x: [2, 5, 15, 8], f: [1, 1, 8, 40], stride: 1, pad: 'valid' },
    {
      x: [2, 6, 9, 24],
      f: [2, 3, 24, 8],
      stride: 1,
      pad: [
        [0, 0],
        [2, 0],
        [1, 3],
        [0, 0],
      ],
    },
    {
      x: [2, 6, 5, 3],
      f: [3, 3, 3, 2],
      stride: 2,
      pad: [
        [0, 0],
        [1, 2],
        [0, 1],
        [0, 0],
      ],
    },
  ];

  describe(`wasm training kernels (${label})`, () => {
    it.each([
      { shape: [7], begin: [2], size: [4] },
      { shape: [5, 6], begin: [1, 2], size: [3, -1] },
      { shape: [5, 6], begin: [2, 0], size: [2, 6] }, // contiguous
      { shape: [4, 3, 5], begin: [1, 1, 2], size: [2, 2, 3] },
      { shape: [3, 4, 5, 6], begin: [0, 1, 0, 2], size: [3, 2, 5, 3] },
      { shape: [2, 3, 4, 3, 5], begin: [1, 0, 2, 1, 1], size: [1, 3, 2, 2, 4] },
      { shape: [3, 4, 5], begin: [1, 0, 0], size: [0, 4, 5] }, // empty
    ])(
      'Slice matches cpu: shape $shape, begin $begin, size $size',
      async ({ shape, begin, size }) => {
        const values = randomValues(
          shape.reduce((a, b) => a * b),
          shape.length,
        );
        await compare(() => tf.slice(tf.tensor(values, shape), begin, size), 0);
        await compare(
          () =>
            tf.slice(
              tf.tensor(
                Int32Array.from(values, (v) => Math.round(v * 100)),
                shape,
                'int32',
              ),
              begin,
              size,
            ),
          0,
        );
      },
    );

    it.each([
      { shape: [20, 35, 16], axis: 1 }, // an LSTM's time steps
      { shape: [4, 3, 5], axis: 0 },
      { shape: [4, 3, 5], axis: -1 },
      { shape: [2, 3, 4, 5], axis: 2 },
      { shape: [6], axis: 0 },
      { shape: [3, 0, 2], axis: 0 }, // empty outputs
    ])('Unpack matches cpu: shape $shape, axis $axis', async ({ shape, axis }) => {
      const values = randomValues(
        shape.reduce((a, b) => a * b),
        shape.length + 60,
      );
      // Every output, in order, each with its own shape: stacked again along a new first axis.
      const restacked = (x: tf.Tensor) =>
        tf.concat(
          tf.unstack(x, axis).map((p) => tf.reshape(p, [1, ...p.shape])),
          0,
        );
      await compare(() => restacked(tf.tensor(values, shape)), 0);
      await compare(
        () =>
          restacked(
            tf.tensor(
              Int32Array.from(values, (v) => Math.round(v * 100)),
              shape,
              'int32',
            ),
          ),
        0,
      );
    });

    it('Identity shares its input buffer; either tensor outlives the other', async () => {
      await tf.setBackend('wasm');
      const before = tf.memory().numBytes;
      const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
      const copy = tf.clone(x);
      expect(copy.dataId).toBe(x.dataId); // one buffer for both
      x.dispose();
      expect(Array.from(copy.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
      const again = tf.clone(copy);
      copy.dispose();
      expect(Array.from(again.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
      again.dispose();
      expect(tf.memory().numBytes).toBe(before);
      // Strings still take the stock path.
      const words = tf.tensor1d(['a', 'b']);
      const wordsCopy = tf.clone(words);
      expect(wordsCopy.dataSync()).toEqual(['a', 'b']);
      tf.dispose([words, wordsCopy]);
    });

    it.each(convCases.map((c, i) => ({ ...c, i })))(
      'conv2d gradients match cpu: x $x, filter $f, stride $stride, pad $pad',
      async ({ x, f, stride, pad, i }) => {
        const xv = randomValues(
          x.reduce((a, b) => a * b),
          10 + i,
          i % 2 === 0,
        );
        const fv = randomValues(
          f.reduce((a, b) => a * b),
          20 + i,
        );
        const conv = (a: tf.Tensor, b: tf.Tensor) =>
          tf
            .conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad as 'same')
            .square()
            .sum();
        await compare(() => tf.grads(conv)([tf.tensor4d(xv, x), tf.tensor4d(fv, f)])[0]!);
        await compare(() => tf.grads(conv)([tf.tensor4d(xv, x), tf.tensor4d(fv, f)])[1]!);
      },
    );

    it.each(convCases.map((c, i) => ({ ...c, i })))(
      'conv2d forward, with bias + relu and dilation 2, matches cpu: x $x, filter $f, stride $stride, pad $pad',
      async ({ x, f, stride, pad, i }) => {
        const xv = randomValues(
          x.reduce((a, b) => a * b),
          40 + i,
        );
        const fv = randomValues(
          f.reduce((a, b) => a * b),
          50 + i,
        );
        const bias = randomValues(f[3], 60 + i);
        await compare(() =>
          tf.conv2d(tf.tensor4d(xv, x), tf.tensor4d(fv, f), stride, pad as 'same'),
        );
        await compare(() =>
          tf.fused.conv2d({
            x: tf.tensor4d(xv, x),
            filter: tf.tensor4d(fv, f),
            strides: stride,
            pad: pad as 'same',
            bias: tf.tensor1d(bias),
            activation: 'relu',
          }),
        );
        if (stride === 1 && pad !== 'valid') {
          await compare(() =>
            tf.conv2d(tf.tensor4d(xv, x), tf.tensor4d(fv, f), 1, pad as 'same', 'NHWC', 2),
          );
        }
        // An activation the native kernel leaves to the fallback.
        await compare(() =>
          tf.fused.conv2d({
            x: tf.tensor4d(xv, x),
            filter: tf.tensor4d(fv, f),
            strides: stride,
            pad: pad as 'same',
            activation: 'elu',
          }),
        );
      },
    );

    it('Conv2DBackpropFilter and Conv2DBackpropInput kernels match cpu when called directly', async () => {
      const x = [3, 10, 9, 4];
      const f = [3, 3, 4, 5];
      const xv = randomValues(3 * 10 * 9 * 4, 1);
      const fv = randomValues(3 * 3 * 4 * 5, 2);
      const out = tf.tidy(() => {
        void tf.setBackend('cpu');
        return tf.conv2d(tf.tensor4d(xv, x as never), tf.tensor4d(fv, f as never), 2, 'same').shape;
      });
      const dyv = randomValues(
        out.reduce((a, b) => a * b),
        3,
      );
      const attrs = { strides: [2, 2], pad: 'same', dataFormat: 'NHWC' } as tf.NamedAttrMap;
      await compare(
        () =>
          tf
            .engine()
            .runKernel(
              'Conv2DBackpropFilter',
              { x: tf.tensor(xv, x), dy: tf.tensor(dyv, out) },
              { ...attrs, filterShape: f },
            ) as tf.Tensor,
      );
      await compare(
        () =>
          tf
            .engine()
            .runKernel(
              'Conv2DBackpropInput',
              { dy: tf.tensor(dyv, out), filter: tf.tensor(fv, f) },
              { ...attrs, inputShape: x },
            ) as tf.Tensor,
      );
    });

    it('conv2d gradients are right when the batch is split into chunks (large batch)', async () => {
      // 33·33·9·32 floats of patches per item: the 16 MiB patch limit splits a batch of 40 into
      // chunks. The stock cpu kernel is too slow here, so the reference is a float64 loop.
      const [B, H, W, C, O] = [40, 33, 33, 32, 2];
      const xv = randomValues(B * H * W * C, 5);
      const dyv = randomValues(B * H * W * O, 6);
      const fv = randomValues(9 * C * O, 7);
      const dW = new Float64Array(9 * C * O);
      const dX = new Float64Array(B * H * W * C);
      for (let b = 0; b < B; b++)
        for (let oh = 0; oh < H; oh++)
          for (let ow = 0; ow < W; ow++)
            for (let i = 0; i < 3; i++)
              for (let j = 0; j < 3; j++) {
                const ih = oh + i - 1;
                const iw = ow + j - 1;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const xo = ((b * H + ih) * W + iw) * C;
                const go = ((b * H + oh) * W + ow) * O;
                for (let c = 0; c < C; c++)
                  for (let o = 0; o < O; o++) {
                    const w = ((i * 3 + j) * C + c) * O + o;
                    dW[w]! += xv[xo + c]! * dyv[go + o]!;
                    dX[xo + c]! += fv[w]! * dyv[go + o]!;
                  }
              }
      const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC' } as tf.NamedAttrMap;
      const gotW = await runOn(
        'wasm',
        () =>
          tf
            .engine()
            .runKernel(
              'Conv2DBackpropFilter',
              { x: tf.tensor(xv, [B, H, W, C]), dy: tf.tensor(dyv, [B, H, W, O]) },
              { ...attrs, filterShape: [3, 3, C, O] },
            ) as tf.Tensor,
      );
      expectClose(gotW.values, dW);
      const gotX = await runOn(
        'wasm',
        () =>
          tf
            .engine()
            .runKernel(
              'Conv2DBackpropInput',
              { dy: tf.tensor(dyv, [B, H, W, O]), filter: tf.tensor(fv, [3, 3, C, O]) },
              { ...attrs, inputShape: [B, H, W, C] },
            ) as tf.Tensor,
      );
      expectClose(gotX.values, dX);
    });

    it.each([
      // Odd sizes: the last row and column of 4×4 output blocks are cut off.
      { x: [2, 9, 11, 32], o: 64, pad: [1, 1, 1, 1] },
      // 'valid' (the input gradient then pads dy by 2), output channels not a multiple of 8.
      { x: [3, 8, 7, 40], o: 52, pad: [0, 0, 0, 0] },
      // Uneven explicit padding (top 2, bottom 0, left 0, right 1), 33 input channels.
      { x: [2, 6, 9, 33], o: 64, pad: [2, 0, 0, 1] },
      // 32 → 32 channels, the fewest whose forward pass and input gradient take Winograd.
      { x: [2, 10, 10, 32], o: 32, pad: [1, 1, 1, 1] },
      // 16 → 16: the filter gradient takes Winograd, the direct kernels do the rest.
      { x: [3, 11, 10, 16], o: 16, pad: [1, 1, 1, 1] },
      // 256 tiles: four chunks (of 75 tiles), spread over the threads.
      { x: [4, 32, 32, 32], o: 64, pad: [1, 1, 1, 1] },
    ])(
      '3×3 stride-1 conv2d and its gradients (Winograd F(4×4, 3×3) with the addon) within 3e-5 of float64: x $x → $o channels, pad $pad',
      async ({ x, o, pad }) => {
        // Worst error against float64, relative to the largest output, measured on these shapes:
        // 5.7e-6 with the addon (native/winograd.cc; im2col + sgemm gave 5e-7), 2.2e-6 with
        // XNNPACK alone. A wrong sign in one transform gives errors of order 1.
        const [B, H, W, C] = x as [number, number, number, number];
        const [top, bottom, left, right] = pad as [number, number, number, number];
        const OH = H + top + bottom - 2;
        const OW = W + left + right - 2;
        const xv = randomValues(B * H * W * C, 81);
        const fv = randomValues(9 * C * o, 82);
        const dyv = randomValues(B * OH * OW * o, 83);
        const y = new Float64Array(B * OH * OW * o);
        const dW = new Float64Array(9 * C * o);
        const dX = new Float64Array(B * H * W * C);
        for (let b = 0; b < B; b++)
          for (let oh = 0; oh < OH; oh++)
            for (let ow = 0; ow < OW; ow++)
              for (let i = 0; i < 3; i++)
                for (let j = 0; j < 3; j++) {
                  const ih = oh + i - top;
                  const iw = ow + j - left;
                  if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                  const xo = ((b * H + ih) * W + iw) * C;
                  const yo = ((b * OH + oh) * OW + ow) * o;
                  for (let c = 0; c < C; c++)
                    for (let k = 0; k < o; k++) {
                      const w = ((i * 3 + j) * C + c) * o + k;
                      y[yo + k]! += xv[xo + c]! * fv[w]!;
                      dW[w]! += xv[xo + c]! * dyv[yo + k]!;
                      dX[xo + c]! += fv[w]! * dyv[yo + k]!;
                    }
                }
        const padding = [
          [0, 0],
          [top, bottom],
          [left, right],
          [0, 0],
        ] as Pad;
        const conv = (a: tf.Tensor, b: tf.Tensor) =>
          tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, padding as 'same');
        const got = await runOn('wasm', () => {
          const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
            conv(a, b)
              .mul(tf.tensor(dyv, [B, OH, OW, o]))
              .sum(),
          )([tf.tensor4d(xv, [B, H, W, C]), tf.tensor4d(fv, [3, 3, C, o])]);
          return tf.concat([
            conv(tf.tensor4d(xv, [B, H, W, C]), tf.tensor4d(fv, [3, 3, C, o])).flatten(),
            gx!.flatten(),
            gw!.flatten(),
          ]);
        });
        const n1 = y.length;
        const n2 = n1 + dX.length;
        expectClose(got.values.subarray(0, n1), y, 3e-5);
        expectClose(got.values.subarray(n1, n2), dX, 3e-5);
        expectClose(got.values.subarray(n2), dW, 3e-5);
      },
    );

    it('conv2d and its gradients give the same bits when run again (ResNet-like shapes)', async () => {
      // 16 channels at 14×14, batch 9: the native direct kernels (forward and input gradient)
      // and Winograd (filter gradient) with the work split over the threads; each run must
      // repeat the last exactly.
      const x = [9, 14, 14, 16] as [number, number, number, number];
      const f = [3, 3, 16, 16] as [number, number, number, number];
      const xv = randomValues(
        x.reduce((a, b) => a * b),
        71,
      );
      const fv = randomValues(
        f.reduce((a, b) => a * b),
        72,
      );
      const run = () =>
        runOn('wasm', () => {
          const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
            tf
              .conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same')
              .square()
              .sum(),
          )([tf.tensor4d(xv, x), tf.tensor4d(fv, f)]);
          return tf.concat([
            tf.conv2d(tf.tensor4d(xv, x), tf.tensor4d(fv, f), 1, 'same').flatten(),
            dx!.flatten(),
            df!.flatten(),
          ]);
        });
      const first = await run();
      for (let i = 0; i < 3; i++) expect((await run()).values).toEqual(first.values);
    });

    const flagCases = [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const;
    const matShapes = [
      { batch: [] as number[], m: 7, k: 5, n: 3 },
      { batch: [1], m: 1, k: 9, n: 4 },
      { batch: [3], m: 6, k: 11, n: 5 },
      { batch: [2, 2], m: 4, k: 3, n: 8 },
    ];
    for (const [ta, tb] of flagCases) {
      for (const s of matShapes) {
        it(`matMul transposeA=${ta} transposeB=${tb} batch [${s.batch}] matches cpu`, async () => {
          const aShape = [...s.batch, ...(ta ? [s.k, s.m] : [s.m, s.k])];
          const bShape = [...s.batch, ...(tb ? [s.n, s.k] : [s.k, s.n])];
          const av = randomValues(
            aShape.reduce((p, d) => p * d, 1),
            s.m * 7 + s.k,
          );
          const bv = randomValues(
            bShape.reduce((p, d) => p * d, 1),
            s.n * 5 + s.k,
          );
          await compare(() => tf.matMul(tf.tensor(av, aShape), tf.tensor(bv, bShape), ta, tb));
          if (s.batch.length === 1) {
            const bias = randomValues(s.n, 77);
            await compare(() =>
              tf.fused.matMul({
                a: tf.tensor3d(av, aShape as [number, number, number]),
                b: tf.tensor3d(bv, bShape as [number, number, number]),
                transposeA: ta,
                transposeB: tb,
                bias: tf.tensor1d(bias),
                activation: 'relu',
              }),
            );
          }
        });
      }
    }

    it('matMul broadcasts a batch of 1 against a batch of 3 (either side) as cpu does', async () => {
      const one = randomValues(1 * 4 * 5, 91);
      const three = randomValues(3 * 5 * 4, 92);
      await compare(() => tf.matMul(tf.tensor3d(one, [1, 4, 5]), tf.tensor3d(three, [3, 5, 4])));
      await compare(() =>
        tf.matMul(tf.tensor3d(three, [3, 5, 4]), tf.tensor3d(one, [1, 4, 5]), true, true),
      );
    });

    it('sum and mean over leading axes (and others, by the fallback) match cpu', async () => {
      const shape = [3, 5, 4, 37];
      const xv = randomValues(3 * 5 * 4 * 37, 93);
      const axesCases: number[][] = [
        [0],
        [0, 1],
        [0, 1, 2],
        [1, 0],
        [1],
        [3],
        [0, 2],
        [0, 1, 2, 3],
      ];
      for (const axes of axesCases) {
        for (const keepDims of [false, true]) {
          await compare(() => tf.sum(tf.tensor(xv, shape), axes, keepDims));
          await compare(() => tf.mean(tf.tensor(xv, shape), axes, keepDims));
        }
      }
      // Wide rows (cols over two chunks of 1024 columns, the last one partial; rows not a
      // multiple of 4) and negative axes.
      const wide = randomValues(200 * 130, 94);
      await compare(() => tf.sum(tf.tensor(wide, [200, 130]), 0));
      await compare(() => tf.sum(tf.tensor(wide.subarray(0, 11 * 2100), [11, 2100]), 0));
      await compare(() => tf.mean(tf.tensor(wide, [20, 10, 130]), [-3, -2]));
      await compare(() => tf.sum(tf.tensor(new Int32Array(12).fill(3), [3, 4], 'int32'), 0));
    });

    it('matMul gradients (which use transposed products) match cpu', async () => {
      const av = randomValues(6 * 5, 31);
      const bv = randomValues(5 * 4, 32);
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.matMul(a, b).tanh().sum();
      for (const which of [0, 1]) {
        await compare(
          () => tf.grads(f)([tf.tensor2d(av, [6, 5]), tf.tensor2d(bv, [5, 4])])[which]!,
        );
      }
    });

    it('unsortedSegmentSum handles repeated, missing and out-of-range ids, float32 and int32', async () => {
      const next = rng(9);
      const n = 23;
      // Ids in [-1, 8] for 7 segments: some repeat, some segments get none, -1 / 7 / 8 are dropped.
      const ids = Int32Array.from({ length: n }, () => Math.floor(next() * 10) - 1);
      const xv = randomValues(n * 3 * 2, 10);
      await compare(() =>
        tf.unsortedSegmentSum(tf.tensor3d(xv, [n, 3, 2]), tf.tensor1d(ids, 'int32'), 7),
      );
      await compare(() =>
        tf.unsortedSegmentSum(tf.tensor1d(xv.subarray(0, n)), tf.tensor1d(ids, 'int32'), 9),
      );
      const xi = Int32Array.from(xv, (v) => Math.round(v * 100));
      await compare(() =>
        tf.unsortedSegmentSum(
          tf.tensor2d(xi.subarray(0, n * 2), [n, 2], 'int32'),
          tf.tensor1d(ids, 'int32'),
          5,
        ),
      );
      // Two-dimensional ids over the leading two axes (the stock cpu kernel rejects these shapes,
      // so the reference is computed here).
      const ids2 = ids.subarray(0, 22);
      const x2 = xv.subarray(0, 22 * 3);
      const expected = new Float64Array(6 * 3);
      ids2.forEach((id, r) => {
        if (id >= 0 && id < 6) for (let k = 0; k < 3; k++) expected[id * 3 + k]! += x2[r * 3 + k]!;
      });
      const actual = await runOn('wasm', () =>
        tf.unsortedSegmentSum(
          tf.tensor3d(x2, [2, 11, 3]),
          tf.tensor2d(ids2, [2, 11], 'int32') as unknown as tf.Tensor1D,
          6,
        ),
      );
      expect(actual.shape).toEqual([6, 3]);
      expectClose(actual.values, expected, 1e-6);
    });

    it('gather gradients (embedding backward) match cpu', async () => {
      const table = randomValues(13 * 4, 41);
      const idx = Int32Array.from([0, 3, 3, 12, 7, 3, 0, 5, 5, 5]);
      await compare(() =>
        tf.grad((t: tf.Tensor) =>
          tf
            .gather(t, tf.tensor2d(idx, [2, 5], 'int32'))
            .square()
            .sum(),
        )(tf.tensor2d(table, [13, 4])),
      );
    });

    it('tile matches cpu for float32, int32 and bool, including zero-size outputs', async () => {
      const v = randomValues(2 * 3 * 4, 51);
      await compare(() => tf.tile(tf.tensor3d(v, [2, 3, 4]), [2, 1, 3]));
      await compare(() => tf.tile(tf.tensor4d(v.subarray(0, 4), [1, 1, 1, 4]), [3, 5, 2, 1]));
      await compare(() => tf.tile(tf.tensor1d([1, 2, 3], 'int32'), [4]));
      await compare(() => tf.tile(tf.tensor2d([true, false, false, true], [2, 2], 'bool'), [2, 3]));
      await compare(() => tf.tile(tf.tensor2d(v.subarray(0, 6), [2, 3]), [0, 2]));
    });

    it.each([
      { x: [2, 8, 8, 3], size: 2, stride: 2, pad: 'valid' as const },
      { x: [1, 7, 9, 4], size: 3, stride: 2, pad: 'same' as const },
      { x: [3, 5, 6, 2], size: 2, stride: 1, pad: 'valid' as const },
      // Overlapping windows, and big enough for the native kernel to split the batch.
      { x: [4, 32, 32, 16], size: 3, stride: 2, pad: 'same' as const },
    ])(
      'maxPool gradient matches cpu, with ties from rectified inputs: $x $size/$stride $pad',
      async (c) => {
        const xv = randomValues(
          c.x.reduce((a, b) => a * b),
          61,
          true,
        );
        await compare(() =>
          tf.grad((t: tf.Tensor) =>
            tf
              .maxPool(t as tf.Tensor4D, c.size, c.stride, c.pad)
              .square()
              .sum(),
          )(tf.tensor4d(xv, c.x as [number, number, number, number])),
        );
      },
    );

    it('maxPool gradient routes windows of −∞ and NaN as cpu does', async () => {
      const v = Float32Array.from([
        -Infinity,
        -Infinity,
        NaN,
        1,
        -Infinity,
        2,
        NaN,
        NaN,
        0,
        -0,
        -Infinity,
        3,
        5,
        5,
        5,
        -1,
      ]);
      await compare(
        () =>
          tf.grad((t: tf.Tensor) =>
            tf
              .maxPool(t as tf.Tensor4D, 2, 2, 'valid')
              .mul(tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]))
              .sum(),
          )(tf.tensor4d(v, [1, 4, 4, 1])),
        0,
      );
    });

    it('relu gradient equals the stock dy · step(x) bit for bit (NaN, ±0, ±∞, negative dy)', async () => {
      const special = [NaN, -0, 0, Infinity, -Infinity, 1e-30, -1e-30];
      const xv = randomValues(5 * 7 * 3 * 4, 71);
      xv.set(special);
      const dyv = randomValues(xv.length, 72);
      dyv.set([-1, -2, 3, NaN, -4, -5, 6], 7);
      dyv.set([NaN, -1, -1, -1, NaN, -1, -1], 14);
      xv.set(special, 14);
      const run = async (backend: string, ours: boolean) => {
        await tf.setBackend(backend);
        const kernel = tf.getKernel(RELU_GRAD, backend);
        if (!ours && kernel) tf.unregisterKernel(RELU_GRAD, backend);
        try {
          return tf.tidy(() =>
            tf
              .grad((t: tf.Tensor) =>
                tf
                  .relu(t)
                  .mul(tf.tensor4d(dyv, [5, 7, 3, 4]))
                  .sum(),
              )(tf.tensor4d(xv, [5, 7, 3, 4]))
              .dataSync()
              .slice(),
          );
        } finally {
          if (!ours && kernel) tf.registerKernel(kernel);
        }
      };
      const reference = await run('cpu', false);
      expect(tf.getKernel(RELU_GRAD, 'wasm')).toBeDefined();
      for (const [backend, ours] of [
        ['wasm', true],
        ['wasm', false],
      ] as const) {
        const actual = await run(backend, ours);
        const same = Array.from(actual).every((v, i) => Object.is(v, reference[i]));
        expect(same, `${backend}${ours ? '' : ' (stock gradient)'}`).toBe(true);
      }
      expect(Object.is(reference[8], -0)).toBe(true); // dy = −2 where x = −0
      expect(Number.isNaN(reference[0])).toBe(true);
    });

    it.each([
      { shape: [70001], other: [70001] }, // two threads' share each
      { shape: [8, 28, 28, 16], other: [8, 28, 28, 16] },
      { shape: [3, 5], other: [3, 5] }, // small: the stock kernels
      { shape: [64, 100], other: [100] }, // broadcasting: the stock Add
    ])(
      'relu and add equal the cpu backend bit for bit (NaN, ±0, ±∞): $shape + $other',
      async ({ shape, other }) => {
        const n = shape.reduce((a, b) => a * b, 1);
        const special = [NaN, -0, 0, Infinity, -Infinity, 1e-30, -1e-30, -1, 2];
        const av = randomValues(n, 81);
        const bv = randomValues(
          other.reduce((a, b) => a * b, 1),
          82,
        );
        av.set(special.slice(0, Math.min(n, special.length)));
        av.set(special.slice(0, Math.min(n, special.length)), n - Math.min(n, special.length));
        bv.set([-0, NaN, -Infinity, Infinity, 0].slice(0, bv.length));
        const run = (backend: string) =>
          runOn(backend, () => {
            const a = tf.tensor(av, shape);
            return tf.stack([tf.relu(a).flatten(), tf.add(a, tf.tensor(bv, other)).flatten()]);
          });
        const reference = await run('cpu');
        const actual = await run('wasm');
        const diff = Array.from(actual.values).findIndex(
          (v, i) => !Object.is(v, reference.values[i]),
        );
        expect(diff, `at ${diff}: ${actual.values[diff]} vs ${reference.values[diff]}`).toBe(-1);
      },
    );

    it('keeps numTensors flat across kernel calls on wasm', async () => {
      await tf.setBackend('wasm');
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const x = tf.randomNormal([2, 6, 6, 3]);
        const f = tf.randomNormal([3, 3, 3, 4]);
        tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same').sum(),
        )([x, f]);
        tf.matMul(tf.ones([3, 4]), tf.ones([5, 4]), false, true).dataSync();
        tf.unsortedSegmentSum(tf.ones([4, 2]), tf.tensor1d([0, 1, 1, 3], 'int32'), 4).dataSync();
        tf.tile(tf.ones([1, 2]), [3, 1]).dataSync();
      });
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}
