// The one self-contained random number generator of the engine. Same seed, same stream, on
// every platform: data sets, shuffles, weight initialisation and dropout masks all draw from it,
// so a native run and a WebAssembly run of the same experiment see the same data and the same
// initial weights. Nothing here calls the C library's rand() or <random>'s distributions, whose
// output differs between standard libraries.
#pragma once

#include <cstdint>

#include "core/engine/base/deterministic_math.h"

namespace qplay {

// PCG32 (O'Neill, "PCG: A Family of Simple Fast Space-Efficient Statistically Good Algorithms").
class Rng {
 public:
  explicit Rng(uint64_t seed, uint64_t stream = 0x5851f42d4c957f2dULL) {
    increment_ = (stream << 1u) | 1u;
    state_ = 0;
    next_u32();
    state_ += seed;
    next_u32();
  }

  uint32_t next_u32() {
    uint64_t old = state_;
    state_ = old * 6364136223846793005ULL + increment_;
    uint32_t xorshifted = static_cast<uint32_t>(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = static_cast<uint32_t>(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() {
    uint64_t hi = next_u32() >> 5, lo = next_u32() >> 6;
    return static_cast<double>((hi << 26) | lo) * (1.0 / 9007199254740992.0);
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

  // Uniform integer in [0, n) without modulo bias (Lemire's method with rejection).
  uint32_t below(uint32_t n) {
    uint64_t m = static_cast<uint64_t>(next_u32()) * n;
    uint32_t low = static_cast<uint32_t>(m);
    if (low < n) {
      uint32_t threshold = (0u - n) % n;
      while (low < threshold) {
        m = static_cast<uint64_t>(next_u32()) * n;
        low = static_cast<uint32_t>(m);
      }
    }
    return static_cast<uint32_t>(m >> 32);
  }

  // Standard normal by Box-Muller over deterministic_math, so the bits do not depend on libm.
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    double u2 = uniform();
    double radius = deterministic_sqrt(-2.0 * deterministic_log(u1));
    double angle = 2.0 * kPi * u2;
    spare_ = radius * deterministic_sin(angle);
    has_spare_ = true;
    return radius * deterministic_cos(angle);
  }
  double normal(double mean, double stddev) { return mean + stddev * normal(); }

  // Fisher-Yates shuffle of any random-access range.
  template <typename Range>
  void shuffle(Range& range) {
    for (size_t i = range.size(); i > 1; --i) {
      size_t j = below(static_cast<uint32_t>(i));
      auto tmp = range[i - 1];
      range[i - 1] = range[j];
      range[j] = tmp;
    }
  }

 private:
  uint64_t state_ = 0;
  uint64_t increment_ = 0;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace qplay
