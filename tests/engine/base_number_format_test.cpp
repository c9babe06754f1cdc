// The one locale-proof number formatter (base/number_format.h): printf's formats, '.' always, any length.
#include <gtest/gtest.h>

#include <cfloat>
#include <clocale>
#include <string>

#include "core/engine/base/number_format.h"

namespace qplay {
namespace {

TEST(NumberFormat, WritesPrintfFormatsWithADot) {
  EXPECT_EQ(format_double("%.6g", 0.05), "0.05");
  EXPECT_EQ(format_double("%.*f", 2, 3.14159), "3.14");
  EXPECT_EQ(format_double("%.*e", 1, 12345.0), "1.2e+04");
  EXPECT_EQ(locale_decimal_point(), '.');
}

TEST(NumberFormat, WritesNumbersLongerThanAnyFixedBuffer) {
  const std::string text = format_double("%.*f", 17, DBL_MAX);
  EXPECT_EQ(text.size(), 309u + 1 + 17);  // 309 digits, the point, 17 decimals
  EXPECT_EQ(text.substr(0, 6), "179769");
}

TEST(NumberFormat, KeepsTheDotUnderACommaLocale) {
  const char* german = std::setlocale(LC_NUMERIC, "de_DE.UTF-8");
  if (german == nullptr || std::localeconv()->decimal_point[0] != ',') {
    std::setlocale(LC_NUMERIC, "C");
    GTEST_SKIP() << "no de_DE.UTF-8 locale with a decimal comma here";
  }
  EXPECT_EQ(locale_decimal_point(), ',');
  EXPECT_EQ(format_double("%.*f", 1, 0.5), "0.5");
  std::setlocale(LC_NUMERIC, "C");
}

}  // namespace
}  // namespace qplay
