// A small JSON value with a strict parser and a writer, for QPlay's experiment and config files, the
// metadata inside model files and the documented weight export.
// For: settings people write by hand (a parse error names the line and column), and files whose numbers
// read back bit for bit. Not for: streaming, documents of many megabytes, or JSON extensions (comments,
// trailing commas, NaN): the parser accepts exactly RFC 8259.
//
// Numbers are doubles, as in JavaScript: integers beyond 2^53 lose precision. NaN and infinity have no
// JSON spelling; to_json writes them as null.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "core/engine/base/status.h"

namespace qplay {

class Json {
 public:
  enum class Type { null, boolean, number, string, array, object };
  using Array = std::vector<Json>;
  using Member = std::pair<std::string, Json>;
  // Members keep their insertion order, so a file written from an object keeps the order it was built in.
  using Object = std::vector<Member>;

  // Implicit on purpose, so that building reads like the JSON it makes: config["epochs"] = 3.
  Json() = default;  // null
  Json(std::nullptr_t) {}
  Json(bool value) : value_(value) {}
  Json(double value) : value_(value) {}
  template <typename Integer>
  requires(std::is_integral_v<Integer> && !std::is_same_v<Integer, bool>) Json(Integer value)
      : value_(static_cast<double>(value)) {}
  Json(const char* text) : value_(std::string(text)) {}
  Json(std::string_view text) : value_(std::string(text)) {}
  Json(std::string text) : value_(std::move(text)) {}

  static Json array(Array elements = {});
  static Json object(Object members = {});  // with duplicate keys, find() and operator[] see the first

  Type type() const { return static_cast<Type>(value_.index()); }
  bool is_null() const { return type() == Type::null; }
  bool is_bool() const { return type() == Type::boolean; }
  bool is_number() const { return type() == Type::number; }
  bool is_string() const { return type() == Type::string; }
  bool is_array() const { return type() == Type::array; }
  bool is_object() const { return type() == Type::object; }

  // The as_* accessors require the matching type (check with is_* first); asking for the wrong one is a
  // programming error, not a user error.
  bool as_bool() const { return std::get<bool>(value_); }
  double as_number() const { return std::get<double>(value_); }
  const std::string& as_string() const { return std::get<std::string>(value_); }
  const Array& as_array() const { return std::get<Array>(value_); }
  const Object& as_object() const { return std::get<Object>(value_); }

  // Elements of an array or members of an object; 0 for everything else.
  size_t size() const;
  // The member named `key` of an object, or nullptr when it is missing or this is not an object.
  // A linear search: objects here are configs with a handful of keys.
  const Json* find(std::string_view key) const;

  // Building. operator[] turns a null into an object and returns the member named `key`, adding a null
  // member when missing; push_back turns a null into an array. Using either on another type is a
  // programming error.
  Json& operator[](std::string_view key);
  void push_back(Json element);

  // Deep equality; numbers compare as doubles, so 0 == -0 and NaN != NaN.
  bool operator==(const Json& other) const = default;

 private:
  // Alternative order matches Type.
  std::variant<std::nullptr_t, bool, double, std::string, Array, Object> value_;
};

// "null", "boolean", "number", "string", "array" or "object", for messages.
std::string_view json_type_name(Json::Type type);

// Parses one JSON value (RFC 8259) that may be surrounded by whitespace and nothing else. Errors say where:
// "line 3, column 14: expected ',' or '}' after object member, found '\"'". Columns count characters, not
// bytes. Also refused: invalid UTF-8, unpaired \u surrogates, duplicate keys in one object, numbers too
// large for a double, and nesting deeper than kMaxJsonDepth arrays and objects.
inline constexpr int kMaxJsonDepth = 256;
Result<Json> parse_json(std::string_view text);

// Writes `value` as JSON text. indent 0 is compact; otherwise objects and arrays that hold objects or arrays
// are spread over lines, indented by `indent` spaces per level, while arrays of plain values stay on one
// line. Numbers use the fewest digits that read back as the same double (0.1, 1e-300, -0, 100). NaN and
// infinity are written as null, and invalid UTF-8 inside strings as U+FFFD. No trailing newline.
std::string to_json(const Json& value, int indent = 2);

// Whether `text` is well-formed UTF-8 (RFC 3629), the only text parse_json accepts in strings and to_json
// writes as it is (other bytes become U+FFFD, so such text does not survive a file).
bool is_valid_utf8(std::string_view text);

// The fewest digits that read back as the same double ("0.1", "4000000000", "5e-324"), whatever the
// locale; "null" for NaN and infinities, which JSON cannot hold.
std::string format_json_number(double value);

// Typed reads of one member of an object, for loading configs; the message names the key and the problem:
// "missing 'learning_rate'", "'learning_rate' must be a number, got string", "'epochs' must be an integer,
// got 2.5". get_integer accepts numbers with no fractional part within +-2^53.
Result<double> get_number(const Json& object, std::string_view key);
Result<int64_t> get_integer(const Json& object, std::string_view key);
Result<bool> get_bool(const Json& object, std::string_view key);
Result<std::string> get_string(const Json& object, std::string_view key);

}  // namespace qplay
