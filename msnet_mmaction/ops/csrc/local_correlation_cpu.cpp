// Local correlation of MotionSqueeze on the CPU (dilation 1), forward and backward.
//
// a and b, and the input gradients, are (N, C, H, W) with any strides (given in elements, in that
// order). The output and its gradient g are contiguous (N, H, W, P, P) with P = 2d + 1. Nothing
// batch-sized is allocated here.
//
//   out[n, y, x, i, j] = sum_c a[n, c, y, x] * b[n, c, y + i - d, x + j - d]   (zero outside)
//   grad_a[n, y, x, c] = sum_ij g[n, y, x, i, j] * b[n, c, y + i - d, x + j - d]
//   grad_b[n, y, x, c] = sum_ij g[n, y - i + d, x - j + d, i, j] * a[n, c, y - i + d, x - j + d]
//
// Every output element is computed by one thread in a fixed order, so results do not depend on
// the number of threads. Plain C++ with GCC/Clang vector extensions; no PyTorch headers, so it
// builds in about a second and is loaded with ctypes.
#include "kernel_common.h"

namespace {

using namespace msnet;

constexpr int kTileRows = 4;         // rows of a per forward tile
constexpr int kTileOffsets = 5;      // horizontal offsets per forward tile (4 * 5 accumulators)
constexpr int kBackwardColumns = 4;  // output positions per backward block
constexpr int kBackwardVectors = 4;  // channel vectors per backward block

// Element strides of an (N, C, H, W) tensor.
struct Strides {
  int64_t n, c, h, w;
  int64_t at(int64_t k, int64_t y, int64_t x) const { return k * n + y * h + x * w; }
};

// Four element strides from the caller; all zero for null (a gradient that is not wanted).
Strides strides_of(const int64_t* s) {
  return s ? Strides{s[0], s[1], s[2], s[3]} : Strides{0, 0, 0, 0};
}

struct Geometry {
  int64_t n, channels, h, w, d, patch;
  int64_t pixel(int64_t k, int64_t y, int64_t x) const { return (k * h + y) * w + x; }
  // Vertical offsets i with 0 <= y + i - d < h.
  int64_t first_row(int64_t y) const { return std::max<int64_t>(0, d - y); }
  int64_t end_row(int64_t y) const { return std::min<int64_t>(patch, h - y + d); }
};

// Image k of src into dst: dst[y * dst_y + x * dst_x + c * dst_c] = src[k, c, y, x]. The inner loop
// runs along x or c, whichever src stores closer together (x for NCHW, c for channels-last).
template <typename T>
void copy_image(const T* src, const Strides& s, int64_t k, const Geometry& g, T* dst, int64_t dst_y,
                int64_t dst_x, int64_t dst_c) {
  for (int64_t y = 0; y < g.h; ++y) {
    const T* row = src + s.at(k, y, 0);
    T* out = dst + y * dst_y;
    if (s.w <= s.c) {
      for (int64_t c = 0; c < g.channels; ++c)
        for (int64_t x = 0; x < g.w; ++x) out[x * dst_x + c * dst_c] = row[x * s.w + c * s.c];
    } else {
      for (int64_t x = 0; x < g.w; ++x)
        for (int64_t c = 0; c < g.channels; ++c) out[x * dst_x + c * dst_c] = row[x * s.w + c * s.c];
    }
  }
}

// One tile: Y consecutive rows of a, one row of b, J horizontal offsets, one vector of positions:
//   acc[yy][jj] = sum_c a[yy * a_row + c * a_channel + (0 .. lanes)]
//                       * b[c * b_channel + jj + (0 .. lanes)]
// Each a vector serves J products and each b vector Y: Y + J loads per Y * J multiply-adds.
template <typename T, int Y, int J>
inline void correlate_tile(const T* a, int64_t a_row, int64_t a_channel, const T* b,
                           int64_t b_channel, int64_t channels, Vec<T> (&acc)[Y][J]) {
  for (int yy = 0; yy < Y; ++yy)
    for (int jj = 0; jj < J; ++jj) acc[yy][jj] = Vec<T>{};
  for (int64_t c = 0; c < channels; ++c) {
    Vec<T> av[Y], bv[J];
    for (int yy = 0; yy < Y; ++yy) av[yy] = load(a + yy * a_row + c * a_channel);
    for (int jj = 0; jj < J; ++jj) bv[jj] = load(b + c * b_channel + jj);
    for (int yy = 0; yy < Y; ++yy)
      for (int jj = 0; jj < J; ++jj) acc[yy][jj] += av[yy] * bv[jj];
  }
}

// Work unit: one image, kTileRows output rows y0 .. y0 + Y - 1. Vectors run along x. Every row r of
// b within reach of the unit's rows is correlated with all of them at once (row y meets r at the
// vertical offset i = r - y + d); the results go to a per-thread (Y, P, P, x) buffer, which is then
// copied element by element into the (H, W, P, P) output (in-register transposes measured slower
// here: writing the output is the bottleneck).
template <typename T>
void forward(const T* a, const Strides& sa, const T* b, const Strides& sb, T* out, const Geometry& g,
             int threads) {
  constexpr int Y = kTileRows, J = kTileOffsets;
  constexpr int64_t lanes = kLanes<T>;
  const int64_t vectors = (g.w + lanes - 1) / lanes, span = vectors * lanes;
  const int64_t offsets = (g.patch + J - 1) / J * J;
  // a per image as (rows, C, span), zero beyond W and below H; b as (H, C, width) with b[r, x, c]
  // at column x + d, so the horizontal offsets j of position x are the columns x + j.
  const int64_t width = span + offsets - 1, blocks = (g.h + Y - 1) / Y;
  const int64_t a_row = g.channels * span, b_row = g.channels * width, cells = g.patch * g.patch;
  parallel_ranges(g.n * blocks, threads, [&](int64_t begin, int64_t end) {
    std::vector<T> rows_a(blocks * Y * a_row, T(0)), rows_b(g.h * b_row, T(0));
    std::vector<T> tile(Y * cells * span);
    Vec<T> acc[Y][J];
    int64_t image = -1;
    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t k = unit / blocks, y0 = unit % blocks * Y, ys = std::min<int64_t>(Y, g.h - y0);
      if (k != image) {
        image = k;
        copy_image(a, sa, k, g, rows_a.data(), a_row, 1, span);
        copy_image(b, sb, k, g, rows_b.data() + g.d, b_row, 1, width);
      }
      const int64_t r_end = std::min<int64_t>(g.h, y0 + ys + g.d);
      for (int64_t r = std::max<int64_t>(0, y0 - g.d); r < r_end; ++r) {
        for (int64_t j0 = 0; j0 < offsets; j0 += J) {
          for (int64_t v = 0; v < vectors; ++v) {
            correlate_tile<T, Y, J>(rows_a.data() + y0 * a_row + v * lanes, a_row, span,
                                    rows_b.data() + r * b_row + v * lanes + j0, width, g.channels,
                                    acc);
            for (int yy = 0; yy < ys; ++yy) {
              const int64_t i = r - y0 - yy + g.d;
              if (i < 0 || i >= g.patch) continue;
              for (int jj = 0; jj < J && j0 + jj < g.patch; ++jj)
                std::memcpy(tile.data() + (yy * cells + i * g.patch + j0 + jj) * span + v * lanes,
                            &acc[yy][jj], sizeof(Vec<T>));
            }
          }
        }
      }
      for (int64_t yy = 0; yy < ys; ++yy) {
        const int64_t y = y0 + yy, i_begin = g.first_row(y), i_end = g.end_row(y);
        const T* src = tile.data() + yy * cells * span;
        for (int64_t x = 0; x < g.w; ++x) {
          T* dst = out + g.pixel(k, y, x) * cells;
          std::fill(dst, dst + i_begin * g.patch, T(0));
          for (int64_t cell = i_begin * g.patch; cell < i_end * g.patch; ++cell)
            dst[cell] = src[cell * span + x];
          std::fill(dst + i_end * g.patch, dst + cells, T(0));
        }
      }
    }
  });
}

// One image of a or b, channels-last with channels padded to a whole number of blocks.
template <typename T>
class PaddedImage {
 public:
  PaddedImage(const Geometry& g, int64_t padded_channels)
      : g_(g), padded_channels_(padded_channels), data_(g.h * g.w * padded_channels, T(0)) {}

  const T* load(const T* source, const Strides& s, int64_t k) {
    if (k != image_) {
      image_ = k;
      copy_image(source, s, k, g_, data_.data(), g_.w * padded_channels_, padded_channels_, 1);
    }
    return data_.data();
  }

 private:
  const Geometry& g_;
  int64_t padded_channels_, image_ = -1;
  std::vector<T> data_;
};

// One block of the transposed products for output row y of one image, into `row` (W, padded C):
//   acc[x][c] = sum_i sum_t grad(i, t, x) * other[oy(i), t, c]
// with, for grad_a (kFlip false): oy = y + i - d, j = t - x + d, grad at (y, x, i, j);
// and for grad_b (kFlip true):    oy = y - i + d, j = x - t + d, grad at (oy, t, i, j).
// Kept out of line: inlined into transposed_row, it ran 1.5x slower with GCC 12.
template <typename T, bool kFlip>
__attribute__((noinline)) void transposed_block(const T* grad, const T* other, const Geometry& g,
                                                int64_t padded_channels, int64_t k, int64_t y,
                                                int64_t x0, int64_t c0, T* row) {
  constexpr int X = kBackwardColumns, V = kBackwardVectors;
  const int64_t lanes = kLanes<T>, cells = g.patch * g.patch;
  const int64_t xs = std::min<int64_t>(X, g.w - x0);
  Vec<T> acc[X][V] = {};
  for (int64_t i = 0; i < g.patch; ++i) {
    const int64_t oy = kFlip ? y - i + g.d : y + i - g.d;
    if (oy < 0 || oy >= g.h) continue;
    const T* grad_row = grad + g.pixel(k, kFlip ? oy : y, 0) * cells + i * g.patch;
    const T* other_row = other + oy * g.w * padded_channels + c0;
    const int64_t t_begin = std::max<int64_t>(0, x0 - g.d);
    const int64_t t_end = std::min<int64_t>(g.w, x0 + xs + g.d);
    for (int64_t t = t_begin; t < t_end; ++t) {
      Vec<T> values[V];
      for (int v = 0; v < V; ++v) values[v] = load(other_row + t * padded_channels + v * lanes);
      for (int x = 0; x < X; ++x) {
        const int64_t j = kFlip ? x0 + x - t + g.d : t - x0 - x + g.d;
        if (x >= xs || j < 0 || j >= g.patch) continue;
        const T weight = grad_row[(kFlip ? t : x0 + x) * cells + j];
        for (int v = 0; v < V; ++v) acc[x][v] += weight * values[v];
      }
    }
  }
  for (int x = 0; x < xs; ++x) {
    T* dst = row + (x0 + x) * padded_channels + c0;
    for (int v = 0; v < V; ++v) {
      const int64_t remaining = g.channels - c0 - v * lanes;
      if (remaining > 0) store(dst + v * lanes, acc[x][v], std::min(lanes, remaining));
    }
  }
}

// Row y of one image's input gradient into `row` (W, padded C).
template <typename T, bool kFlip>
void transposed_row(const T* grad, const T* other, const Geometry& g, int64_t padded_channels,
                    int64_t k, int64_t y, T* row) {
  const int64_t block = kBackwardVectors * kLanes<T>;
  for (int64_t c0 = 0; c0 < g.channels; c0 += block)
    for (int64_t x0 = 0; x0 < g.w; x0 += kBackwardColumns)
      transposed_block<T, kFlip>(grad, other, g, padded_channels, k, y, x0, c0, row);
}

// Rows y_begin .. y_end - 1 of image k, held channels-last as (H * W + lanes, padded C) in `rows`,
// into out[k, c, y, x] (strides s). Where each channel plane of out is contiguous (NCHW), blocks of
// lanes positions x lanes channels are transposed in registers and every plane is written front to
// back; channels-last out takes one copy per position; anything else goes element by element.
template <typename T>
void store_rows(const T* rows, int64_t padded_channels, const Geometry& g, int64_t k,
                int64_t y_begin, int64_t y_end, T* out, const Strides& s) {
  constexpr int L = static_cast<int>(kLanes<T>);
  if (s.w != 1 || s.h != g.w) {
    for (int64_t y = y_begin; y < y_end; ++y) {
      for (int64_t x = 0; x < g.w; ++x) {
        const T* src = rows + (y * g.w + x) * padded_channels;
        T* dst = out + s.at(k, y, x);
        if (s.c == 1) {
          std::memcpy(dst, src, g.channels * sizeof(T));
        } else {
          for (int64_t c = 0; c < g.channels; ++c) dst[c * s.c] = src[c];
        }
      }
    }
    return;
  }
  T* plane = out + s.at(k, 0, 0);
  const int64_t end = y_end * g.w;
  Vec<T> block[L];
  for (int64_t c0 = 0; c0 < g.channels; c0 += L) {
    const int64_t cs = std::min<int64_t>(L, g.channels - c0);
    for (int64_t p0 = y_begin * g.w; p0 < end; p0 += L) {
      for (int l = 0; l < L; ++l) block[l] = load(rows + (p0 + l) * padded_channels + c0);
      transpose(block);
      for (int64_t c = 0; c < cs; ++c)
        store(plane + (c0 + c) * s.c + p0, block[c], std::min<int64_t>(L, end - p0));
    }
  }
}

template <typename T>
void backward(const T* a, const Strides& sa, const T* b, const Strides& sb, const T* grad, T* grad_a,
              const Strides& sga, T* grad_b, const Strides& sgb, const Geometry& g, int threads) {
  const int64_t block = kBackwardVectors * kLanes<T>;
  const int64_t padded_channels = (g.channels + block - 1) / block * block;
  const int64_t image_size = (g.h * g.w + kLanes<T>) * padded_channels;
  parallel_ranges(g.n * g.h, threads, [&](int64_t begin, int64_t end) {
    PaddedImage<T> image_a(g, grad_b ? padded_channels : 0), image_b(g, grad_a ? padded_channels : 0);
    // This range's rows of the current image's two gradients, stored once the image is done.
    std::vector<T> rows_a(grad_a ? image_size : 0), rows_b(grad_b ? image_size : 0);
    int64_t image = -1, first = 0;
    auto flush = [&](int64_t last) {
      if (grad_a) store_rows(rows_a.data(), padded_channels, g, image, first, last, grad_a, sga);
      if (grad_b) store_rows(rows_b.data(), padded_channels, g, image, first, last, grad_b, sgb);
    };
    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t k = unit / g.h, y = unit % g.h;
      if (k != image) {
        if (image >= 0) flush(g.h);
        image = k;
        first = y;
      }
      const int64_t offset = y * g.w * padded_channels;
      if (grad_a)
        transposed_row<T, false>(grad, image_b.load(b, sb, k), g, padded_channels, k, y,
                                 rows_a.data() + offset);
      if (grad_b)
        transposed_row<T, true>(grad, image_a.load(a, sa, k), g, padded_channels, k, y,
                                rows_b.data() + offset);
    }
    if (image >= 0) flush((end - 1) % g.h + 1);
  });
}

Geometry checked_geometry(int64_t n, int64_t c, int64_t h, int64_t w, int64_t d) {
  require(n >= 0 && c >= 0 && h >= 0 && w >= 0, "local_correlation: sizes must be >= 0");
  require(d >= 0, "local_correlation: the maximum displacement must be >= 0");
  return Geometry{n, c, h, w, d, 2 * d + 1};
}

template <typename T>
int forward_entry(const T* a, const int64_t* a_strides, const T* b, const int64_t* b_strides, T* out,
                  int64_t n, int64_t c, int64_t h, int64_t w, int64_t d, int threads) {
  return guarded([&] {
    forward(a, strides_of(a_strides), b, strides_of(b_strides), out, checked_geometry(n, c, h, w, d),
            threads);
  });
}

template <typename T>
int backward_entry(const T* a, const int64_t* a_strides, const T* b, const int64_t* b_strides,
                   const T* grad, T* grad_a, const int64_t* grad_a_strides, T* grad_b,
                   const int64_t* grad_b_strides, int64_t n, int64_t c, int64_t h, int64_t w,
                   int64_t d, int threads) {
  return guarded([&] {
    backward(a, strides_of(a_strides), b, strides_of(b_strides), grad, grad_a,
             strides_of(grad_a_strides), grad_b, strides_of(grad_b_strides),
             checked_geometry(n, c, h, w, d), threads);
  });
}

}  // namespace

// Strides are four element counts for (N, C, H, W). grad_a or grad_b may be null (not wanted), with
// null strides.
// Every function returns 0 on success and 1 on failure, with the reason in msnet_last_error().
extern "C" {

int msnet_local_correlation_forward_f32(const float* a, const int64_t* a_strides, const float* b,
                                  const int64_t* b_strides, float* out, int64_t n, int64_t c,
                                  int64_t h, int64_t w, int64_t d, int threads) {
  return forward_entry(a, a_strides, b, b_strides, out, n, c, h, w, d, threads);
}

int msnet_local_correlation_forward_f64(const double* a, const int64_t* a_strides, const double* b,
                                  const int64_t* b_strides, double* out, int64_t n, int64_t c,
                                  int64_t h, int64_t w, int64_t d, int threads) {
  return forward_entry(a, a_strides, b, b_strides, out, n, c, h, w, d, threads);
}

int msnet_local_correlation_backward_f32(const float* a, const int64_t* a_strides, const float* b,
                                   const int64_t* b_strides, const float* grad, float* grad_a,
                                   const int64_t* grad_a_strides, float* grad_b,
                                   const int64_t* grad_b_strides, int64_t n, int64_t c, int64_t h,
                                   int64_t w, int64_t d, int threads) {
  return backward_entry(a, a_strides, b, b_strides, grad, grad_a, grad_a_strides, grad_b,
                        grad_b_strides, n, c, h, w, d, threads);
}

int msnet_local_correlation_backward_f64(const double* a, const int64_t* a_strides, const double* b,
                                   const int64_t* b_strides, const double* grad, double* grad_a,
                                   const int64_t* grad_a_strides, double* grad_b,
                                   const int64_t* grad_b_strides, int64_t n, int64_t c, int64_t h,
                                   int64_t w, int64_t d, int threads) {
  return backward_entry(a, a_strides, b, b_strides, grad, grad_a, grad_a_strides, grad_b,
                        grad_b_strides, n, c, h, w, d, threads);
}

}  // extern "C"
