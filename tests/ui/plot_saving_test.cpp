// Saving plots (plot.h's [SECTION] Saving a plot): the SVG of each plot kind is a well-formed document
// of the plot as drawn, holding its title, axes and data; PNG saving asks the platform for the plot's
// rectangle of the frame; a plot saves once, when asked.
#include <gtest/gtest.h>

#include <imgui.h>

#include <string>
#include <vector>

#include "core/ui/plot.h"
#include "tests/ui/headless_imgui.h"

namespace qplay::ui {
namespace {

// Whether the text is one well-formed XML element after its declaration: tags nest and close, attribute
// values are quoted, text holds no raw '<' or bare '&'. Enough for what the painter writes.
::testing::AssertionResult well_formed_xml(const std::string& xml) {
  std::vector<std::string> open;
  size_t at = 0;
  if (xml.rfind("<?xml", 0) == 0) at = xml.find("?>") + 2;
  bool root_closed = false;
  while (at < xml.size()) {
    const size_t tag = xml.find('<', at);
    const std::string text = xml.substr(at, tag == std::string::npos ? std::string::npos : tag - at);
    for (size_t amp = text.find('&'); amp != std::string::npos; amp = text.find('&', amp + 1))
      if (text.find(';', amp) == std::string::npos || text.find(';', amp) - amp > 6)
        return ::testing::AssertionFailure() << "bare & in text: " << text;
    if (tag == std::string::npos) break;
    if (root_closed) return ::testing::AssertionFailure() << "content after the root element";
    const size_t end = xml.find('>', tag);
    if (end == std::string::npos) return ::testing::AssertionFailure() << "unclosed tag at " << tag;
    const std::string inside = xml.substr(tag + 1, end - tag - 1);
    if (std::count(inside.begin(), inside.end(), '"') % 2 != 0)
      return ::testing::AssertionFailure() << "unbalanced quotes in <" << inside << ">";
    if (inside.find('<') != std::string::npos)
      return ::testing::AssertionFailure() << "'<' in <" << inside << ">";
    if (inside.starts_with("/")) {
      const std::string name = inside.substr(1);
      if (open.empty() || open.back() != name)
        return ::testing::AssertionFailure()
               << "</" << name << "> closes " << (open.empty() ? "nothing" : open.back());
      open.pop_back();
      root_closed = open.empty();
    } else if (!inside.ends_with("/")) {
      open.push_back(inside.substr(0, inside.find_first_of(" \n")));
    }
    at = end + 1;
  }
  if (!open.empty()) return ::testing::AssertionFailure() << "<" << open.back() << "> never closed";
  if (!root_closed) return ::testing::AssertionFailure() << "no root element";
  return ::testing::AssertionSuccess();
}

class PlotSavingTest : public ::testing::Test {
 protected:
  PlotSavingTest() {
    context_ = testing::create_headless_imgui({800, 600});
    set_plot_saving({[this](const std::string& name, std::string svg) {
                       saved.push_back({name, std::move(svg)});
                     },
                     [this](const std::string& name, ImVec2 min, ImVec2 max) {
                       png_requests.push_back({name, min, max});
                     }});
  }
  ~PlotSavingTest() override {
    set_plot_saving({});
    ImGui::DestroyContext(context_);
  }

  // One frame with `draw` inside a window; returns the rectangle of the last item (the plot).
  void frame(const std::function<void()>& draw) {
    ImGui::NewFrame();
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(ImGui::GetIO().DisplaySize);
    ImGui::Begin("plots", nullptr, ImGuiWindowFlags_NoDecoration);
    draw();
    plot_min = ImGui::GetItemRectMin(), plot_max = ImGui::GetItemRectMax();
    ImGui::End();
    finish_plot_saving();
    ImGui::Render();
  }

  // The SVG of the plot `draw` draws with the given id, saved on the second frame.
  std::string svg_of(const char* id, const std::function<void()>& draw) {
    frame(draw);
    save_plot(id, PlotFormat::svg);
    frame(draw);
    EXPECT_EQ(saved.size(), 1u);
    if (saved.empty()) return "";
    EXPECT_EQ(saved[0].name, std::string("qplay-") + id + ".svg");
    return saved[0].svg;
  }

  struct Saved {
    std::string name, svg;
  };
  struct PngRequest {
    std::string name;
    ImVec2 min, max;
  };
  std::vector<Saved> saved;
  std::vector<PngRequest> png_requests;
  ImVec2 plot_min, plot_max;

 private:
  ImGuiContext* context_ = nullptr;
};

bool has(const std::string& svg, const std::string& part) { return svg.find(part) != std::string::npos; }

TEST_F(PlotSavingTest, ALinePlotSavesTitleAxesAndEveryPoint) {
  const double xs[] = {2, 3, 4}, ys[] = {50, 75, 90};
  const LineSeries series[] = {{"baseline", 0, xs, ys, /*markers=*/true}};
  LinePlotOptions options;
  options.title = "Accuracy & bits";
  options.size = ImVec2(400, 250);
  options.x_axis.label = "weight bits";
  options.y_axis.label = "accuracy %";
  const std::string svg = svg_of("line", [&] { line_plot("line", series, options); });
  EXPECT_TRUE(well_formed_xml(svg));
  EXPECT_TRUE(has(svg, "<title>Accuracy &amp; bits</title>"));
  EXPECT_TRUE(has(svg, ">Accuracy &amp; bits</text>"));
  EXPECT_TRUE(has(svg, ">weight bits</text>"));
  EXPECT_TRUE(has(svg, ">accuracy %</text>"));
  EXPECT_TRUE(has(svg, ">baseline</text>")) << "the legend";
  EXPECT_TRUE(has(svg, "<polyline points=")) << "the line";
  // The plot's frame in display pixels, the size it has on screen.
  EXPECT_TRUE(has(svg, "width=\"400\" height=\"250\""));
}

TEST_F(PlotSavingTest, BarHistogramHeatMapAndConfusionMatrixSaveTheirData) {
  const double values[] = {0.9, 0.4};
  const BarSeries bars[] = {{"sensitivity", 0, values}};
  BarPlotOptions bar_options;
  bar_options.title = "Bars";
  bar_options.x_label = "layer";
  const std::string bar_svg = svg_of("bars", [&] { bar_plot("bars", bars, bar_options); });
  EXPECT_TRUE(well_formed_xml(bar_svg));
  EXPECT_TRUE(has(bar_svg, ">Bars</text>"));
  EXPECT_TRUE(has(bar_svg, ">layer</text>"));
  EXPECT_GE(std::count(bar_svg.begin(), bar_svg.end(), '\n'), 10);

  saved.clear();
  const double counts[] = {1, 4, 2};
  HistogramOptions histogram_options;
  histogram_options.title = "Weights";
  histogram_options.x_axis.label = "weight value";
  const std::string histogram_svg = svg_of("histogram", [&] {
    histogram_plot("histogram", {"weights", 0, counts, -1, 1}, histogram_options);
  });
  EXPECT_TRUE(well_formed_xml(histogram_svg));
  EXPECT_TRUE(has(histogram_svg, ">weight value</text>"));

  saved.clear();
  const ImU32 cells[] = {IM_COL32(255, 0, 0, 255), IM_COL32(0, 0, 255, 255), IM_COL32(0, 0, 255, 255),
                         IM_COL32(255, 0, 0, 255)};
  const ScatterPoint points[] = {{0.25, 0.75, IM_COL32(0, 255, 0, 255), 0}};
  HeatMapOptions heat_options;
  heat_options.title = "Boundary";
  heat_options.points = points;
  const std::string heat_svg = svg_of("heat", [&] { heat_map_plot("heat", cells, 2, 2, heat_options); });
  EXPECT_TRUE(well_formed_xml(heat_svg));
  EXPECT_TRUE(has(heat_svg, ">Boundary</text>"));
  EXPECT_TRUE(has(heat_svg, "fill=\"#ff0000\"")) << "the cells";
  EXPECT_TRUE(has(heat_svg, "<circle")) << "the point";

  saved.clear();
  const int matrix[] = {8, 2, 1, 9};
  const std::string names[] = {"cat", "dog"};
  ConfusionMatrixOptions matrix_options;
  matrix_options.title = "Confusion";
  matrix_options.class_names = names;
  const std::string matrix_svg =
      svg_of("matrix", [&] { confusion_matrix_plot("matrix", matrix, 2, matrix_options); });
  EXPECT_TRUE(well_formed_xml(matrix_svg));
  EXPECT_TRUE(has(matrix_svg, ">dog</text>"));
  EXPECT_TRUE(has(matrix_svg, ">80</text>")) << "8 of 10 in the first row";
}

TEST_F(PlotSavingTest, APngIsThePlotsRectangleAndEachSaveHappensOnce) {
  const double xs[] = {1, 2}, ys[] = {1, 2};
  const LineSeries series[] = {{"s", 0, xs, ys}};
  LinePlotOptions options;
  options.size = ImVec2(300, 200);
  const auto draw = [&] { line_plot("png", series, options); };
  frame(draw);
  save_plot("png", PlotFormat::png);
  frame(draw);
  ASSERT_EQ(png_requests.size(), 1u);
  EXPECT_EQ(png_requests[0].name, "qplay-png.png");
  EXPECT_EQ(png_requests[0].min.x, plot_min.x);
  EXPECT_EQ(png_requests[0].max.y, plot_max.y);
  EXPECT_EQ(png_requests[0].max.x - png_requests[0].min.x, 300);
  frame(draw);
  EXPECT_EQ(png_requests.size(), 1u);
  EXPECT_TRUE(saved.empty());
  // Another plot's id saves nothing of this one.
  save_plot("elsewhere", PlotFormat::svg);
  frame(draw);
  EXPECT_TRUE(saved.empty());
}

TEST(WellFormedXml, RefusesWhatAParserWould) {
  EXPECT_TRUE(well_formed_xml("<?xml version=\"1.0\"?>\n<svg><g><rect x=\"1\"/></g></svg>\n"));
  EXPECT_FALSE(well_formed_xml("<svg><g></svg>"));
  EXPECT_FALSE(well_formed_xml("<svg><text>a & b</text></svg>"));
  EXPECT_FALSE(well_formed_xml("<svg><rect x=\"1/></svg>"));
  EXPECT_FALSE(well_formed_xml("<svg></svg><svg></svg>"));
}

}  // namespace
}  // namespace qplay::ui
