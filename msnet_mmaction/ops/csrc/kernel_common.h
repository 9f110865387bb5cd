// Vector types and the parallel loop shared by the CPU kernels (plain C++17 with GCC/Clang vector
// extensions; AVX-512 masked stores where the CPU has them).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

namespace msnet {

constexpr int kVectorBytes = 64;          // one AVX-512 register; two AVX2 registers elsewhere

typedef float FloatVec __attribute__((vector_size(kVectorBytes)));
typedef double DoubleVec __attribute__((vector_size(kVectorBytes)));

template <typename T>
struct VectorOf;
template <>
struct VectorOf<float> {
  using type = FloatVec;
};
template <>
struct VectorOf<double> {
  using type = DoubleVec;
};

template <typename T>
using Vec = typename VectorOf<T>::type;

template <typename T>
constexpr int64_t kLanes = kVectorBytes / sizeof(T);

template <typename T>
inline Vec<T> load(const T* p) {
  Vec<T> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// The first `lanes` elements at p, zero in the other lanes; nothing past them is read.
template <typename T>
inline Vec<T> load(const T* p, int64_t lanes) {
#ifdef __AVX512F__
  const unsigned mask = (1u << lanes) - 1u;
  if constexpr (sizeof(T) == 4) {
    const __m512 v = _mm512_maskz_loadu_ps(static_cast<__mmask16>(mask), p);
    return reinterpret_cast<const Vec<T>&>(v);
  } else {
    const __m512d v = _mm512_maskz_loadu_pd(static_cast<__mmask8>(mask), p);
    return reinterpret_cast<const Vec<T>&>(v);
  }
#else
  Vec<T> v{};
  std::memcpy(&v, p, lanes * sizeof(T));
  return v;
#endif
}

// Store the first `lanes` elements of v.
template <typename T>
inline void store(T* p, const Vec<T>& v, int64_t lanes) {
#ifdef __AVX512F__
  const unsigned mask = (1u << lanes) - 1u;
  if constexpr (sizeof(T) == 4)
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>(mask), reinterpret_cast<const __m512&>(v));
  else
    _mm512_mask_storeu_pd(p, static_cast<__mmask8>(mask), reinterpret_cast<const __m512d&>(v));
#else
  for (int64_t l = 0; l < lanes; ++l) p[l] = v[l];
#endif
}

// Transpose of an L x L block held as L vectors of L lanes: m[r][l] becomes m[l][r]. Stage B swaps
// the off-diagonal B x B sub-blocks of every 2B x 2B block, one two-vector shuffle per vector.
template <int B, int L, bool kSecond>
constexpr int stage_lane(int lane) {
  if (kSecond) return (lane & B) ? L + lane : lane + B;
  return (lane & B) ? L + lane - B : lane;
}

template <int B, bool kSecond, typename V, std::size_t... Is>
inline void shuffle_stage(const V& lo, const V& hi, V& out, std::index_sequence<Is...>) {
  out = __builtin_shufflevector(lo, hi, stage_lane<B, sizeof...(Is), kSecond>(Is)...);
}

template <typename V, int L, int B = L / 2>
inline void transpose(V (&m)[L]) {
  for (int r = 0; r < L; ++r) {
    if (r & B) continue;
    const V lo = m[r], hi = m[r + B];
    shuffle_stage<B, false>(lo, hi, m[r], std::make_index_sequence<L>{});
    shuffle_stage<B, true>(lo, hi, m[r + B], std::make_index_sequence<L>{});
  }
  if constexpr (B > 1) transpose<V, L, B / 2>(m);
}

// The OpenMP runtime PyTorch runs on, once msnet_use_openmp (parallel.cpp) was given its entry
// point. Running on PyTorch's own worker threads avoids competing with them while they spin after
// an operator; without it, parallel_ranges starts std::thread workers.
using ParallelFn = void (*)(void (*)(void*), void*, unsigned, unsigned);  // GOMP_parallel
inline ParallelFn openmp_parallel = nullptr;

template <typename Run>
inline void run_ranges(void* data) {
  (*static_cast<Run*>(data))();
}

// body(begin, end) over [0, count), split into `threads` contiguous ranges, each run by one thread.
// Rethrows the first exception a range threw, once every range is done.
template <typename Body>
void parallel_ranges(int64_t count, int threads, const Body& body) {
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(threads, count));
  std::atomic<int64_t> next{0};
  std::mutex failure_lock;
  std::exception_ptr failure;
  auto run = [&]() {  // takes ranges until none are left, whatever the team size
    for (int64_t k = next++; k < workers; k = next++) {
      try {
        body(count * k / workers, count * (k + 1) / workers);
      } catch (...) {
        std::lock_guard<std::mutex> guard(failure_lock);
        if (!failure) failure = std::current_exception();
      }
    }
  };
  if (workers == 1) {
    run();
  } else if (openmp_parallel) {
    openmp_parallel(&run_ranges<decltype(run)>, &run, static_cast<unsigned>(workers), 0);
  } else {
    std::vector<std::thread> pool;
    try {
      while (static_cast<int64_t>(pool.size()) + 1 < workers) pool.emplace_back(run);
    } catch (...) {  // no more threads to be had: the ranges left over run on the others
    }
    run();
    for (auto& thread : pool) thread.join();
  }
  if (failure) std::rethrow_exception(failure);
}

// The message of the calling thread's last failed entry point (msnet_last_error, parallel.cpp).
inline thread_local std::string last_error;

// The status an entry point returns: 0 once `entry` ran, 1 if it threw, its message kept in
// last_error for the caller to read on the same thread.
template <typename Entry>
int guarded(const Entry& entry) {
  try {
    entry();
    return 0;
  } catch (const std::exception& error) {
    last_error = error.what();
  } catch (...) {
    last_error = "unknown C++ exception";
  }
  return 1;
}

// Throws std::invalid_argument with `message` unless `condition` holds.
inline void require(bool condition, const char* message) {
  if (!condition) throw std::invalid_argument(message);
}

}  // namespace msnet
