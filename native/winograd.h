// Winograd F(4×4, 3×3) for 3×3, stride-1, undilated convolutions (Lavin & Gray, "Fast Algorithms
// for Convolutional Neural Networks", CVPR 2016). Each 4×4 block of outputs is a 6×6 input tile;
// after the transforms, a block costs 36 multiply-adds per (input, output) channel pair instead of
// 144, done as 36 sgemms over a chunk of tiles. The input gradient is the same algorithm on dy
// with the filter flipped and transposed; the filter gradient is F(3×3, 4×4), its transpose (dy's
// 4×4 block in the filter's place, dw's 3×3 taps as the output), summed over tiles before the last
// transform. Accuracy: ~1e-5 of the largest output (float32 against float64), where im2col +
// sgemm gives ~5e-7. A NaN or an infinity in the input spreads to every output of the blocks
// whose tiles hold it (the transforms mix a tile's pixels), where im2col confines it to the
// outputs that read it: either way the loss is not finite, and training reports the run as
// diverged. Every output is computed inside one fixed chunk of tiles, so forward and input
// gradient give the same bits for any thread count; the filter gradient adds one partial sum per
// thread in order, as conv.cc's im2col path does.
#pragma once
#include "conv.h"

namespace wp {

// Each returns false, doing nothing, unless the filter is 3×3, stride 1 and undilated, with at
// least 32 · 32 channel pairs (in_c · out_c) for the forward pass and the input gradient, 16 · 16
// for the filter gradient: where each was measured faster than the other paths.

// y = conv(x, w), as conv2d_forward.
bool winograd_conv(const float* x, const float* w, float* y, const ConvDims& d);

// dx = the input gradient of conv(x, w) for dy, as conv2d_backprop_input.
bool winograd_backprop_input(const float* dy, const float* w, float* dx, const ConvDims& d);

// dw = the filter gradient of conv(x, w) for dy, as conv2d_backprop_filter.
bool winograd_backprop_filter(const float* x, const float* dy, float* dw, const ConvDims& d);

}  // namespace wp
