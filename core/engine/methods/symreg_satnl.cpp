// SymReg + SatNL (+ SAM/ASAM), methods.md §3: the formulas and the "symreg" TrainingMethod declared in
// symreg_satnl.h.
#include "core/engine/methods/symreg_satnl.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <string>
#include <type_traits>
#include <utility>

#include "core/engine/base/bit_cast.h"
#include "core/engine/base/deterministic_math.h"

// The float tanh loop is compiled again for AVX2 (4 doubles a vector instead of 2) and AVX-512 (8) and
// picked at run time. Not FMA (the engine builds with -ffp-contract=off): every build gives the same bits.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define QPLAY_SYMREG_AVX2 1
#define QPLAY_TARGET_AVX2 __attribute__((target("avx2")))
#endif

namespace qplay {
namespace {

// Without an early exit, so that it vectorizes: it reads every weight of every step.
template <typename T>
bool all_finite(std::span<const T> values) {
  int finite = 1;
  for (T v : values) finite &= std::fabs(v) <= std::numeric_limits<T>::max();
  return finite != 0;
}

// An unsigned key that sorts like the float: positive floats already sort like their bits, so set
// the sign bit above the negatives; negative ones sort in reverse, so flip all their bits. -0 is
// made +0 first, since the comparison calls them equal (their order is then by position).
inline uint32_t float_order_key(float value) {
  uint32_t bits = qplay::bit_cast<uint32_t>(value);
  bits = bits == 0x80000000u ? 0u : bits;
  const uint32_t negative = 0u - (bits >> 31);  // all ones for a negative value
  return bits ^ (negative | 0x80000000u);
}

// The float a key came from (+0 for the key of both zeros).
inline float float_from_order_key(uint32_t key) {
  const uint32_t negative = 0u - (1u - (key >> 31));  // all ones when the sign bit is clear
  return qplay::bit_cast<float>(key ^ (negative | 0x80000000u));
}

// Positions per pool task of the sort's first pass, items per task of its bucket sorts, and terms per
// task of the pairing: fixed, so that the work's split, and the pairing's partial sums, depend on the
// tensor's size only, never on the thread count.
constexpr size_t kPositionsPerTask = 32768;
constexpr size_t kTopBuckets = 2048;

// Sorts whole items (key << 32 | position) ascending: by key, then by position.
inline void insertion_sort_items(uint64_t* items, size_t count) {
  for (size_t i = 1; i < count; ++i) {
    const uint64_t item = items[i];
    size_t j = i;
    for (; j > 0 && items[j - 1] > item; --j) items[j] = items[j - 1];
    items[j] = item;
  }
}

// The sort of one first-digit bucket by its low 21 bits (see radix_sort_items), scratch its range of the
// other buffer.
void sort_top_bucket(uint64_t* bucket, uint64_t* scratch, size_t count) {
  constexpr size_t kInsertionSortLimit = 64;
  if (count <= kInsertionSortLimit) return insertion_sort_items(bucket, count);
  uint32_t low[2048] = {}, middle[1024] = {};  // key bits 0-10 and 11-20
  for (size_t i = 0; i < count; ++i) {
    ++low[(bucket[i] >> 32) & 2047];
    ++middle[(bucket[i] >> 43) & 1023];
  }
  uint32_t offset = 0;
  for (uint32_t& c : low) offset += std::exchange(c, offset);
  offset = 0;
  for (uint32_t& c : middle) offset += std::exchange(c, offset);
  for (size_t i = 0; i < count; ++i) scratch[low[(bucket[i] >> 32) & 2047]++] = bucket[i];
  for (size_t i = 0; i < count; ++i) bucket[middle[(scratch[i] >> 43) & 1023]++] = scratch[i];
}

// The radix sort behind ascending_order_radix, leaving the sorted items (key << 32 | position) in
// buffers.spare. MSD first: a stable scatter by the key's top 11 bits (sign, exponent and 2 mantissa
// bits). A layer's weights fall into about a hundred such buckets of at most a few thousand items
// each, so every bucket is then sorted in cache by its low 21 bits: an insertion sort when small,
// else two stable LSD passes (11 + 10 bits). Items enter in position order and every pass is stable
// (the insertion sort compares positions too), so equal keys end in position order.
// On the table's threads: the first pass in chunks of positions, each with its own counts (chunk c's
// items go after chunk c - 1's in every bucket, so the scatter stays stable), and the bucket sorts in
// groups of whole buckets. The sorted order is unique, so it cannot depend on the split.
std::span<const uint64_t> radix_sort_items(std::span<const float> weights, SymmetrySortBuffers& buffers,
                                           const KernelTable& kernels) {
  const size_t n = weights.size();
  assert(n <= std::numeric_limits<uint32_t>::max());
  buffers.items.resize(n);
  buffers.spare.resize(n);
  uint64_t* items = buffers.items.data();
  uint64_t* sorted = buffers.spare.data();
  const size_t chunks = std::max<size_t>(1, (n + kPositionsPerTask - 1) / kPositionsPerTask);
  // [chunks, kTopBuckets]: each chunk's counts, then where its items of each bucket go.
  std::vector<uint32_t>& next = buffers.chunk_next;
  next.assign(chunks * kTopBuckets, 0);
  parallel_for(kernels, chunks, [&](size_t chunk) {
    uint32_t* count = next.data() + chunk * kTopBuckets;
    for (size_t i = chunk * kPositionsPerTask, end = std::min(n, i + kPositionsPerTask); i < end; ++i) {
      const uint32_t key = float_order_key(weights[i]);
      items[i] = uint64_t(key) << 32 | i;
      ++count[key >> 21];
    }
  });
  std::vector<uint32_t>& start = buffers.bucket_start;  // top bucket b is [start[b], start[b + 1])
  start.assign(kTopBuckets + 1, 0);
  uint32_t offset = 0;
  for (size_t b = 0; b < kTopBuckets; ++b) {
    start[b] = offset;
    for (size_t chunk = 0; chunk < chunks; ++chunk)
      offset += std::exchange(next[chunk * kTopBuckets + b], offset);
  }
  start[kTopBuckets] = offset;
  parallel_for(kernels, chunks, [&](size_t chunk) {
    uint32_t* to = next.data() + chunk * kTopBuckets;
    for (size_t i = chunk * kPositionsPerTask, end = std::min(n, i + kPositionsPerTask); i < end; ++i)
      sorted[to[items[i] >> 53]++] = items[i];
  });

  // Groups of whole buckets of about kPositionsPerTask items: group g is buckets [first[g], first[g + 1]).
  std::vector<uint32_t>& first = buffers.bucket_groups;
  first.assign(1, 0);
  for (size_t b = 0; b < kTopBuckets; ++b)
    if (start[b + 1] - start[first.back()] >= kPositionsPerTask) first.push_back(uint32_t(b + 1));
  if (first.back() != kTopBuckets) first.push_back(kTopBuckets);
  parallel_for(kernels, first.size() - 1, [&](size_t group) {
    for (size_t b = first[group]; b < first[group + 1]; ++b)
      sort_top_bucket(sorted + start[b], items + start[b], start[b + 1] - start[b]);
  });
  return {sorted, n};
}

// Terms [first, last) of pair_mirrored_groups: writes their gradients, returns the sum of their squared
// group sums in order. Its own function, with every input a value and the group size a constant, so
// that the compiler keeps them in registers across the gradient stores and unrolls the group.
template <size_t group, typename T, typename Value, typename Position>
T pair_mirrored_run(size_t n, size_t terms, size_t first, size_t last, Value value, Position position,
                    T* gradient_out, T gradient_scale) {
  T total = 0;
  for (size_t j = first; j < last; ++j) {
    T sum = 0;
    for (size_t k = 0; k < group; ++k) sum += value(j * group + k) + value(n - 1 - j * group - k);
    total += sum * sum;
    if (gradient_out == nullptr) continue;
    const T gradient = T(2) * sum / static_cast<T>(terms) * gradient_scale;
    for (size_t k = 0; k < group; ++k) {
      gradient_out[position(j * group + k)] = gradient;
      gradient_out[position(n - 1 - j * group - k)] = gradient;
    }
  }
  return total;
}

// The pairing of both penalties: the j-th group of `group` consecutive sorted weights from the bottom
// is matched with the j-th group from the top, and the penalty is the mean of the squared group sums
// over m = ⌊n / 2·group⌋ terms. group 1 is L_sym1, group 2 is L_sym2 (§3.2). Every weight is in at
// most one group, so its gradient, gradient_scale·2·(its group's sum)/m, is written once; the
// unpaired middle ones get 0. value(j) and position(j) are the j-th smallest weight and its position.
// The squared sums are added in order within runs of kPositionsPerTask terms, one run per task, and the
// runs' totals in order (one run, the plain order, up to 32768 terms).
template <typename T, typename Value, typename Position>
T pair_mirrored_groups(size_t n, size_t group, Value value, Position position, std::span<T> gradient_out,
                       T gradient_scale, const KernelTable& kernels, std::vector<double>& run_totals) {
  assert(group == 1 || group == 2);
  const size_t terms = n / (2 * group);
  const size_t runs = (terms + kPositionsPerTask - 1) / kPositionsPerTask;
  run_totals.assign(runs, 0.0);
  T* gradient = gradient_out.empty() ? nullptr : gradient_out.data();
  parallel_for(kernels, runs, [&](size_t run) {
    const size_t first = run * kPositionsPerTask, last = std::min(terms, first + kPositionsPerTask);
    const T run_total =
        group == 1 ? pair_mirrored_run<1>(n, terms, first, last, value, position, gradient, gradient_scale)
                   : pair_mirrored_run<2>(n, terms, first, last, value, position, gradient, gradient_scale);
    run_totals[run] = double(run_total);  // exact
  });
  if (gradient != nullptr)
    for (size_t j = terms * group; j < n - terms * group; ++j) gradient[position(j)] = T(0);
  T total = 0;
  for (double run_total : run_totals) total += static_cast<T>(run_total);
  return total / static_cast<T>(terms);
}

template <typename T>
T mirrored_group_penalty(std::span<const T> weights, std::span<T> gradient_out, size_t group,
                         T gradient_scale, SymmetrySortBuffers& buffers, const KernelTable& kernels) {
  const size_t n = weights.size();
  assert(gradient_out.empty() || gradient_out.size() == n);
  if (!all_finite(weights)) {
    std::fill(gradient_out.begin(), gradient_out.end(), T(0));
    return std::numeric_limits<T>::quiet_NaN();
  }
  if (n / (2 * group) == 0) {
    std::fill(gradient_out.begin(), gradient_out.end(), T(0));
    return T(0);
  }
  if constexpr (std::is_same_v<T, float>) {
    // The values straight from the sorted keys, not gathered through the positions. A -0 weight comes
    // back as +0, which changes no bit of the result: every group sum starts at +0, and +0 + -0 = +0.
    const uint64_t* items = radix_sort_items(weights, buffers, kernels).data();
    auto position = [items](size_t j) { return static_cast<uint32_t>(items[j]); };
    auto value = [items](size_t j) { return float_from_order_key(static_cast<uint32_t>(items[j] >> 32)); };
    return pair_mirrored_groups(n, group, value, position, gradient_out, gradient_scale, kernels,
                                buffers.run_totals);
  } else {
    buffers.order.resize(n);
    ascending_order_reference(weights, std::span<uint32_t>(buffers.order));
    const uint32_t* order = buffers.order.data();
    auto position = [order](size_t j) { return order[j]; };
    auto value = [order, weights](size_t j) { return weights[order[j]]; };
    return pair_mirrored_groups(n, group, value, position, gradient_out, gradient_scale, kernels,
                                buffers.run_totals);
  }
}

template <typename T>
T mirrored_group_penalty(std::span<const T> weights, std::span<T> gradient_out, size_t group) {
  SymmetrySortBuffers buffers;
  return mirrored_group_penalty(weights, gradient_out, group, T(1), buffers, *reference_kernel_table());
}

// tanh(x) rounded to float once, computed in double from +, -, *, / and bit operations: with
// y = 2|x| = k·ln2 + r (|r| <= ln2/2, Cody-Waite with a two-part ln2), e^y - 1 = 2^k·expm1(r) +
// (2^k - 1) with expm1(r) = r·Σ_{i=0}^{12} r^i/(i+1)! (the next term is < 1e-17 relative; Estrin's
// scheme, for a short dependency chain), and tanh|x| = (e^y - 1) / (e^y - 1 + 2), which has no
// cancellation near 0. Relative error < 1e-15. |x| >= 10, where tanh rounds to 1, is clamped to 10 so
// that k stays small; NaN stays NaN. No branches (the clamp is bit arithmetic), so the loops vectorize.
inline float tanh_nearest_float(float x) {
  constexpr uint32_t kTen = 0x41200000u, kInfinity = 0x7f800000u;  // the bits of 10.0f and +inf
  uint32_t magnitude = qplay::bit_cast<uint32_t>(x) & 0x7fffffffu;
  const uint32_t clamp = 0u - uint32_t((magnitude > kTen) & (magnitude <= kInfinity));
  magnitude = (magnitude & ~clamp) | (kTen & clamp);
  const double y = 2.0 * double(qplay::bit_cast<float>(magnitude));
  constexpr double kInverseLn2 = 1.44269504088896338700e+00;
  constexpr double kLn2High = 6.93147180369123816490e-01;  // 32 significant bits: k·kLn2High is exact
  constexpr double kLn2Low = 1.90821492927058770002e-10;
  constexpr double kRoundingShifter = 6755399441055744.0;  // 1.5·2^52: adding it rounds to an integer
  const double shifted = y * kInverseLn2 + kRoundingShifter;
  const double k = shifted - kRoundingShifter;  // 0..29
  const double r = (y - k * kLn2High) - k * kLn2Low;
  const double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
  const double pair0 = 1.0 + r * (1.0 / 2.0), pair1 = 1.0 / 6.0 + r * (1.0 / 24.0),
               pair2 = 1.0 / 120.0 + r * (1.0 / 720.0), pair3 = 1.0 / 5040.0 + r * (1.0 / 40320.0),
               pair4 = 1.0 / 362880.0 + r * (1.0 / 3628800.0),
               pair5 = 1.0 / 39916800.0 + r * (1.0 / 479001600.0), last = 1.0 / 6227020800.0;
  const double quad0 = pair0 + r2 * pair1, quad1 = pair2 + r2 * pair3, quad2 = pair4 + r2 * pair5;
  const double expm1_r = r * ((quad0 + r4 * quad1) + r8 * (quad2 + r4 * last));
  // 2^k from k's bits: the shifter's low mantissa bits hold k, moved into the exponent of 1.0.
  const uint64_t k_bits = qplay::bit_cast<uint64_t>(shifted) - qplay::bit_cast<uint64_t>(kRoundingShifter);
  const double two_to_k = qplay::bit_cast<double>(qplay::bit_cast<uint64_t>(1.0) + (k_bits << 52));
  const double expm1_y = two_to_k * expm1_r + (two_to_k - 1.0);
  return std::copysign(float(expm1_y / (expm1_y + 2.0)), x);
}

void saturating_tanh_loop(const float* latent, float scale, float* weights, size_t n) {
  for (size_t i = 0; i < n; ++i) weights[i] = scale * tanh_nearest_float(latent[i] / scale);
}

#ifdef QPLAY_SYMREG_AVX2
QPLAY_TARGET_AVX2 void saturating_tanh_loop_avx2(const float* latent, float scale, float* weights, size_t n) {
  for (size_t i = 0; i < n; ++i) weights[i] = scale * tanh_nearest_float(latent[i] / scale);
}
// 8 doubles a vector where the CPU has AVX-512 (half the tanh's time on W1); the same operations, so the
// same bits.
__attribute__((target("avx512f"))) void saturating_tanh_loop_avx512(const float* latent, float scale,
                                                                    float* weights, size_t n) {
  for (size_t i = 0; i < n; ++i) weights[i] = scale * tanh_nearest_float(latent[i] / scale);
}
#endif

void saturating_tanh(std::span<const float> latent, float scale, std::span<float> weights) {
#ifdef QPLAY_SYMREG_AVX2
  static const bool has_avx512 = __builtin_cpu_supports("avx512f");
  if (has_avx512) return saturating_tanh_loop_avx512(latent.data(), scale, weights.data(), latent.size());
  static const bool has_avx2 = __builtin_cpu_supports("avx2");
  if (has_avx2) return saturating_tanh_loop_avx2(latent.data(), scale, weights.data(), latent.size());
#endif
  saturating_tanh_loop(latent.data(), scale, weights.data(), latent.size());
}

// The weight tensors of a network in order, and a flat copy of their entries.
template <typename T>
void gather_weights(const Network<T>& network, std::span<const T> all, std::span<T> flat) {
  size_t position = 0;
  for (const ParameterTensor& t : network.parameter_tensors()) {
    if (!t.is_weight) continue;
    std::span<const T> values = network.tensor(all, t);
    std::copy(values.begin(), values.end(), flat.begin() + position);
    position += values.size();
  }
  assert(position == flat.size());
}

template <typename T>
void scatter_add_weights(const Network<T>& network, std::span<const T> flat, std::span<T> all) {
  size_t position = 0;
  for (const ParameterTensor& t : network.parameter_tensors()) {
    if (!t.is_weight) continue;
    std::span<T> values = network.tensor(all, t);
    for (T& v : values) v += flat[position++];
  }
  assert(position == flat.size());
}

template <typename T>
T saturation_scale_of(const SymRegState<T>& state, size_t tensor_index) {
  return tensor_index < state.saturation_scales.size() ? state.saturation_scales[tensor_index] : T(0);
}

// gradients[parameter_count] w.r.t. the effective parameters (the view the forward ran on) ->
// w.r.t. the master parameters, in place: weight tensors with SatNL through the tanh's slope at
// `effective`, the rest unchanged.
template <typename T>
void chain_into_master(const Network<T>& network, const SymRegState<T>& state, std::span<const T> effective,
                       std::span<T> gradients) {
  const auto& tensors = network.parameter_tensors();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const T scale = saturation_scale_of(state, i);
    if (scale <= 0) continue;
    std::span<T> gradient = network.tensor(gradients, tensors[i]);
    saturating_weights_backward(network.tensor(effective, tensors[i]), scale, std::span<const T>(gradient),
                                gradient);
  }
}

// The step's last line without SAM, fused: gradients += penalty_gradient, both taken w.r.t. the
// effective weights and chained into the master ones through the same slope 1 - (w/c)². The same
// operations as chain_into_master on each and then the sum, so the same bits, in one pass.
template <typename T>
void chain_and_add_into_master(const Network<T>& network, const SymRegState<T>& state,
                               std::span<const T> effective, std::span<const T> penalty_gradient,
                               std::span<T> gradients) {
  const auto& tensors = network.parameter_tensors();
  for (size_t i = 0; i < tensors.size(); ++i) {
    std::span<T> gradient = network.tensor(gradients, tensors[i]);
    std::span<const T> penalty = network.tensor(penalty_gradient, tensors[i]);
    const T scale = saturation_scale_of(state, i);
    if (scale <= 0) {
      for (size_t j = 0; j < gradient.size(); ++j) gradient[j] += penalty[j];
      continue;
    }
    std::span<const T> weights = network.tensor(effective, tensors[i]);
    parallel_for(network.kernels(), (gradient.size() + kPositionsPerTask - 1) / kPositionsPerTask,
                 [&](size_t task) {
                   const size_t begin = task * kPositionsPerTask;
                   const size_t end = std::min(gradient.size(), begin + kPositionsPerTask);
                   for (size_t j = begin; j < end; ++j) {
                     const T ratio = weights[j] / scale;  // tanh(v/c)
                     const T slope = T(1) - ratio * ratio;
                     gradient[j] = gradient[j] * slope + penalty[j] * slope;
                   }
                 });
  }
}

std::string number_text(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", value);  // "0.05", not to_string's "0.050000"
  return text;
}

}  // namespace

// [SECTION] Symmetry penalties

template <typename T>
T symmetry_penalty_one_to_one(std::span<const T> weights, std::span<T> gradient_out) {
  return mirrored_group_penalty(weights, gradient_out, 1);
}

template <typename T>
T symmetry_penalty_two_to_two(std::span<const T> weights, std::span<T> gradient_out) {
  return mirrored_group_penalty(weights, gradient_out, 2);
}

template <typename T>
T symmetry_penalty(SymmetryPairing pairing, std::span<const T> weights, std::span<T> gradient_out) {
  return pairing == SymmetryPairing::two_to_two ? symmetry_penalty_two_to_two(weights, gradient_out)
                                                : symmetry_penalty_one_to_one(weights, gradient_out);
}

template <typename T>
T symmetry_penalty(SymmetryPairing pairing, std::span<const T> weights, std::span<T> gradient_out,
                   T gradient_scale, SymmetrySortBuffers& buffers, const KernelTable& kernels) {
  return mirrored_group_penalty(weights, gradient_out, pairing == SymmetryPairing::two_to_two ? 2 : 1,
                                gradient_scale, buffers, kernels);
}

template <typename T>
T weight_asymmetry(std::span<const T> weights) {
  const T penalty = symmetry_penalty_one_to_one(weights, std::span<T>());
  T mean_square = 0;
  for (T w : weights) mean_square += w * w;
  if (!weights.empty()) mean_square /= static_cast<T>(weights.size());
  // When mean_square is not > 0 the weights are all zero (penalty 0) or not finite (penalty NaN).
  return mean_square > 0 ? penalty / mean_square : penalty;
}

// [SECTION] The pairing's order

template <typename T>
void ascending_order_reference(std::span<const T> weights, std::span<uint32_t> order_out) {
  assert(order_out.size() == weights.size() && weights.size() <= std::numeric_limits<uint32_t>::max());
  std::iota(order_out.begin(), order_out.end(), uint32_t{0});
  std::sort(order_out.begin(), order_out.end(), [&](uint32_t a, uint32_t b) {
    return weights[a] < weights[b] || (weights[a] == weights[b] && a < b);
  });
}

void ascending_order_radix(std::span<const float> weights, std::span<uint32_t> order_out,
                           SymmetrySortBuffers& buffers) {
  assert(order_out.size() == weights.size());
  const std::span<const uint64_t> items = radix_sort_items(weights, buffers, *reference_kernel_table());
  for (size_t j = 0; j < items.size(); ++j) order_out[j] = static_cast<uint32_t>(items[j]);
}

// [SECTION] Saturating weights

template <typename T>
void saturating_weights_forward(std::span<const T> latent, T scale, std::span<T> weights) {
  assert(latent.size() == weights.size() && scale > 0);
  if constexpr (std::is_same_v<T, float>) {
    saturating_tanh(latent, scale, weights);
  } else {
    for (size_t i = 0; i < latent.size(); ++i) weights[i] = scale * std::tanh(latent[i] / scale);
  }
}

template <typename T>
void saturating_weights_backward(std::span<const T> weights, T scale, std::span<const T> weight_gradient,
                                 std::span<T> latent_gradient) {
  assert(weights.size() == weight_gradient.size() && weights.size() == latent_gradient.size() && scale > 0);
  for (size_t i = 0; i < weights.size(); ++i) {
    const T ratio = weights[i] / scale;  // tanh(v/c)
    latent_gradient[i] = weight_gradient[i] * (T(1) - ratio * ratio);
  }
}

template <typename T>
void saturating_weights_inverse(std::span<const T> weights, T scale, std::span<T> latent) {
  assert(weights.size() == latent.size() && scale > 0);
  const T limit = static_cast<T>(kSaturationInverseLimit);
  for (size_t i = 0; i < weights.size(); ++i)
    latent[i] = scale * portable_atanh(std::clamp(weights[i] / scale, -limit, limit));
}

template <typename T>
T saturation_scale_for(std::span<const T> initial_weights, double saturation_scale) {
  double mean = 0, variance = 0;
  for (T w : initial_weights) mean += w;
  if (!initial_weights.empty()) mean /= static_cast<double>(initial_weights.size());
  for (T w : initial_weights) variance += (w - mean) * (w - mean);
  if (!initial_weights.empty()) variance /= static_cast<double>(initial_weights.size());
  const double spread = std::sqrt(variance);
  return static_cast<T>(saturation_scale * (spread > 0 && std::isfinite(spread) ? spread : 1.0));
}

// [SECTION] Sharpness-aware perturbations

template <typename T>
void sam_perturbation(std::span<const T> gradient, T rho, std::span<T> perturbation) {
  assert(gradient.size() == perturbation.size());
  double squared_norm = 0;
  for (T g : gradient) squared_norm += double(g) * g;
  const double norm = std::sqrt(squared_norm);
  const T factor = norm > 0 ? static_cast<T>(rho / norm) : T(0);
  for (size_t i = 0; i < gradient.size(); ++i) perturbation[i] = factor * gradient[i];
}

template <typename T>
void asam_perturbation(std::span<const T> parameters, std::span<const T> gradient, T rho, T eta,
                       std::span<T> perturbation) {
  assert(parameters.size() == gradient.size() && gradient.size() == perturbation.size());
  double squared_norm = 0;  // ‖T g‖²
  for (size_t i = 0; i < gradient.size(); ++i) {
    const double scaled = (std::fabs(double(parameters[i])) + eta) * gradient[i];
    squared_norm += scaled * scaled;
  }
  const double norm = std::sqrt(squared_norm);
  const T factor = norm > 0 ? static_cast<T>(rho / norm) : T(0);
  for (size_t i = 0; i < gradient.size(); ++i) {
    const T scale = std::fabs(parameters[i]) + eta;
    perturbation[i] = factor * scale * scale * gradient[i];
  }
}

// [SECTION] Settings and factory

double effective_sam_rho(const SymRegSettings& settings) {
  if (settings.sam_rho != 0) return settings.sam_rho;
  return settings.sam == SharpnessAware::asam ? 0.5 : 0.05;
}

Status validate(const SymRegSettings& s) {
  if (!(s.symmetry_lambda >= 0) || !std::isfinite(s.symmetry_lambda))
    return Status::error("symmetry lambda: " + number_text(s.symmetry_lambda) +
                         " is not allowed, use a finite value >= 0 (methods.md sweeps 1e-4 to 1e-1)");
  if (s.pairing != SymmetryPairing::one_to_one && s.pairing != SymmetryPairing::two_to_two)
    return Status::error("symmetry pairing: " + std::to_string(static_cast<int>(s.pairing)) +
                         " is not allowed, use one_to_one or two_to_two");
  if (!(s.saturation_scale > 0) || !std::isfinite(s.saturation_scale))
    return Status::error(
        "saturation scale: " + number_text(s.saturation_scale) +
        " is not allowed, use a finite value > 0 (c = scale · std of the initial weights; 2.5 "
        "is the default)");
  if (s.sam != SharpnessAware::none && s.sam != SharpnessAware::sam && s.sam != SharpnessAware::asam)
    return Status::error("sharpness-aware: " + std::to_string(static_cast<int>(s.sam)) +
                         " is not allowed, use none, sam or asam");
  if (!(s.sam_rho >= 0) || !std::isfinite(s.sam_rho))
    return Status::error("SAM rho: " + number_text(s.sam_rho) +
                         " is not allowed, use a finite value >= 0 (0 = 0.05 for SAM, 0.5 for ASAM)");
  if (!(s.asam_eta >= 0) || !std::isfinite(s.asam_eta))
    return Status::error("ASAM eta: " + number_text(s.asam_eta) +
                         " is not allowed, use a finite value >= 0, e.g. 0.01");
  return Status();
}

// [SECTION] The objective

template <typename T>
SymRegState<T> attach_symreg(Network<T>& network, const SymRegSettings& settings) {
  const auto& tensors = network.parameter_tensors();
  SymRegState<T> state;
  state.saturation_scales.assign(tensors.size(), T(0));
  size_t weight_count = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!tensors[i].is_weight) continue;
    weight_count += tensors[i].size();
    if (!settings.saturating_weights) continue;
    std::span<T> weights = network.tensor(network.parameters(), tensors[i]);
    const T scale = saturation_scale_for(std::span<const T>(weights), settings.saturation_scale);
    state.saturation_scales[i] = scale;
    saturating_weights_inverse(std::span<const T>(weights), scale, weights);
  }
  const size_t count = network.parameter_count();
  state.effective.resize(count);
  state.penalty_gradient.resize(count);
  if (settings.sam != SharpnessAware::none) {
    state.perturbed_master.resize(count);
    state.perturbed_effective.resize(count);
    state.flat_weights.resize(weight_count);
    state.flat_gradient.resize(weight_count);
    state.flat_perturbation.resize(weight_count);
  }
  return state;
}

template <typename T>
void symreg_effective_parameters(const Network<T>& network, const SymRegState<T>& state,
                                 std::span<const T> master, std::span<T> out) {
  assert(master.size() == network.parameter_count() && out.size() == master.size());
  const auto& tensors = network.parameter_tensors();
  for (size_t i = 0; i < tensors.size(); ++i) {
    std::span<const T> from = network.tensor(master, tensors[i]);
    std::span<T> to = network.tensor(out, tensors[i]);
    const T scale = saturation_scale_of(state, i);
    if (scale <= 0) {
      std::copy(from.begin(), from.end(), to.begin());
      continue;
    }
    // Elementwise, so the split over the table's threads changes no bit.
    parallel_for(network.kernels(), (from.size() + kPositionsPerTask - 1) / kPositionsPerTask,
                 [&](size_t task) {
                   const size_t begin = task * kPositionsPerTask,
                                count = std::min(kPositionsPerTask, from.size() - begin);
                   saturating_weights_forward(from.subspan(begin, count), scale, to.subspan(begin, count));
                 });
  }
}

template <typename T>
SymRegStepValues<T> symreg_gradients(Network<T>& network, SymRegState<T>& state,
                                     const SymRegSettings& settings, std::span<const T> features,
                                     std::span<const int32_t> labels, int batch) {
  assert(state.effective.size() == network.parameter_count() && "attach_symreg first");
  symreg_effective_parameters(network, state, std::as_const(network).parameters(),
                              std::span<T>(state.effective));
  return symreg_gradients_from_effective(network, state, settings, features, labels, batch);
}

template <typename T>
SymRegStepValues<T> symreg_gradients_from_effective(Network<T>& network, SymRegState<T>& state,
                                                    const SymRegSettings& settings,
                                                    std::span<const T> features,
                                                    std::span<const int32_t> labels, int batch) {
  assert(state.effective.size() == network.parameter_count() && "attach_symreg first");
  const auto& tensors = network.parameter_tensors();
  SymRegStepValues<T> values;
  std::span<const T> effective = state.effective;
  ForwardOptions<T> at_parameters;
  at_parameters.parameters = effective;
  network.forward(features, batch, at_parameters);
  values.loss = network.loss(labels);
  if (!std::isfinite(values.loss)) return values;
  network.backward(labels);
  // Spans into the arena only now: a first forward with a larger batch than before moves it. The
  // later forwards of this step have the same batch.
  std::span<const T> master = std::as_const(network).parameters();
  std::span<T> gradients = network.gradients();

  // λ ∂L_sym/∂w at the unperturbed effective weights, laid out like the parameters (biases 0).
  std::span<T> penalty_gradient = state.penalty_gradient;
  const T lambda = static_cast<T>(settings.symmetry_lambda);
  T penalty = 0;
  for (const ParameterTensor& t : tensors) {
    std::span<T> gradient = network.tensor(penalty_gradient, t);
    if (t.is_weight && lambda > 0)
      penalty += symmetry_penalty(settings.pairing, network.tensor(effective, t), gradient, lambda,
                                  state.sort_buffers, network.kernels());
    else
      std::fill(gradient.begin(), gradient.end(), T(0));
  }
  if (lambda > 0) values.penalty = lambda * penalty;

  if (settings.sam == SharpnessAware::none) {
    chain_and_add_into_master(network, state, effective, std::span<const T>(penalty_gradient), gradients);
    return values;
  }
  chain_into_master(network, state, effective, penalty_gradient);
  // ε̂ from the CE gradient w.r.t. the master weights at v (the penalty is smooth in w and needs no
  // flatness), then the CE gradient again at v + ε̂.
  assert(state.perturbed_master.size() == master.size() && "attach_symreg with the same settings");
  chain_into_master(network, state, effective, gradients);
  gather_weights(network, std::span<const T>(gradients), std::span<T>(state.flat_gradient));
  gather_weights(network, master, std::span<T>(state.flat_weights));
  const T rho = static_cast<T>(effective_sam_rho(settings));
  if (settings.sam == SharpnessAware::sam) {
    sam_perturbation(std::span<const T>(state.flat_gradient), rho, std::span<T>(state.flat_perturbation));
  } else {
    asam_perturbation(std::span<const T>(state.flat_weights), std::span<const T>(state.flat_gradient), rho,
                      static_cast<T>(settings.asam_eta), std::span<T>(state.flat_perturbation));
  }
  std::copy(master.begin(), master.end(), state.perturbed_master.begin());
  scatter_add_weights(network, std::span<const T>(state.flat_perturbation),
                      std::span<T>(state.perturbed_master));
  symreg_effective_parameters(network, state, std::span<const T>(state.perturbed_master),
                              std::span<T>(state.perturbed_effective));
  ForwardOptions<T> at_perturbed;
  at_perturbed.parameters = state.perturbed_effective;
  network.forward(features, batch, at_perturbed);
  const T perturbed_loss = network.loss(labels);
  if (!std::isfinite(perturbed_loss)) {
    values.loss = perturbed_loss;  // so that the trainer stops on this step too
    return values;
  }
  network.backward(labels);
  chain_into_master(network, state, std::span<const T>(state.perturbed_effective), gradients);
  // Leave the unperturbed forward's probabilities in the network (TrainingMethod's contract).
  network.forward(features, batch, at_parameters);
  network.loss(labels);
  for (size_t i = 0; i < gradients.size(); ++i) gradients[i] += penalty_gradient[i];
  return values;
}

namespace {

// The master variables are the latent v (with SatNL); between steps the network holds the deployed
// weights w = c·tanh(v/c) (TrainingMethod's contract), and v lives here. For the optimizer's update
// the network briefly holds v and ∂/∂v: from compute_gradients to after_optimizer_step.
class SymRegMethod final : public TrainingMethod {
 public:
  explicit SymRegMethod(const SymRegSettings& settings) : settings_(settings) {}

  std::string_view name() const override { return "symreg"; }

  void attach(Network<float>& network) override {
    state_ = attach_symreg(network, settings_);  // the network's weights become latent v
    latent_.assign(network.parameters().begin(), network.parameters().end());
    restore_deployed_weights(network);
  }

  // state_.effective holds the effective weights of latent_ since restore_deployed_weights.
  StepResult compute_gradients(Network<float>& network, const TrainingBatch& batch,
                               const StepContext&) override {
    std::copy(latent_.begin(), latent_.end(), network.parameters().begin());
    SymRegStepValues<float> values =
        symreg_gradients_from_effective(network, state_, settings_, batch.features, batch.labels, batch.size);
    return {values.loss, values.penalty};
  }

  void after_optimizer_step(Network<float>& network, const StepContext&) override {
    latent_.assign(network.parameters().begin(), network.parameters().end());
    restore_deployed_weights(network);
  }

  std::vector<MethodReadout> readouts(const Network<float>& network) const override {
    std::vector<MethodReadout> readouts;
    const auto& tensors = network.parameter_tensors();
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (!tensors[i].is_weight) continue;
      readouts.push_back({"weight asymmetry", tensors[i].layer,
                          weight_asymmetry(network.tensor(network.parameters(), tensors[i]))});
      const float scale = saturation_scale_of(state_, i);
      if (scale > 0) readouts.push_back({"saturation scale c", tensors[i].layer, scale});
    }
    return readouts;
  }

 private:
  void restore_deployed_weights(Network<float>& network) {
    symreg_effective_parameters(network, state_, std::span<const float>(latent_),
                                std::span<float>(state_.effective));
    std::copy(state_.effective.begin(), state_.effective.end(), network.parameters().begin());
  }

  SymRegSettings settings_;
  SymRegState<float> state_;
  std::vector<float> latent_;
};

}  // namespace

Result<std::unique_ptr<TrainingMethod>> make_symreg_method(const SymRegSettings& settings) {
  Status status = validate(settings);
  if (!status.ok()) return status;
  return std::unique_ptr<TrainingMethod>(std::make_unique<SymRegMethod>(settings));
}

#define QPLAY_INSTANTIATE_SYMREG(T)                                                                          \
  template T symmetry_penalty_one_to_one<T>(std::span<const T>, std::span<T>);                               \
  template T symmetry_penalty_two_to_two<T>(std::span<const T>, std::span<T>);                               \
  template T symmetry_penalty<T>(SymmetryPairing, std::span<const T>, std::span<T>);                         \
  template T symmetry_penalty<T>(SymmetryPairing, std::span<const T>, std::span<T>, T, SymmetrySortBuffers&, \
                                 const KernelTable&);                                                        \
  template void ascending_order_reference<T>(std::span<const T>, std::span<uint32_t>);                       \
  template T weight_asymmetry<T>(std::span<const T>);                                                        \
  template void saturating_weights_forward<T>(std::span<const T>, T, std::span<T>);                          \
  template void saturating_weights_backward<T>(std::span<const T>, T, std::span<const T>, std::span<T>);     \
  template void saturating_weights_inverse<T>(std::span<const T>, T, std::span<T>);                          \
  template T saturation_scale_for<T>(std::span<const T>, double);                                            \
  template void sam_perturbation<T>(std::span<const T>, T, std::span<T>);                                    \
  template void asam_perturbation<T>(std::span<const T>, std::span<const T>, T, T, std::span<T>);            \
  template SymRegState<T> attach_symreg<T>(Network<T>&, const SymRegSettings&);                              \
  template void symreg_effective_parameters<T>(const Network<T>&, const SymRegState<T>&, std::span<const T>, \
                                               std::span<T>);                                                \
  template SymRegStepValues<T> symreg_gradients<T>(Network<T>&, SymRegState<T>&, const SymRegSettings&,      \
                                                   std::span<const T>, std::span<const int32_t>, int);       \
  template SymRegStepValues<T> symreg_gradients_from_effective<T>(Network<T>&, SymRegState<T>&,              \
                                                                  const SymRegSettings&, std::span<const T>, \
                                                                  std::span<const int32_t>, int);
QPLAY_INSTANTIATE_SYMREG(float)
QPLAY_INSTANTIATE_SYMREG(double)
#undef QPLAY_INSTANTIATE_SYMREG

}  // namespace qplay
