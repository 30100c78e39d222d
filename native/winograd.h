// Winograd F(2×2, 3×3) for 3×3, stride-1, undilated convolutions (Lavin & Gray, "Fast Algorithms
// for Convolutional Neural Networks", CVPR 2016). Each 2×2 block of outputs is a 4×4 input tile;
// after the transforms, a block costs 16 multiply-adds per (input, output) channel pair instead of
// 36, done as 16 sgemms over a chunk of tiles. The input gradient is the same algorithm on dy with
// the filter flipped and transposed; the filter gradient is F(3×3, 2×2), its transpose (dy's 2×2
// block in the filter's place, dw's 3×3 taps as the output), summed over tiles before the last
// transform. Every output is computed inside one fixed chunk of tiles, so forward and input
// gradient give the same bits for any thread count; the filter gradient adds one partial sum per
// thread in order, as conv.cc's im2col path does. Each function returns false where it does not
// apply, and the caller takes another path.
#pragma once
#include "conv.h"

namespace wp {

// True for a 3×3, stride-1, undilated filter with at least min_pairs (in_c · out_c) channel pairs.
bool winograd_applies(const ConvDims& d, long min_pairs);

// Each returns false, doing nothing, unless winograd_applies with the pass's own threshold
// (winograd.cc: where it was measured faster than the other paths).
// y = conv(x, w), as conv2d_forward.
bool winograd_conv(const float* x, const float* w, float* y, const ConvDims& d);

// dx = the input gradient of conv(x, w) for dy, as conv2d_backprop_input.
bool winograd_backprop_input(const float* dy, const float* w, float* dx, const ConvDims& d);

// dw = the filter gradient of conv(x, w) for dy, as conv2d_backprop_filter.
bool winograd_backprop_filter(const float* x, const float* dy, float* dw, const ConvDims& d);

}  // namespace wp
