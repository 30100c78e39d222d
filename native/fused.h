// What every fused optimizer loop (adam.cc, optimizers.cc) shares: the thread grain, where an
// update puts the next step's θ̂, the compile-time dispatch that makes each variant one
// branch-free loop, and the JS semantics the loops must reproduce (Math.max, Math.sign).
//
// The loops compute in float32, operation for operation as their JS twins in src/kernels/fused/
// (which round every operation with Math.fround), with no fused multiply-add (-ffp-contract=off),
// so both give bit-identical results. Every double-valued scalar is rounded to float32 first, on
// both sides. Each loop is a function of its own with restrict pointers, so that it vectorises
// (inside the parallel_for lambda it read the captured pointers through references and stayed
// scalar).
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "pool.h"

namespace wp::fused {

// Below this many elements per thread, waking a thread costs more than it saves.
constexpr std::size_t kGrain = 1 << 15;

// Where an update puts the next step's θ̂: nowhere, in a buffer of its own, or over the gradient
// it has just read. The last saves the write's cache misses: the gradient's lines are already in
// cache, where a separate buffer's must first be fetched. On the MLP's six arrays (270k weights,
// hot in cache) Adam's update took 69 µs without θ̂, 92 µs with a separate buffer, 71 µs over the
// gradient. With kOverGrad a loop reads the gradient from `out` (its `grad` is null) and writes θ̂
// there; with kNone `out` is null.
enum class Target { kNone, kSeparate, kOverGrad };

template <Target kTarget>
using TargetTag = std::integral_constant<Target, kTarget>;

// Calls body(TargetTag<…>{}) for the target that `predicted` (null, `grad`, or another array) is.
template <class Body>
void with_target(const float* grad, const float* predicted, Body&& body) {
  if (predicted == nullptr) {
    body(TargetTag<Target::kNone>{});
  } else if (predicted == grad) {
    body(TargetTag<Target::kOverGrad>{});
  } else {
    body(TargetTag<Target::kSeparate>{});
  }
}

// Calls body(std::true_type{}) or body(std::false_type{}): a run-time option as a template flag.
template <class Body>
void with_flag(bool flag, Body&& body) {
  if (flag) {
    body(std::true_type{});
  } else {
    body(std::false_type{});
  }
}

// The gradient as a loop takes it: null when the target has it read from `out`.
template <Target kTarget>
const float* grad_for(const float* grad) {
  return kTarget == Target::kOverGrad ? nullptr : grad;
}

// Element i of the gradient, wherever the target puts it.
template <Target kTarget>
inline float gradient_at(const float* __restrict grad, const float* __restrict out, std::size_t i) {
  return kTarget == Target::kOverGrad ? out[i] : grad[i];
}

// Math.max(a, b) in float32: NaN wins.
inline float js_max(float a, float b) {
  return (std::isnan(a) || std::isnan(b)) ? NAN : (a > b ? a : b);
}

// Math.sign(x) in float32: ±1, or x itself for ±0 and NaN. On the bits, with an integer select:
// the float comparisons' form (x > 0 ? 1 : x < 0 ? −1 : x) kept Lion's loops scalar ("control
// flow in loop"), 15× slower.
inline float js_sign(float x) {
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const std::uint32_t magnitude = bits & 0x7fffffffu;
  const std::uint32_t one = (bits & 0x80000000u) | 0x3f800000u;  // ±1.0f with x's sign
  const std::uint32_t result = (magnitude == 0 || magnitude > 0x7f800000u) ? bits : one;
  float out;
  std::memcpy(&out, &result, sizeof out);
  return out;
}

// Runs range(lo, hi) over [0, n) on the pool's threads.
template <class Range>
void parallel(std::size_t n, Range&& range) {
  parallel_for(n, kGrain, std::forward<Range>(range));
}

}  // namespace wp::fused
