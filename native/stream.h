// STREAM-style copy and triad loops on all of the pool's threads: the memory bandwidth the native
// optimizer loops are measured against (`npm run bench`).
#pragma once
#include <cstddef>

namespace wp {

// b = a.
void stream_copy(const float* a, float* b, std::size_t n);
// a = b + s·c.
void stream_triad(float* a, const float* b, const float* c, float s, std::size_t n);
// a += s·b, in place (12 bytes per element with no write-allocate: an optimizer step's pattern).
void stream_update(float* a, const float* b, float s, std::size_t n);

}  // namespace wp
