// Specification of the report writers: the SVG line plot (svg_plot.h; its ticks are specified in
// report_axis_ticks_test.cpp) and the text table, CSV and number formatting (text_table.h). The SVG checks
// parse the output with a small well-formedness checker below rather than comparing bytes, so layout can be
// tuned without rewriting the tests.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "core/engine/report/svg_plot.h"
#include "core/engine/report/text_table.h"

namespace qplay {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInfinity = std::numeric_limits<double>::infinity();

// [SECTION] A minimal XML checker: tags nest and close, attributes are name="value" with no raw '<', and
// every '&' starts an entity. Enough to catch what a string-built SVG gets wrong.

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == ':' || c == '.';
}

bool valid_entity_at(const std::string& text, size_t ampersand) {
  for (const char* entity : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"}) {
    if (text.compare(ampersand, std::string(entity).size(), entity) == 0) return true;
  }
  return false;
}

::testing::AssertionResult IsWellFormedXml(const std::string& xml) {
  std::vector<std::string> open_tags;
  int root_elements = 0;
  size_t i = 0;
  while (i < xml.size()) {
    if (xml[i] == '&' && !valid_entity_at(xml, i)) {
      return ::testing::AssertionFailure() << "bare '&' at offset " << i;
    }
    if (xml[i] == '>') return ::testing::AssertionFailure() << "stray '>' at offset " << i;
    if (xml[i] != '<') {
      if (open_tags.empty() && !std::isspace(static_cast<unsigned char>(xml[i]))) {
        return ::testing::AssertionFailure() << "text outside the root element at offset " << i;
      }
      ++i;
      continue;
    }
    if (xml.compare(i, 2, "<?") == 0) {
      size_t end = xml.find("?>", i);
      if (end == std::string::npos) return ::testing::AssertionFailure() << "unterminated <?";
      i = end + 2;
      continue;
    }
    const bool closing = xml.compare(i, 2, "</") == 0;
    size_t cursor = i + (closing ? 2 : 1);
    size_t name_start = cursor;
    while (cursor < xml.size() && is_name_char(xml[cursor])) ++cursor;
    std::string name = xml.substr(name_start, cursor - name_start);
    if (name.empty()) return ::testing::AssertionFailure() << "'<' without a tag name at offset " << i;
    // Attributes: whitespace, name, '=', quoted value without '<' and with valid entities.
    while (cursor < xml.size()) {
      while (cursor < xml.size() && std::isspace(static_cast<unsigned char>(xml[cursor]))) ++cursor;
      if (cursor >= xml.size() || xml[cursor] == '>' || xml[cursor] == '/') break;
      if (closing) return ::testing::AssertionFailure() << "attributes in closing tag </" << name << ">";
      size_t attribute_start = cursor;
      while (cursor < xml.size() && is_name_char(xml[cursor])) ++cursor;
      if (cursor == attribute_start || cursor >= xml.size() || xml[cursor] != '=') {
        return ::testing::AssertionFailure()
               << "malformed attribute in <" << name << "> at offset " << cursor;
      }
      ++cursor;
      if (cursor >= xml.size() || (xml[cursor] != '"' && xml[cursor] != '\'')) {
        return ::testing::AssertionFailure() << "unquoted attribute value in <" << name << ">";
      }
      const char quote = xml[cursor];
      size_t value_end = xml.find(quote, cursor + 1);
      if (value_end == std::string::npos)
        return ::testing::AssertionFailure() << "unbalanced quote in <" << name << ">";
      for (size_t k = cursor + 1; k < value_end; ++k) {
        if (xml[k] == '<')
          return ::testing::AssertionFailure() << "raw '<' in an attribute of <" << name << ">";
        if (xml[k] == '&' && !valid_entity_at(xml, k)) {
          return ::testing::AssertionFailure() << "bare '&' in an attribute of <" << name << ">";
        }
      }
      cursor = value_end + 1;
    }
    const bool self_closing = xml.compare(cursor, 2, "/>") == 0;
    if (!self_closing && (cursor >= xml.size() || xml[cursor] != '>')) {
      return ::testing::AssertionFailure() << "unterminated tag <" << name << ">";
    }
    i = cursor + (self_closing ? 2 : 1);
    if (closing) {
      if (open_tags.empty() || open_tags.back() != name) {
        return ::testing::AssertionFailure()
               << "</" << name << "> closes "
               << (open_tags.empty() ? "nothing" : "<" + open_tags.back() + ">");
      }
      open_tags.pop_back();
    } else {
      if (open_tags.empty()) ++root_elements;
      if (!self_closing) open_tags.push_back(name);
    }
  }
  if (!open_tags.empty()) return ::testing::AssertionFailure() << "<" << open_tags.back() << "> never closed";
  if (root_elements != 1) return ::testing::AssertionFailure() << root_elements << " root elements";
  return ::testing::AssertionSuccess();
}

size_t count_occurrences(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

// Contents of every <text> element, still escaped.
std::vector<std::string> text_elements(const std::string& svg) {
  std::vector<std::string> texts;
  for (size_t at = svg.find("<text"); at != std::string::npos; at = svg.find("<text", at + 1)) {
    size_t start = svg.find('>', at) + 1;
    texts.push_back(svg.substr(start, svg.find("</text>", start) - start));
  }
  return texts;
}

bool has_text_element(const std::string& svg, const std::string& escaped_content) {
  for (const std::string& text : text_elements(svg)) {
    if (text == escaped_content) return true;
  }
  return false;
}

double attribute_value(const std::string& element, const std::string& name) {
  size_t at = element.find(" " + name + "=\"");
  if (at == std::string::npos) return kNaN;
  return std::strtod(element.c_str() + at + name.size() + 3, nullptr);
}

struct Circle {
  double x, y;
};

// Marker centres drawn before `stop` (an offset in the document).
std::vector<Circle> circles_before(const std::string& svg, size_t stop) {
  std::vector<Circle> circles;
  for (size_t at = svg.find("<circle"); at < stop; at = svg.find("<circle", at + 1)) {
    std::string element = svg.substr(at, svg.find('>', at) - at);
    circles.push_back({attribute_value(element, "cx"), attribute_value(element, "cy")});
  }
  return circles;
}

// Accuracy of a network against weight bit-width, one curve per activation bit-width: the plot the CLI's
// sweep command writes. Column 9 is the float network.
LinePlot accuracy_against_bits_plot() {
  LinePlot plot;
  plot.title = "Fashion-MNIST MLP: post-training quantization";
  plot.x_label = "weight bits";
  plot.y_label = "test accuracy";
  plot.x_ticks = {2, 3, 4, 5, 6, 7, 8, 9};
  plot.x_tick_labels = {"2", "3", "4", "5", "6", "7", "8", "float"};
  const std::vector<double> bits = {2, 3, 4, 5, 6, 7, 8, 9};
  plot.series.push_back({"a4", bits, {0.31, 0.62, 0.80, 0.84, 0.85, 0.855, 0.856, 0.857}});
  plot.series.push_back({"a8", bits, {0.34, 0.68, 0.84, 0.872, 0.881, 0.884, 0.886, 0.887}});
  plot.series.push_back(
      {"float activations", bits, {0.35, 0.70, 0.85, 0.876, 0.884, 0.887, 0.888, 0.889}, true});
  plot.reference_y = 0.889;
  plot.reference_label = "float network";
  return plot;
}

// [SECTION] SVG plot

TEST(SvgPlot, IsAWellFormedStandaloneSvgDocument) {
  const std::string svg = render_svg(accuracy_against_bits_plot());
  EXPECT_TRUE(IsWellFormedXml(svg));
  EXPECT_EQ(svg.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg ", 0), 0u);
  EXPECT_NE(svg.find("xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  EXPECT_NE(svg.find("version=\"1.1\""), std::string::npos);
  EXPECT_NE(svg.find("viewBox=\"0 0 720 440\""), std::string::npos);
  EXPECT_NE(svg.find("font-family=\"sans-serif\""), std::string::npos);
}

TEST(SvgPlot, ShowsTitleAndAxisLabels) {
  const LinePlot plot = accuracy_against_bits_plot();
  const std::string svg = render_svg(plot);
  EXPECT_TRUE(has_text_element(svg, plot.title));
  EXPECT_TRUE(has_text_element(svg, "weight bits"));
  EXPECT_TRUE(has_text_element(svg, "test accuracy"));
}

TEST(SvgPlot, DrawsOnePathPerSeriesWithData) {
  LinePlot plot = accuracy_against_bits_plot();
  plot.series.push_back({"never run", {}, {}});
  plot.series.push_back({"diverged", {2, 3}, {kNaN, kNaN}});
  const std::string svg = render_svg(plot);
  EXPECT_TRUE(IsWellFormedXml(svg));
  EXPECT_EQ(count_occurrences(svg, "<path"), 3u);
}

TEST(SvgPlot, ListsEveryLabelledSeriesAndTheReferenceInTheLegend) {
  LinePlot plot = accuracy_against_bits_plot();
  plot.series.push_back({"never run", {}, {}});
  plot.series.push_back({"", {2, 8}, {0.5, 0.6}});  // unlabelled: drawn, not listed
  const std::string svg = render_svg(plot);
  EXPECT_TRUE(has_text_element(svg, "a4"));
  EXPECT_TRUE(has_text_element(svg, "a8"));
  EXPECT_TRUE(has_text_element(svg, "float activations"));
  EXPECT_TRUE(has_text_element(svg, "float network"));
  EXPECT_TRUE(has_text_element(svg, "never run (no data)"));
  EXPECT_EQ(count_occurrences(svg, "<path"), 4u);
}

TEST(SvgPlot, EscapesMarkupInEveryLabel) {
  const std::string nasty = "a<b & \"c\" > 'd'";
  const std::string escaped = "a&lt;b &amp; &quot;c&quot; &gt; &apos;d&apos;";
  LinePlot plot = accuracy_against_bits_plot();
  plot.title = plot.x_label = plot.y_label = plot.reference_label = nasty;
  plot.series[0].label = nasty;
  plot.x_tick_labels.back() = nasty;
  const std::string svg = render_svg(plot);
  EXPECT_TRUE(IsWellFormedXml(svg));
  EXPECT_EQ(svg.find(nasty), std::string::npos);
  EXPECT_EQ(count_occurrences(svg, "<title>" + escaped + "</title>"), 1u);
  EXPECT_EQ(count_occurrences(svg, ">" + escaped + "</text>"), 6u);  // title, 2 axes, tick, series, reference
}

TEST(SvgPlot, ReplacesControlCharactersAndMalformedUtf8) {
  LinePlot plot = accuracy_against_bits_plot();
  plot.title = std::string("bell\x07 and stray \xff byte, \xCE\xB1 kept");
  const std::string svg = render_svg(plot);
  EXPECT_TRUE(IsWellFormedXml(svg));
  EXPECT_TRUE(has_text_element(svg, "bell\xEF\xBF\xBD and stray \xEF\xBF\xBD byte, \xCE\xB1 kept"));
}

TEST(SvgPlot, ShowsExplicitTicksWithTheirLabels) {
  const std::string svg = render_svg(accuracy_against_bits_plot());
  for (const char* label : {"2", "3", "4", "5", "6", "7", "8", "float"}) {
    EXPECT_TRUE(has_text_element(svg, label)) << label;
  }
}

TEST(SvgPlot, LabelsExplicitTicksWithoutLabelsByTheirValue) {
  LinePlot plot = accuracy_against_bits_plot();
  plot.x_tick_labels = {"two"};
  const std::string svg = render_svg(plot);
  EXPECT_TRUE(has_text_element(svg, "two"));
  EXPECT_TRUE(has_text_element(svg, "9"));
}

TEST(SvgPlot, UsesNiceTicksWithSharedDecimalsOnAutomaticAxes) {
  LinePlot plot;
  plot.series.push_back({"loss", {0, 10, 20, 30, 40}, {0.83, 0.86, 0.88, 0.90, 0.91}});
  const std::string svg = render_svg(plot);
  for (const char* label : {"0", "10", "20", "30", "40", "0.84", "0.86", "0.88", "0.90"}) {
    EXPECT_TRUE(has_text_element(svg, label)) << label;
  }
}

TEST(SvgPlot, FormatsSmallAndHugeTicksReadably) {
  LinePlot plot;
  plot.series.push_back({"gradient norm", {0, 1e9, 2e9, 3e9}, {1e-4, 3e-4, 2e-4, 2.5e-4}});
  std::string svg = render_svg(plot);
  for (const char* label : {"0.00010", "0.00015", "0.00030", "0", "5.0e8", "1.0e9", "3.0e9"}) {
    EXPECT_TRUE(has_text_element(svg, label)) << label;
  }
  plot.series[0].y = {1e-7, 3e-7, 2e-7, 2.5e-7};
  svg = render_svg(plot);
  for (const char* label : {"1.0e-7", "1.5e-7", "3.0e-7"}) EXPECT_TRUE(has_text_element(svg, label)) << label;
}

TEST(SvgPlot, KeepsExplicitAxisLimits) {
  LinePlot plot = accuracy_against_bits_plot();
  plot.y_min = 0;
  plot.y_max = 1;
  const std::string svg = render_svg(plot);
  for (const char* label : {"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}) {
    EXPECT_TRUE(has_text_element(svg, label)) << label;
  }
}

TEST(SvgPlot, SkipsNonFiniteValuesLeavingAGap) {
  LinePlot plot;
  plot.series.push_back({"run", {1, 2, 3, 4, 5, 6}, {0.5, 0.6, kNaN, 0.7, kInfinity, 0.8}});
  plot.series.push_back({"other", {1, kNaN, 3}, {-kInfinity, 0.5, 0.6}});
  const std::string svg = render_svg(plot);
  EXPECT_TRUE(IsWellFormedXml(svg));
  const size_t path_at = svg.find("<path d=\"");
  const std::string path = svg.substr(path_at, svg.find('"', path_at + 9) - path_at);
  EXPECT_EQ(count_occurrences(path, "M"), 3u) << path;              // (1,2) | (4) | (6)
  EXPECT_EQ(circles_before(svg, svg.find("rx=\"3\"")).size(), 5u);  // 4 finite points + 1 in "other"
  for (const char* word : {"nan", "NaN", "NAN", "inf", "Inf", "INF"}) {
    EXPECT_EQ(svg.find(word), std::string::npos) << word;
  }
}

TEST(SvgPlot, SaysNoDataWhenThereIsNothingToDraw) {
  LinePlot diverged;
  diverged.title = "Sweep";
  diverged.series.push_back({"a8", {2, 4}, {kNaN, kNaN}});
  for (const LinePlot& plot : {LinePlot{}, diverged}) {
    const std::string svg = render_svg(plot);
    EXPECT_TRUE(IsWellFormedXml(svg));
    EXPECT_TRUE(has_text_element(svg, "no data"));
    EXPECT_EQ(svg.find("<path"), std::string::npos);
  }
}

TEST(SvgPlot, IsDeterministic) {
  EXPECT_EQ(render_svg(accuracy_against_bits_plot()), render_svg(accuracy_against_bits_plot()));
}

TEST(SvgPlot, DrawsTheReferenceAndDashedSeriesDashed) {
  const std::string svg = render_svg(accuracy_against_bits_plot());
  // The dashed series' path and legend swatch, the reference line and its legend swatch.
  EXPECT_EQ(count_occurrences(svg, "stroke-dasharray"), 4u);
}

TEST(SvgPlot, PutsEveryMarkerOnTheCanvasAndNoneUnderTheLegend) {
  const LinePlot plot = accuracy_against_bits_plot();
  const std::string svg = render_svg(plot);
  const size_t legend_at = svg.find("rx=\"3\"");
  ASSERT_NE(legend_at, std::string::npos);
  const size_t legend_start = svg.rfind("<rect", legend_at);
  const std::string legend = svg.substr(legend_start, svg.find('>', legend_start) - legend_start);
  const double left = attribute_value(legend, "x"), top = attribute_value(legend, "y");
  const double right = left + attribute_value(legend, "width"),
               bottom = top + attribute_value(legend, "height");
  const std::vector<Circle> markers = circles_before(svg, legend_start);
  EXPECT_EQ(markers.size(), 24u);
  for (const Circle& marker : markers) {
    EXPECT_TRUE(marker.x > 0 && marker.x < plot.width && marker.y > 0 && marker.y < plot.height);
    EXPECT_FALSE(marker.x > left && marker.x < right && marker.y > top && marker.y < bottom)
        << "marker at " << marker.x << "," << marker.y << " under the legend";
  }
}

TEST(SvgPlot, MovesTheLegendOutsideWhenEverySpotInsideHidesData) {
  LinePlot plot;
  std::vector<double> x, y;
  for (int i = 0; i <= 40; ++i) {
    x.push_back(i);
    y.push_back(i % 2);  // a zigzag filling the whole frame
  }
  plot.series.push_back({"zigzag", x, y});
  const std::string svg = render_svg(plot);
  EXPECT_TRUE(IsWellFormedXml(svg));
  const size_t legend_start = svg.rfind("<rect", svg.find("rx=\"3\""));
  const std::string legend = svg.substr(legend_start, svg.find('>', legend_start) - legend_start);
  double rightmost_marker = 0;
  for (const Circle& marker : circles_before(svg, legend_start))
    rightmost_marker = std::max(rightmost_marker, marker.x);
  EXPECT_GT(attribute_value(legend, "x"), rightmost_marker);
  EXPECT_LE(attribute_value(legend, "x") + attribute_value(legend, "width"), plot.width);
}

TEST(SvgPlot, DropsMarkersOnDenseCurves) {
  LinePlot plot;
  PlotSeries loss{"training loss", {}, {}};
  for (int step = 0; step < 2000; ++step) {
    loss.x.push_back(step);
    loss.y.push_back(2.3 / (1 + step * 0.01));
  }
  plot.series.push_back(loss);
  const std::string svg = render_svg(plot);
  EXPECT_TRUE(IsWellFormedXml(svg));
  EXPECT_EQ(count_occurrences(svg, "<circle"), 0u);
  EXPECT_EQ(count_occurrences(svg, "<path"), 1u);
}

// [SECTION] Text table and CSV

TEST(TextTable, AlignsColumnsAndRightAlignsNumbers) {
  TextTable table;
  table.header = {"method", "w_bits", "accuracy"};
  table.rows = {{"min_max", "8", "91.2%"}, {"mse", "4", "87.3%"}, {"percentile", "2", "n/a"}};
  EXPECT_EQ(render_text_table(table),
            "method      w_bits  accuracy\n"
            "----------  ------  --------\n"
            "min_max          8     91.2%\n"
            "mse              4     87.3%\n"
            "percentile       2       n/a\n");
}

TEST(TextTable, PadsShortRowsAndCountsCodePointsNotBytes) {
  TextTable table;
  table.header = {"run", "loss ± std"};
  table.rows = {{"α"}, {"baseline", "0.31", "extra"}};
  EXPECT_EQ(render_text_table(table),
            "run       loss ± std\n"
            "--------  ----------  -----\n"
            "α\n"
            "baseline        0.31  extra\n");
}

TEST(TextTable, TreatsMixedColumnsAsText) {
  TextTable table;
  table.header = {"bits", "note"};
  table.rows = {{"8", "-1.5e-3"}, {"float", "ok"}};
  EXPECT_EQ(render_text_table(table),
            "bits   note\n"
            "-----  -------\n"
            "8      -1.5e-3\n"
            "float  ok\n");
}

TEST(TextTable, CsvQuotesOnlyCellsThatNeedIt) {
  TextTable table;
  table.header = {"method", "note"};
  table.rows = {{"qreg", "plain"}, {"a,b", "say \"hi\""}, {"multi\nline", ""}, {"cr\r", "x"}};
  EXPECT_EQ(render_csv(table),
            "method,note\n"
            "qreg,plain\n"
            "\"a,b\",\"say \"\"hi\"\"\"\n"
            "\"multi\nline\",\n"
            "\"cr\r\",x\n");
}

TEST(TextTable, EmptyTableRendersNothing) {
  EXPECT_EQ(render_text_table(TextTable{}), "");
  EXPECT_EQ(render_csv(TextTable{}), "");
}

TEST(NumberFormat, FixedAndPercent) {
  EXPECT_EQ(format_fixed(0.8734, 2), "0.87");
  EXPECT_EQ(format_fixed(2.5, 0), "2");  // round half to even, as printf does
  EXPECT_EQ(format_fixed(-1.25, 3), "-1.250");
  EXPECT_EQ(format_fixed(-0.001, 2), "0.00");
  EXPECT_EQ(format_fixed(kNaN, 2), "n/a");
  EXPECT_EQ(format_fixed(-kInfinity, 2), "-inf");
  EXPECT_EQ(format_percent(0.8734, 1), "87.3%");
  EXPECT_EQ(format_percent(1.0, 0), "100%");
  EXPECT_EQ(format_percent(kNaN, 1), "n/a");
}

}  // namespace
}  // namespace qplay
