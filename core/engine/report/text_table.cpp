// The text table, CSV writer and number formatting behind text_table.h.
#include "core/engine/report/text_table.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <string_view>

#include "core/engine/base/number_format.h"

namespace qplay {
namespace {

// Code points, not bytes: UTF-8 continuation bytes (10xxxxxx) do not start a character.
size_t display_width(std::string_view text) {
  size_t width = 0;
  for (char byte : text) {
    if ((static_cast<unsigned char>(byte) & 0xC0) != 0x80) ++width;
  }
  return width;
}

// Sign, digits with at most one point, an optional exponent and an optional trailing '%'; also "inf".
bool is_numeric_cell(std::string_view cell) {
  if (!cell.empty() && cell.back() == '%') cell.remove_suffix(1);
  if (!cell.empty() && (cell.front() == '-' || cell.front() == '+')) cell.remove_prefix(1);
  if (cell == "inf") return true;
  size_t i = 0;
  int digits = 0;
  bool seen_point = false;
  for (; i < cell.size(); ++i) {
    char c = cell[i];
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (digits == 0) return false;
  if (i < cell.size() && (cell[i] == 'e' || cell[i] == 'E')) {
    ++i;
    if (i < cell.size() && (cell[i] == '-' || cell[i] == '+')) ++i;
    size_t exponent_start = i;
    while (i < cell.size() && cell[i] >= '0' && cell[i] <= '9') ++i;
    if (i == exponent_start) return false;
  }
  return i == cell.size();
}

// Placeholders for a missing number; they neither make a column numeric nor stop it from being one.
bool is_blank_cell(std::string_view cell) { return cell.empty() || cell == "n/a" || cell == "-"; }

size_t column_count(const TextTable& table) {
  size_t count = table.header.size();
  for (const std::vector<std::string>& row : table.rows) count = std::max(count, row.size());
  return count;
}

const std::string& cell_at(const std::vector<std::string>& row, size_t column) {
  static const std::string kEmpty;
  return column < row.size() ? row[column] : kEmpty;
}

void append_aligned_row(const std::vector<std::string>& row, const std::vector<size_t>& widths,
                        const std::vector<bool>& right_aligned, std::string* out) {
  std::string line;
  for (size_t column = 0; column < widths.size(); ++column) {
    const std::string& cell = cell_at(row, column);
    std::string padding(widths[column] - display_width(cell), ' ');
    if (column > 0) line += "  ";
    line += right_aligned[column] ? padding + cell : cell + padding;
  }
  // The last column is often left-aligned text; padding it would leave trailing blanks on every line.
  line.erase(line.find_last_not_of(' ') + 1);
  *out += line;
  *out += '\n';
}

void append_csv_cell(const std::string& cell, std::string* out) {
  if (cell.find_first_of(",\"\n\r") == std::string::npos) {
    *out += cell;
    return;
  }
  *out += '"';
  for (char c : cell) {
    if (c == '"') *out += '"';
    *out += c;
  }
  *out += '"';
}

void append_csv_record(const std::vector<std::string>& record, std::string* out) {
  for (size_t i = 0; i < record.size(); ++i) {
    if (i > 0) *out += ',';
    append_csv_cell(record[i], out);
  }
  *out += '\n';
}

}  // namespace

std::string render_text_table(const TextTable& table) {
  const size_t columns = column_count(table);
  std::vector<size_t> widths(columns, 0);
  std::vector<bool> right_aligned(columns, false);
  for (size_t column = 0; column < columns; ++column) {
    widths[column] = display_width(cell_at(table.header, column));
    bool any_number = false, all_numbers = true;
    for (const std::vector<std::string>& row : table.rows) {
      const std::string& cell = cell_at(row, column);
      widths[column] = std::max(widths[column], display_width(cell));
      if (is_blank_cell(cell)) continue;
      if (is_numeric_cell(cell)) {
        any_number = true;
      } else {
        all_numbers = false;
      }
    }
    right_aligned[column] = any_number && all_numbers;
  }

  std::string out;
  if (!table.header.empty()) {
    append_aligned_row(table.header, widths, right_aligned, &out);
    std::vector<std::string> rule;
    for (size_t width : widths) rule.push_back(std::string(width, '-'));
    append_aligned_row(rule, widths, right_aligned, &out);
  }
  for (const std::vector<std::string>& row : table.rows) append_aligned_row(row, widths, right_aligned, &out);
  return out;
}

std::string render_csv(const TextTable& table) {
  std::string out;
  if (!table.header.empty()) append_csv_record(table.header, &out);
  for (const std::vector<std::string>& row : table.rows) append_csv_record(row, &out);
  return out;
}

std::string format_fixed(double value, int decimals) {
  if (std::isnan(value)) return "n/a";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  std::string text = format_double("%.*f", std::clamp(decimals, 0, 17), value);
  if (text[0] == '-' && text.find_first_not_of("-0.") == std::string::npos) text.erase(0, 1);
  return text;
}

std::string format_percent(double fraction, int decimals) {
  if (std::isnan(fraction)) return "n/a";
  return format_fixed(fraction * 100.0, decimals) + "%";
}

}  // namespace qplay
