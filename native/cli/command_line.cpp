#include "native/cli/command_line.h"

#include <algorithm>
#include <charconv>
#include <sstream>

#include "core/engine/experiment/state_table.h"
#include "core/engine/io/json.h"

namespace qplay::cli {

Result<ParsedCommandLine> parse_command_line(const std::vector<std::string>& arguments,
                                             const std::vector<CommandFlag>& command_flags) {
  ParsedCommandLine parsed;
  for (const CommandFlag& flag : command_flags) parsed.command_flags[flag.name] = flag.default_value;
  for (size_t i = 0; i < arguments.size(); ++i) {
    const std::string& argument = arguments[i];
    if (argument == "--help" || argument == "-h") {
      parsed.help = true;
      continue;
    }
    if (!argument.starts_with("--") || argument.size() == 2) {
      return Status::error("unexpected argument '" + argument + "' (flags look like --name=value)");
    }
    std::string name, value;
    size_t equals = argument.find('=');
    if (equals != std::string::npos) {
      name = argument.substr(2, equals - 2);
      value = argument.substr(equals + 1);
    } else {
      name = argument.substr(2);
      if (i + 1 >= arguments.size()) return Status::error("flag --" + name + " needs a value");
      value = arguments[++i];
    }
    bool is_command_flag = false;
    for (const CommandFlag& flag : command_flags) is_command_flag |= flag.name == name;
    if (is_command_flag) {
      if (value.empty()) return Status::error("flag --" + name + " needs a value");
      parsed.command_flags[name] = value;
    } else if (find_setting(name)) {
      parsed.settings.emplace_back(name, value);
    } else {
      // Let the state table suggest the closest setting name; fall back to the command's flags.
      Experiment scratch;
      Status unknown = set_setting(scratch, name, value);
      std::string message = unknown.message();
      if (!message.empty()) message[0] = 'u';
      return Status::error(message.empty() ? "unknown flag --" + name : message + " (see --help)");
    }
  }
  if (!parsed.help) {
    for (const CommandFlag& flag : command_flags) {
      if (flag.required && parsed.command_flags[flag.name].empty()) {
        return Status::error("missing --" + flag.name + " (" + flag.help + ")");
      }
    }
  }
  return parsed;
}

Status apply_settings(const ParsedCommandLine& parsed, Experiment& experiment) {
  for (const auto& [name, value] : parsed.settings) {
    if (Status status = set_setting(experiment, name, value); !status) return status;
  }
  return validate_experiment(experiment);
}

Status check_settings_are_read(const std::string& command, const ParsedCommandLine& parsed,
                               const Experiment& context, const SettingScope& scope) {
  auto contains = [](const auto& list, std::string_view item) {
    return std::find(list.begin(), list.end(), item) != list.end();
  };
  auto joined = [](const auto& list) {
    std::string text;
    for (std::string_view item : list) text += (text.empty() ? "" : ", ") + std::string(item);
    return text;
  };
  const std::vector<std::string_view>& methods = find_setting("method")->choices;
  for (const auto& [key, value] : parsed.settings) {
    const SettingRow& row = *find_setting(key);
    const std::string flag = "--" + key;
    for (const auto& [replaced, instead] : scope.replaced)
      if (replaced == key) return Status::error(flag + " would change nothing here: " + std::string(instead));
    const bool method_knob = contains(methods, row.group);
    if (method_knob && !contains(scope.methods, row.group)) {
      return Status::error(flag + " would change nothing: it is a setting of method " +
                           std::string(row.group) +
                           (scope.methods.empty() ? ", and " + command + " trains no method"
                                                  : ", and the method here is " + joined(scope.methods)));
    }
    if (!method_knob && !contains(scope.groups, row.group) && !contains(scope.keys, row.key)) {
      return Status::error(
          flag + " would change nothing: it is a " + std::string(row.group) + " setting, and " + command +
          " reads " + (scope.groups.empty() ? "no experiment settings" : joined(scope.groups) + " settings"));
    }
    for (const SettingScope::Condition& condition : scope.conditions)
      if (condition.key == key && !condition.reads(context))
        return Status::error(flag + " would change nothing: " + std::string(condition.otherwise));
    if (!setting_applies(row, context))
      return Status::error(flag + " would change nothing: it applies only " + std::string(row.applies_when));
  }
  return {};
}

Result<std::vector<int>> parse_bit_list(const std::string& text, int min_bits, const std::string& flag_name) {
  auto invalid = [&](const std::string& item) {
    return Status::error("--" + flag_name + ": '" + item + "' is not a bit-width; use integers from " +
                         std::to_string(min_bits) +
                         " to 8 or 'float', as a list (4,6,8,float) or a range (2-8)");
  };
  auto parse_int = [](std::string_view item, int& value) {
    auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), value);
    return error == std::errc() && end == item.data() + item.size();
  };
  std::vector<int> bits;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t dash = item.find('-');
    int low = 0, high = 0;
    if (item == "float") {
      bits.push_back(0);
    } else if (dash != std::string::npos && dash > 0) {
      if (!parse_int(std::string_view(item).substr(0, dash), low) ||
          !parse_int(std::string_view(item).substr(dash + 1), high) || low < min_bits || high > 8 ||
          low > high) {
        return invalid(item);
      }
      for (int b = high; b >= low; --b) bits.push_back(b);
    } else {
      if (!parse_int(item, low) || low < min_bits || low > 8) return invalid(item);
      bits.push_back(low);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return bits;
}

Result<std::vector<double>> parse_epsilons(const std::string& text) {
  std::vector<double> epsilons;
  if (text == "none") return epsilons;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    char* end = nullptr;
    const double epsilon = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !(epsilon >= 0 && epsilon <= 1)) {
      return Status::error("--fgsm_epsilons: '" + item + "' is not an attack size from 0 to 1");
    }
    epsilons.push_back(epsilon);
  }
  return epsilons;
}

Result<std::vector<int64_t>> parse_seeds(const std::string& text) {
  std::vector<int64_t> seeds;
  if (text.find(',') == std::string::npos) {
    char* end = nullptr;
    const long count = std::strtol(text.c_str(), &end, 10);
    if (end == text.c_str() || *end != '\0' || count < 1 || count > 100) {
      return Status::error("--seeds must be a count from 1 to 100 or a list of seeds, got '" + text + "'");
    }
    for (long s = 1; s <= count; ++s) seeds.push_back(s);
    return seeds;
  }
  // Each seed by the state table's own rule for --seed (0 to 4294967295), so the two flags agree.
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    Experiment scratch;
    if (Status status = set_setting(scratch, "seed", item); !status) return status.with_context("--seeds");
    seeds.push_back(scratch.seed);
  }
  return seeds;
}

Result<long> parse_integer_flag(const ParsedCommandLine& parsed, const std::string& name, long min,
                                long max) {
  const std::string& text = parsed.flag(name);
  long value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return Status::error("--" + name + " must be an integer from " + std::to_string(min) + " to " +
                         std::to_string(max) + ", got '" + text + "'");
  }
  return value;
}

Result<double> parse_number_flag(const ParsedCommandLine& parsed, const std::string& name, double min,
                                 double max) {
  const std::string& text = parsed.flag(name);
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !(value >= min && value <= max)) {
    return Status::error("--" + name + " must be a number from " + format_json_number(min) + " to " +
                         format_json_number(max) + ", got '" + text + "'");
  }
  return value;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  for (size_t comma = text.find(','); comma != std::string::npos; comma = text.find(',', start)) {
    items.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  items.push_back(text.substr(start));
  return items;
}

std::string describe_command_flags(const std::vector<CommandFlag>& flags) {
  std::string text;
  for (const CommandFlag& flag : flags) {
    text += "    --" + flag.name + "=<...>" + (flag.required ? "  (required)" : "") +
            (flag.default_value.empty() ? "" : "  (default " + flag.default_value + ")") + "\n        " +
            flag.help + "\n";
  }
  return text;
}

}  // namespace qplay::cli
