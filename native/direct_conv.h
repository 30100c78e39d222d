// Direct convolution for NHWC input and HWIO filters, without im2col: each thread computes whole
// output rows, 6 pixels × 16 channels at a time in AVX2 registers (FMA), reading the input and
// the filter in place. Each output is one thread's sum over (tap, input channel) in order, so the
// result does not depend on the number of threads. Built only where the compiler targets AVX2 and
// FMA; each function returns false when it does not apply, and the caller uses im2col + sgemm.
#pragma once
#include "conv.h"

namespace wp {

// True when direct_conv handles these dims (out_c a positive multiple of 8, in_c at most 32,
// AVX2 + FMA built).
bool direct_conv_applies(const ConvDims& d);

// y = conv(x, w), as conv2d_forward.
bool direct_conv(const float* x, const float* w, float* y, const ConvDims& d);

// dw = the filter gradient of conv(x, w) for dy, as conv2d_backprop_filter (direct_conv's
// conditions, and at most 16 input channels); each thread sums its own images, the threads' sums are added in order.
bool direct_conv_backprop_filter(const float* x, const float* dy, float* dw, const ConvDims& d);

// dx = the input gradient of conv(x, w) for dy, as conv2d_backprop_input: stride 1 only (any
// padding and dilation), in_c a positive multiple of 8 and out_c at most 32.
bool direct_conv_backprop_input(const float* dy, const float* w, float* dx, const ConvDims& d);

}  // namespace wp
