// 2-D convolution (NHWC input, HWIO filter) and its two gradients. Each entry point chooses its
// path here, in conv.cc: Winograd (winograd.h) for 3×3 stride-1 filters with many channels, the
// direct kernels (direct_conv.h) for few, a plain sgemm for 1×1, else im2col / col2im around
// sgemm over cache-sized chunks of the batch that the pool's threads take whole.
#pragma once
#include <cstddef>

namespace wp {

struct ConvDims {
  int batch, in_h, in_w, in_c;
  int out_h, out_w, out_c;
  int filter_h, filter_w, stride_h, stride_w, dilation_h, dilation_w;
  int pad_top, pad_left;
};

// y[B, OH, OW, Cout] = conv(x, w).
void conv2d_forward(const float* x, const float* w, float* y, const ConvDims& d);
// dw[FH, FW, Cin, Cout] = Σ patches(x)ᵀ · dy.
void conv2d_backprop_filter(const float* x, const float* dy, float* dw, const ConvDims& d);
// dx[B, H, W, Cin] = col2im(dy · wᵀ).
void conv2d_backprop_input(const float* dy, const float* w, float* dx, const ConvDims& d);

// c = op(a) · op(b), row-major, batched with per-operand batch strides (0 broadcasts).
void matmul(const float* a, const float* b, float* c, int batch, int m, int n, int k,
            bool transpose_a, bool transpose_b, std::size_t stride_a, std::size_t stride_b);

// y[r, c] = act(y[r, c] + bias[c]); activation 0 = linear, 1 = relu. bias may be null.
void bias_activation(float* y, const float* bias, std::size_t rows, std::size_t cols,
                     int activation);

}  // namespace wp
