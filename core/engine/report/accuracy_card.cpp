#include "core/engine/report/accuracy_card.h"

#include <algorithm>
#include <string_view>

#include "core/engine/base/number_format.h"

namespace qplay {
namespace {

constexpr double kMargin = 24;
constexpr double kTitleFontSize = 18;
constexpr double kTitleHeight = 40;
constexpr double kHeadingFontSize = 13;
constexpr double kRowFontSize = 12;
constexpr double kRowHeight = 20;
constexpr double kColumnGap = 32;

std::string number(double value) { return format_double("%.1f", value); }

void append_text(std::string* out, double x, double y, std::string_view text, std::string_view attributes) {
  *out += "<text x=\"" + number(x) + "\" y=\"" + number(y) + "\" " + std::string(attributes) + ">" +
          escape_xml(text) + "</text>\n";
}

// A heading and its rows, names on the left and values after them, starting at (left, top).
void append_column(std::string* out, double left, double top, std::string_view heading,
                   const std::vector<CardRow>& rows, double value_offset) {
  append_text(out, left, top + kHeadingFontSize, heading,
              "font-size=\"" + number(kHeadingFontSize) + "\" font-weight=\"bold\"");
  for (size_t i = 0; i < rows.size(); ++i) {
    const double y = top + kHeadingFontSize + (i + 1) * kRowHeight;
    append_text(out, left, y, rows[i].name, "font-size=\"" + number(kRowFontSize) + "\" fill=\"#555555\"");
    append_text(out, left + value_offset, y, rows[i].value, "font-size=\"" + number(kRowFontSize) + "\"");
  }
}

// Room for a column's names: an average sans-serif glyph is about 0.56 em (as svg_plot.cpp estimates).
double names_width(const std::vector<CardRow>& rows) {
  size_t longest = 0;
  for (const CardRow& row : rows) longest = std::max(longest, row.name.size());
  return 0.56 * kRowFontSize * double(longest) + 12;
}

}  // namespace

std::string render_accuracy_card(const AccuracyCard& card) {
  const double plot_width = std::max(card.plot.width, 240), plot_height = std::max(card.plot.height, 160);
  const double width = plot_width + 2 * kMargin;
  const double column_width = (plot_width - kColumnGap) / 2;
  const double columns_top = kTitleHeight + plot_height + 16;
  const size_t rows = std::max(card.settings.size(), card.numbers.size());
  const double height = columns_top + kHeadingFontSize + (rows + 1) * kRowHeight + kMargin / 2;
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" + number(width) +
         "\" height=\"" + number(height) + "\" viewBox=\"0 0 " + number(width) + " " + number(height) +
         "\" font-family=\"sans-serif\" fill=\"#222222\">\n";
  out += "<title>" + escape_xml(card.title) + "</title>\n";
  out += "<rect width=\"" + number(width) + "\" height=\"" + number(height) + "\" fill=\"#ffffff\"/>\n";
  append_text(&out, kMargin, kMargin + kTitleFontSize / 2, card.title,
              "font-size=\"" + number(kTitleFontSize) + "\" font-weight=\"bold\"");
  out += render_svg_element(card.plot, kMargin, kTitleHeight);
  append_column(&out, kMargin, columns_top, "Settings", card.settings,
                std::min(names_width(card.settings), column_width / 2));
  append_column(&out, kMargin + column_width + kColumnGap, columns_top, "Numbers", card.numbers,
                std::min(names_width(card.numbers), column_width * 0.6));
  out += "</svg>\n";
  return out;
}

}  // namespace qplay
