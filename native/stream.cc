#include "stream.h"

#include "pool.h"

namespace wp {

void stream_copy(const float* a, float* b, std::size_t n) {
  parallel_for(n, 1 << 16, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t i = lo; i < hi; i++) b[i] = a[i];
  });
}

void stream_triad(float* a, const float* b, const float* c, float s, std::size_t n) {
  parallel_for(n, 1 << 16, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t i = lo; i < hi; i++) a[i] = b[i] + s * c[i];
  });
}

void stream_update(float* a, const float* b, float s, std::size_t n) {
  parallel_for(n, 1 << 16, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t i = lo; i < hi; i++) a[i] += s * b[i];
  });
}

}  // namespace wp
