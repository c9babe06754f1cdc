// Summaries of repeated runs: mean and spread, and the paired difference of two methods trained from the
// same seeds with its 95% confidence interval (Student's t). Pairing by seed removes what a seed does to
// both methods (the data drawn, the initial weights), so a real difference shows with fewer seeds.
#pragma once

#include <span>
#include <string_view>
#include <vector>

namespace qplay {

struct MeanAndSpread {
  double mean = 0;
  double std = 0;  // sample standard deviation; 0 for one value
};
MeanAndSpread mean_and_spread(const std::vector<double>& values);

// t_{0.975, df}: the two-sided 95% critical value of Student's t with `degrees_of_freedom` >= 1 (exact to
// 6 digits up to 30 from the standard table, then the Cornish-Fisher expansion, within 1e-5).
double student_t_975(int degrees_of_freedom);

// mean(a_i - b_i) and its 95% interval mean ± t_{0.975, n-1} · s / √n; with one pair the interval is the
// mean itself (low = high = mean) and `pairs` says so.
struct PairedDifference {
  double mean = 0, low = 0, high = 0;
  int pairs = 0;
};
PairedDifference paired_difference(std::span<const double> a, std::span<const double> b);

// One rule for every claim: "better" when the whole interval favours a, "worse" when it favours b,
// "no difference shown" when it holds 0, "one seed: no interval" below two pairs.
std::string_view paired_verdict(const PairedDifference& difference, bool higher_is_better = true);

// A claim is about an effect the reference suffers (quantization costs it accuracy, it overfits, an attack
// fools it) and the method reducing it. The claim is testable at a setting only where the reference shows
// that effect: its paired effect (e.g. quantized minus float accuracy) must be below -kSmallestTestableEffect
// with the whole 95% interval below 0. Else "not testable here"; otherwise paired_verdict's words.
inline constexpr double kSmallestTestableEffect = 0.01;  // one percentage point
std::string_view claim_verdict(const PairedDifference& method_minus_reference,
                               const PairedDifference& reference_effect, bool higher_is_better = true);

}  // namespace qplay
