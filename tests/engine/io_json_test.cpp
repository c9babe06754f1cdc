// Specification of the JSON value, parser and writer (core/engine/io/json.h): what is accepted, how it
// is written back, and which message every kind of mistake gets.
#include "core/engine/io/json.h"

#include <gtest/gtest.h>

#include <clocale>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace qplay {
namespace {

Json parse_or_fail(std::string_view text) {
  Result<Json> parsed = parse_json(text);
  EXPECT_TRUE(parsed.ok()) << parsed.message();
  return parsed.ok() ? *parsed : Json();
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof(double)) == 0; }

// ---- Building and reading values

TEST(JsonValue, DefaultIsNullAndConstructorsPickTheObviousType) {
  EXPECT_TRUE(Json().is_null());
  EXPECT_TRUE(Json(nullptr).is_null());
  EXPECT_TRUE(Json(true).is_bool());
  EXPECT_TRUE(Json(3).is_number());
  EXPECT_TRUE(Json(uint64_t{7}).is_number());
  EXPECT_TRUE(Json(2.5f).is_number());
  EXPECT_TRUE(Json("text").is_string());  // a string literal must not decay to bool
  EXPECT_TRUE(Json(std::string("text")).is_string());
  EXPECT_TRUE(Json(std::string_view("text")).is_string());
  EXPECT_TRUE(Json::array().is_array());
  EXPECT_TRUE(Json::object().is_object());
  EXPECT_EQ(Json(3).as_number(), 3.0);
}

TEST(JsonValue, ObjectsKeepInsertionOrderAndOperatorBracketsReplaceExistingMembers) {
  Json json;  // null becomes an object on first use of operator[]
  json["zeta"] = 1;
  json["alpha"] = "a";
  json["zeta"] = 2;
  ASSERT_TRUE(json.is_object());
  ASSERT_EQ(json.size(), 2u);
  EXPECT_EQ(json.as_object()[0].first, "zeta");
  EXPECT_EQ(json.as_object()[0].second.as_number(), 2.0);
  EXPECT_EQ(json.as_object()[1].first, "alpha");
  EXPECT_EQ(to_json(json, 0), R"({"zeta":2,"alpha":"a"})");
}

TEST(JsonValue, FindReturnsTheMemberOrNullptr) {
  Json json = Json::object();
  json["rate"] = 0.5;
  ASSERT_NE(json.find("rate"), nullptr);
  EXPECT_EQ(json.find("rate")->as_number(), 0.5);
  EXPECT_EQ(json.find("missing"), nullptr);
  EXPECT_EQ(Json(3).find("rate"), nullptr);
  EXPECT_EQ(Json::array({1, 2}).find("rate"), nullptr);
}

TEST(JsonValue, SizeCountsElementsAndMembersOnly) {
  Json array;
  array.push_back(1);
  array.push_back("two");
  EXPECT_EQ(array.size(), 2u);
  EXPECT_EQ(Json::object().size(), 0u);
  EXPECT_EQ(Json("four").size(), 0u);
  EXPECT_EQ(Json().size(), 0u);
}

TEST(JsonValue, IteratesOverArraysAndObjects) {
  const Json json = parse_or_fail(R"({"a": [1, 2, 3], "b": true})");
  double sum = 0;
  for (const Json& element : json.find("a")->as_array()) sum += element.as_number();
  EXPECT_EQ(sum, 6.0);
  std::string keys;
  for (const auto& [key, value] : json.as_object()) keys += key;
  EXPECT_EQ(keys, "ab");
}

TEST(JsonValue, EqualityIsDeep) {
  EXPECT_EQ(parse_or_fail(R"({"a": [1, {"b": null}]})"), parse_or_fail(R"({"a":[1,{"b":null}]})"));
  EXPECT_NE(parse_or_fail(R"({"a": [1, 2]})"), parse_or_fail(R"({"a": [1, 3]})"));
  EXPECT_NE(Json(1), Json("1"));
}

// ---- Numbers

TEST(JsonNumbers, ReadBackBitForBit) {
  const double values[] = {0.1,
                           1e-300,
                           -0.0,
                           12345678901234567.0,
                           0.1 + 0.2,
                           1.0 / 3.0,
                           5e-324,  // smallest denormal
                           std::numeric_limits<double>::max(),
                           -std::numeric_limits<double>::min(),
                           9007199254740993.0,
                           123.0,
                           -1.5e-7,
                           6.02214076e23};
  for (const double value : values) {
    for (const int indent : {0, 2}) {
      const std::string text = to_json(Json(value), indent);
      const Json parsed = parse_or_fail(text);
      ASSERT_TRUE(parsed.is_number()) << text;
      EXPECT_TRUE(same_bits(parsed.as_number(), value)) << text;
    }
  }
}

TEST(JsonNumbers, AreWrittenWithTheFewestDigitsAndIntegersWithoutFraction) {
  EXPECT_EQ(to_json(Json(0.1)), "0.1");
  EXPECT_EQ(to_json(Json(1e-300)), "1e-300");
  EXPECT_EQ(to_json(Json(-0.0)), "-0");
  EXPECT_EQ(to_json(Json(100)), "100");
  EXPECT_EQ(to_json(Json(-42)), "-42");
  EXPECT_EQ(to_json(Json(2.5)), "2.5");
  EXPECT_EQ(to_json(Json(0.1 + 0.2)), "0.30000000000000004");
  EXPECT_EQ(to_json(Json(12345678901234567.0)), "12345678901234568");  // the nearest double
  EXPECT_EQ(to_json(Json(1e21)), "1e+21");
  EXPECT_EQ(to_json(Json(5e-324)), "5e-324");  // denormals carry fewer digits
  EXPECT_EQ(to_json(Json(-2.5e-320)), "-2.5e-320");
}

TEST(JsonNumbers, NanAndInfinityHaveNoJsonSpellingAndAreWrittenAsNull) {
  EXPECT_EQ(to_json(Json(std::nan(""))), "null");
  EXPECT_EQ(to_json(Json(std::numeric_limits<double>::infinity())), "null");
  EXPECT_EQ(to_json(Json::array({-std::numeric_limits<double>::infinity(), 1}), 0), "[null,1]");
}

TEST(JsonNumbers, ParseTheWholeGrammar) {
  EXPECT_EQ(parse_or_fail("0").as_number(), 0.0);
  EXPECT_TRUE(std::signbit(parse_or_fail("-0").as_number()));
  EXPECT_EQ(parse_or_fail("-12.5e+2").as_number(), -1250.0);
  EXPECT_EQ(parse_or_fail("1E-2").as_number(), 0.01);
  EXPECT_EQ(parse_or_fail("0.5e1").as_number(), 5.0);
  EXPECT_EQ(parse_or_fail("1e-400").as_number(), 0.0);  // underflow rounds to the nearest double
}

TEST(JsonNumbers, AreWrittenAndReadWithADotWhateverTheLocaleSays) {
  const std::string previous = std::setlocale(LC_NUMERIC, nullptr);
  if (std::setlocale(LC_NUMERIC, "de_DE.UTF-8") == nullptr &&
      std::setlocale(LC_NUMERIC, "fr_FR.UTF-8") == nullptr) {
    GTEST_SKIP() << "no locale with a decimal comma is installed";
  }
  const std::string written = to_json(Json(2.5));
  const Result<Json> parsed = parse_json("[0.25]");
  std::setlocale(LC_NUMERIC, previous.c_str());
  EXPECT_EQ(written, "2.5");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->as_array()[0].as_number(), 0.25);
}

// ---- Strings

TEST(JsonStrings, EscapesAreDecodedAndWrittenBack) {
  const Json parsed = parse_or_fail(R"("quote \" backslash \\ slash \/ \b\f\n\r\t end")");
  EXPECT_EQ(parsed.as_string(), "quote \" backslash \\ slash / \b\f\n\r\t end");
  EXPECT_EQ(to_json(Json("a\"b\\c\n\t\x01")), R"("a\"b\\c\n\t\u0001")");
  EXPECT_EQ(parse_or_fail(to_json(parsed)), parsed);
}

TEST(JsonStrings, UnicodeEscapesBecomeUtf8IncludingSurrogatePairs) {
  EXPECT_EQ(parse_or_fail(R"("caf\u00e9")").as_string(), "caf\xC3\xA9");
  EXPECT_EQ(parse_or_fail(R"("\u20AC")").as_string(), "\xE2\x82\xAC");
  EXPECT_EQ(parse_or_fail(R"("\uD83D\uDE00")").as_string(), "\xF0\x9F\x98\x80");  // U+1F600
  EXPECT_EQ(parse_or_fail(R"("\u0000")").as_string(), std::string(1, '\0'));
}

TEST(JsonStrings, RawUtf8PassesThroughUnchanged) {
  const std::string text = "\"gr\xC3\xBC\xC3\x9F \xE2\x82\xAC \xF0\x9F\x98\x80\"";
  EXPECT_EQ(to_json(parse_or_fail(text)), text);
}

TEST(JsonStrings, InvalidUtf8IsWrittenAsReplacementCharacterSoOutputAlwaysParses) {
  const std::string written = to_json(Json(std::string("a\xFF") + "b"));
  EXPECT_EQ(written, std::string("\"a\xEF\xBF\xBD") + "b\"");
  EXPECT_TRUE(parse_json(written).ok());
}

TEST(JsonStrings, IsValidUtf8AcceptsExactlyWhatSurvivesTheWriter) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("gr\xC3\xBC\xC3\x9F \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_TRUE(is_valid_utf8(std::string("nul\0inside", 10)));
  for (const char* bad : {"\x80", "a\xFF", "\xC3", "\xC0\xAF" /* overlong */, "\xED\xA0\x80" /* surrogate */,
                          "\xF4\x90\x80\x80" /* above U+10FFFF */}) {
    EXPECT_FALSE(is_valid_utf8(bad)) << bad;
    EXPECT_NE(to_json(Json(bad)), std::string("\"") + bad + "\"");
  }
}

// ---- Structure and layout

TEST(JsonDocuments, NestedStructuresRoundTripCompactAndIndented) {
  const std::string text = R"({"name": "mlp", "layers": [{"units": 256, "act": "relu"}, {"units": 10}],
    "flags": [true, false, null], "nested": {"deeper": {"deepest": [[1, 2], [], {}]}},
    "text": "\u00e9\n", "empty": {}})";
  const Json json = parse_or_fail(text);
  EXPECT_EQ(parse_or_fail(to_json(json, 0)), json);
  EXPECT_EQ(parse_or_fail(to_json(json, 2)), json);
  EXPECT_EQ(parse_or_fail(to_json(json, 4)), json);
  EXPECT_EQ(to_json(parse_or_fail(to_json(json, 2)), 2), to_json(json, 2));
}

TEST(JsonDocuments, IndentedOutputKeepsArraysOfPlainValuesOnOneLine) {
  const Json json =
      parse_or_fail(R"({"shape": [2, 3], "layers": [{"units": 4}, {}], "none": [], "x": null})");
  EXPECT_EQ(to_json(json, 2),
            "{\n"
            "  \"shape\": [2, 3],\n"
            "  \"layers\": [\n"
            "    {\n"
            "      \"units\": 4\n"
            "    },\n"
            "    {}\n"
            "  ],\n"
            "  \"none\": [],\n"
            "  \"x\": null\n"
            "}");
  EXPECT_EQ(to_json(json, 0), R"({"shape":[2,3],"layers":[{"units":4},{}],"none":[],"x":null})");
}

TEST(JsonDocuments, ScalarsAtTopLevelAndSurroundingWhitespaceAreAccepted) {
  EXPECT_EQ(parse_or_fail(" \t\r\n 42 \n").as_number(), 42.0);
  EXPECT_EQ(parse_or_fail("\"s\"").as_string(), "s");
  EXPECT_TRUE(parse_or_fail("null").is_null());
  EXPECT_TRUE(parse_or_fail("true").as_bool());
  EXPECT_FALSE(parse_or_fail("false").as_bool());
}

TEST(JsonDocuments, LeadingByteOrderMarkIsIgnored) {
  EXPECT_EQ(parse_or_fail("\xEF\xBB\xBF{\"a\": 1}"), parse_or_fail("{\"a\": 1}"));
}

// ---- Errors: each says where and what

struct SyntaxErrorCase {
  std::string text;
  std::string expected_message;
};

TEST(JsonErrors, EveryKindOfSyntaxErrorSaysLineColumnAndWhat) {
  const std::vector<SyntaxErrorCase> cases = {
      {"", "line 1, column 1: unexpected end of input, expected a JSON value"},
      {"   \n  ", "line 2, column 3: unexpected end of input, expected a JSON value"},
      {"{\"a\": 1,\n \"b\": 2\n \"c\": 3}",
       "line 3, column 2: expected ',' or '}' after object member, found '\"'"},
      {"{\"a\": 1", "line 1, column 8: unexpected end of input, expected ',' or '}' after object member"},
      {"[1 2]", "line 1, column 4: expected ',' or ']' after array element, found '2'"},
      {"[1, 2", "line 1, column 6: unexpected end of input, expected ',' or ']' after array element"},
      {"[1, 2,]", "line 1, column 6: trailing ',' before ']' is not allowed in JSON"},
      {"{\"a\": 1,}", "line 1, column 8: trailing ',' before '}' is not allowed in JSON"},
      {"{a: 1}", "line 1, column 2: expected a string key, found 'a'"},
      {"{\"a\" 1}", "line 1, column 6: expected ':' after object key, found '1'"},
      {"[,]", "line 1, column 2: expected a JSON value, found ','"},
      {"tru", "line 1, column 1: invalid literal, expected true, false or null"},
      {"[nul]", "line 1, column 2: invalid literal, expected true, false or null"},
      {"True", "line 1, column 1: expected a JSON value, found 'T'"},
      {"NaN", "line 1, column 1: expected a JSON value, found 'N'"},
      {"-Infinity", "line 1, column 2: expected a digit after '-', found 'I'"},
      {"+1", "line 1, column 1: expected a JSON value, found '+'"},
      {".5", "line 1, column 1: expected a JSON value, found '.'"},
      {"012", "line 1, column 1: invalid number: leading zeros are not allowed in JSON"},
      {"-", "line 1, column 2: unexpected end of input, expected a digit after '-'"},
      {"1.", "line 1, column 3: unexpected end of input, expected a digit after the decimal point"},
      {"1.e5", "line 1, column 3: expected a digit after the decimal point, found 'e'"},
      {"1e", "line 1, column 3: unexpected end of input, expected a digit in the exponent"},
      {"[1e400]", "line 1, column 2: number 1e400 is too large for a double"},
      {"\"abc", "line 1, column 1: unterminated string"},
      {"[\"a\nb\"]",
       "line 1, column 4: line break inside a string (missing closing quote, or write it as \\n)"},
      {"\"a\tb\"", "line 1, column 3: control character byte 0x09 inside a string must be escaped"},
      {"\"\\x\"", "line 1, column 2: invalid escape \\x"},
      {"\"\\u12\"", "line 1, column 6: \\u escape needs four hex digits, found '\"'"},
      {"\"\\u12", "line 1, column 6: unexpected end of input, \\u escape needs four hex digits"},
      {"\"\\uD800\"", "line 1, column 2: unpaired high surrogate"},
      {"\"\\uD800\\u0041\"", "line 1, column 2: unpaired high surrogate"},
      {"\"\\uDC00\"", "line 1, column 2: unpaired low surrogate"},
      {"\"\xFF\"", "line 1, column 2: invalid UTF-8 (byte 0xFF) inside a string"},
      {"\"\xC0\xAF\"", "line 1, column 2: invalid UTF-8 (byte 0xC0) inside a string"},  // overlong '/'
      {"\"\xED\xA0\x80\"",
       "line 1, column 2: invalid UTF-8 (byte 0xED) inside a string"},                  // encoded surrogate
      {"\"\xE2\x82\"", "line 1, column 2: invalid UTF-8 (byte 0xE2) inside a string"},  // cut short
      {"{} x", "line 1, column 4: unexpected 'x' after the JSON value"},
      {"[1] [2]", "line 1, column 5: unexpected '[' after the JSON value"},
      {"{\"a\": 1, \"b\": 2, \"a\": 3}", "line 1, column 18: duplicate key \"a\" in object"},
      // Columns count characters: the 'x' is the 5th character but the 6th byte.
      {"\"\xC3\xA9\" x", "line 1, column 5: unexpected 'x' after the JSON value"},
      {"[1,\n  \xE2\x80\x9Cx\xE2\x80\x9D]", "line 2, column 3: expected a JSON value, found '\xE2\x80\x9C'"},
      {"[\x01]", "line 1, column 2: expected a JSON value, found byte 0x01"},
  };
  for (const SyntaxErrorCase& error_case : cases) {
    const Result<Json> parsed = parse_json(error_case.text);
    ASSERT_FALSE(parsed.ok()) << "accepted: " << error_case.text;
    EXPECT_EQ(parsed.message().substr(0, error_case.expected_message.size()), error_case.expected_message)
        << "input: " << error_case.text << "\nfull message: " << parsed.message();
  }
}

TEST(JsonErrors, NestingUpToTheDepthLimitIsAcceptedOneMoreIsRefused) {
  const auto nested_arrays = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  EXPECT_TRUE(parse_json(nested_arrays(kMaxJsonDepth)).ok());
  const Result<Json> too_deep = parse_json(nested_arrays(kMaxJsonDepth + 1));
  ASSERT_FALSE(too_deep.ok());
  EXPECT_EQ(too_deep.message(), "line 1, column 257: arrays and objects nested deeper than 256 levels");

  std::string nested_objects;
  for (int i = 0; i <= kMaxJsonDepth; ++i) nested_objects += "{\"a\":";
  EXPECT_FALSE(parse_json(nested_objects).ok());
}

TEST(JsonErrors, HostileDepthDoesNotOverflowTheStack) {
  EXPECT_FALSE(parse_json(std::string(1000000, '[')).ok());
}

TEST(JsonErrors, ManyKeysAreCheckedForDuplicatesQuickly) {
  std::string text = "{";
  for (int i = 0; i < 100000; ++i) text += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":0";
  const Json json = parse_or_fail(text + "}");
  EXPECT_EQ(json.size(), 100000u);
  EXPECT_FALSE(parse_json(text + ",\"k99999\":1}").ok());
}

// Random damage to a valid document: the parser must refuse it or accept it, never crash or read out of
// bounds (the sanitizer build checks that), and whatever it accepts must survive a write and re-read.
TEST(JsonErrors, RandomDamageNeverCrashesTheParser) {
  const std::string original = R"({"name": "caf\u00e9 \uD83D\uDE00", "values": [0.1, -2e-5, 3, true, null],)"
                               R"( "nested": {"a": [[], {}, [1, [2, [3]]]], "b": "x\ny"}, "utf8": ")"
                               "\xC3\xA9\xE2\x82\xAC"
                               R"("})";
  ASSERT_TRUE(parse_json(original).ok());
  const std::string alphabet = "{}[],:\"\\u0123456789abcdefABCDEF.eE+- \n\t\xC3\xA9\xF0\x9F\xFF";
  std::mt19937 random(7);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string damaged = original;
    const int edits = 1 + static_cast<int>(random() % 6);
    for (int edit = 0; edit < edits && !damaged.empty(); ++edit) {
      const size_t offset = random() % damaged.size();
      const char replacement = alphabet[random() % alphabet.size()];
      switch (random() % 3) {
        case 0:
          damaged[offset] = replacement;
          break;
        case 1:
          damaged.erase(offset, 1 + random() % 4);
          break;
        case 2:
          damaged.insert(damaged.begin() + offset, replacement);
          break;
      }
    }
    const Result<Json> parsed = parse_json(damaged);
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.message().rfind("line ", 0), 0u) << parsed.message();
      continue;
    }
    const Result<Json> reparsed = parse_json(to_json(*parsed));
    ASSERT_TRUE(reparsed.ok()) << reparsed.message();
    // NaN never compares equal, and the damaged text cannot produce one; so deep equality must hold.
    EXPECT_EQ(*reparsed, *parsed) << damaged;
  }
}

// ---- Typed member reads

TEST(JsonTypedReads, ReturnTheValueOrAMessageNamingTheKey) {
  const Json config = parse_or_fail(
      R"({"learning_rate": 0.01, "epochs": 3, "name": "run", "shuffle": true, "bad_rate": "fast", "half": 2.5})");
  EXPECT_EQ(*get_number(config, "learning_rate"), 0.01);
  EXPECT_EQ(*get_integer(config, "epochs"), 3);
  EXPECT_EQ(*get_string(config, "name"), "run");
  EXPECT_EQ(*get_bool(config, "shuffle"), true);

  EXPECT_EQ(get_number(config, "bad_rate").message(), "'bad_rate' must be a number, got string");
  EXPECT_EQ(get_number(config, "momentum").message(), "missing 'momentum'");
  EXPECT_EQ(get_integer(config, "half").message(), "'half' must be an integer, got 2.5");
  EXPECT_EQ(get_string(config, "epochs").message(), "'epochs' must be a string, got number");
  EXPECT_EQ(get_bool(config, "name").message(), "'name' must be a boolean, got string");
  EXPECT_EQ(get_number(Json::array(), "learning_rate").message(),
            "expected an object with 'learning_rate', got array");
}

TEST(JsonTypedReads, IntegersMustBeExactInADouble) {
  EXPECT_EQ(*get_integer(parse_or_fail(R"({"n": -9007199254740992})"), "n"), -9007199254740992);
  EXPECT_FALSE(get_integer(parse_or_fail(R"({"n": 1e300})"), "n").ok());
  EXPECT_EQ(*get_integer(parse_or_fail(R"({"n": 1e3})"), "n"), 1000);
}

}  // namespace
}  // namespace qplay
