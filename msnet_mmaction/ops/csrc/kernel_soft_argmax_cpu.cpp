// Kernel soft-argmax of MotionSqueeze on the CPU (float32), forward only: inference.
//
// The raw correlation s is contiguous (M, P, P): M = N * H * W positions, P = 2d + 1, i the
// vertical and j the horizontal offset. Per position, with (ci, cj) the first arg-max of s, m its
// value and t the temperature:
//
//   window[i, j] = t * g(i - ci) * g(j - cj),   g(k) = exp(-k^2 / (2 sigma^2))
//   floor        = max(t * max(m, 0) - range, 0)
//   logit[i, j]  = max(s[i, j] * window[i, j], floor)           (ReLU and floor as one clamp)
//   w            = softmax(logit)        (the largest logit is t * max(m, 0), at the arg-max)
//   u = sum_ij w[i, j] (j - d) / D,   v = sum_ij w[i, j] (i - d) / D,   D = max(d, 1)
//   confidence   = max(m, 0)
//
// One pass over the volume, nothing allocated. Vectors run along j, one row of P offsets at a
// time; each position is computed by one thread in a fixed order, so results do not depend on the
// number of threads.
#include <cmath>
#include <limits>

#include "kernel_common.h"

namespace {

using namespace msnet;

typedef int32_t IntVec __attribute__((vector_size(kVectorBytes)));
constexpr int64_t L = kLanes<float>;

inline FloatVec splat(float x) { return FloatVec{} + x; }

inline FloatVec select(IntVec mask, FloatVec a, FloatVec b) {
  return reinterpret_cast<FloatVec>((reinterpret_cast<IntVec>(a) & mask) |
                                    (reinterpret_cast<IntVec>(b) & ~mask));
}

inline float sum_lanes(FloatVec v) {
  float total = 0;
  for (int64_t l = 0; l < L; ++l) total += v[l];
  return total;
}

// e^x for x <= 0, to about 2 ulp; x below -80 counts as -80, so that 2^n stays a normal float.
// Cody-Waite reduction x = n ln2 + r with |r| <= ln2 / 2, a degree-6 polynomial for e^r (the
// Cephes expf coefficients), and n added to the exponent bits.
inline FloatVec exp_nonpositive(FloatVec x) {
  x = select(x < -80.0f, splat(-80.0f), x);
  const FloatVec magic = splat(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  const FloatVec n = (x * 1.44269504088896341f + magic) - magic;
  const FloatVec r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  FloatVec p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const FloatVec y = p * r * r + r + 1.0f;
  const IntVec scale = __builtin_convertvector(n, IntVec) << 23;
  return reinterpret_cast<FloatVec>(reinterpret_cast<IntVec>(y) + scale);
}

// What every position shares: the offsets, the Gaussian and the displacement of each offset.
struct Setup {
  int64_t patch, chunks;  // P, and vectors per row of P offsets
  float temperature, range;
  std::vector<float> gauss;    // g(k - (P - 1)) at k, for k < 2P - 1; zero after
  std::vector<float> steps;    // (j - d) / D at j, for j < P; zero after
  std::vector<IntVec> valid;   // per vector of a row: lanes with j < P
  IntVec lane_index;

  Setup(int64_t d, float sigma, float temperature_, float range_)
      : patch(2 * d + 1), chunks((patch + L - 1) / L), temperature(temperature_), range(range_),
        gauss(2 * patch - 1 + chunks * L, 0.0f), steps(chunks * L, 0.0f), valid(chunks) {
    const float scale = 1.0f / (2.0f * sigma * sigma);
    for (int64_t k = 0; k < 2 * patch - 1; ++k) {
      const float offset = static_cast<float>(k - (patch - 1));
      gauss[k] = std::exp(-(offset * offset) * scale);
    }
    for (int64_t j = 0; j < patch; ++j)
      steps[j] = static_cast<float>(j - d) / static_cast<float>(std::max<int64_t>(d, 1));
    for (int64_t l = 0; l < L; ++l) lane_index[l] = static_cast<int32_t>(l);
    for (int64_t q = 0; q < chunks; ++q)
      valid[q] = lane_index < static_cast<int32_t>(patch - q * L);
  }

  int64_t lanes(int64_t q) const { return std::min<int64_t>(L, patch - q * L); }
  // Row i, vector q of the P x P offsets at s.
  FloatVec row(const float* s, int64_t i, int64_t q) const {
    return load(s + i * patch + q * L, lanes(q));
  }
};

struct Peak {
  int64_t index;  // i * P + j of the first largest element
  float value;
};

// NaNs are passed over; where every element is NaN the peak is -inf at index 0.
Peak find_peak(const float* s, const Setup& k) {
  FloatVec best = splat(-std::numeric_limits<float>::infinity());
  IntVec where{};
  for (int64_t i = 0; i < k.patch; ++i) {
    for (int64_t q = 0; q < k.chunks; ++q) {
      const FloatVec x = select(k.valid[q], k.row(s, i, q), best);
      const IntVec larger = x > best;  // strictly: each lane keeps its first maximum
      best = select(larger, x, best);
      const IntVec index = k.lane_index + static_cast<int32_t>(i * k.patch + q * L);
      where = (index & larger) | (where & ~larger);
    }
  }
  Peak peak{0, best[0]};
  for (int64_t l = 1; l < L; ++l) peak.value = std::max(peak.value, best[l]);
  peak.index = std::numeric_limits<int64_t>::max();
  for (int64_t l = 0; l < L; ++l)
    if (best[l] == peak.value) peak.index = std::min<int64_t>(peak.index, where[l]);
  return peak;
}

struct Displacement {
  float u, v;
};

// One position's softmax weights, row by row (zero in lanes past P), and their mean offset.
Displacement soft_argmax(const float* s, const Setup& k, const Peak& peak) {
  const float top = k.temperature * std::max(peak.value, 0.0f);
  const FloatVec floor = splat(std::max(top - k.range, 0.0f));
  const int64_t ci = peak.index / k.patch, cj = peak.index % k.patch;
  const float* gauss_j = k.gauss.data() + (k.patch - 1) - cj;  // g(j - cj) at j
  FloatVec total{}, u{}, v{};
  for (int64_t i = 0; i < k.patch; ++i) {
    const float row_window = k.temperature * k.gauss[k.patch - 1 + i - ci];
    for (int64_t q = 0; q < k.chunks; ++q) {
      const FloatVec logit = k.row(s, i, q) * (row_window * load(gauss_j + q * L));
      const FloatVec e = exp_nonpositive(select(logit > floor, logit, floor) - top);
      const FloatVec weight = select(k.valid[q], e, FloatVec{});
      total += weight;
      u += weight * load(k.steps.data() + q * L);
      v += weight * k.steps[i];
    }
  }
  const float sum = sum_lanes(total);
  return {sum_lanes(u) / sum, sum_lanes(v) / sum};
}

void forward(const float* scores, float* displacement, float* confidence, int64_t positions,
             const Setup& k, int threads) {
  const int64_t cells = k.patch * k.patch;
  parallel_ranges(positions, threads, [&](int64_t begin, int64_t end) {
    for (int64_t m = begin; m < end; ++m) {
      const float* s = scores + m * cells;
      const Peak peak = find_peak(s, k);
      const Displacement uv = soft_argmax(s, k, peak);
      displacement[2 * m] = uv.u;
      displacement[2 * m + 1] = uv.v;
      confidence[m] = std::max(peak.value, 0.0f);
    }
  });
}

}  // namespace

// scores: contiguous (N, H, W, P * P); displacement: contiguous (N, H, W, 2) as (u, v); confidence:
// contiguous (N, H, W). Returns 0 on success and 1 on failure, with the reason in
// msnet_last_error().
extern "C" {

int msnet_kernel_soft_argmax_forward_f32(const float* scores, float* displacement,
                                         float* confidence, int64_t n, int64_t h, int64_t w,
                                         int64_t d, float sigma, float temperature, float range,
                                         int threads) {
  return guarded([&] {
    require(n >= 0 && h >= 0 && w >= 0, "kernel_soft_argmax: sizes must be >= 0");
    require(d >= 0, "kernel_soft_argmax: the maximum displacement must be >= 0");
    require(sigma > 0 && temperature > 0, "kernel_soft_argmax: sigma and temperature must be > 0");
    forward(scores, displacement, confidence, n * h * w, Setup(d, sigma, temperature, range),
            threads);
  });
}

}  // extern "C"
