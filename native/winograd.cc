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

// Channel pairs (in_c · out_c) from which each pass is faster than the direct kernels or
// im2col + sgemm, measured on VGG's and ResNet-8's layers at batch 64 on this machine (2 cores):
// the forward pass and the input gradient from 32 → 64 channels up (0.53-0.65 of the time),
// ties at 32 → 32 against direct_conv (0.93-0.98) and loses at 16 → 16 (1.3-2×); the filter
// gradient from 32 → 32 up (0.50-0.86) and not at 16 → 16 (1.2-1.4).
constexpr long kMinPairsForward = 2048;
constexpr long kMinPairsFilter = 1024;
// Transformed floats (input and output tiles together) per chunk of tiles.
constexpr size_t kChunkFloats = size_t{1} << 18;
// The 16 planes of a chunk are this many floats (one cache line) more than their tiles apart:
// at a power-of-two distance the 16 streams of a transform fell into one L1 set, and the input
// transform ran 2-3x slower.
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

// The four transforms, each on one channel (T = float) or eight (T = f8); index 4·i + j is row i,
// column j of a 4×4 tile, 3·i + j of a 3×3 filter, 2·i + j of a 2×2 block.

// Bᵀ d B, Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1].
template <typename T>
inline void input_tile(const T* d, T* out) {
  T r[16];
  for (int j = 0; j < 4; j++) {
    r[j] = d[j] - d[8 + j];
    r[4 + j] = d[4 + j] + d[8 + j];
    r[8 + j] = d[8 + j] - d[4 + j];
    r[12 + j] = d[4 + j] - d[12 + j];
  }
  for (int i = 0; i < 4; i++) {
    out[4 * i] = r[4 * i] - r[4 * i + 2];
    out[4 * i + 1] = r[4 * i + 1] + r[4 * i + 2];
    out[4 * i + 2] = r[4 * i + 2] - r[4 * i + 1];
    out[4 * i + 3] = r[4 * i + 1] - r[4 * i + 3];
  }
}

// Aᵀ m A, Aᵀ = [1 1 1 0; 0 1 −1 −1]: a 2×2 block of outputs.
template <typename T>
inline void output_block(const T* m, T* out) {
  T r[8];
  for (int j = 0; j < 4; j++) {
    r[j] = m[j] + m[4 + j] + m[8 + j];
    r[4 + j] = m[4 + j] - m[8 + j] - m[12 + j];
  }
  for (int i = 0; i < 2; i++) {
    out[2 * i] = r[4 * i] + r[4 * i + 1] + r[4 * i + 2];
    out[2 * i + 1] = r[4 * i + 1] - r[4 * i + 2] - r[4 * i + 3];
  }
}

// G g Gᵀ, G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]: a 3×3 filter as a 4×4 tile.
template <typename T>
inline void filter_tile(const T* g, T* out) {
  T r[12];
  for (int j = 0; j < 3; j++) {
    r[j] = g[j];
    r[3 + j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
    r[6 + j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
    r[9 + j] = g[6 + j];
  }
  for (int i = 0; i < 4; i++) {
    out[4 * i] = r[3 * i];
    out[4 * i + 1] = 0.5f * (r[3 * i] + r[3 * i + 1] + r[3 * i + 2]);
    out[4 * i + 2] = 0.5f * (r[3 * i] - r[3 * i + 1] + r[3 * i + 2]);
    out[4 * i + 3] = r[3 * i + 2];
  }
}

// A e Aᵀ: dy's 2×2 block as a 4×4 tile (the filter gradient's "filter" transform).
template <typename T>
inline void gradient_tile(const T* e, T* out) {
  T r[8];
  for (int j = 0; j < 2; j++) {
    r[j] = e[j];
    r[2 + j] = e[j] + e[2 + j];
    r[4 + j] = e[j] - e[2 + j];
    r[6 + j] = -e[2 + j];
  }
  for (int i = 0; i < 4; i++) {
    out[4 * i] = r[2 * i];
    out[4 * i + 1] = r[2 * i] + r[2 * i + 1];
    out[4 * i + 2] = r[2 * i] - r[2 * i + 1];
    out[4 * i + 3] = -r[2 * i + 1];
  }
}

// Gᵀ m G: the summed 4×4 products back to 3×3 filter taps.
template <typename T>
inline void filter_taps(const T* m, T* out) {
  T r[12];
  for (int j = 0; j < 4; j++) {
    const T half_sum = 0.5f * (m[4 + j] + m[8 + j]);
    r[j] = m[j] + half_sum;
    r[4 + j] = 0.5f * (m[4 + j] - m[8 + j]);
    r[8 + j] = half_sum + m[12 + j];
  }
  for (int i = 0; i < 3; i++) {
    const T half_sum = 0.5f * (r[4 * i + 1] + r[4 * i + 2]);
    out[3 * i] = r[4 * i] + half_sum;
    out[3 * i + 1] = 0.5f * (r[4 * i + 1] - r[4 * i + 2]);
    out[3 * i + 2] = half_sum + r[4 * i + 3];
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

// The geometry of one tiled pass: `src` [batch, src_h, src_w, src_c] is read in 4×4 tiles whose
// corner is (2·th − pad_top, 2·tw − pad_left), zero outside; `dst` [batch, dst_h, dst_w, dst_c]
// holds the 2×2 block at (2·th, 2·tw) of each tile, clipped at its edges.
struct Tiling {
  int batch, src_h, src_w, src_c, dst_h, dst_w, dst_c, pad_top, pad_left;
  int tiles_h, tiles_w;

  Tiling(int batch, int src_h, int src_w, int src_c, int dst_h, int dst_w, int dst_c, int pad_top,
         int pad_left)
      : batch(batch), src_h(src_h), src_w(src_w), src_c(src_c), dst_h(dst_h), dst_w(dst_w),
        dst_c(dst_c), pad_top(pad_top), pad_left(pad_left), tiles_h((dst_h + 1) / 2),
        tiles_w((dst_w + 1) / 2) {}

  size_t tiles() const { return static_cast<size_t>(batch) * tiles_h * tiles_w; }

  // Tiles per chunk: the chunk's transformed input and output tiles fill kChunkFloats.
  size_t chunk() const {
    const size_t per_tile = 16 * static_cast<size_t>(src_c + dst_c);
    return std::max<size_t>(1, std::min(tiles(), kChunkFloats / per_tile));
  }

  // Pointers to the 4×4 source pixels of tile t (`zero` outside the image).
  void source_pixels(const float* src, size_t t, const float* zero, const float** p) const {
    const int tw = static_cast<int>(t % tiles_w);
    const int th = static_cast<int>((t / tiles_w) % tiles_h);
    const size_t b = t / (static_cast<size_t>(tiles_w) * tiles_h);
    for (int u = 0; u < 4; u++) {
      const int ih = 2 * th - pad_top + u;
      for (int v = 0; v < 4; v++) {
        const int iw = 2 * tw - pad_left + v;
        p[4 * u + v] = ih < 0 || ih >= src_h || iw < 0 || iw >= src_w
                           ? zero
                           : src + ((b * src_h + ih) * src_w + iw) * src_c;
      }
    }
  }

  // Pointers to the 2×2 destination pixels of tile t; those past dst's edge point at `spill`.
  template <typename Pixel>
  void block_pixels(Pixel* dst, size_t t, Pixel* spill, Pixel** p) const {
    const int tw = static_cast<int>(t % tiles_w);
    const int th = static_cast<int>((t / tiles_w) % tiles_h);
    const size_t b = t / (static_cast<size_t>(tiles_w) * tiles_h);
    for (int i = 0; i < 2; i++) {
      const int oh = 2 * th + i;
      for (int j = 0; j < 2; j++) {
        const int ow = 2 * tw + j;
        p[2 * i + j] = oh >= dst_h || ow >= dst_w
                           ? spill
                           : dst + ((b * dst_h + oh) * dst_w + ow) * dst_c;
      }
    }
  }
};

// The calling thread's scratch buffers.
float* scratch(size_t floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < floats) buffer.resize(floats);
  return buffer.data();
}
const float* zeros(size_t floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < floats) buffer.assign(floats, 0.0f);
  return buffer.data();
}
float* spill(size_t floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < floats) buffer.resize(floats);
  return buffer.data();
}

// v[ξ][t][c] (planes of plane(n, src_c) floats) = Bᵀ d B of the n tiles from t0.
void transform_source(const float* src, const Tiling& g, size_t t0, size_t n, float* v) {
  const size_t C = g.src_c;
  const float* zero = zeros(C);
  const float* p[16];
  float* out[16];
  for (size_t t = 0; t < n; t++) {
    g.source_pixels(src, t0 + t, zero, p);
    for (int k = 0; k < 16; k++) out[k] = v + k * plane(n, C) + t * C;
    each_channel<16, 16>(p, out, C, [](const auto* d, auto* o) { input_tile(d, o); });
  }
}

// Filter gradient: e[ξ][t][k] (planes of plane(n, dst_c) floats) = A e Aᵀ of dy's 2×2 blocks (zero
// past dy's edge) of the n tiles from t0.
void transform_gradient(const float* dy, const Tiling& g, size_t t0, size_t n, float* e) {
  const size_t K = g.dst_c;
  const float* zero = zeros(K);
  const float* p[4];
  float* out[16];
  for (size_t t = 0; t < n; t++) {
    g.block_pixels(dy, t0 + t, zero, p);
    for (int k = 0; k < 16; k++) out[k] = e + k * plane(n, K) + t * K;
    each_channel<4, 16>(p, out, K, [](const auto* d, auto* o) { gradient_tile(d, o); });
  }
}

// dst's 2×2 blocks of the n tiles from t0 = Aᵀ m A of m[ξ][t][k] (planes of plane(n, dst_c)
// floats).
void transform_products(const float* m, const Tiling& g, size_t t0, size_t n, float* dst) {
  const size_t K = g.dst_c;
  float* overflow = spill(K);
  const float* in[16];
  float* p[4];
  for (size_t t = 0; t < n; t++) {
    g.block_pixels(dst, t0 + t, overflow, p);
    for (int k = 0; k < 16; k++) in[k] = m + k * plane(n, K) + t * K;
    each_channel<16, 4>(in, p, K, [](const auto* d, auto* o) { output_block(d, o); });
  }
}

// u[ξ][c][k] = G w Gᵀ for a filter w[3][3][C][K] (HWIO).
void transform_filter(const float* w, size_t C, size_t K, float* u) {
  const float* in[9];
  float* out[16];
  for (size_t c = 0; c < C; c++) {
    for (int k = 0; k < 9; k++) in[k] = w + (k * C + c) * K;
    for (int k = 0; k < 16; k++) out[k] = u + (k * C + c) * K;
    each_channel<9, 16>(in, out, K, [](const auto* d, auto* o) { filter_tile(d, o); });
  }
}

// dst = conv(src, filter) through the transformed filter u[ξ][src_c][dst_c].
void tiled_conv(const float* src, const float* u, float* dst, const Tiling& g) {
  const size_t C = g.src_c, K = g.dst_c, T = g.tiles();
  const size_t chunk = g.chunk();
  const size_t chunks = (T + chunk - 1) / chunk;
  parallel_for(chunks, 1, [&](size_t lo, size_t hi) {
    float* v = scratch(16 * (plane(chunk, C) + plane(chunk, K)));
    float* m = v + 16 * plane(chunk, C);
    for (size_t ch = lo; ch < hi; ch++) {
      const size_t t0 = ch * chunk, n = std::min(chunk, T - t0);
      transform_source(src, g, t0, n, v);
      for (size_t xi = 0; xi < 16; xi++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(n),
                    static_cast<int>(K), static_cast<int>(C), 1.0f, v + xi * plane(n, C),
                    static_cast<int>(C), u + xi * C * K, static_cast<int>(K), 0.0f,
                    m + xi * plane(n, K), static_cast<int>(K));
      }
      transform_products(m, g, t0, n, dst);
    }
  });
}

// The caller thread's transformed filter.
float* filter_scratch(size_t floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < floats) buffer.resize(floats);
  return buffer.data();
}

}  // namespace

bool winograd_applies(const ConvDims& d, long min_pairs) {
  return d.filter_h == 3 && d.filter_w == 3 && d.stride_h == 1 && d.stride_w == 1 &&
         d.dilation_h == 1 && d.dilation_w == 1 &&
         static_cast<long>(d.in_c) * d.out_c >= min_pairs && d.batch > 0 && d.out_h > 0 &&
         d.out_w > 0;
}

bool winograd_conv(const float* x, const float* w, float* y, const ConvDims& d) {
  if (!winograd_applies(d, kMinPairsForward)) return false;
  const size_t C = d.in_c, K = d.out_c;
  float* u = filter_scratch(16 * C * K);
  transform_filter(w, C, K, u);
  tiled_conv(x, u, y,
             Tiling(d.batch, d.in_h, d.in_w, d.in_c, d.out_h, d.out_w, d.out_c, d.pad_top,
                    d.pad_left));
  return true;
}

bool winograd_backprop_input(const float* dy, const float* w, float* dx, const ConvDims& d) {
  if (!winograd_applies(d, kMinPairsForward)) return false;
  // dx[ih] = Σᵢ dy[ih + pad − i] · w[i] = Σᵢ' dy[ih − (2 − pad) + i'] · w[2 − i']: the
  // convolution of dy with the filter flipped, its channels swapped, padded by 2 − pad.
  const size_t C = d.in_c, K = d.out_c;
  float* flipped = filter_scratch(16 * C * K + 9 * K * C);
  float* u = flipped + 9 * K * C;
  for (int tap = 0; tap < 9; tap++) {
    const float* from = w + (8 - tap) * C * K;
    float* to = flipped + tap * K * C;
    for (size_t c = 0; c < C; c++) {
      for (size_t k = 0; k < K; k++) to[k * C + c] = from[c * K + k];
    }
  }
  transform_filter(flipped, K, C, u);
  tiled_conv(dy, u, dx,
             Tiling(d.batch, d.out_h, d.out_w, d.out_c, d.in_h, d.in_w, d.in_c, 2 - d.pad_top,
                    2 - d.pad_left));
  return true;
}

bool winograd_backprop_filter(const float* x, const float* dy, float* dw, const ConvDims& d) {
  if (!winograd_applies(d, kMinPairsFilter)) return false;
  const Tiling g(d.batch, d.in_h, d.in_w, d.in_c, d.out_h, d.out_w, d.out_c, d.pad_top,
                 d.pad_left);
  const size_t C = d.in_c, K = d.out_c, T = g.tiles();
  const size_t chunk = g.chunk();
  const size_t chunks = (T + chunk - 1) / chunk;
  const size_t parts = std::min<size_t>(pool_threads(), chunks);
  const size_t size = 16 * C * K;
  // One partial Σ over tiles per part (a contiguous range of chunks), added in part order.
  std::vector<float> partials(parts * size, 0.0f);
  parallel_for(parts, 1, [&](size_t lo, size_t hi) {
    float* v = scratch(16 * (plane(chunk, C) + plane(chunk, K)));
    float* e = v + 16 * plane(chunk, C);
    for (size_t part = lo; part < hi; part++) {
      float* m = partials.data() + part * size;
      for (size_t ch = part * chunks / parts; ch < (part + 1) * chunks / parts; ch++) {
        const size_t t0 = ch * chunk, n = std::min(chunk, T - t0);
        transform_source(x, g, t0, n, v);
        transform_gradient(dy, g, t0, n, e);
        for (size_t xi = 0; xi < 16; xi++) {
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
  const float* in[16];
  float* out[9];
  for (size_t c = 0; c < C; c++) {
    for (int k = 0; k < 16; k++) in[k] = m + (k * C + c) * K;
    for (int k = 0; k < 9; k++) out[k] = dw + (k * C + c) * K;
    each_channel<16, 9>(in, out, K, [](const auto* s, auto* o) { filter_taps(s, o); });
  }
  return true;
}

}  // namespace wp
