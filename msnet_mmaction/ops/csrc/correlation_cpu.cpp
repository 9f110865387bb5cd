// Local correlation of MotionSqueeze on the CPU (dilation 1), forward and backward.
//
// a and b are (N, C, H, W) with any strides (given in elements, in that order). The output and its
// gradient g are contiguous (N, H, W, P, P) with P = 2d + 1; the input gradients are contiguous
// (N, H, W, C). Nothing batch-sized is allocated here.
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

constexpr int kForwardRows = 8;           // vertical offsets per forward block (accumulators)
constexpr int64_t kForwardChannels = 16;  // channels per forward block (keeps its rows of b in L1)
constexpr int kBackwardColumns = 4;       // output positions per backward block
constexpr int kBackwardVectors = 4;       // channel vectors per backward block

// Element strides of an (N, C, H, W) tensor.
struct Strides {
  int64_t n, c, h, w;
  int64_t at(int64_t k, int64_t y, int64_t x) const { return k * n + y * h + x * w; }
};

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

// R vertical offsets, one position, one vector of horizontal offsets, channels [0, channels):
//   partial[r] (+)= sum_c a[c] * rows[r * row_stride + c * width + (0 .. lanes)]
// `partial` holds R whole vectors; it is overwritten when `first`, accumulated into otherwise.
template <typename T, int R>
void forward_block(const T* a, int64_t a_step, const T* rows, int64_t row_stride, int64_t width,
                   int64_t channels, T* partial, bool first) {
  constexpr int64_t lanes = kLanes<T>;
  Vec<T> acc[R] = {};
  if (!first)
    for (int r = 0; r < R; ++r) acc[r] = load(partial + r * lanes);
  for (int64_t c = 0; c < channels; ++c) {
    const T value = a[c * a_step];
    const T* column = rows + c * width;
    for (int r = 0; r < R; ++r) acc[r] += value * load(column + r * row_stride);
  }
  std::memcpy(partial, acc, sizeof(acc));
}

template <typename T, int R = kForwardRows>
void forward_dispatch(int64_t count, const T* a, int64_t a_step, const T* rows, int64_t row_stride,
                      int64_t width, int64_t channels, T* partial, bool first) {
  if (count == R) {
    forward_block<T, R>(a, a_step, rows, row_stride, width, channels, partial, first);
  } else if constexpr (R > 1) {
    forward_dispatch<T, R - 1>(count, a, a_step, rows, row_stride, width, channels, partial, first);
  }
}

// Loop order per output row y: horizontal-offset vector, block of vertical offsets, block of
// channels, position x. A block's rows of b (R x channel block x width) stay in L1 across x, and the
// partial sums live in a per-thread (W, P, lanes) buffer.
template <typename T>
void forward(const T* a, const Strides& sa, const T* b, const Strides& sb, T* out, const Geometry& g,
             int threads, bool& ok) {
  constexpr int64_t lanes = kLanes<T>;
  const int64_t chunks = (g.patch + lanes - 1) / lanes;
  // b regrouped per image as (H, C, width): row y, channel c holds b[y, x - d, c] at column x, so the
  // horizontal offsets j of position x are the contiguous columns x + j.
  const int64_t width = std::max(g.w + 2 * g.d, g.w - 1 + chunks * lanes);
  const int64_t row_stride = g.channels * width, cells = g.patch * g.patch;
  ok = parallel_ranges(g.n * g.h, threads, [&](int64_t begin, int64_t end) {
    std::vector<T> regrouped(g.h * row_stride, T(0));
    std::vector<T> partial(g.w * g.patch * lanes);
    int64_t image = -1;
    for (int64_t row = begin; row < end; ++row) {
      const int64_t k = row / g.h, y = row % g.h;
      if (k != image) {
        image = k;
        copy_image(b, sb, k, g, regrouped.data() + g.d, row_stride, 1, width);
      }
      const int64_t i_begin = g.first_row(y), i_end = g.end_row(y);
      const T* a_row = a + sa.at(k, y, 0);
      T* out_row = out + g.pixel(k, y, 0) * cells;
      for (int64_t x = 0; x < g.w; ++x) {
        std::fill(out_row + x * cells, out_row + x * cells + i_begin * g.patch, T(0));
        std::fill(out_row + x * cells + i_end * g.patch, out_row + (x + 1) * cells, T(0));
      }
      for (int64_t j0 = 0; j0 < g.patch; j0 += lanes) {
        for (int64_t i0 = i_begin; i0 < i_end; i0 += kForwardRows) {
          const int64_t count = std::min<int64_t>(kForwardRows, i_end - i0);
          for (int64_t c0 = 0; c0 < g.channels; c0 += kForwardChannels) {
            const int64_t channels = std::min<int64_t>(kForwardChannels, g.channels - c0);
            const T* rows = regrouped.data() + (y + i0 - g.d) * row_stride + c0 * width + j0;
            for (int64_t x = 0; x < g.w; ++x)
              forward_dispatch<T>(count, a_row + x * sa.w + c0 * sa.c, sa.c, rows + x, row_stride,
                                  width, channels, partial.data() + (x * g.patch + i0) * lanes,
                                  c0 == 0);
          }
        }
        const int64_t valid = std::min<int64_t>(lanes, g.patch - j0);
        for (int64_t x = 0; x < g.w; ++x)
          for (int64_t i = i_begin; i < i_end; ++i)
            store(out_row + x * cells + i * g.patch + j0,
                  load(partial.data() + (x * g.patch + i) * lanes), valid);
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

// One block of the transposed products for output row y of one image:
//   acc[x][c] = sum_i sum_t grad(i, t, x) * other[oy(i), t, c]
// with, for grad_a (kFlip false): oy = y + i - d, j = t - x + d, grad at (y, x, i, j);
// and for grad_b (kFlip true):    oy = y - i + d, j = x - t + d, grad at (oy, t, i, j).
template <typename T, bool kFlip>
void transposed_block(const T* grad, const T* other, const Geometry& g, int64_t padded_channels,
                      int64_t k, int64_t y, int64_t x0, int64_t c0, T* out) {
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
    T* dst = out + g.pixel(k, y, x0 + x) * g.channels + c0;
    for (int v = 0; v < V; ++v) {
      const int64_t remaining = g.channels - c0 - v * lanes;
      if (remaining > 0) store(dst + v * lanes, acc[x][v], std::min(lanes, remaining));
    }
  }
}

template <typename T, bool kFlip>
void transposed_row(const T* grad, const T* other, const Geometry& g, int64_t padded_channels,
                    int64_t k, int64_t y, T* out) {
  const int64_t block = kBackwardVectors * kLanes<T>;
  for (int64_t c0 = 0; c0 < g.channels; c0 += block)
    for (int64_t x0 = 0; x0 < g.w; x0 += kBackwardColumns)
      transposed_block<T, kFlip>(grad, other, g, padded_channels, k, y, x0, c0, out);
}

template <typename T>
void backward(const T* a, const Strides& sa, const T* b, const Strides& sb, const T* grad, T* grad_a,
              T* grad_b, const Geometry& g, int threads, bool& ok) {
  const int64_t block = kBackwardVectors * kLanes<T>;
  const int64_t padded_channels = (g.channels + block - 1) / block * block;
  ok = parallel_ranges(g.n * g.h, threads, [&](int64_t begin, int64_t end) {
    PaddedImage<T> image_a(g, grad_b ? padded_channels : 0), image_b(g, grad_a ? padded_channels : 0);
    for (int64_t row = begin; row < end; ++row) {
      const int64_t k = row / g.h, y = row % g.h;
      if (grad_a) transposed_row<T, false>(grad, image_b.load(b, sb, k), g, padded_channels, k, y, grad_a);
      if (grad_b) transposed_row<T, true>(grad, image_a.load(a, sa, k), g, padded_channels, k, y, grad_b);
    }
  });
}

template <typename T>
int forward_entry(const T* a, const int64_t* a_strides, const T* b, const int64_t* b_strides, T* out,
                  int64_t n, int64_t c, int64_t h, int64_t w, int64_t d, int threads) {
  try {
    bool ok = false;
    const Strides sa{a_strides[0], a_strides[1], a_strides[2], a_strides[3]};
    const Strides sb{b_strides[0], b_strides[1], b_strides[2], b_strides[3]};
    forward(a, sa, b, sb, out, Geometry{n, c, h, w, d, 2 * d + 1}, threads, ok);
    return ok ? 0 : 1;
  } catch (...) {
    return 1;
  }
}

template <typename T>
int backward_entry(const T* a, const int64_t* a_strides, const T* b, const int64_t* b_strides,
                   const T* grad, T* grad_a, T* grad_b, int64_t n, int64_t c, int64_t h, int64_t w,
                   int64_t d, int threads) {
  try {
    bool ok = false;
    const Strides sa{a_strides[0], a_strides[1], a_strides[2], a_strides[3]};
    const Strides sb{b_strides[0], b_strides[1], b_strides[2], b_strides[3]};
    backward(a, sa, b, sb, grad, grad_a, grad_b, Geometry{n, c, h, w, d, 2 * d + 1}, threads, ok);
    return ok ? 0 : 1;
  } catch (...) {
    return 1;
  }
}

}  // namespace

// Strides are four element counts for (N, C, H, W). grad_a or grad_b may be null (not wanted).
// Every function returns 0 on success and 1 if a worker failed (out of memory).
extern "C" {

int msnet_correlation_forward_f32(const float* a, const int64_t* a_strides, const float* b,
                                  const int64_t* b_strides, float* out, int64_t n, int64_t c,
                                  int64_t h, int64_t w, int64_t d, int threads) {
  return forward_entry(a, a_strides, b, b_strides, out, n, c, h, w, d, threads);
}

int msnet_correlation_forward_f64(const double* a, const int64_t* a_strides, const double* b,
                                  const int64_t* b_strides, double* out, int64_t n, int64_t c,
                                  int64_t h, int64_t w, int64_t d, int threads) {
  return forward_entry(a, a_strides, b, b_strides, out, n, c, h, w, d, threads);
}

int msnet_correlation_backward_f32(const float* a, const int64_t* a_strides, const float* b,
                                   const int64_t* b_strides, const float* grad, float* grad_a,
                                   float* grad_b, int64_t n, int64_t c, int64_t h, int64_t w,
                                   int64_t d, int threads) {
  return backward_entry(a, a_strides, b, b_strides, grad, grad_a, grad_b, n, c, h, w, d, threads);
}

int msnet_correlation_backward_f64(const double* a, const int64_t* a_strides, const double* b,
                                   const int64_t* b_strides, const double* grad, double* grad_a,
                                   double* grad_b, int64_t n, int64_t c, int64_t h, int64_t w,
                                   int64_t d, int threads) {
  return backward_entry(a, a_strides, b, b_strides, grad, grad_a, grad_b, n, c, h, w, d, threads);
}

}  // extern "C"
