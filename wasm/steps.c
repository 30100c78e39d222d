/*
 * The fused optimizer loops as a WebAssembly SIMD module, for TF.js's wasm backend without the
 * native addon (a browser, or Node without a C++ toolchain). The module imports the wasm backend's
 * own memory, so it runs in place on the tensors' storage, four floats per instruction.
 *
 * Operation for operation the JS loops of src/kernels/fused/adam.ts and native/adam.cc: every
 * operation is an IEEE float32 +, −, ×, ÷ or √ (wasm has no implicit fused multiply-add), so the
 * results are bit for bit theirs. Sums of squares are float64, in the JS loop's order.
 *
 * The module must not touch memory other than the arrays it is given: it has no data, no stack
 * and no globals (scripts/build-wasm-steps.mjs checks the built module for that), since the memory
 * it imports is the wasm backend's heap. Build: `npm run build:wasm` (needs clang and lld).
 */
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))
#define INLINE static inline __attribute__((always_inline))

typedef unsigned int u32;

/* ---- Adam / AdamW ------------------------------------------------------------------------- */

INLINE float predicted_value(float theta, float m, float v, float a, float scale, float ib,
                             float eps) {
  return a * theta - (scale * m) / (__builtin_sqrtf(v) * ib + eps);
}

INLINE v128_t predicted_x4(v128_t theta, v128_t m, v128_t v, v128_t a, v128_t scale, v128_t ib,
                           v128_t eps) {
  return wasm_f32x4_sub(
      wasm_f32x4_mul(a, theta),
      wasm_f32x4_div(wasm_f32x4_mul(scale, m),
                     wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_sqrt(v), ib), eps)));
}

EXPORT(adam_predict)
void adam_predict(const float* theta, float* predicted, const float* m, const float* v, u32 n,
                  float a, float scale, float ib, float eps) {
  const v128_t a4 = wasm_f32x4_splat(a), scale4 = wasm_f32x4_splat(scale);
  const v128_t ib4 = wasm_f32x4_splat(ib), eps4 = wasm_f32x4_splat(eps);
  u32 i = 0;
  for (; i + 4 <= n; i += 4) {
    wasm_v128_store(predicted + i,
                    predicted_x4(wasm_v128_load(theta + i), wasm_v128_load(m + i),
                                 wasm_v128_load(v + i), a4, scale4, ib4, eps4));
  }
  for (; i < n; i++) predicted[i] = predicted_value(theta[i], m[i], v[i], a, scale, ib, eps);
}

/* Where an update writes the next step's θ̂: nowhere, a separate array, or over the gradient. */
enum { TARGET_NONE = 0, TARGET_SEPARATE = 1, TARGET_OVER_GRAD = 2 };

/*
 * One Adam update of [0, n); constant flags make one specialised loop per call site. With
 * `share`, θ̂'s step term equals the update's own (same scalars, no AMSGrad): a·θ' − step.
 */
INLINE void adam_update_loop(float* theta, const float* grad, float* m, float* v, float* v_max,
                             float* out, u32 n, const int amsgrad, const int target,
                             const int share, float gs, float l2, float b1, float b2, float omb1,
                             float omb2, float keep, float lr, float ib, float eps, float pa,
                             float pscale, float pib) {
  const float* g_in = target == TARGET_OVER_GRAD ? out : grad;
  const v128_t gs4 = wasm_f32x4_splat(gs), l24 = wasm_f32x4_splat(l2);
  const v128_t b14 = wasm_f32x4_splat(b1), b24 = wasm_f32x4_splat(b2);
  const v128_t omb14 = wasm_f32x4_splat(omb1), omb24 = wasm_f32x4_splat(omb2);
  const v128_t keep4 = wasm_f32x4_splat(keep), lr4 = wasm_f32x4_splat(lr);
  const v128_t ib4 = wasm_f32x4_splat(ib), eps4 = wasm_f32x4_splat(eps);
  const v128_t pa4 = wasm_f32x4_splat(pa), pscale4 = wasm_f32x4_splat(pscale);
  const v128_t pib4 = wasm_f32x4_splat(pib);
  u32 i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t t = wasm_v128_load(theta + i);
    const v128_t g =
        wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(g_in + i), gs4), wasm_f32x4_mul(l24, t));
    const v128_t mi =
        wasm_f32x4_add(wasm_f32x4_mul(b14, wasm_v128_load(m + i)), wasm_f32x4_mul(omb14, g));
    const v128_t vi = wasm_f32x4_add(wasm_f32x4_mul(b24, wasm_v128_load(v + i)),
                                     wasm_f32x4_mul(wasm_f32x4_mul(omb24, g), g));
    wasm_v128_store(m + i, mi);
    wasm_v128_store(v + i, vi);
    v128_t denominator_v = vi;
    if (amsgrad) {
      /* f32x4.max: NaN when either is NaN, as the C and JS loops. */
      denominator_v = wasm_f32x4_max(wasm_v128_load(v_max + i), vi);
      wasm_v128_store(v_max + i, denominator_v);
    }
    const v128_t step = wasm_f32x4_div(
        wasm_f32x4_mul(lr4, mi),
        wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_sqrt(denominator_v), ib4), eps4));
    const v128_t next = wasm_f32x4_sub(wasm_f32x4_mul(t, keep4), step);
    wasm_v128_store(theta + i, next);
    if (target != TARGET_NONE) {
      wasm_v128_store(out + i, share ? wasm_f32x4_sub(wasm_f32x4_mul(pa4, next), step)
                                     : predicted_x4(next, mi, vi, pa4, pscale4, pib4, eps4));
    }
  }
  for (; i < n; i++) {
    const float t = theta[i];
    const float g = g_in[i] * gs + l2 * t;
    const float mi = b1 * m[i] + omb1 * g;
    const float vi = b2 * v[i] + omb2 * g * g;
    m[i] = mi;
    v[i] = vi;
    float denominator_v = vi;
    if (amsgrad) {
      const float prev = v_max[i];
      denominator_v = (prev != prev || vi != vi) ? __builtin_nanf("") : (prev > vi ? prev : vi);
      v_max[i] = denominator_v;
    }
    const float step = (lr * mi) / (__builtin_sqrtf(denominator_v) * ib + eps);
    const float next = t * keep - step;
    theta[i] = next;
    if (target != TARGET_NONE) {
      out[i] = share ? pa * next - step : predicted_value(next, mi, vi, pa, pscale, pib, eps);
    }
  }
}

#define ADAM_ARGS                                                                           \
  theta, grad, m, v, v_max, out, n
#define ADAM_SCALARS gs, l2, b1, b2, omb1, omb2, keep, lr, ib, eps, pa, pscale, pib

/*
 * One Adam update in place: θ, m, v (and vMax with AMSGrad, when non-null); with `out` non-null
 * it also writes the next step's θ̂ there (`out` may be `grad`: each gradient value is read first).
 */
EXPORT(adam_update)
void adam_update(float* theta, const float* grad, float* m, float* v, float* v_max, float* out,
                 u32 n, float gs, float l2, float b1, float b2, float omb1, float omb2, float keep,
                 float lr, float ib, float eps, float pa, float pscale, float pib) {
  const int target = out == 0 ? TARGET_NONE : out == grad ? TARGET_OVER_GRAD : TARGET_SEPARATE;
  if (v_max != 0) {
    if (target == TARGET_NONE)
      adam_update_loop(ADAM_ARGS, 1, TARGET_NONE, 0, ADAM_SCALARS);
    else if (target == TARGET_OVER_GRAD)
      adam_update_loop(ADAM_ARGS, 1, TARGET_OVER_GRAD, 0, ADAM_SCALARS);
    else
      adam_update_loop(ADAM_ARGS, 1, TARGET_SEPARATE, 0, ADAM_SCALARS);
    return;
  }
  const int share = pscale == lr && pib == ib;
  if (target == TARGET_NONE)
    adam_update_loop(ADAM_ARGS, 0, TARGET_NONE, 0, ADAM_SCALARS);
  else if (target == TARGET_OVER_GRAD && share)
    adam_update_loop(ADAM_ARGS, 0, TARGET_OVER_GRAD, 1, ADAM_SCALARS);
  else if (target == TARGET_OVER_GRAD)
    adam_update_loop(ADAM_ARGS, 0, TARGET_OVER_GRAD, 0, ADAM_SCALARS);
  else if (share)
    adam_update_loop(ADAM_ARGS, 0, TARGET_SEPARATE, 1, ADAM_SCALARS);
  else
    adam_update_loop(ADAM_ARGS, 0, TARGET_SEPARATE, 0, ADAM_SCALARS);
}

/* ---- The gradient norm ---------------------------------------------------------------------- */

/* Σx² in float64 with four sums, s0 + s1 + (s2 + s3): the JS loop's order, bit for bit. */
EXPORT(sum_of_squares)
double sum_of_squares(const float* x, u32 n) {
  v128_t s01 = wasm_f64x2_splat(0), s23 = wasm_f64x2_splat(0);
  u32 i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t q = wasm_v128_load(x + i);
    const v128_t lo = wasm_f64x2_promote_low_f32x4(q);
    const v128_t hi = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(q, q, 2, 3, 0, 1));
    s01 = wasm_f64x2_add(s01, wasm_f64x2_mul(lo, lo));
    s23 = wasm_f64x2_add(s23, wasm_f64x2_mul(hi, hi));
  }
  double s0 = wasm_f64x2_extract_lane(s01, 0);
  for (; i < n; i++) s0 += (double)x[i] * (double)x[i];
  return s0 + wasm_f64x2_extract_lane(s01, 1) +
         (wasm_f64x2_extract_lane(s23, 0) + wasm_f64x2_extract_lane(s23, 1));
}
