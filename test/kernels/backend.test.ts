import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import { describeBackend, selectBackend } from '../../src/kernels/index.js';

async function tfjsNodeInstalled(): Promise<boolean> {
  const name = '@tensorflow/tfjs-node';
  try {
    await import(name);
    return true;
  } catch {
    return false;
  }
}

describe('selectBackend', () => {
  it('selects cpu and registers its training kernels', async () => {
    expect(await selectBackend('cpu')).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(describeBackend()).toMatch(/^cpu(, native addon off: | \+ native addon \(Adam steps)/);
    // The stock segment sum builds one mask per segment; ours is a single scatter-add loop.
    const fn = tf.getKernel('UnsortedSegmentSum', 'cpu')!.kernelFunc;
    expect(fn.toString()).not.toContain('createScalarValue');
  });

  it('selects wasm with its training kernels and describes it', async () => {
    expect(await selectBackend('wasm')).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeDefined();
    expect(describeBackend()).toMatch(
      /^wasm \(SIMD (on|off), \d+ threads?\)(, Adam steps in (WebAssembly SIMD|tf ops), native addon off: | \+ native addon \(matmul)/,
    );
  });

  it("'auto' picks tensorflow when tfjs-node is installed, else wasm", async () => {
    const expected = (await tfjsNodeInstalled()) ? 'tensorflow' : 'wasm';
    expect(await selectBackend()).toBe(expected);
    expect(tf.getBackend()).toBe(expected);
  });

  it("'tensorflow' without tfjs-node is a UserInputError naming the package", async () => {
    if (await tfjsNodeInstalled()) return;
    await expect(selectBackend('tensorflow')).rejects.toThrow(UserInputError);
    await expect(selectBackend('tensorflow')).rejects.toThrow(/@tensorflow\/tfjs-node/);
  });

  it('rejects an unknown preference with a UserInputError listing the choices', async () => {
    await expect(selectBackend('gpu' as never)).rejects.toThrow(UserInputError);
    await expect(selectBackend('gpu' as never)).rejects.toThrow(/auto, wasm, cpu, tensorflow/);
  });
});
