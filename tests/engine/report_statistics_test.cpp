// Mean and spread, Student's t and the paired confidence interval that every verdict of a comparison
// uses, against textbook numbers.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/engine/report/statistics.h"

namespace qplay {
namespace {

TEST(MeanAndSpread, IsTheMeanAndTheSampleStandardDeviation) {
  const MeanAndSpread s = mean_and_spread({1.0, 2.0, 3.0, 6.0});
  EXPECT_DOUBLE_EQ(s.mean, 3.0);
  EXPECT_NEAR(s.std, std::sqrt(14.0 / 3.0), 1e-12);
  EXPECT_EQ(mean_and_spread({5.0}).std, 0.0);
  EXPECT_EQ(mean_and_spread({}).mean, 0.0);
}

// Published two-sided 95% critical values; past the table the expansion stays within 1e-5.
TEST(StudentT, QuantilesMatchTheTable) {
  EXPECT_NEAR(student_t_975(1), 12.706205, 1e-6);
  EXPECT_NEAR(student_t_975(4), 2.776445, 1e-6);
  EXPECT_NEAR(student_t_975(9), 2.262157, 1e-6);
  EXPECT_NEAR(student_t_975(30), 2.042272, 1e-6);
  EXPECT_NEAR(student_t_975(31), 2.039513, 1e-5);
  EXPECT_NEAR(student_t_975(40), 2.021075, 1e-5);
  EXPECT_NEAR(student_t_975(60), 2.000298, 1e-5);
  EXPECT_NEAR(student_t_975(120), 1.979930, 1e-5);
  EXPECT_NEAR(student_t_975(100000), 1.959988, 1e-5);  // just above z = 1.959964
}

// Student's sleep data (Cushny & Peebles 1905, as in R's `t.test(extra ~ group, data = sleep, paired =
// TRUE)`): extra hours of sleep of ten patients under two drugs. R: mean difference -1.58, 95% CI
// [-2.4598858, -0.7001142].
TEST(PairedDifference, MatchesTheTextbookSleepExample) {
  const std::vector<double> drug1 = {0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0};
  const std::vector<double> drug2 = {1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4};
  const PairedDifference d = paired_difference(drug1, drug2);
  EXPECT_EQ(d.pairs, 10);
  EXPECT_NEAR(d.mean, -1.58, 1e-12);
  EXPECT_NEAR(d.low, -2.4598858, 1e-6);
  EXPECT_NEAR(d.high, -0.7001142, 1e-6);
  EXPECT_EQ(paired_verdict(d), "worse");
  EXPECT_EQ(paired_verdict(paired_difference(drug2, drug1)), "better");
  EXPECT_EQ(paired_verdict(d, /*higher_is_better=*/false), "better");
}

TEST(PairedDifference, AnIntervalHoldingZeroShowsNoDifferenceAndOnePairHasNoInterval) {
  const PairedDifference mixed =
      paired_difference(std::vector<double>{1, 2, 3}, std::vector<double>{2, 1, 3});
  EXPECT_EQ(paired_verdict(mixed), "no difference shown");
  const PairedDifference one = paired_difference(std::vector<double>{0.9}, std::vector<double>{0.8});
  EXPECT_EQ(one.pairs, 1);
  EXPECT_NEAR(one.low, 0.1, 1e-12);
  EXPECT_NEAR(one.high, 0.1, 1e-12);
  EXPECT_EQ(paired_verdict(one), "one seed: no interval");
}

}  // namespace
}  // namespace qplay
