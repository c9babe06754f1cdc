#include "core/engine/base/number_format.h"

#include <algorithm>
#include <clocale>
#include <cstdio>
#include <vector>

namespace qplay {

namespace {

std::string with_dot(std::string text) {
  const char point = locale_decimal_point();
  if (point != '.') std::replace(text.begin(), text.end(), point, '.');
  return text;
}

template <typename... Arguments>
std::string printed(const char* format, Arguments... arguments) {
  char small[64];
  const int length = std::snprintf(small, sizeof small, format, arguments...);
  if (length < 0) return {};
  if (static_cast<size_t>(length) < sizeof small) return with_dot(small);
  std::vector<char> large(static_cast<size_t>(length) + 1);
  std::snprintf(large.data(), large.size(), format, arguments...);
  return with_dot(large.data());
}

}  // namespace

char locale_decimal_point() {
  const char* point = std::localeconv()->decimal_point;
  return (point != nullptr && point[0] != '\0') ? point[0] : '.';
}

std::string format_double(const char* format, double value) { return printed(format, value); }

std::string format_double(const char* format, int precision, double value) {
  return printed(format, precision, value);
}

}  // namespace qplay
