// The option-A ResNet shortcut (src/models/layers.ts ZeroPadShortcut) as one pass each way: an
// NHWC image subsampled by a stride and zero-padded in channels, and its gradient. TF.js builds it
// from pad, reshape and slice: three copies forward and three backward.
#pragma once
#include <cstddef>

namespace wp {

// x [batch, height, width, channels] -> y [batch, ⌈height/s⌉, ⌈width/s⌉, filters]:
// y[b, i, j, c] = x[b, i·s, j·s, c] for c < channels, 0 for channels ≤ c < filters.
void subsample_pad(const float* x, float* y, std::size_t batch, std::size_t height,
                   std::size_t width, std::size_t channels, std::size_t stride,
                   std::size_t filters);

// Its gradient: dx[b, h, w, c] = dy[b, h/s, w/s, c] where s divides h and w, 0 elsewhere.
void subsample_pad_grad(const float* dy, float* dx, std::size_t batch, std::size_t height,
                        std::size_t width, std::size_t channels, std::size_t stride,
                        std::size_t filters);

}  // namespace wp
