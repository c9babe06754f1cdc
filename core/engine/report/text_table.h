// Tables of results as people read them in a terminal and as spreadsheets read them: the aligned text
// table qplay-cli prints on stdout and the CSV file it writes, from one TextTable of already formatted
// cells, plus the number formatting both share.
// For: a few columns and a few hundred rows of short cells. Not for: parsing CSV, typed columns (format
// the numbers first with format_fixed / format_percent), or wide-character (CJK) column alignment.
#pragma once

#include <string>
#include <vector>

namespace qplay {

// Cells are text; a row may be shorter or longer than the header (missing cells are empty).
struct TextTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

// Columns separated by two spaces and padded to their widest cell, a rule of dashes under the header,
// one line per row ending in '\n'. A column whose body cells are all numbers ("87.3%", "-1.5e-3"; empty and
// "n/a" cells do not count) is right-aligned, header included, so the digits line up; others are
// left-aligned. Widths count UTF-8 code points, so "±" or "—" take one column.
std::string render_text_table(const TextTable& table);

// RFC 4180 CSV: header then rows, each record ending in '\n'. Cells holding a comma, a double quote, '\n' or
// '\r' are quoted, with inner quotes doubled.
std::string render_csv(const TextTable& table);

// `value` with exactly `decimals` digits after the point, '.' whatever the locale: format_fixed(0.8734, 2)
// is "0.87". NaN is "n/a", infinities "inf" / "-inf", and a value that rounds to zero never prints "-0.00".
std::string format_fixed(double value, int decimals);

// A fraction in [0, 1] as a percentage: format_percent(0.8734, 1) is "87.3%". NaN is "n/a".
std::string format_percent(double fraction, int decimals);

}  // namespace qplay
