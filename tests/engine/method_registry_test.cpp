// The method registry is the one place a method is declared: its rows reach the state table, its factory
// the experiment, its readout names the front ends. These tests hold the registrations to what the
// methods do.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "core/engine/experiment/run.h"
#include "core/engine/experiment/state_table.h"
#include "core/engine/methods/method_registry.h"

namespace qplay {
namespace {

TEST(MethodRegistry, ListsEveryMethodOnceInItsKindsOrderWithItsRowsGroupedUnderItsName) {
  std::span<const MethodRegistration> methods = registered_methods();
  ASSERT_EQ(methods.size(), choice_names(MethodKind{}).size());
  for (size_t i = 0; i < methods.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(methods[i].kind), i);
    EXPECT_FALSE(methods[i].summary.empty()) << choice_name(methods[i].kind);
    for (const SettingRowOf<MethodSettings>& row : methods[i].rows) {
      EXPECT_EQ(row.group, choice_name(methods[i].kind)) << row.key;
      // Lifted into the experiment's table under the same key.
      const SettingRow* lifted = find_setting(row.key);
      ASSERT_NE(lifted, nullptr) << row.key;
      EXPECT_EQ(lifted->group, row.group);
    }
  }
  // The method row's choices are the registered names.
  const SettingRow& method = *find_setting("method");
  ASSERT_EQ(method.choices.size(), methods.size());
  for (size_t i = 0; i < methods.size(); ++i) EXPECT_EQ(method.choices[i], choice_name(methods[i].kind));
}

TEST(MethodRegistry, SettingAMethodsRowThroughTheTableChangesThatMethodsSettings) {
  Experiment e;
  ASSERT_TRUE(set_setting(e, "cpq_dropbits_masks", "per-channel").ok());
  EXPECT_EQ(e.methods.cpq.masks, DropBitsMasks::per_channel);
  ASSERT_TRUE(set_setting(e, "satnl", "off").ok());
  EXPECT_FALSE(e.methods.symreg.saturating_weights);
  ASSERT_TRUE(set_setting(e, "qat_activation_bits", "4").ok());
  EXPECT_EQ(e.methods.qreg.training.activations.bits, 4);
  EXPECT_EQ(get_setting(e, *find_setting("satnl")), "off");
  // A rule of a method's row holds after lifting.
  EXPECT_FALSE(set_setting(e, "qat_activation_bits", "1").ok());
  EXPECT_EQ(e.methods.qreg.training.activations.bits, 4);
  // So does when it applies: the drop rate means nothing without DropBits.
  EXPECT_TRUE(setting_applies(*find_setting("cpq_drop_rate"), e));
  e.methods.cpq.dropbits = false;
  EXPECT_FALSE(setting_applies(*find_setting("cpq_drop_rate"), e));
}

// Every readout a method reports after a few steps is one its registration names (the front ends
// look readouts up by these names), and the factory makes the method the registration is for.
TEST(MethodRegistry, EachMethodReportsOnlyTheReadoutsItsRegistrationNames) {
  for (const MethodRegistration& registration : registered_methods()) {
    Experiment e;
    e.dataset = DatasetChoice::moons;
    e.samples = 200;
    e.architecture = "mlp:8";
    e.epochs = 1;
    e.kernels = KernelChoice::reference;
    e.threads = 1;
    e.method = registration.kind;
    Result<qplay::Run> run = start_run(e);
    ASSERT_TRUE(run.ok()) << run.status().message();
    EXPECT_EQ(run->trainer->method().name(), choice_name(registration.kind));
    for (int step = 0; step < 3; ++step) (void)run->trainer->step();
    const std::vector<MethodReadout> readouts = run->trainer->method().readouts(*run->network);
    std::set<std::string> reported;
    for (const MethodReadout& readout : readouts) reported.insert(readout.name);
    for (const std::string& name : reported)
      EXPECT_NE(std::find(registration.readouts.begin(), registration.readouts.end(), name),
                registration.readouts.end())
          << choice_name(registration.kind) << " reports '" << name
          << "', which its registration does not name";
  }
}

// The JS API builds controls from this JSON: every row once with its range or choices and default, and
// every method with the readout names a page may look up.
TEST(StateTableJson, DescribesEveryRowAndEveryMethod) {
  const Json table = state_table_json();
  const Json* settings = table.find("settings");
  ASSERT_TRUE(settings && settings->is_array());
  ASSERT_EQ(settings->as_array().size(), experiment_settings().size());
  for (size_t i = 0; i < experiment_settings().size(); ++i) {
    const SettingRow& row = experiment_settings()[i];
    const Json& item = settings->as_array()[i];
    EXPECT_EQ(item.find("key")->as_string(), row.key);
    EXPECT_EQ(item.find("default")->as_string(), get_setting(Experiment{}, row));
    EXPECT_EQ(item.find("choices") != nullptr, row.kind == SettingKind::choice) << row.key;
    EXPECT_EQ(item.find("applies_when") != nullptr, static_cast<bool>(row.applies)) << row.key;
  }
  const Json* cpq = nullptr;
  for (const Json& method : table.find("methods")->as_array())
    if (method.find("name")->as_string() == "cpq") cpq = &method;
  ASSERT_NE(cpq, nullptr);
  EXPECT_EQ(cpq->find("readouts")->as_array().front().as_string(), kLearnedWeightBitsReadout);
}

}  // namespace
}  // namespace qplay
