// Specification of the axis numbers of every plot (core/engine/report/axis_ticks.h), in both placements.
// Inside, with at most a count (the interactive plots): ticks stay inside their range at steps of 1, 2 or 5
// times a power of ten, never more than asked for. Covering, near a count (the SVG plots' axes extended to
// their outer ticks): 3 to 10 ticks, the outer ones just beyond the range. Labels share their decimals;
// degenerate ranges (flat, reversed, NaN, infinite, huge, tiny) give sane answers.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/engine/report/axis_ticks.h"

namespace qplay {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInfinity = std::numeric_limits<double>::infinity();
constexpr double kLargest = std::numeric_limits<double>::max();

// [SECTION] Inside a range, at most a count

NiceTicks inside_ticks(double low, double high, int max_ticks) {
  return nice_ticks(low, high, TickCount::at_most(max_ticks), TickPlacement::inside);
}

std::vector<std::string> labels_for(double low, double high, int max_ticks) {
  return format_tick_labels(inside_ticks(low, high, max_ticks));
}

// The properties every non-empty tick set must have, whatever the range: inside it, at most max_ticks,
// one nice step apart. Values as large as a billion cannot hold steps of 1e-3 exactly, hence the
// tolerance in units of the values' own precision.
::testing::AssertionResult AreNiceTicksWithin(const NiceTicks& ticks, double low, double high,
                                              int max_ticks) {
  if (ticks.values.empty()) return ::testing::AssertionFailure() << "no ticks";
  if (static_cast<int>(ticks.values.size()) > max_ticks)
    return ::testing::AssertionFailure()
           << ticks.values.size() << " ticks, at most " << max_ticks << " asked";
  if (ticks.step_mantissa != 1 && ticks.step_mantissa != 2 && ticks.step_mantissa != 5)
    return ::testing::AssertionFailure() << "step mantissa " << ticks.step_mantissa;
  const double step = ticks.step();
  for (size_t i = 0; i < ticks.values.size(); ++i) {
    const double value = ticks.values[i];
    if (value < low || value > high)
      return ::testing::AssertionFailure() << "tick " << value << " outside [" << low << ", " << high << "]";
    const double rounding = 4 * std::numeric_limits<double>::epsilon() * std::fabs(value);
    const double multiple = value / step;
    if (std::fabs(multiple - std::round(multiple)) > 1e-6 + rounding / step)
      return ::testing::AssertionFailure() << "tick " << value << " is not a multiple of the step " << step;
    if (i > 0 && std::fabs(value - ticks.values[i - 1] - step) > 1e-6 * step + 2 * rounding)
      return ::testing::AssertionFailure() << "ticks " << ticks.values[i - 1] << " and " << value
                                           << " are not one step " << step << " apart";
  }
  return ::testing::AssertionSuccess();
}

TEST(NiceTicksInside, UnitRangeGetsSixTicksAtStepPointTwo) {
  const NiceTicks ticks = inside_ticks(0, 1, 6);
  EXPECT_EQ(ticks.values, (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  EXPECT_EQ(ticks.step_mantissa, 2);
  EXPECT_EQ(ticks.step_exponent, -1);
}

TEST(NiceTicksInside, PicksTheSmallestNiceStepThatFits) {
  // 0..10: step 1 would be 11 ticks, step 2 is 6.
  EXPECT_EQ(inside_ticks(0, 10, 10).values, (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(inside_ticks(0, 10, 11).values.size(), 11u);
  // 0..100 with 4: step 50 (3 ticks), as 20 and 25 would give 6 and 5.
  EXPECT_EQ(inside_ticks(0, 100, 4).values, (std::vector<double>{0, 50, 100}));
}

TEST(NiceTicksInside, TicksStayInsideAPaddedRange) {
  // An accuracy axis with 5% padding: ticks never fall into the padding's ragged ends.
  const NiceTicks ticks = inside_ticks(0.795, 0.9605, 8);
  EXPECT_EQ(ticks.values.front(), 0.8);
  EXPECT_EQ(ticks.values.back(), 0.95);
  EXPECT_TRUE(AreNiceTicksWithin(ticks, 0.795, 0.9605, 8));
}

TEST(NiceTicksInside, PropertiesHoldOverASweepOfRangesAndCounts) {
  const double lows[] = {-7.3, -1e-4, 0, 0.1, 3, 1234.5, -2e6};
  const double spans[] = {1e-7, 3e-4, 0.05, 1, 7, 99, 2500, 1e9};
  for (double low : lows) {
    for (double span : spans) {
      for (int max_ticks = 3; max_ticks <= 12; ++max_ticks) {
        // Spans too narrow for their values (1e-7 at a thousand) count as flat and are widened.
        const AxisRange range = widen_if_flat(low, low + span);
        const NiceTicks ticks = inside_ticks(low, low + span, max_ticks);
        EXPECT_TRUE(AreNiceTicksWithin(ticks, range.low, range.high, max_ticks))
            << "range [" << low << ", " << low + span << "], max " << max_ticks;
        // The smallest fitting step: the nice step below it (at most 2.5 times smaller) had more than
        // max_ticks ticks, so this one has at least max_ticks / 2.5.
        EXPECT_GE(ticks.values.size(), static_cast<size_t>(max_ticks * 2 / 5));
      }
    }
  }
}

TEST(NiceTicksInside, ReversedRangeGivesTheSameAscendingTicks) {
  EXPECT_EQ(inside_ticks(5, -5, 6).values, inside_ticks(-5, 5, 6).values);
  EXPECT_EQ(inside_ticks(5, -5, 6).values, (std::vector<double>{-4, -2, 0, 2, 4}));
}

TEST(NiceTicksInside, FlatRangeGetsTicksAroundTheValue) {
  const NiceTicks ticks = inside_ticks(0.9, 0.9, 6);  // widened to 0.9 ± 0.045
  EXPECT_TRUE(AreNiceTicksWithin(ticks, 0.855, 0.945, 6));
  EXPECT_GE(ticks.values.size(), 3u);
  EXPECT_TRUE(AreNiceTicksWithin(inside_ticks(0, 0, 5), -0.5, 0.5, 5));
  EXPECT_TRUE(AreNiceTicksWithin(inside_ticks(-3e12, -3e12, 5), -3.15e12, -2.85e12, 5));
}

TEST(NiceTicksInside, NotFiniteRangesGiveNoTicks) {
  EXPECT_TRUE(inside_ticks(kNaN, 1, 6).values.empty());
  EXPECT_TRUE(inside_ticks(0, kNaN, 6).values.empty());
  EXPECT_TRUE(inside_ticks(-kInfinity, kInfinity, 6).values.empty());
  EXPECT_TRUE(inside_ticks(0, kInfinity, 6).values.empty());
  EXPECT_TRUE(inside_ticks(-kLargest, kLargest, 6).values.empty());  // the span overflows
}

TEST(NiceTicksInside, ExtremeMagnitudesStillWork) {
  EXPECT_TRUE(AreNiceTicksWithin(inside_ticks(0, kLargest, 5), 0, kLargest, 5));
  // The narrowest window a billion may have before it counts as flat: ticks still distinct, one step apart.
  EXPECT_TRUE(AreNiceTicksWithin(inside_ticks(1e9, 1e9 + 2, 6), 1e9, 1e9 + 2, 6));
  // Narrower than the values can resolve, or below 1e-200: flat, widened.
  EXPECT_TRUE(AreNiceTicksWithin(inside_ticks(1, std::nextafter(1.0, 2.0), 6), 0.95, 1.05, 6));
  EXPECT_TRUE(AreNiceTicksWithin(inside_ticks(1e-300, 5e-300, 5), -0.5, 0.5, 5));
}

TEST(NiceTicksInside, OutOfRangeMaxTicksIsClamped) {
  EXPECT_LE(inside_ticks(0, 1, 0).values.size(), 2u);
  EXPECT_LE(inside_ticks(0, 1, -5).values.size(), 2u);
  EXPECT_EQ(inside_ticks(0, 1000, 100000).values.size(), 51u);  // at most 100: step 20
}

// [SECTION] Covering a range, near a count

std::vector<double> cover_ticks(double low, double high, int target_count = 6) {
  return nice_ticks(low, high, TickCount::near(target_count), TickPlacement::cover).values;
}

// Ticks are nice when they are whole multiples of one step in {1, 2, 5} x 10^k, cover [low, high] with no
// tick to spare, and number 3 to 10.
::testing::AssertionResult AreNiceTicksFor(const std::vector<double>& ticks, double low, double high) {
  if (ticks.size() < 3 || ticks.size() > 10) return ::testing::AssertionFailure() << ticks.size() << " ticks";
  const double step = ticks[1] - ticks[0];
  const double decade = std::pow(10.0, std::floor(std::log10(step) + 1e-9));
  const double mantissa = step / decade;
  if (std::fabs(mantissa - 1) > 1e-6 && std::fabs(mantissa - 2) > 1e-6 && std::fabs(mantissa - 5) > 1e-6) {
    return ::testing::AssertionFailure() << "step " << step << " is not 1, 2 or 5 times a power of ten";
  }
  for (size_t i = 0; i < ticks.size(); ++i) {
    const double multiple = ticks[i] / step;
    if (std::fabs(multiple - std::round(multiple)) > 1e-6) {
      return ::testing::AssertionFailure() << "tick " << ticks[i] << " is not a multiple of " << step;
    }
    if (i > 0 && std::fabs(ticks[i] - ticks[i - 1] - step) > step * 1e-6) {
      return ::testing::AssertionFailure() << "uneven spacing at tick " << ticks[i];
    }
  }
  const double tolerance = step * 1e-9;
  if (ticks.front() > low + tolerance || ticks.back() < high - tolerance) {
    return ::testing::AssertionFailure()
           << "ticks " << ticks.front() << ".." << ticks.back() << " miss the range";
  }
  if (ticks.front() <= low - step || ticks.back() >= high + step) {
    return ::testing::AssertionFailure() << "a whole step to spare beyond the range";
  }
  return ::testing::AssertionSuccess();
}

TEST(NiceTicksCover, AreNiceForTypicalRanges) {
  const double ranges[][2] = {{0, 1},  {0.83, 0.91}, {2, 8},     {-3, 1e4},   {0, 100},
                              {-1, 1}, {1e-4, 3e-4}, {17, 9999}, {0.5, 0.51}, {-250, -3}};
  for (const auto& range : ranges) {
    EXPECT_TRUE(AreNiceTicksFor(cover_ticks(range[0], range[1]), range[0], range[1]))
        << "[" << range[0] << ", " << range[1] << "]";
  }
}

TEST(NiceTicksCover, PicksTheExpectedSteps) {
  EXPECT_EQ(cover_ticks(0, 1), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1}));
  EXPECT_EQ(cover_ticks(0.83, 0.91), (std::vector<double>{0.82, 0.84, 0.86, 0.88, 0.9, 0.92}));
  EXPECT_EQ(cover_ticks(2, 8), (std::vector<double>{2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(cover_ticks(-3, 1e4), (std::vector<double>{-2000, 0, 2000, 4000, 6000, 8000, 10000}));
}

TEST(NiceTicksCover, HandlesDegenerateRanges) {
  // A single value gets an axis a little wider than itself: 0.9 -> [0.855, 0.945], 0 -> [-0.5, 0.5].
  EXPECT_TRUE(AreNiceTicksFor(cover_ticks(0.9, 0.9), 0.855, 0.945));
  EXPECT_TRUE(AreNiceTicksFor(cover_ticks(0, 0), -0.5, 0.5));
  EXPECT_EQ(cover_ticks(8, 2), cover_ticks(2, 8));
  EXPECT_TRUE(cover_ticks(kNaN, 1).empty());
  EXPECT_TRUE(cover_ticks(0, kInfinity).empty());
}

TEST(NiceTicksCover, FollowsTheTargetCountWithinLimits) {
  EXPECT_EQ(cover_ticks(0, 1, 3), (std::vector<double>{0, 0.5, 1}));
  EXPECT_EQ(cover_ticks(0, 1, 10).size(), 6u);  // 0.1 steps would give 11
  EXPECT_EQ(cover_ticks(0, 1, 100).size(), 6u);
}

// [SECTION] Ranges and labels

TEST(WidenIfFlat, OrdersWidensAndReplacesWhatIsNotFinite) {
  EXPECT_EQ(widen_if_flat(2, 1).low, 1);
  EXPECT_EQ(widen_if_flat(2, 1).high, 2);
  EXPECT_DOUBLE_EQ(widen_if_flat(10, 10).low, 9.5);
  EXPECT_DOUBLE_EQ(widen_if_flat(10, 10).high, 10.5);
  EXPECT_EQ(widen_if_flat(0, 0).low, -0.5);
  EXPECT_EQ(widen_if_flat(kNaN, 3).low, 0);
  EXPECT_EQ(widen_if_flat(kNaN, 3).high, 1);
}

TEST(FormatTickLabels, LabelsShareTheDecimalsOfTheStep) {
  EXPECT_EQ(labels_for(0, 1, 6), (std::vector<std::string>{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}));
  EXPECT_EQ(labels_for(0.8, 0.95, 4), (std::vector<std::string>{"0.80", "0.85", "0.90", "0.95"}));
  EXPECT_EQ(labels_for(0, 100, 3), (std::vector<std::string>{"0", "50", "100"}));
  EXPECT_EQ(labels_for(-1, 1, 5), (std::vector<std::string>{"-1.0", "-0.5", "0.0", "0.5", "1.0"}));
}

TEST(FormatTickLabels, SmallStepsReadAsPlainDecimalsDownToTenThousandths) {
  EXPECT_EQ(labels_for(0, 5e-4, 6),
            (std::vector<std::string>{"0.0000", "0.0001", "0.0002", "0.0003", "0.0004", "0.0005"}));
  EXPECT_EQ(labels_for(1, 1.0002, 3), (std::vector<std::string>{"1.0000", "1.0001", "1.0002"}));
}

TEST(FormatTickLabels, TinyStepsAndLargeValuesSwitchToSharedScientificNotation) {
  EXPECT_EQ(labels_for(0, 2e-5, 5), (std::vector<std::string>{"0", "5.0e-6", "1.0e-5", "1.5e-5", "2.0e-5"}));
  EXPECT_EQ(labels_for(0, 3e6, 4), (std::vector<std::string>{"0", "1e6", "2e6", "3e6"}));
  EXPECT_EQ(labels_for(0, 999999, 3), (std::vector<std::string>{"0", "500000"}));
}

TEST(FormatTickLabels, ZeroNeverHasASign) {
  NiceTicks ticks;
  ticks.values = {-1e-17, 0.5};
  ticks.step_mantissa = 5;
  ticks.step_exponent = -1;
  EXPECT_EQ(format_tick_labels(ticks), (std::vector<std::string>{"0.0", "0.5"}));
}

TEST(FormatTickLabels, NoTicksNoLabels) { EXPECT_TRUE(format_tick_labels(inside_ticks(kNaN, 0, 6)).empty()); }

TEST(FormatReadout, FourSignificantDigitsWithoutTrailingZeros) {
  EXPECT_EQ(format_readout(0.91234), "0.9123");
  EXPECT_EQ(format_readout(0.5), "0.5");
  EXPECT_EQ(format_readout(12345), "12345");
  EXPECT_EQ(format_readout(-2.0), "-2");
  EXPECT_EQ(format_readout(0.0012346), "0.001235");
  EXPECT_EQ(format_readout(0), "0");
}

TEST(FormatReadout, ScientificOutsideTheReadableDecades) {
  EXPECT_EQ(format_readout(1.5e-5), "1.5e-5");
  EXPECT_EQ(format_readout(-2.25e9), "-2.25e9");
  EXPECT_EQ(format_readout(1e-3 * 0.99996), "1e-3");
}

TEST(FormatReadout, NotFiniteValuesAreNamed) {
  EXPECT_EQ(format_readout(kNaN), "NaN");
  EXPECT_EQ(format_readout(kInfinity), "inf");
  EXPECT_EQ(format_readout(-kInfinity), "-inf");
}

// An axis of counts (epochs) never reads "1.5": with room for nine ticks over 0..4, a plain axis steps by
// 0.5, a count's by 1; over 0..1 a count's axis still has its two ends.
TEST(NiceTicks, ACountsAxisStepsByWholeNumbers) {
  TickCount count = TickCount::at_most(9);
  EXPECT_EQ(nice_ticks(0, 4, count, TickPlacement::inside).values,
            (std::vector<double>{0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4}));
  count.whole_numbers = true;
  EXPECT_EQ(nice_ticks(0, 4, count, TickPlacement::inside).values, (std::vector<double>{0, 1, 2, 3, 4}));
  EXPECT_EQ(nice_ticks(0, 1, count, TickPlacement::inside).values, (std::vector<double>{0, 1}));
  EXPECT_EQ(nice_ticks(0, 30, count, TickPlacement::inside).values,
            (std::vector<double>{0, 5, 10, 15, 20, 25, 30}));
}

}  // namespace
}  // namespace qplay
