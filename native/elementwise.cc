#include "elementwise.h"

#include "pool.h"

namespace wp {
namespace {

// Elements per task: below this one thread does it all (a wake-up costs more than the work).
constexpr std::size_t kGrain = std::size_t{1} << 15;

}  // namespace

void relu(const float* x, float* y, std::size_t n) {
  parallel_for(n, kGrain, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t i = lo; i < hi; i++) {
      const float v = x[i];
      y[i] = v > 0.0f ? v : (v != v ? v : 0.0f);
    }
  });
}

void relu_grad(const float* dy, const float* x, float* dx, std::size_t n) {
  parallel_for(n, kGrain, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t i = lo; i < hi; i++) {
      const float v = x[i];
      const float step = v > 0.0f ? 1.0f : (v != v ? v : 0.0f);
      dx[i] = dy[i] * step;
    }
  });
}

void add(const float* a, const float* b, float* c, std::size_t n) {
  parallel_for(n, kGrain, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t i = lo; i < hi; i++) c[i] = a[i] + b[i];
  });
}

}  // namespace wp
