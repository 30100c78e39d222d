// One-pass elementwise kernels on every thread: relu, its gradient (TF.js computes it as
// dy · cast(step(x)): three kernels) and the same-shape float32 add (residual connections and
// the tape's sums of gradients), which the wasm backend runs on one thread.
#pragma once
#include <cstddef>

namespace wp {

// y = max(0, x): bit for bit TF.js's Relu (NaN stays NaN, −0 becomes 0).
void relu(const float* x, float* y, std::size_t n);

// dx = dy · step(x), with step(x) = 1 for x > 0, NaN for NaN and 0 otherwise: bit for bit what
// TF.js's dy.mul(step(x)) gives (−0 for a negative dy where x ≤ 0, NaN where x or dy is NaN).
void relu_grad(const float* dy, const float* x, float* dx, std::size_t n);

// c = a + b.
void add(const float* a, const float* b, float* c, std::size_t n);

}  // namespace wp
