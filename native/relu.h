// The gradient of relu in one pass (TF.js computes it as dy · cast(step(x)): three kernels).
#pragma once
#include <cstddef>

namespace wp {

// dx = dy · step(x), with step(x) = 1 for x > 0, NaN for NaN and 0 otherwise: bit for bit what
// TF.js's dy.mul(step(x)) gives (−0 for a negative dy where x ≤ 0, NaN where x or dy is NaN).
void relu_grad(const float* dy, const float* x, float* dx, std::size_t n);

}  // namespace wp
