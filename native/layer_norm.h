// Layer normalisation over the last axis of a row-major [rows, cols] array, forward and backward:
// src/kernels/layer-norm.ts's JS loops in C++ (the same double arithmetic in the same order), rows
// on all threads.
#pragma once
#include <cstddef>

namespace wp {

// y = (x − mean)·rstd·γ + β per row, rstd = 1/√(var + ε) (biased variance, two passes); each
// row's mean and rstd are written for the gradient.
void layer_norm_forward(const float* x, const float* gamma, const float* beta, float* y,
                        float* mean, float* rstd, std::size_t rows, std::size_t cols,
                        double epsilon);

// dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ; dγ = Σ_rows dy·x̂ and dβ = Σ_rows dy, summed
// in row order (the same bits for any thread count).
void layer_norm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                         const float* rstd, float* dx, float* dgamma, float* dbeta,
                         std::size_t rows, std::size_t cols);

}  // namespace wp
