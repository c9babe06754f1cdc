// Mean, spread and paired 95% confidence intervals; see statistics.h.
#include "core/engine/report/statistics.h"

#include <array>
#include <cassert>
#include <cmath>

namespace qplay {

MeanAndSpread mean_and_spread(const std::vector<double>& values) {
  MeanAndSpread s;
  if (values.empty()) return s;
  for (double v : values) s.mean += v;
  s.mean /= double(values.size());
  if (values.size() < 2) return s;
  double squares = 0;
  for (double v : values) squares += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(squares / double(values.size() - 1));
  return s;
}

double student_t_975(int degrees_of_freedom) {
  assert(degrees_of_freedom >= 1);
  // t_{0.975, df} for df = 1..30 (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2).
  static constexpr std::array<double, 30> kTable = {
      12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139,
      2.200985,  2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922, 2.093024, 2.085963,
      2.079614,  2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.045230, 2.042272};
  if (degrees_of_freedom <= 30) return kTable[degrees_of_freedom - 1];
  // Cornish-Fisher expansion of t around the normal quantile z_{0.975} (Abramowitz & Stegun 26.7.5).
  const double z = 1.959963984540054, v = degrees_of_freedom;
  const double z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z;
  return z + (z3 + z) / (4 * v) + (5 * z5 + 16 * z3 + 3 * z) / (96 * v * v) +
         (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * v * v * v);
}

PairedDifference paired_difference(std::span<const double> a, std::span<const double> b) {
  assert(a.size() == b.size());
  std::vector<double> differences(a.size());
  for (size_t i = 0; i < a.size(); ++i) differences[i] = a[i] - b[i];
  const MeanAndSpread s = mean_and_spread(differences);
  PairedDifference d;
  d.pairs = static_cast<int>(differences.size());
  d.mean = d.low = d.high = s.mean;
  if (d.pairs < 2) return d;
  const double half_width = student_t_975(d.pairs - 1) * s.std / std::sqrt(double(d.pairs));
  d.low = s.mean - half_width;
  d.high = s.mean + half_width;
  return d;
}

std::string_view paired_verdict(const PairedDifference& difference, bool higher_is_better) {
  if (difference.pairs < 2) return "one seed: no interval";
  if (difference.low > 0) return higher_is_better ? "better" : "worse";
  if (difference.high < 0) return higher_is_better ? "worse" : "better";
  return "no difference shown";
}

std::string_view claim_verdict(const PairedDifference& method_minus_reference,
                               const PairedDifference& reference_effect, bool higher_is_better) {
  if (method_minus_reference.pairs < 2) return paired_verdict(method_minus_reference, higher_is_better);
  if (!(reference_effect.high < 0 && reference_effect.mean <= -kSmallestTestableEffect))
    return "not testable here";
  return paired_verdict(method_minus_reference, higher_is_better);
}

}  // namespace qplay
