// Causal self-attention's softmax over the last axis of `matrices` t × t score matrices, and its
// gradient: src/kernels/causal-softmax.ts's JS loops in C++ (the same float32 scaling and double
// arithmetic in the same order; the exponentials 4 at a time with vexp.h's exp4d), rows on all
// threads.
#pragma once
#include <cstddef>

namespace wp {

// y[i, j] = exp(c·x[i, j] − max_i) / Σ_{k ≤ i} exp(c·x[i, k] − max_i) for j ≤ i, 0 above the
// diagonal; c is `scale` rounded to float32, and c·x is a float32 product.
void causal_softmax(const float* x, float* y, std::size_t matrices, std::size_t t, double scale);

// dx[i, j] = c·y[i, j]·(dy[i, j] − Σ_k dy[i, k]·y[i, k]) for j ≤ i, 0 above the diagonal.
void causal_softmax_grad(const float* dy, const float* y, float* dx, std::size_t matrices,
                         std::size_t t, double scale);

}  // namespace wp
