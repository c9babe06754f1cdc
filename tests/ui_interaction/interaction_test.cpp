// A person at the playground, simulated: every interactive ImGui item of every panel, tab and data set
// is found through ImGui's item hooks (item_hooks.h) and hovered, clicked, dragged, scrolled and typed
// into; then a seeded random sequence of thousands of events (clicks, drags, wheel, keys, typing,
// window resizes, link changes, opened files good and bad). Any IM_ASSERT fails the test with ImGui's
// condition and the last actions; natively the suite runs under ASan/UBSan too, and under node in the
// WebAssembly build. The tests print how many distinct items they drove.
#include <gtest/gtest.h>

#include <imgui.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/engine/base/rng.h"
#include "core/ui/playground.h"
#include "tests/ui/headless_imgui.h"
#include "tests/ui_interaction/item_hooks.h"

namespace qplay::ui::testing {
namespace {

// Small and quick: a rebuild trains in a few frames, so thousands of events take seconds.
constexpr std::string_view kQuick = "samples=300&architecture=mlp:8,8&epochs=3";
constexpr std::string_view kSmallFashionMnist =
    "dataset=fashion-mnist&train_limit=300&test_limit=100&architecture=mlp:8&epochs=1&data_"
    "dir=" QPLAY_FASHION_MNIST_DIR;

// Files a person might open: what the playground saved, and broken versions of it.
class TestPlatform : public Platform {
 public:
  bool has_file_system() const override { return false; }
  void save_file(const std::string& name, std::string_view bytes) override {
    saved.emplace_back(name, std::string(bytes));
  }
  void request_open_file() override { open_requested = true; }
  void set_shareable_state(const std::string& hash) override { published = hash; }

  std::vector<std::pair<std::string, std::string>> saved;
  bool open_requested = false;
  std::string published;
};

// What the explorer counts as one item: its window and label, with the digits of the visible part
// dropped ("baseline  93.3%" is the same chip at any accuracy; "##layer1" stays its own slider).
std::string item_key(const DrawnItem& item) {
  const size_t hidden = item.label.find("##");
  std::string visible = item.label.substr(0, hidden), key;
  for (char c : visible)
    if (!std::isdigit(static_cast<unsigned char>(c))) key += c;
  if (hidden != std::string::npos) key += item.label.substr(hidden);
  if (item.label.empty()) key += "#" + std::to_string(item.id);
  // Popups are numbered by ImGui ("##Combo_00"): the same combo's list is one place whatever its number.
  std::string window;
  for (char c : item.window)
    if (!std::isdigit(static_cast<unsigned char>(c))) window += c;
  return window + " / " + key;
}

class Person {
 public:
  explicit Person(std::string_view hash, ImVec2 display = {1280, 800}) : start_(hash) {
    context_ = create_headless_imgui(display);
    enable_item_hooks();
    reset_assertions();
    playground_ = std::make_unique<Playground>(platform_, hash);
  }
  ~Person() {
    playground_.reset();
    // A failed assertion may have left the frame open; end it quietly so the context can go.
    if (failed_assertions() > 0) reset_assertions();
    ImGui::DestroyContext(context_);
  }

  Playground& playground() { return *playground_; }
  TestPlatform& platform() { return platform_; }
  const std::vector<DrawnItem>& items() const { return items_; }
  const std::set<std::string>& driven() const { return driven_; }
  std::string recent_actions() const {
    std::string text;
    for (const std::string& action : log_) text += "\n  " + action;
    return text;
  }

  // What a person does during one frame; keys and typed text last that frame only.
  struct Input {
    ImVec2 mouse;
    bool left = false, right = false, ctrl = false;
    float wheel = 0;
    std::vector<int> keys = {};
    std::string typed = {};
  };
  void frame(const Input& input) {
    ImGuiIO& io = ImGui::GetIO();
    io.MousePos = input.mouse;
    io.MouseDown[0] = input.left;
    io.MouseDown[1] = input.right;
    io.MouseWheel = input.wheel;
    io.KeyCtrl = input.ctrl;
    for (bool& key : io.KeysDown) key = false;
    for (int key : input.keys) io.KeysDown[key] = true;
    for (char c : input.typed) io.AddInputCharacter(static_cast<unsigned char>(c));
    if (platform_.open_requested) {
      platform_.open_requested = false;
      const auto [name, bytes] = next_file();
      note("open file " + name + " (" + std::to_string(bytes.size()) + " bytes)");
      playground_->open_file(name, bytes);
    }
    ImGui::NewFrame();
    playground_->frame();
    ImGui::Render();
    items_ = take_drawn_items();
    mouse_ = input.mouse;
  }
  void idle(int frames = 1) {
    for (int i = 0; i < frames; ++i) frame({mouse_});
  }
  void click(ImVec2 at, bool ctrl = false) {
    frame({at, false, false, ctrl});
    frame({at, true, false, ctrl});
    frame({at, false, false, ctrl});
  }
  void right_click(ImVec2 at) {
    frame({at});
    frame({at, false, true});
    frame({at});
  }
  void drag(ImVec2 from, ImVec2 to) {
    frame({from});
    frame({from, true});
    for (int step = 1; step <= 3; ++step)
      frame({ImVec2(from.x + (to.x - from.x) * step / 3, from.y + (to.y - from.y) * step / 3), true});
    frame({to});
  }
  void type(std::string_view text) {
    frame({.mouse = mouse_, .typed = std::string(text)});
    frame({.mouse = mouse_, .keys = {ImGuiKey_Enter}});
    frame({mouse_});
  }
  void key(int key) {
    frame({.mouse = mouse_, .keys = {key}});
    frame({mouse_});
  }
  void resize(ImVec2 display) {
    ImGui::GetIO().DisplaySize = display;
    note("resize to " + std::to_string(int(display.x)) + "x" + std::to_string(int(display.y)));
    idle(2);
  }
  void follow_link(std::string_view hash) {
    note("link #" + std::string(hash));
    playground_->set_state_from_hash(hash);
    idle(2);
  }

  // Everything a person can do to one item: hover it, click it (typing into it if that opened a text
  // field), drag across it, ctrl+click it (sliders become text fields) and type an absurd value, scroll
  // on it, and press Escape to close whatever it opened.
  void drive(const DrawnItem& item) {
    driven_.insert(item_key(item));
    const ImVec2 centre = item.centre();
    note("hover " + item_key(item));
    frame({centre});
    frame({centre});
    if (!still_drawn(item)) return;
    note("click " + item_key(item));
    click(centre);
    if (ImGui::GetIO().WantTextInput) type("7");
    if (!still_drawn(item)) return;
    note("drag " + item_key(item));
    drag(centre, ImVec2(centre.x - std::max(20.0f, item.width() * 0.4f), centre.y));
    if (!still_drawn(item)) return;
    note("ctrl+click " + item_key(item));
    click(centre, /*ctrl=*/true);
    if (ImGui::GetIO().WantTextInput) type("999");
    note("wheel on " + item_key(item));
    frame({.mouse = centre, .wheel = -1});
    key(ImGuiKey_Escape);
  }

  // Drives every item not driven before, as long as new ones appear (a click may open a tab, a combo
  // or a whole new data set's panels), up to max_items. Items of an open popup go first, before a
  // click elsewhere closes it.
  void explore(int max_items) {
    idle(3);
    for (int n = 0; n < max_items; ++n) {
      const DrawnItem* next = nullptr;
      for (const DrawnItem& item : items_) {
        if (driven_.count(item_key(item))) continue;
        const bool in_popup = item.window.find("##Combo") != std::string::npos ||
                              item.window.find("##Popup") != std::string::npos;
        if (!next || (in_popup && next->window.find("##") == std::string::npos)) next = &item;
        if (in_popup) break;
      }
      if (!next) return;
      const DrawnItem chosen = *next;
      drive(chosen);
      idle(2);
      // A method recipe loads a whole other comparison; the person looks at it, then goes back to the
      // state being explored, so the rest of its items are still reached.
      if (chosen.label.find("##recipe") != std::string::npos) {
        idle(3);
        playground_->set_state_from_hash(start_);
        idle(2);
      }
    }
  }

  // A seeded random person: events on the items on screen, anywhere on the window, keys, text,
  // resizes, links and files.
  int random_events_done() const { return random_events_done_; }
  void random_events(uint64_t seed, int count) {
    Rng rng(seed);
    static const ImVec2 displays[] = {{1280, 800}, {390, 844},   {844, 390},
                                      {800, 500},  {1920, 1080}, {320, 240}};
    static const char* const links[] = {"",
                                        "dataset=moons&weight_bits=3",
                                        "dataset=circles&methods=baseline,qreg,symreg&activation_bits=4",
                                        "dataset=xor&layer_weight_bits=2,3,float",
                                        "activation_bits=3&layer_activation_bits=-,0,2,8&weights_hide=1",
                                        "dataset=blobs&classes=6&granularity=per-tensor",
                                        "methods=baseline,cpq,raq&cpq_learn_bits=on",
                                        "weight_bits=99&nonsense=1&setup_hide=1",
                                        "architecture=cnn:4&dataset=spiral",
                                        "%%%&&==",
                                        "range_method=percentile&percentile=99.5",
                                        "learning_rate=10&optimizer=sgd",
                                        "slider_hide=1&curves_hide=1&training_hide=1"};
    static const char* const typed[] = {"0",   "1",   "-5",   "999999",        "0.5",
                                        "abc", "nan", "1e30", "mlp:4096,4096", ""};
    const int keys[] = {ImGuiKey_Tab,       ImGuiKey_LeftArrow, ImGuiKey_RightArrow, ImGuiKey_UpArrow,
                        ImGuiKey_DownArrow, ImGuiKey_Enter,     ImGuiKey_Escape,     ImGuiKey_Space,
                        ImGuiKey_Backspace, ImGuiKey_PageDown};
    auto pick = [&](int n) { return static_cast<int>(rng.next_u32() % static_cast<uint32_t>(n)); };
    auto anywhere = [&] {
      const ImVec2 display = ImGui::GetIO().DisplaySize;
      return ImVec2(static_cast<float>(rng.uniform()) * display.x,
                    static_cast<float>(rng.uniform()) * display.y);
    };
    for (int event = 0; event < count; ++event, ++random_events_done_) {
      const int kind = pick(100);
      const bool on_item = !items_.empty();
      const DrawnItem item = on_item ? items_[pick(static_cast<int>(items_.size()))] : DrawnItem{};
      if (on_item) driven_.insert(item_key(item));
      if (kind < 35 && on_item) {
        note("click " + item_key(item));
        click(item.centre());
        if (pick(4) == 0) click(item.centre());  // a double click
      } else if (kind < 45 && on_item) {
        const ImVec2 to = pick(2) ? anywhere() : ImVec2(item.min.x - 10, item.centre().y);
        note("drag " + item_key(item));
        drag(item.centre(), to);
      } else if (kind < 55) {
        note("click anywhere");
        click(anywhere());
      } else if (kind < 60 && on_item) {
        note("right-click " + item_key(item));
        right_click(item.centre());
      } else if (kind < 65) {
        note("wheel");
        frame({.mouse = on_item ? item.centre() : anywhere(), .wheel = pick(2) ? 1.0f : -3.0f});
      } else if (kind < 72) {
        note("key " + std::to_string(kind));
        key(keys[pick(static_cast<int>(std::size(keys)))]);
      } else if (kind < 78 && on_item) {
        const char* text = typed[pick(static_cast<int>(std::size(typed)))];
        note("ctrl+click and type '" + std::string(text) + "' into " + item_key(item));
        click(item.centre(), /*ctrl=*/true);
        if (ImGui::GetIO().WantTextInput) type(text);
      } else if (kind < 84 && on_item) {
        note("hover " + item_key(item));
        frame({item.centre()});
        frame({item.centre()});
      } else if (kind < 87) {
        resize(displays[pick(static_cast<int>(std::size(displays)))]);
      } else if (kind < 90) {
        follow_link(std::string(kQuick) + "&" + links[pick(static_cast<int>(std::size(links)))]);
      } else if (kind < 91) {
        follow_link(kSmallFashionMnist);
      } else if (kind < 93) {
        note("open a file");
        platform_.open_requested = true;
        idle(2);
      } else {
        idle(1 + pick(4));
      }
    }
  }

 private:
  bool still_drawn(const DrawnItem& item) const {
    return std::any_of(items_.begin(), items_.end(), [&](const DrawnItem& i) { return i.id == item.id; });
  }
  void note(std::string action) {
    log_.push_back(std::move(action));
    if (log_.size() > 12) log_.pop_front();
  }
  // In turn: the last saved file as it was, cut in half, with a flipped byte, and bytes that are no file.
  std::pair<std::string, std::string> next_file() {
    const int variant = files_opened_++ % 4;
    if (platform_.saved.empty() || variant == 3) return {"garbage.json", "{\"not\": \"an experiment\"]"};
    auto [name, bytes] = platform_.saved.back();
    if (variant == 1) bytes.resize(bytes.size() / 2);
    if (variant == 2 && !bytes.empty()) bytes[bytes.size() / 3] ^= 0x5A;
    return {name, bytes};
  }

  std::string start_;  // the hash this person started from
  ImGuiContext* context_;
  TestPlatform platform_;
  std::unique_ptr<Playground> playground_;
  std::vector<DrawnItem> items_;
  std::set<std::string> driven_;
  std::deque<std::string> log_;
  ImVec2 mouse_{-1, -1};
  int files_opened_ = 0;
  int random_events_done_ = 0;
};

int events_from_environment(int fallback) {
  const char* text = std::getenv("QPLAY_INTERACTION_EVENTS");
  return text ? std::max(1, std::atoi(text)) : fallback;
}

// Every item of every panel and tab, in the states a person reaches: each data set, every method,
// per-layer bits, Fashion-MNIST, and a phone-sized window.
TEST(Interaction, EveryItemOfEveryPanelCanBeDriven) {
  const std::string quick(kQuick);
  const std::vector<std::pair<std::string, ImVec2>> starts = {
      {quick, {1280, 800}},
      {quick + "&methods=baseline,qreg,gradl1,symreg,cpq,raq&cpq_learn_bits=on&layer_weight_bits=3,-1,2",
       {1280, 800}},
      {quick + "&dataset=moons&activation_bits=4&granularity=per-tensor", {1280, 800}},
      {quick + "&dataset=blobs&classes=5&range_method=percentile", {1280, 800}},
      {std::string(kSmallFashionMnist), {1280, 800}},
      {quick, {390, 844}},
      // The sensitivity tab opens first without the weights tab: its per-layer bits on a phone.
      {quick + "&activation_bits=4&layer_activation_bits=-,2,0&weights_hide=1", {390, 844}},
  };
  std::set<std::string> driven;
  for (const auto& [hash, display] : starts) {
    Person person(hash, display);
    try {
      person.explore(250);
    } catch (const ImGuiAssertion& failure) {
      ADD_FAILURE() << failure.what() << " starting from #" << hash
                    << "; last actions:" << person.recent_actions();
    }
    driven.insert(person.driven().begin(), person.driven().end());
  }
  if (std::getenv("QPLAY_INTERACTION_LIST"))
    for (const std::string& key : driven) std::printf("  %s\n", key.c_str());
  std::printf("[ interaction ] drove %zu distinct items\n", driven.size());
  RecordProperty("distinct_items", static_cast<int>(driven.size()));
  EXPECT_GT(driven.size(), 150u) << "the item hooks found fewer items than the playground has";
}

TEST(Interaction, ASeededRandomPersonBreaksNothing) {
  const int events = events_from_environment(2500);
  Person person(kQuick);
  try {
    person.idle(5);
    person.random_events(20261206, events);
  } catch (const ImGuiAssertion& failure) {
    ADD_FAILURE() << failure.what() << "; last actions:" << person.recent_actions();
  }
  person.idle(2);
  std::printf("[ interaction ] %d of %d random events over %zu distinct items\n", person.random_events_done(),
              events, person.driven().size());
  EXPECT_GT(person.driven().size(), 50u);
}

}  // namespace
}  // namespace qplay::ui::testing
