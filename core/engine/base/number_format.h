// Numbers as text the same way everywhere: printf's formats, but always with '.' as the decimal
// separator, whatever C locale a host program set (printf and strtod follow it; a page or app that
// sets "de_DE" would otherwise write "0,5" into JSON files, CSV cells and plot labels).
#pragma once

#include <string>

namespace qplay {

// The C locale's decimal separator ('.' unless a host program set another).
char locale_decimal_point();

// One double through a printf format with one conversion ("%.6g", "%.2f"), or with a '*' precision
// ("%.*f", "%.*e") given as `precision`; any length.
std::string format_double(const char* format, double value);
std::string format_double(const char* format, int precision, double value);

}  // namespace qplay
