// Causal self-attention's softmax and its gradient over `matrices` t × t matrices, on all
// threads: src/kernels/causal-softmax.ts's JS loops in C++ (float32 scaling, exponentials and
// sums in double), 4 doubles at a time with AVX2 (vexp.h's exp4d), so they give the JS results
// except where a double rounds differently (sums in 4 lanes, another exp).
#pragma once
#include <cstddef>

namespace wp {

// y[i, j] = exp(c·x[i, j] − max) / Σ_{k ≤ i} exp(c·x[i, k] − max) for j ≤ i, 0 for j > i, with
// c = float(scale) and c·x rounded to float.
void causal_softmax(const float* x, float* y, std::size_t matrices, std::size_t t, double scale);

// dx[i, j] = c·y[i, j]·(dy[i, j] − Σ_{k ≤ i} dy[i, k]·y[i, k]) for j ≤ i, 0 for j > i.
void causal_softmax_grad(const float* dy, const float* y, float* dx, std::size_t matrices,
                         std::size_t t, double scale);

}  // namespace wp
