// Batch normalisation in training mode over a row-major [rows, channels] view (NHWC activations:
// rows = batch·height·width), forward and backward, in two passes each instead of the dozen
// elementwise TF.js ops that moments + batchNorm + their gradients make.
#pragma once
#include <cstddef>

namespace wp {

// mean, variance (biased, as tf.moments) of each channel; y = (x − mean)·γ/√(var + ε) + β.
void batch_norm_forward(const float* x, const float* gamma, const float* beta, float* y,
                        float* mean, float* variance, std::size_t rows, std::size_t channels,
                        double epsilon);

// The gradients of y = batchNorm(x; batch mean, batch variance, γ, β) through the batch
// statistics: dβ = Σdy, dγ = Σdy·x̂, dx = γ/σ·(dy − dβ/N − x̂·dγ/N).
void batch_norm_backward(const float* dy, const float* x, const float* mean,
                         const float* variance, const float* gamma, float* dx, float* dgamma,
                         float* dbeta, std::size_t rows, std::size_t channels, double epsilon);

}  // namespace wp
