/**
 * One LSTM layer's recurrence over a whole sequence, the one home of the cell's math: PyTorch's and
 * Keras's LSTM with sigmoid gates, z = x·W + h·U + b with gates in the Keras order i, f, g, o;
 * c' = σ(f)⊙c + σ(i)⊙tanh(g); h' = σ(o)⊙tanh(c').
 *
 * With the native addon on wasm the t steps are two kernels (native/lstm.cc): the forward pass
 * keeps the activated gates and the cells, and the backward pass runs back-propagation through
 * time with one product per step. Stock ops, per step, need about a dozen kernels forward and two
 * dozen backward, each with engine overhead comparable to its arithmetic at a language model's
 * sizes. Elsewhere the same math runs as those stock ops.
 */
import * as tf from '@tensorflow/tfjs';

export const LSTM_SEQUENCE = 'WeightPredictionLstmSequence';
export const LSTM_SEQUENCE_GRAD = 'WeightPredictionLstmSequenceGrad';

function hasKernels(): boolean {
  const backend = tf.getBackend();
  return (
    tf.getKernel(LSTM_SEQUENCE, backend) !== undefined &&
    tf.getKernel(LSTM_SEQUENCE_GRAD, backend) !== undefined
  );
}

/** The recurrence as stock TF.js ops, step by step (any backend, any dtype TF.js allows). */
export function lstmSequenceOps(
  projected: tf.Tensor3D,
  h0: tf.Tensor2D,
  c0: tf.Tensor2D,
  recurrent: tf.Tensor2D,
): tf.Tensor3D {
  return tf.tidy(() => {
    let h: tf.Tensor = h0;
    let c: tf.Tensor = c0;
    const outputs: tf.Tensor[] = [];
    const [b, t, g] = projected.shape;
    // unstack's gradient fails for a single step in tfjs 4.22 (it receives one tensor, not a list).
    const steps = t === 1 ? [tf.reshape(projected, [b, g])] : tf.unstack(projected, 1);
    for (const zx of steps) {
      const z = tf.add(zx, tf.matMul(h, recurrent));
      const [zi, zf, zg, zo] = tf.split(z, 4, 1) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      c = tf.add(tf.mul(tf.sigmoid(zf), c), tf.mul(tf.sigmoid(zi), tf.tanh(zg)));
      h = tf.mul(tf.sigmoid(zo), tf.tanh(c));
      outputs.push(h);
    }
    outputs.push(c);
    return tf.stack(outputs, 1) as tf.Tensor3D;
  });
}

/**
 * The LSTM recurrence: from projected = x·W + b [batch, steps, 4·units], the initial state h0, c0
 * [batch, units] and the recurrent kernel [units, 4·units], the output [batch, steps + 1, units]
 * holding h_1 … h_t and then c_t. Differentiable in all four inputs.
 */
export function lstmSequence(
  projected: tf.Tensor3D,
  h0: tf.Tensor2D,
  c0: tf.Tensor2D,
  recurrent: tf.Tensor2D,
): tf.Tensor3D {
  const [b, t, g] = projected.shape;
  const units = recurrent.shape[0];
  if (
    g !== 4 * units ||
    recurrent.shape[1] !== g ||
    h0.shape[0] !== b ||
    h0.shape[1] !== units ||
    c0.shape[0] !== b ||
    c0.shape[1] !== units
  ) {
    throw new Error(
      `lstmSequence: shapes do not fit: projected [${projected.shape}], h0 [${h0.shape}], ` +
        `c0 [${c0.shape}], recurrent [${recurrent.shape}]; expected [b, t, 4H], [b, H], [b, H], [H, 4H]`,
    );
  }
  const float32 = [projected, h0, c0, recurrent].every((x) => x.dtype === 'float32');
  if (!float32 || !hasKernels() || b * t * units === 0) {
    return lstmSequenceOps(projected, h0, c0, recurrent);
  }
  const op = tf.customGrad((...args) => {
    const [xp, hInit, cInit, u] = args as tf.Tensor[];
    const save = args[4] as tf.GradSaveFunc;
    const [out, gates, cells] = tf
      .engine()
      .runKernel(LSTM_SEQUENCE, { projected: xp!, h0: hInit!, c0: cInit!, recurrent: u! }, {}) as [
      tf.Tensor3D,
      tf.Tensor3D,
      tf.Tensor3D,
    ];
    save([gates, cells, out, hInit!, cInit!, u!]);
    return {
      value: out,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sGates, sCells, sOut, sH0, sC0, sU] = saved as tf.Tensor[];
        return tf.engine().runKernel(
          LSTM_SEQUENCE_GRAD,
          {
            dy,
            gates: sGates!,
            cells: sCells!,
            out: sOut!,
            h0: sH0!,
            c0: sC0!,
            recurrent: sU!,
          },
          {},
        ) as tf.Tensor[];
      },
    };
  });
  return op(projected, h0, c0, recurrent) as tf.Tensor3D;
}
