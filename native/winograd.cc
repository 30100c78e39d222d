#include "winograd.h"

#include <cblas.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "pool.h"

namespace wp {
namespace {

using std::size_t;

// Channel pairs (in_c · out_c) from which each pass was faster than the direct kernels or
// im2col + sgemm on VGG's and ResNet-8's layers at batch 64 on this machine (2 cores, loaded,
// medians of 41 interleaved pairs): every pass from 32 → 32 channels up (0.35-0.96 of their
// time); at 16 → 16 the filter gradient (0.74-0.80) but not the forward pass or the input
// gradient (1.22-1.37).
constexpr long kMinPairsForward = 1024;  // the forward pass and the input gradient
constexpr long kMinPairsFilter = 256;
// Transformed floats (input and output tiles together) per chunk of tiles.
constexpr size_t kChunkFloats = size_t{1} << 18;
// The planes of a chunk are this many floats (one cache line) more than their tiles apart: at a
// power-of-two distance the transforms' 16 or 36 streams fell into one L1 set, and the input
// transform ran 2-3× slower.
constexpr size_t kPlanePad = 16;

// Floats from one plane of n tiles × c channels to the next.
inline size_t plane(size_t n, size_t c) { return n * c + kPlanePad; }

// 8 channels at a time; GCC and Clang lower this to AVX registers where the target has them.
typedef float f8 __attribute__((vector_size(32)));

inline f8 load8(const float* p) {
  f8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(float* p, f8 v) { std::memcpy(p, &v, sizeof v); }

// F(m×m, 3×3) on tiles of a = m + 2: y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A (Lavin & Gray, section 4),
// here with m = 4 and the points 0, ±1, ±2, ∞. F(2×2, 3×3) (points 0, ±1, ∞) was 15-25% slower
// on VGG's layers; F(4×4)'s larger coefficients cost accuracy: ~1e-5 of the largest output
// against float64 where im2col + sgemm and F(2×2) gave ~5e-7.
struct Winograd {
  static constexpr int M = 4;
  static constexpr int A = M + 2;
  static constexpr float Bt[A][A] = {
      {4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
      {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
  static constexpr float G[A][3] = {{1.0f / 4, 0, 0},
                                    {-1.0f / 6, -1.0f / 6, -1.0f / 6},
                                    {-1.0f / 6, 1.0f / 6, -1.0f / 6},
                                    {1.0f / 24, 1.0f / 12, 1.0f / 6},
                                    {1.0f / 24, -1.0f / 12, 1.0f / 6},
                                    {0, 0, 1}};
  static constexpr float At[4][A] = {
      {1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
};

// Σₖ coef(k) · at(k) over the nonzero coefficients, with ±1 as no product: the tables are
// constants, so after unrolling this is the transform's own additions.
template <int N, typename T, typename Coef, typename At>
inline T combine(Coef coef, At at) {
  T acc{};
  bool any = false;
#pragma GCC unroll 8
  for (int k = 0; k < N; k++) {
    const float c = coef(k);
    if (c == 0.0f) continue;
    const T term = c == 1.0f ? at(k) : c == -1.0f ? -at(k) : c * at(k);
    acc = any ? acc + term : term;
    any = true;
  }
  return acc;
}

// out (R×R) = L x Lᵀ for x (N×N), with L (R×N) row-major, or out = Lᵀ x L with L (N×R) when
// kTransposed.
template <int R, int N, bool kTransposed, typename T>
inline void sandwich(const float* L, const T* x, T* out) {
  const auto coef = [L](int r, int k) { return kTransposed ? L[k * R + r] : L[r * N + k]; };
  T tmp[R * N];
#pragma GCC unroll 8
  for (int r = 0; r < R; r++) {
#pragma GCC unroll 8
    for (int j = 0; j < N; j++) {
      tmp[r * N + j] = combine<N, T>([&](int k) { return coef(r, k); },
                                     [&](int k) { return x[k * N + j]; });
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; r++) {
#pragma GCC unroll 8
    for (int c = 0; c < R; c++) {
      out[r * R + c] = combine<N, T>([&](int k) { return coef(c, k); },
                                     [&](int k) { return tmp[r * N + k]; });
    }
  }
}

// Applies `transform` (IN values → OUT values per channel) to n channels: IN source pointers,
// OUT destination pointers, each advancing one float per channel.
template <int IN, int OUT, typename Transform>
inline void each_channel(const float* const* src, float* const* dst, size_t n,
                         Transform transform) {
  size_t c = 0;
  for (; c + 8 <= n; c += 8) {
    f8 in[IN], out[OUT];
    for (int k = 0; k < IN; k++) in[k] = load8(src[k] + c);
    transform(in, out);
    for (int k = 0; k < OUT; k++) store8(dst[k] + c, out[k]);
  }
  for (; c < n; c++) {
    float in[IN], out[OUT];
    for (int k = 0; k < IN; k++) in[k] = src[k][c];
    transform(in, out);
    for (int k = 0; k < OUT; k++) dst[k][c] = out[k];
  }
}

// The calling thread's buffer for one use, at least `floats` long, grown and never shrunk: a
// chunk's transformed tiles, zeros standing for the padding (only ever read), a sink for the
// outputs past the edge, the transformed filter.
enum Slot { kTiles, kZeros, kSpill, kFilter };
template <Slot kSlot>
float* thread_buffer(size_t floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < floats) buffer.resize(floats, 0.0f);
  return buffer.data();
}

// One tiled pass of F(4×4, 3×3): `src` [batch, src_h, src_w, src_c] is read in A×A tiles whose
// corner is (M·th − pad_top, M·tw − pad_left), zero outside; `dst` [batch, dst_h, dst_w, dst_c]
// holds the M×M block at (M·th, M·tw) of each tile, clipped at its edges.
struct Tiled {
  using W = Winograd;
  static constexpr int M = W::M;
  static constexpr int A = W::A;
  static constexpr int kTaps = A * A;

  int batch, src_h, src_w, src_c, dst_h, dst_w, dst_c, pad_top, pad_left;
  int tiles_h, tiles_w;

  Tiled(int batch, int src_h, int src_w, int src_c, int dst_h, int dst_w, int dst_c, int pad_top,
        int pad_left)
      : batch(batch), src_h(src_h), src_w(src_w), src_c(src_c), dst_h(dst_h), dst_w(dst_w),
        dst_c(dst_c), pad_top(pad_top), pad_left(pad_left), tiles_h((dst_h + M - 1) / M),
        tiles_w((dst_w + M - 1) / M) {}

  size_t tiles() const { return static_cast<size_t>(batch) * tiles_h * tiles_w; }

  // Tiles per chunk: the chunk's transformed input and output tiles fill kChunkFloats.
  size_t chunk() const {
    const size_t per_tile = kTaps * static_cast<size_t>(src_c + dst_c);
    return std::max<size_t>(1, std::min(tiles(), kChunkFloats / per_tile));
  }

  // Pointers to the A×A source pixels of tile t (`zero` outside the image).
  void source_pixels(const float* src, size_t t, const float* zero, const float** p) const {
    const int tw = static_cast<int>(t % tiles_w);
    const int th = static_cast<int>((t / tiles_w) % tiles_h);
    const size_t b = t / (static_cast<size_t>(tiles_w) * tiles_h);
    for (int u = 0; u < A; u++) {
      const int ih = M * th - pad_top + u;
      for (int v = 0; v < A; v++) {
        const int iw = M * tw - pad_left + v;
        p[A * u + v] = ih < 0 || ih >= src_h || iw < 0 || iw >= src_w
                           ? zero
                           : src + ((b * src_h + ih) * src_w + iw) * src_c;
      }
    }
  }

  // Pointers to the M×M destination pixels of tile t; those past dst's edge point at `spill`.
  template <typename Pixel>
  void block_pixels(Pixel* dst, size_t t, Pixel* spill, Pixel** p) const {
    const int tw = static_cast<int>(t % tiles_w);
    const int th = static_cast<int>((t / tiles_w) % tiles_h);
    const size_t b = t / (static_cast<size_t>(tiles_w) * tiles_h);
    for (int i = 0; i < M; i++) {
      const int oh = M * th + i;
      for (int j = 0; j < M; j++) {
        const int ow = M * tw + j;
        p[M * i + j] = oh >= dst_h || ow >= dst_w
                           ? spill
                           : dst + ((b * dst_h + oh) * dst_w + ow) * dst_c;
      }
    }
  }

  // v[ξ][t][c] (planes of plane(n, src_c) floats) = Bᵀ d B of the n tiles from t0.
  void transform_source(const float* src, size_t t0, size_t n, float* v) const {
    const size_t C = src_c;
    const float* zero = thread_buffer<kZeros>(C);
    const float* p[kTaps];
    float* out[kTaps];
    for (size_t t = 0; t < n; t++) {
      source_pixels(src, t0 + t, zero, p);
      for (int k = 0; k < kTaps; k++) out[k] = v + k * plane(n, C) + t * C;
      each_channel<kTaps, kTaps>(p, out, C, [](const auto* d, auto* o) {
        sandwich<A, A, false>(&W::Bt[0][0], d, o);
      });
    }
  }

  // Filter gradient: e[ξ][t][k] (planes of plane(n, dst_c) floats) = A e Aᵀ of dy's M×M blocks
  // (zero past dy's edge) of the n tiles from t0.
  void transform_gradient(const float* dy, size_t t0, size_t n, float* e) const {
    const size_t K = dst_c;
    const float* zero = thread_buffer<kZeros>(K);
    const float* p[M * M];
    float* out[kTaps];
    for (size_t t = 0; t < n; t++) {
      block_pixels(dy, t0 + t, zero, p);
      for (int k = 0; k < kTaps; k++) out[k] = e + k * plane(n, K) + t * K;
      each_channel<M * M, kTaps>(p, out, K, [](const auto* d, auto* o) {
        sandwich<A, M, true>(&W::At[0][0], d, o);
      });
    }
  }

  // dst's M×M blocks of the n tiles from t0 = Aᵀ m A of m[ξ][t][k] (planes of plane(n, dst_c)
  // floats).
  void transform_products(const float* m, size_t t0, size_t n, float* dst) const {
    const size_t K = dst_c;
    float* overflow = thread_buffer<kSpill>(K);
    const float* in[kTaps];
    float* p[M * M];
    for (size_t t = 0; t < n; t++) {
      block_pixels(dst, t0 + t, overflow, p);
      for (int k = 0; k < kTaps; k++) in[k] = m + k * plane(n, K) + t * K;
      each_channel<kTaps, M * M>(in, p, K, [](const auto* d, auto* o) {
        sandwich<M, A, false>(&W::At[0][0], d, o);
      });
    }
  }

  // u[ξ][c][k] = G w Gᵀ for a filter w[3][3][C][K] (HWIO).
  static void transform_filter(const float* w, size_t C, size_t K, float* u) {
    const float* in[9];
    float* out[kTaps];
    for (size_t c = 0; c < C; c++) {
      for (int k = 0; k < 9; k++) in[k] = w + (k * C + c) * K;
      for (int k = 0; k < kTaps; k++) out[k] = u + (k * C + c) * K;
      each_channel<9, kTaps>(in, out, K, [](const auto* g, auto* o) {
        sandwich<A, 3, false>(&W::G[0][0], g, o);
      });
    }
  }

  // dw[3][3][C][K] = Gᵀ m G of the summed products m[ξ][c][k].
  static void transform_taps(const float* m, size_t C, size_t K, float* dw) {
    const float* in[kTaps];
    float* out[9];
    for (size_t c = 0; c < C; c++) {
      for (int k = 0; k < kTaps; k++) in[k] = m + (k * C + c) * K;
      for (int k = 0; k < 9; k++) out[k] = dw + (k * C + c) * K;
      each_channel<kTaps, 9>(in, out, K, [](const auto* s, auto* o) {
        sandwich<3, A, true>(&W::G[0][0], s, o);
      });
    }
  }

  // dst = conv(src, filter) through the transformed filter u[ξ][src_c][dst_c].
  void convolve(const float* src, const float* u, float* dst) const {
    const size_t C = src_c, K = dst_c, T = tiles();
    const size_t n_max = chunk();
    const size_t chunks = (T + n_max - 1) / n_max;
    parallel_for(chunks, 1, [&](size_t lo, size_t hi) {
      float* v = thread_buffer<kTiles>(kTaps * (plane(n_max, C) + plane(n_max, K)));
      float* m = v + kTaps * plane(n_max, C);
      for (size_t ch = lo; ch < hi; ch++) {
        const size_t t0 = ch * n_max, n = std::min(n_max, T - t0);
        transform_source(src, t0, n, v);
        for (size_t xi = 0; xi < kTaps; xi++) {
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(n),
                      static_cast<int>(K), static_cast<int>(C), 1.0f, v + xi * plane(n, C),
                      static_cast<int>(C), u + xi * C * K, static_cast<int>(K), 0.0f,
                      m + xi * plane(n, K), static_cast<int>(K));
        }
        transform_products(m, t0, n, dst);
      }
    });
  }

  // dw = Σ over tiles of x's and dy's transformed tiles' products, transformed back. One
  // partial sum per part (a contiguous range of chunks), added in part order.
  void filter_gradient(const float* x, const float* dy, float* dw) const {
    const size_t C = src_c, K = dst_c, T = tiles();
    const size_t n_max = chunk();
    const size_t chunks = (T + n_max - 1) / n_max;
    const size_t parts = std::min<size_t>(pool_threads(), chunks);
    const size_t size = kTaps * C * K;
    std::vector<float> partials(parts * size, 0.0f);
    parallel_for(parts, 1, [&](size_t lo, size_t hi) {
      float* v = thread_buffer<kTiles>(kTaps * (plane(n_max, C) + plane(n_max, K)));
      float* e = v + kTaps * plane(n_max, C);
      for (size_t part = lo; part < hi; part++) {
        float* m = partials.data() + part * size;
        for (size_t ch = part * chunks / parts; ch < (part + 1) * chunks / parts; ch++) {
          const size_t t0 = ch * n_max, n = std::min(n_max, T - t0);
          transform_source(x, t0, n, v);
          transform_gradient(dy, t0, n, e);
          for (size_t xi = 0; xi < kTaps; xi++) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(C),
                        static_cast<int>(K), static_cast<int>(n), 1.0f, v + xi * plane(n, C),
                        static_cast<int>(C), e + xi * plane(n, K), static_cast<int>(K), 1.0f,
                        m + xi * C * K, static_cast<int>(K));
          }
        }
      }
    });
    float* m = partials.data();
    for (size_t part = 1; part < parts; part++) {
      const float* partial = partials.data() + part * size;
      for (size_t i = 0; i < size; i++) m[i] += partial[i];
    }
    transform_taps(m, C, K, dw);
  }
};

bool applies(const ConvDims& d, long min_pairs) {
  return d.filter_h == 3 && d.filter_w == 3 && d.stride_h == 1 && d.stride_w == 1 &&
         d.dilation_h == 1 && d.dilation_w == 1 &&
         static_cast<long>(d.in_c) * d.out_c >= min_pairs && d.batch > 0 && d.out_h > 0 &&
         d.out_w > 0;
}

}  // namespace

bool winograd_conv(const float* x, const float* w, float* y, const ConvDims& d) {
  if (!applies(d, kMinPairsForward)) return false;
  const size_t C = d.in_c, K = d.out_c;
  float* u = thread_buffer<kFilter>(Tiled::kTaps * C * K);
  Tiled::transform_filter(w, C, K, u);
  Tiled(d.batch, d.in_h, d.in_w, d.in_c, d.out_h, d.out_w, d.out_c, d.pad_top, d.pad_left)
      .convolve(x, u, y);
  return true;
}

bool winograd_backprop_input(const float* dy, const float* w, float* dx, const ConvDims& d) {
  if (!applies(d, kMinPairsForward)) return false;
  // dx[ih] = Σᵢ dy[ih + pad − i] · w[i] = Σᵢ' dy[ih − (2 − pad) + i'] · w[2 − i']: the
  // convolution of dy with the filter flipped, its channels swapped, padded by 2 − pad.
  const size_t C = d.in_c, K = d.out_c;
  float* flipped = thread_buffer<kFilter>(Tiled::kTaps * C * K + 9 * K * C);
  float* u = flipped + 9 * K * C;
  for (int tap = 0; tap < 9; tap++) {
    const float* from = w + (8 - tap) * C * K;
    float* to = flipped + tap * K * C;
    for (size_t c = 0; c < C; c++) {
      for (size_t k = 0; k < K; k++) to[k * C + c] = from[c * K + k];
    }
  }
  Tiled::transform_filter(flipped, K, C, u);
  Tiled(d.batch, d.out_h, d.out_w, d.out_c, d.in_h, d.in_w, d.in_c, 2 - d.pad_top, 2 - d.pad_left)
      .convolve(dy, u, dx);
  return true;
}

bool winograd_backprop_filter(const float* x, const float* dy, float* dw, const ConvDims& d) {
  if (!applies(d, kMinPairsFilter)) return false;
  Tiled(d.batch, d.in_h, d.in_w, d.in_c, d.out_h, d.out_w, d.out_c, d.pad_top, d.pad_left)
      .filter_gradient(x, dy, dw);
  return true;
}

}  // namespace wp
