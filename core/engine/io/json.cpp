// The JSON parser and writer behind json.h. Contents:
//   [SECTION] Json value
//   [SECTION] Numbers: locale-proof strtod / snprintf
//   [SECTION] UTF-8
//   [SECTION] Parser
//   [SECTION] Writer
//   [SECTION] Typed member reads
#include "core/engine/io/json.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "core/engine/base/number_format.h"

namespace qplay {

// [SECTION] Json value

Json Json::array(Array elements) {
  Json json;
  json.value_ = std::move(elements);
  return json;
}

Json Json::object(Object members) {
  Json json;
  json.value_ = std::move(members);
  return json;
}

size_t Json::size() const {
  if (is_array()) return as_array().size();
  if (is_object()) return as_object().size();
  return 0;
}

const Json* Json::find(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (const Member& member : as_object()) {
    if (member.first == key) return &member.second;
  }
  return nullptr;
}

Json& Json::operator[](std::string_view key) {
  if (is_null()) value_ = Object{};
  Object& members = std::get<Object>(value_);
  for (Member& member : members) {
    if (member.first == key) return member.second;
  }
  members.emplace_back(std::string(key), Json());
  return members.back().second;
}

void Json::push_back(Json element) {
  if (is_null()) value_ = Array{};
  std::get<Array>(value_).push_back(std::move(element));
}

std::string_view json_type_name(Json::Type type) {
  switch (type) {
    case Json::Type::null:
      return "null";
    case Json::Type::boolean:
      return "boolean";
    case Json::Type::number:
      return "number";
    case Json::Type::string:
      return "string";
    case Json::Type::array:
      return "array";
    case Json::Type::object:
      return "object";
  }
  return "unknown";
}

// [SECTION] Numbers: locale-proof strtod / snprintf
//
// std::from_chars / std::to_chars for double would be the natural tools, but the libc++ of Debian's
// Emscripten (3.1.x) has neither, and the WebAssembly build must read and write the same text as the
// native one. strtod and printf("%.17g") are correctly rounded in glibc and musl (Emscripten's libc);
// their only trap is the locale's decimal separator, which a host program may have set to ','.

namespace {

// `token` must already match the JSON number grammar. Returns false when it is too large for a double;
// numbers too small for one become 0 or a denormal, the nearest double, as in every JSON reader.
bool parse_json_number(std::string_view token, double* value) {
  std::string text(token);
  const char point = locale_decimal_point();
  if (point != '.') std::replace(text.begin(), text.end(), '.', point);
  errno = 0;
  *value = std::strtod(text.c_str(), nullptr);
  return !(errno == ERANGE && std::isinf(*value));
}

// [SECTION] UTF-8

// Length of the well-formed UTF-8 sequence (RFC 3629: no overlongs, no surrogates, nothing above
// U+10FFFF) starting at text[offset], or 0 if there is none.
size_t utf8_sequence_length(std::string_view text, size_t offset) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[offset + i]); };
  const size_t available = text.size() - offset;
  const uint8_t lead = byte(0);
  if (lead < 0x80) return 1;
  size_t length = 0;
  uint8_t second_min = 0x80, second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_min = 0xA0;  // overlong
    if (lead == 0xED) second_max = 0x9F;  // UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_min = 0x90;  // overlong
    if (lead == 0xF4) second_max = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (available < length) return 0;
  if (byte(1) < second_min || byte(1) > second_max) return 0;
  for (size_t i = 2; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
  }
  return length;
}

void append_utf8(uint32_t code_point, std::string* out) {
  if (code_point < 0x80) {
    out->push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

// [SECTION] Parser

// Recursive descent over the text. Without exceptions, every step returns false on the first error after
// recording it with fail(); the callers just pass the false up.
class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : text_(text) {}

  Result<Json> parse_document() {
    // RFC 8259 lets parsers ignore a byte order mark; editors on Windows like to add one.
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") position_ = 3;
    Json value;
    skip_whitespace();
    if (!parse_value(&value, 0)) return Status::error(error_);
    skip_whitespace();
    if (!at_end()) {
      fail(position_, "unexpected " + describe(position_) + " after the JSON value");
      return Status::error(error_);
    }
    return value;
  }

 private:
  bool at_end() const { return position_ >= text_.size(); }
  char peek() const { return text_[position_]; }

  void skip_whitespace() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++position_;
  }

  bool fail(size_t offset, const std::string& message) {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < offset && i < text_.size(); ++i) {
      const auto byte = static_cast<uint8_t>(text_[i]);
      if (byte == '\n') {
        ++line;
        column = 1;
      } else if ((byte & 0xC0) != 0x80) {  // count characters, not UTF-8 continuation bytes
        ++column;
      }
    }
    error_ = "line " + std::to_string(line) + ", column " + std::to_string(column) + ": " + message;
    return false;
  }

  // "expected <what>, found 'x'" or "unexpected end of input, expected <what>".
  bool fail_expected(const std::string& what) {
    if (at_end()) return fail(position_, "unexpected end of input, expected " + what);
    return fail(position_, "expected " + what + ", found " + describe(position_));
  }

  // The character at `offset` as a person would name it: 'x', '“', or byte 0x07.
  std::string describe(size_t offset) const {
    const auto byte = static_cast<uint8_t>(text_[offset]);
    if (byte >= 0x20 && byte < 0x7F) return "'" + std::string(1, static_cast<char>(byte)) + "'";
    const size_t length = byte >= 0x80 ? utf8_sequence_length(text_, offset) : 0;
    if (length > 0) return "'" + std::string(text_.substr(offset, length)) + "'";
    char hex[16];
    std::snprintf(hex, sizeof(hex), "byte 0x%02X", byte);
    return hex;
  }

  bool parse_value(Json* out, int depth) {
    if (at_end()) return fail_expected("a JSON value");
    switch (peek()) {
      case '{':
        return parse_object(out, depth + 1);
      case '[':
        return parse_array(out, depth + 1);
      case '"': {
        std::string text;
        if (!parse_string(&text)) return false;
        *out = Json(std::move(text));
        return true;
      }
      case 't':
        return parse_literal("true", Json(true), out);
      case 'f':
        return parse_literal("false", Json(false), out);
      case 'n':
        return parse_literal("null", Json(), out);
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return parse_number(out);
        return fail_expected("a JSON value");
    }
  }

  bool check_depth(int depth) {
    if (depth <= kMaxJsonDepth) return true;
    return fail(position_,
                "arrays and objects nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }

  bool parse_object(Json* out, int depth) {
    if (!check_depth(depth)) return false;
    ++position_;  // '{'
    Json::Object members;
    std::vector<size_t> key_offsets;
    skip_whitespace();
    if (!at_end() && peek() == '}') {
      ++position_;
      *out = Json::object();
      return true;
    }
    while (true) {
      if (at_end() || peek() != '"') return fail_expected("a string key");
      key_offsets.push_back(position_);
      std::string key;
      if (!parse_string(&key)) return false;
      skip_whitespace();
      if (at_end() || peek() != ':') return fail_expected("':' after object key");
      ++position_;
      skip_whitespace();
      Json value;
      if (!parse_value(&value, depth)) return false;
      members.emplace_back(std::move(key), std::move(value));
      skip_whitespace();
      if (!at_end() && peek() == '}') break;
      if (at_end() || peek() != ',') return fail_expected("',' or '}' after object member");
      const size_t comma = position_;
      ++position_;
      skip_whitespace();
      if (!at_end() && peek() == '}') return fail(comma, "trailing ',' before '}' is not allowed in JSON");
    }
    ++position_;  // '}'
    if (!check_unique_keys(members, key_offsets)) return false;
    *out = Json::object(std::move(members));
    return true;
  }

  // Duplicate keys are legal but ambiguous JSON (which one wins differs between readers); in a config file
  // they are almost always a copy-paste mistake, so they are refused. Sorting keeps hostile inputs with
  // many keys from costing quadratic time.
  bool check_unique_keys(const Json::Object& members, const std::vector<size_t>& key_offsets) {
    std::vector<size_t> order(members.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      const int comparison = members[a].first.compare(members[b].first);
      return comparison != 0 ? comparison < 0 : a < b;
    });
    for (size_t i = 1; i < order.size(); ++i) {
      if (members[order[i]].first == members[order[i - 1]].first) {
        return fail(key_offsets[order[i]], "duplicate key \"" + members[order[i]].first + "\" in object");
      }
    }
    return true;
  }

  bool parse_array(Json* out, int depth) {
    if (!check_depth(depth)) return false;
    ++position_;  // '['
    Json::Array elements;
    skip_whitespace();
    if (!at_end() && peek() == ']') {
      ++position_;
      *out = Json::array();
      return true;
    }
    while (true) {
      Json element;
      if (!parse_value(&element, depth)) return false;
      elements.push_back(std::move(element));
      skip_whitespace();
      if (!at_end() && peek() == ']') break;
      if (at_end() || peek() != ',') return fail_expected("',' or ']' after array element");
      const size_t comma = position_;
      ++position_;
      skip_whitespace();
      if (!at_end() && peek() == ']') return fail(comma, "trailing ',' before ']' is not allowed in JSON");
    }
    ++position_;  // ']'
    *out = Json::array(std::move(elements));
    return true;
  }

  bool parse_literal(std::string_view word, Json value, Json* out) {
    if (text_.substr(position_, word.size()) != word) {
      return fail(position_, "invalid literal, expected true, false or null");
    }
    position_ += word.size();
    *out = std::move(value);
    return true;
  }

  bool skip_digits() {
    const size_t start = position_;
    while (!at_end() && peek() >= '0' && peek() <= '9') ++position_;
    return position_ > start;
  }

  bool parse_number(Json* out) {
    const size_t start = position_;
    if (peek() == '-') ++position_;
    if (!at_end() && peek() == '0') {
      ++position_;
      if (!at_end() && peek() >= '0' && peek() <= '9') {
        return fail(start, "invalid number: leading zeros are not allowed in JSON");
      }
    } else if (!skip_digits()) {
      return fail_expected("a digit after '-'");
    }
    if (!at_end() && peek() == '.') {
      ++position_;
      if (!skip_digits()) return fail_expected("a digit after the decimal point");
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++position_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++position_;
      if (!skip_digits()) return fail_expected("a digit in the exponent");
    }
    const std::string_view token = text_.substr(start, position_ - start);
    double value = 0;
    if (!parse_json_number(token, &value)) {
      const std::string shown =
          token.size() > 40 ? std::string(token.substr(0, 40)) + "..." : std::string(token);
      return fail(start, "number " + shown + " is too large for a double");
    }
    *out = Json(value);
    return true;
  }

  // Four hex digits after "\u" at position_; advances past them.
  bool parse_hex4(uint32_t* code_unit) {
    uint32_t value = 0;
    for (size_t i = position_; i < position_ + 4; ++i) {
      if (i >= text_.size()) return fail(i, "unexpected end of input, \\u escape needs four hex digits");
      const char c = text_[i];
      uint32_t digit;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        digit = c - 'A' + 10;
      } else {
        return fail(i, "\\u escape needs four hex digits, found " + describe(i));
      }
      value = value * 16 + digit;
    }
    position_ += 4;
    *code_unit = value;
    return true;
  }

  // \uXXXX escapes are UTF-16 code units: characters outside the Basic Multilingual Plane arrive as a high
  // surrogate followed by a low one, and only the pair means anything.
  bool parse_unicode_escape(std::string* out) {
    const size_t escape_start = position_ - 2;  // the backslash
    uint32_t code_point = 0;
    if (!parse_hex4(&code_point)) return false;
    if (code_point >= 0xDC00 && code_point <= 0xDFFF) {
      return fail(escape_start,
                  "unpaired low surrogate in \\u escape (it must follow a high surrogate \\uD800-\\uDBFF)");
    }
    if (code_point >= 0xD800 && code_point <= 0xDBFF) {
      if (text_.substr(position_, 2) != "\\u") {
        return fail(escape_start,
                    "unpaired high surrogate in \\u escape (it must be followed by a low surrogate "
                    "\\uDC00-\\uDFFF)");
      }
      position_ += 2;
      uint32_t low = 0;
      if (!parse_hex4(&low)) return false;
      if (low < 0xDC00 || low > 0xDFFF) {
        return fail(escape_start,
                    "unpaired high surrogate in \\u escape (it must be followed by a low surrogate "
                    "\\uDC00-\\uDFFF)");
      }
      code_point = 0x10000 + ((code_point - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(code_point, out);
    return true;
  }

  bool parse_string(std::string* out) {
    const size_t opening_quote = position_;
    ++position_;
    while (true) {
      if (at_end()) return fail(opening_quote, "unterminated string");
      const auto byte = static_cast<uint8_t>(peek());
      if (byte == '"') {
        ++position_;
        return true;
      }
      if (byte == '\\') {
        if (!parse_escape(out)) return false;
      } else if (byte < 0x20) {
        if (byte == '\n' || byte == '\r') {
          return fail(position_, "line break inside a string (missing closing quote, or write it as \\n)");
        }
        return fail(position_,
                    "control character " + describe(position_) + " inside a string must be escaped");
      } else if (byte < 0x80) {
        out->push_back(static_cast<char>(byte));
        ++position_;
      } else {
        const size_t length = utf8_sequence_length(text_, position_);
        if (length == 0) {
          return fail(position_, "invalid UTF-8 (" + describe(position_) + ") inside a string");
        }
        out->append(text_.substr(position_, length));
        position_ += length;
      }
    }
  }

  bool parse_escape(std::string* out) {
    const size_t backslash = position_;
    ++position_;
    if (at_end()) return fail(backslash, "unterminated string");
    const char kind = peek();
    ++position_;
    switch (kind) {
      case '"':
        out->push_back('"');
        return true;
      case '\\':
        out->push_back('\\');
        return true;
      case '/':
        out->push_back('/');
        return true;
      case 'b':
        out->push_back('\b');
        return true;
      case 'f':
        out->push_back('\f');
        return true;
      case 'n':
        out->push_back('\n');
        return true;
      case 'r':
        out->push_back('\r');
        return true;
      case 't':
        out->push_back('\t');
        return true;
      case 'u':
        return parse_unicode_escape(out);
      default:
        return fail(backslash, "invalid escape \\" + std::string(1, kind) +
                                   " (JSON knows \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX)");
    }
  }

  std::string_view text_;
  size_t position_ = 0;
  std::string error_;
};

}  // namespace

bool is_valid_utf8(std::string_view text) {
  for (size_t offset = 0; offset < text.size();) {
    const size_t length = utf8_sequence_length(text, offset);
    if (length == 0) return false;
    offset += length;
  }
  return true;
}

std::string format_json_number(double value) {
  if (!std::isfinite(value)) return "null";
  // The shortest %g precision that reads back as the same double. A normal double carries 53 bits, so
  // one with a representation of 15 digits or fewer gets exactly that from %.15g (trailing zeros removed)
  // and %.17g always round-trips; denormals carry fewer bits, and may need as little as one digit (5e-324).
  char buffer[40];
  const int first_precision = std::fabs(value) < std::numeric_limits<double>::min() ? 1 : 15;
  for (int precision = first_precision; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  std::string text(buffer);
  const char point = locale_decimal_point();
  if (point != '.') std::replace(text.begin(), text.end(), point, '.');
  return text;
}

Result<Json> parse_json(std::string_view text) { return JsonParser(text).parse_document(); }

// [SECTION] Writer

namespace {

// Invalid UTF-8 is written as U+FFFD so that the output is always JSON that parse_json accepts.
void write_string(std::string_view text, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<uint8_t>(c) < 0x20) {
          char escape[8];
          std::snprintf(escape, sizeof(escape), "\\u%04X", static_cast<unsigned>(c));
          out->append(escape);
        } else if (static_cast<uint8_t>(c) < 0x80) {
          out->push_back(c);
        } else if (const size_t length = utf8_sequence_length(text, i); length > 0) {
          out->append(text.substr(i, length));
          i += length - 1;
        } else {
          out->append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
        }
    }
  }
  out->push_back('"');
}

void write_newline_and_indent(int indent, int level, std::string* out) {
  out->push_back('\n');
  out->append(static_cast<size_t>(indent) * level, ' ');
}

void write_value(const Json& value, int indent, int level, std::string* out) {
  switch (value.type()) {
    case Json::Type::null:
      out->append("null");
      return;
    case Json::Type::boolean:
      out->append(value.as_bool() ? "true" : "false");
      return;
    case Json::Type::number:
      out->append(format_json_number(value.as_number()));
      return;
    case Json::Type::string:
      write_string(value.as_string(), out);
      return;
    case Json::Type::array: {
      const Json::Array& elements = value.as_array();
      const bool spread =
          indent > 0 && std::any_of(elements.begin(), elements.end(), [](const Json& element) {
            return element.is_array() || element.is_object();
          });
      out->push_back('[');
      for (size_t i = 0; i < elements.size(); ++i) {
        if (i > 0) out->append(indent > 0 && !spread ? ", " : ",");
        if (spread) write_newline_and_indent(indent, level + 1, out);
        write_value(elements[i], indent, level + 1, out);
      }
      if (spread) write_newline_and_indent(indent, level, out);
      out->push_back(']');
      return;
    }
    case Json::Type::object: {
      const Json::Object& members = value.as_object();
      out->push_back('{');
      for (size_t i = 0; i < members.size(); ++i) {
        if (i > 0) out->push_back(',');
        if (indent > 0) write_newline_and_indent(indent, level + 1, out);
        write_string(members[i].first, out);
        out->append(indent > 0 ? ": " : ":");
        write_value(members[i].second, indent, level + 1, out);
      }
      if (indent > 0 && !members.empty()) write_newline_and_indent(indent, level, out);
      out->push_back('}');
      return;
    }
  }
}

}  // namespace

std::string to_json(const Json& value, int indent) {
  std::string out;
  write_value(value, std::max(indent, 0), 0, &out);
  return out;
}

// [SECTION] Typed member reads

namespace {

// The member `key` of `object` if it exists and has `type`; otherwise the error a config reader shows.
Result<const Json*> find_typed(const Json& object, std::string_view key, Json::Type type) {
  if (!object.is_object()) {
    return Status::error("expected an object with '" + std::string(key) + "', got " +
                         std::string(json_type_name(object.type())));
  }
  const Json* member = object.find(key);
  if (member == nullptr) return Status::error("missing '" + std::string(key) + "'");
  if (member->type() != type) {
    const bool vowel = type == Json::Type::array || type == Json::Type::object;
    return Status::error("'" + std::string(key) + "' must be " + (vowel ? "an " : "a ") +
                         std::string(json_type_name(type)) + ", got " +
                         std::string(json_type_name(member->type())));
  }
  return member;
}

}  // namespace

Result<double> get_number(const Json& object, std::string_view key) {
  Result<const Json*> member = find_typed(object, key, Json::Type::number);
  if (!member.ok()) return member.status();
  return (*member)->as_number();
}

Result<int64_t> get_integer(const Json& object, std::string_view key) {
  Result<const Json*> member = find_typed(object, key, Json::Type::number);
  if (!member.ok()) return member.status();
  const double value = (*member)->as_number();
  // Beyond 2^53 a double no longer holds every integer, so the file may not mean what it says.
  constexpr double kLargestExactInteger = 9007199254740992.0;
  if (value != std::floor(value) || std::fabs(value) > kLargestExactInteger) {
    return Status::error("'" + std::string(key) + "' must be an integer, got " + format_json_number(value));
  }
  return static_cast<int64_t>(value);
}

Result<bool> get_bool(const Json& object, std::string_view key) {
  Result<const Json*> member = find_typed(object, key, Json::Type::boolean);
  if (!member.ok()) return member.status();
  return (*member)->as_bool();
}

Result<std::string> get_string(const Json& object, std::string_view key) {
  Result<const Json*> member = find_typed(object, key, Json::Type::string);
  if (!member.ok()) return member.status();
  return (*member)->as_string();
}

}  // namespace qplay
