// Layer normalization over the last axis and its gradient, on all threads:
// src/kernels/layer-norm.ts's JS loops in C++, the same double operations in the same order (so
// the same float32 results): rows split across threads, dgamma and dbeta summed over the rows in
// row order by column chunks.
#pragma once
#include <cstddef>

namespace wp {

// y = (x − mean)·rstd·gamma + beta per row; each row's mean and rstd = 1/√(var + ε) stored.
void layer_norm(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                float* rstd, std::size_t rows, std::size_t cols, double epsilon);

// dx, dgamma, dbeta from the forward's mean and rstd.
void layer_norm_grad(const float* dy, const float* x, const float* gamma, const float* mean,
                     const float* rstd, float* dx, float* dgamma, float* dbeta, std::size_t rows,
                     std::size_t cols);

}  // namespace wp
