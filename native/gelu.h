// GELU, x·Φ(x), and its gradient in one pass each, on all threads: src/kernels/gelu.ts's JS loops
// (TF.js's erf, Abramowitz & Stegun 7.1.26, in double precision) in C++, 4 doubles at a time with
// AVX2 (the same operations in the same order, vexp.h's exp4d for the exponential).
#pragma once
#include <cstddef>

namespace wp {

// y = x/2·(1 + erf(x/√2)).
void gelu(const float* x, float* y, std::size_t n);

// dx = dy·(Φ(x) + x·φ(x)), the exact derivative (as TF.js's Erf gradient makes the stock one).
void gelu_grad(const float* dy, const float* x, float* dx, std::size_t n);

}  // namespace wp
