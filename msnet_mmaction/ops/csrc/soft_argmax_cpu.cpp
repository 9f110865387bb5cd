// Kernel soft-argmax of MotionSqueeze on the CPU (float32), forward and backward, with the ReLU of
// the correlation fused in.
//
// c is a contiguous (M, P, P) correlation volume: per position, offsets i (vertical) and j
// (horizontal), P = 2d + 1. With s = max(c, 0), the confidence is max s, reached first (in (i, j)
// order) at (i*, j*), and
//   window[i][j] = (T * g(i - i*)) * g(j - j*),   g(t) = exp(-t^2 / (2 sigma^2))
//   logit = max(s * window, T * confidence - 64),   w = softmax(logit)
//   u = sum w * (j - d) / d,   v = sum w * (i - d) / d.
// No logit exceeds T * confidence, the arg-max's own, so exp() only sees [-64, 0]: the floor keeps
// float32 subnormals (about 100x slower on x86) out, and what it raises carries under e^-64 of the
// weight. The backward pass recomputes w from c instead of storing it:
//   grad_logit = w * (gs - sum w gs),   gs = grad_u * (j - d) / d + grad_v * (i - d) / d
//   grad_c = [c > 0] * (grad_logit * window + grad_confidence * [(i, j) = (i*, j*)]),
// with magnitudes under FLT_MIN (weights near e^-64 times small gradients) flushed to zero. Left
// in, those subnormals made later library kernels of the backward pass round differently with where
// tensors lay in memory, so training runs were not bit-reproducible.
// Each position is computed by one thread, so results do not depend on the number of threads.
#include <cmath>
#include <limits>

#include "kernel_common.h"

namespace {

using namespace msnet;

typedef int32_t IntVec __attribute__((vector_size(kVectorBytes)));
constexpr int64_t kF = kLanes<float>;
constexpr float kLogitRange = 64.0f;

inline FloatVec splat(float value) { return FloatVec{} + value; }

inline FloatVec maximum(FloatVec a, FloatVec b) { return a > b ? a : b; }

// v with subnormal lanes set to zero.
inline FloatVec flush_subnormals(FloatVec v) {
  const FloatVec smallest = splat(std::numeric_limits<float>::min());
  return (v >= smallest) | (v <= -smallest) ? v : FloatVec{};
}

inline float sum_of(FloatVec v) {
  float total = 0;
  for (int64_t l = 0; l < kF; ++l) total += v[l];
  return total;
}

// exp(z) for z in [-87, 0]: z = n ln2 + r with |r| <= ln2 / 2, e^r by its Taylor series to r^7
// (relative error under 6e-9), times 2^n built in the exponent bits.
inline FloatVec exp_nonpositive(FloatVec z) {
  const FloatVec shifter = splat(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  const FloatVec n = (z * splat(1.44269504f) + shifter) - shifter;
  const FloatVec r = (z - n * splat(0.693145751953125f)) - n * splat(1.42860677e-6f);
  FloatVec p = splat(1.0f / 5040);
  for (float c : {1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f}) p = p * r + c;
  const IntVec bits = (__builtin_convertvector(n, IntVec) + 127) << 23;
  FloatVec scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

// Per-thread state: the window and grid of one position, laid out as (P rows) x (chunks vectors).
class SoftArgmax {
 public:
  SoftArgmax(int64_t d, float sigma, float temperature)
      : d_(d), patch_(2 * d + 1), chunks_((patch_ + kF - 1) / kF), temperature_(temperature),
        gauss_(patch_), columns_(chunks_), grid_(chunks_), valid_(chunks_), weights_(patch_ * chunks_) {
    const float spread = 2 * sigma * sigma;
    for (int64_t t = 0; t < patch_; ++t) gauss_[t] = std::exp(-static_cast<float>(t * t) / spread);
    const float scale = static_cast<float>(std::max<int64_t>(d, 1));
    for (int64_t q = 0; q < chunks_; ++q)
      for (int64_t l = 0; l < kF; ++l) {
        const int64_t j = q * kF + l;
        grid_[q][l] = j < patch_ ? static_cast<float>(j - d) / scale : 0.0f;
        valid_[q][l] = j < patch_ ? 1.0f : 0.0f;
      }
  }

  // Confidence and softmax of one position; fills weights_ with exp(logit - peak) and returns
  // their sum. (u, v) times that sum go to moments.
  float run(const float* c, float& confidence, float moments[2]) {
    const int64_t cells = patch_ * patch_;
    FloatVec best = {};
    for (int64_t k = 0; k < cells; k += kF) best = maximum(best, load_partial(c + k, std::min(kF, cells - k)));
    confidence = 0;
    for (int64_t l = 0; l < kF; ++l) confidence = std::max(confidence, best[l]);
    int64_t arg = 0;
    if (confidence > 0)
      while (c[arg] != confidence) ++arg;
    arg_i_ = arg / patch_;
    arg_j_ = arg % patch_;
    for (int64_t q = 0; q < chunks_; ++q)
      for (int64_t l = 0; l < kF; ++l) {
        const int64_t j = q * kF + l;
        columns_[q][l] = j < patch_ ? gauss_[std::abs(j - arg_j_)] : 0.0f;
      }
    const float peak = temperature_ * confidence;
    const FloatVec floor = splat(peak - kLogitRange), top = splat(peak);
    FloatVec total = {}, along_u = {}, along_v = {};
    for (int64_t i = 0; i < patch_; ++i) {
      const FloatVec row = splat(row_factor(i));
      const FloatVec v_step = splat(static_cast<float>(i - d_) / std::max<int64_t>(d_, 1));
      for (int64_t q = 0; q < chunks_; ++q) {
        const FloatVec s = maximum(load_partial(c + i * patch_ + q * kF, lanes(q)), FloatVec{});
        const FloatVec logit = maximum(s * (row * columns_[q]), floor);
        const FloatVec e = exp_nonpositive(logit - top) * valid_[q];
        weights_[i * chunks_ + q] = e;
        total += e;
        along_u += e * grid_[q];
        along_v += e * v_step;
      }
    }
    moments[0] = sum_of(along_u);
    moments[1] = sum_of(along_v);
    return sum_of(total);
  }

  void forward(const float* c, float* uv, float* confidence) {
    float moments[2];
    const float total = run(c, *confidence, moments);
    uv[0] = moments[0] / total;
    uv[1] = moments[1] / total;
  }

  void backward(const float* c, const float* grad_uv, float grad_confidence, float* grad_c) {
    float confidence, moments[2];
    const float total = run(c, confidence, moments);
    const float mean = (grad_uv[0] * moments[0] + grad_uv[1] * moments[1]) / total;
    const FloatVec inverse = splat(1.0f / total);
    for (int64_t i = 0; i < patch_; ++i) {
      const FloatVec row = splat(row_factor(i));
      const float v_step = static_cast<float>(i - d_) / std::max<int64_t>(d_, 1);
      const FloatVec shift = splat(grad_uv[1] * v_step - mean);
      for (int64_t q = 0; q < chunks_; ++q) {
        const float* source = c + i * patch_ + q * kF;
        const FloatVec gs = splat(grad_uv[0]) * grid_[q] + shift;
        const FloatVec grad = weights_[i * chunks_ + q] * inverse * gs * (row * columns_[q]);
        const FloatVec positive = load_partial(source, lanes(q)) > FloatVec{} ? splat(1.0f) : FloatVec{};
        store(grad_c + i * patch_ + q * kF, flush_subnormals(grad * positive), lanes(q));
      }
    }
    if (confidence > 0) grad_c[arg_i_ * patch_ + arg_j_] += grad_confidence;
  }

 private:
  float row_factor(int64_t i) const { return temperature_ * gauss_[std::abs(i - arg_i_)]; }
  int64_t lanes(int64_t q) const { return std::min(kF, patch_ - q * kF); }

  int64_t d_, patch_, chunks_;
  float temperature_;
  std::vector<float> gauss_;
  std::vector<FloatVec> columns_, grid_, valid_, weights_;
  int64_t arg_i_ = 0, arg_j_ = 0;
};

}  // namespace

// c, grad_c: contiguous (M, P, P); uv, grad_uv: contiguous (M, 2) as (u, v); confidence,
// grad_confidence: (M). Both return 0 on success and 1 if a worker failed (out of memory).
extern "C" {

int msnet_soft_argmax_forward_f32(const float* c, float* uv, float* confidence, int64_t positions,
                                  int64_t d, float sigma, float temperature, int threads) {
  try {
    const int64_t cells = (2 * d + 1) * (2 * d + 1);
    return parallel_ranges(positions, threads, [&](int64_t begin, int64_t end) {
             SoftArgmax op(d, sigma, temperature);
             for (int64_t m = begin; m < end; ++m) op.forward(c + m * cells, uv + 2 * m, confidence + m);
           })
               ? 0
               : 1;
  } catch (...) {
    return 1;
  }
}

int msnet_soft_argmax_backward_f32(const float* c, const float* grad_uv,
                                   const float* grad_confidence, float* grad_c, int64_t positions,
                                   int64_t d, float sigma, float temperature, int threads) {
  try {
    const int64_t cells = (2 * d + 1) * (2 * d + 1);
    return parallel_ranges(positions, threads, [&](int64_t begin, int64_t end) {
             SoftArgmax op(d, sigma, temperature);
             for (int64_t m = begin; m < end; ++m)
               op.backward(c + m * cells, grad_uv + 2 * m, grad_confidence[m], grad_c + m * cells);
           })
               ? 0
               : 1;
  } catch (...) {
    return 1;
  }
}

}  // extern "C"
