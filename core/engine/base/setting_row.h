// One row of a settings table (after TensorFlow Playground's State.PROPS): a setting's key, kind, range or
// choices, when it applies, group and help, with typed access to where it lives in an Owner struct. The
// experiment's table (experiment/state_table.h) is built from rows over Experiment and from each method's
// rows over its own settings (methods/method_registry.h), lifted into Experiment; text parsing, range checks,
// files, flags, the URL hash and the widgets then work on rows alone, whatever the field's C++ type.
//
// An enum that a setting chooses declares its names beside itself, in the order of its values, as
//   constexpr std::array<std::string_view, N> choice_names(Enum) { return {...}; }
// (found by argument-dependent lookup); choice_name/parse_choice read them.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace qplay {

template <class Enum>
std::string_view choice_name(Enum value) {
  return choice_names(Enum{})[static_cast<size_t>(value)];
}

template <class Enum>
std::optional<Enum> parse_choice(std::string_view name) {
  const auto names = choice_names(Enum{});
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<Enum>(i);
  return std::nullopt;
}

enum class SettingKind { integer, number, choice, text };

// integer: int64_t; number: double; choice: the index into SettingRowOf::choices; text: std::string.
using SettingValue = std::variant<int64_t, double, std::string>;

template <class Owner>
struct SettingRowOf {
  std::string_view key;
  SettingKind kind = SettingKind::number;
  std::string_view group;  // "data", "model", "training", "method", one per method, "quantization", "compute"
  std::string_view help;
  double min = 0, max = 0;                // integer and number
  std::vector<std::string_view> choices;  // choice
  std::function<SettingValue(const Owner&)> get;
  std::function<void(Owner&, const SettingValue&)> set;  // the value is in range (the table checks first)
  // When the setting means something (the percentile only with percentile ranges); empty: always.
  std::function<bool(const Owner&)> applies;
  std::string_view applies_when;  // the condition in words: "with optimizer sgd"
  // A rule inside the range (1-bit activations are not supported): why a value is refused, or "".
  std::string_view (*refuses)(double value) = nullptr;
  bool may_be_empty = false;  // text: "" is a value of its own (init_model: start from scratch)

  // The same row over a struct that holds an Owner as `member`.
  template <class Outer>
  SettingRowOf<Outer> lifted(Owner Outer::*member) const {
    SettingRowOf<Outer> row{key, kind, group, help, min, max, choices};
    row.get = [get = get, member](const Outer& outer) { return get(outer.*member); };
    row.set = [set = set, member](Outer& outer, const SettingValue& value) { set(outer.*member, value); };
    if (applies)
      row.applies = [applies = applies, member](const Outer& outer) { return applies(outer.*member); };
    row.applies_when = applies_when;
    row.refuses = refuses;
    row.may_be_empty = may_be_empty;
    return row;
  }

  // Builder steps: row.when(predicate, "in words"), row.refusing(rule), row.allowing_empty().
  SettingRowOf when(std::function<bool(const Owner&)> predicate, std::string_view in_words) && {
    applies = std::move(predicate);
    applies_when = in_words;
    return std::move(*this);
  }
  SettingRowOf refusing(std::string_view (*rule)(double)) && {
    refuses = rule;
    return std::move(*this);
  }
  SettingRowOf allowing_empty() && {
    may_be_empty = true;
    return std::move(*this);
  }
};

// Row builders. `field` reaches the value from an Owner: a member pointer (&Owner::learning_rate) or a
// generic lambda for a nested one ([](auto& s) -> auto& { return s.training.weights.bits; }).
namespace setting_rows {

template <class Owner, class Field>
decltype(auto) reach(Field field, Owner& owner) {
  if constexpr (std::is_member_object_pointer_v<Field>)
    return (owner.*field);
  else
    return field(owner);
}

template <class Owner, class Field>
using FieldType = std::remove_cvref_t<decltype(reach(std::declval<Field>(), std::declval<Owner&>()))>;

template <class Owner, class Field>
SettingRowOf<Owner> integer(std::string_view key, std::string_view group, std::string_view help, double min,
                            double max, Field field) {
  using T = FieldType<Owner, Field>;
  SettingRowOf<Owner> row{key, SettingKind::integer, group, help, min, max};
  row.get = [field](const Owner& owner) { return SettingValue(static_cast<int64_t>(reach(field, owner))); };
  row.set = [field](Owner& owner, const SettingValue& v) {
    reach(field, owner) = static_cast<T>(std::get<int64_t>(v));
  };
  return row;
}

template <class Owner, class Field>
SettingRowOf<Owner> number(std::string_view key, std::string_view group, std::string_view help, double min,
                           double max, Field field) {
  SettingRowOf<Owner> row{key, SettingKind::number, group, help, min, max};
  row.get = [field](const Owner& owner) { return SettingValue(static_cast<double>(reach(field, owner))); };
  row.set = [field](Owner& owner, const SettingValue& v) { reach(field, owner) = std::get<double>(v); };
  return row;
}

template <class Owner, class Field>
SettingRowOf<Owner> text(std::string_view key, std::string_view group, std::string_view help, Field field) {
  SettingRowOf<Owner> row{key, SettingKind::text, group, help};
  row.get = [field](const Owner& owner) { return SettingValue(reach(field, owner)); };
  row.set = [field](Owner& owner, const SettingValue& v) { reach(field, owner) = std::get<std::string>(v); };
  return row;
}

// An enum chosen by name (its choice_names), or a bool chosen as "on" / "off".
template <class Owner, class Field>
SettingRowOf<Owner> choice(std::string_view key, std::string_view group, std::string_view help, Field field) {
  using T = FieldType<Owner, Field>;
  SettingRowOf<Owner> row{key, SettingKind::choice, group, help};
  if constexpr (std::is_same_v<T, bool>) {
    row.choices = {"on", "off"};
    row.get = [field](const Owner& owner) { return SettingValue(int64_t{reach(field, owner) ? 0 : 1}); };
    row.set = [field](Owner& owner, const SettingValue& v) {
      reach(field, owner) = std::get<int64_t>(v) == 0;
    };
  } else {
    const auto names = choice_names(T{});
    row.choices.assign(names.begin(), names.end());
    row.get = [field](const Owner& owner) { return SettingValue(static_cast<int64_t>(reach(field, owner))); };
    row.set = [field](Owner& owner, const SettingValue& v) {
      reach(field, owner) = static_cast<T>(std::get<int64_t>(v));
    };
  }
  return row;
}

}  // namespace setting_rows
}  // namespace qplay
