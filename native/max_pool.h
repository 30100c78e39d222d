// Max-pool gradient (NHWC), for the wasm backend whose own kernel is a slow generic loop.
#pragma once
#include <cstddef>

namespace wp {

struct PoolDims {
  int batch, in_h, in_w, channels;
  int out_h, out_w;
  int filter_h, filter_w, stride_h, stride_w;
  int pad_top, pad_left;
};

// dx = 0, then each dy[b, oh, ow, c] is added to dx at the first maximum of its window in x (the
// cell TF.js's cpu backend and TensorFlow route it to): NaN never wins, and a window of only
// −∞ (or padding and −∞) routes to its first −∞. Windows entirely in the padding route nothing.
// Images are split across threads; within one image the additions run in output order, so the
// result is the same for any thread count.
void max_pool_grad(const float* x, const float* dy, float* dx, const PoolDims& d);

}  // namespace wp
