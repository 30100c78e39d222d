import * as tf from '@tensorflow/tfjs';

const PATCHED = Symbol('rnnExecutorFix');

type Apply = (inputs: unknown, kwargs?: Record<string, unknown>) => unknown;

/**
 * Makes a functional model whose RNN layers take their initial state as inputs callable with
 * `{training: true}`. Two tfjs-layers 4.22 behaviours get in the way (engine/executor.js and
 * layers/recurrent.js):
 * - the executor passes ONE kwargs object to every layer, and `RNN.apply` writes `initialState`
 *   into it, so the next RNN call sees both array inputs and `initialState` and throws "When inputs
 *   is an array, neither initialState or constants should be provided";
 * - the executor calls a multi-output layer once per output it needs (an LSTM with
 *   `returnState` runs 3 times per forward pass).
 * The patch gives each concrete RNN call its own kwargs without `initialState`, and returns the
 * previous outputs when the same layer is called again with the very same input tensors.
 * Idempotent; symbolic calls (model building) are untouched.
 */
export function fixRnnExecution(model: tf.LayersModel): void {
  for (const layer of model.layers) {
    if (!(layer instanceof tf.RNN)) continue;
    const target = layer as unknown as { apply: Apply; [PATCHED]?: boolean };
    if (target[PATCHED]) continue;
    const original = target.apply.bind(layer) as Apply;
    let last: { inputs: tf.Tensor[]; training: unknown; outputs: tf.Tensor[] } | undefined;
    target.apply = (inputs, kwargs) => {
      const list = Array.isArray(inputs) ? (inputs as unknown[]) : [inputs];
      if (!list.every((t) => t instanceof tf.Tensor)) return original(inputs, kwargs);
      const rest: Record<string, unknown> = { ...kwargs };
      delete rest['initialState'];
      const tensors = list as tf.Tensor[];
      if (
        last &&
        last.training === rest['training'] &&
        last.inputs.length === tensors.length &&
        last.inputs.every((t, i) => t === tensors[i]) &&
        last.outputs.every((t) => !t.isDisposed)
      ) {
        return last.outputs.length === 1 ? last.outputs[0] : last.outputs;
      }
      const out = original(inputs, rest);
      const outputs = (Array.isArray(out) ? out : [out]) as tf.Tensor[];
      last = { inputs: tensors, training: rest['training'], outputs };
      return out;
    };
    target[PATCHED] = true;
  }
}
