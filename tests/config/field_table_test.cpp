// The field-table reader on a made-up section: what each row kind accepts, refuses and shows.
#include "config/field_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>

namespace mccache::config {
namespace {

using ::testing::HasSubstr;

struct Inner {
  int weight = 1;
};

struct Sample {
  std::string name;
  int64_t size = 4096;
  bool on = true;
  HashMode hash = HashMode::kKetama;
  std::string label = "x";
  std::vector<HostPort> servers;
  Inner inner;
  int custom_seen = 0;
};

void check_inner(JsonObject& o, const Inner& i) {
  if (i.weight == 7) o.fail("weight", "7 is unlucky");
}

void read_count(const FieldInfo& f, JsonObject& o, Sample& s) {
  if (const auto* v = o.raw(f.name))
    s.custom_seen = v->IsArray() ? static_cast<int>(v->Size()) : -1;
}

constexpr Field<Inner> kInnerFields[] = {
    field<&Inner::weight>({.name = "weight", .min = 1, .max = 9, .doc = "how heavy"}),
};

constexpr Field<Sample> kSampleFields[] = {
    field<&Sample::name>(
        {.name = "name", .type = Type::kName, .required = true, .hint = "a label"}),
    field<&Sample::size>({.name = "size", .min = 1, .max = int64_t{1} << 32, .doc = "bytes"}),
    field<&Sample::on>({.name = "on"}),
    field<&Sample::hash>({.name = "hash"}),
    field<&Sample::label>({.name = "label", .not_empty = true}),
    field<&Sample::servers>({.name = "servers", .hint = "10.0.0.1:1"}),
    object<&Sample::inner, kInnerFields, &check_inner>({.name = "inner", .nullable = true}),
    custom<Sample>({.name = "items", .type_text = "list", .default_text = "`[]`"}, &read_count),
};

// Reads `json` with the sample table; "" when it loaded, else the error.
std::string read(const std::string& json, Sample& out) {
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  try {
    JsonObject o(doc, "s", "f.json");
    read_fields(kSampleFields, o, out);
    o.finish();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string error_of(const std::string& json) {
  Sample s;
  return read(json, s);
}

TEST(FieldTable, AbsentFields_KeepTheMembersInitialValues) {
  Sample s;
  ASSERT_EQ(read(R"({"name": "a"})", s), "");
  EXPECT_EQ(s.size, 4096);
  EXPECT_TRUE(s.on);
  EXPECT_EQ(s.hash, HashMode::kKetama);
  EXPECT_EQ(s.label, "x");
  EXPECT_EQ(s.inner.weight, 1);
  EXPECT_EQ(s.custom_seen, 0);
}

TEST(FieldTable, GivenFields_FillTheirMembers) {
  Sample s;
  ASSERT_EQ(read(R"({"name": "a_1", "size": 4294967296, "on": false, "hash": "ketama_weighted",
                     "label": "y", "servers": ["h:1", "[::1]:2"], "inner": {"weight": 9},
                     "items": [1, 2, 3]})",
                 s),
            "");
  EXPECT_EQ(s.name, "a_1");
  EXPECT_EQ(s.size, int64_t{1} << 32);
  EXPECT_FALSE(s.on);
  EXPECT_EQ(s.hash, HashMode::kKetamaWeighted);
  EXPECT_EQ(s.label, "y");
  ASSERT_EQ(s.servers.size(), 2u);
  EXPECT_EQ(s.servers[1].host, "::1");
  EXPECT_EQ(s.inner.weight, 9);
  EXPECT_EQ(s.custom_seen, 3);
}

TEST(FieldTable, BadValues_NameThePathAndTheFix) {
  EXPECT_EQ(error_of(R"({})"), "f.json: s.name: is required (a string); add it");
  EXPECT_EQ(error_of(R"({"name": "A"})"),
            "f.json: s.name: \"A\": use lower-case letters, digits and '_' (a label)");
  EXPECT_EQ(error_of(R"({"name": "a", "size": 0})"),
            "f.json: s.size: 0 is out of range; use 1..4294967296");
  EXPECT_EQ(error_of(R"({"name": "a", "label": ""})"), "f.json: s.label: must not be empty");
  EXPECT_EQ(error_of(R"({"name": "a", "hash": "md5"})"),
            "f.json: s.hash: \"md5\" is not one of \"ketama\", \"ketama_weighted\"");
  EXPECT_EQ(error_of(R"({"name": "a", "servers": ["h:1", "h"]})"),
            "f.json: s.servers[1]: \"h\" is not host:port (e.g. \"10.0.0.1:1\")");
  EXPECT_EQ(error_of(R"({"name": "a", "inner": {"weight": 7}})"),
            "f.json: s.inner.weight: 7 is unlucky");
  EXPECT_EQ(error_of(R"({"name": "a", "inner": {"wieght": 2}})"),
            "f.json: s.inner.wieght: unknown field; did you mean \"weight\"?");
}

TEST(FieldTable, UnknownField_IsSuggestedFromTheTableEvenWhenNothingElseIsGiven) {
  EXPECT_EQ(error_of(R"({"name": "a", "lable": "y"})"),
            "f.json: s.lable: unknown field; did you mean \"label\"?");
}

TEST(FieldTable, NullableObject_NullMeansAbsent) {
  Sample s;
  EXPECT_EQ(read(R"({"name": "a", "inner": null})", s), "");
  EXPECT_EQ(s.inner.weight, 1);
}

TEST(FieldTable, Docs_ListNestedFieldsUnderTheirPrefix) {
  auto rows = docs_of(kSampleFields);
  ASSERT_EQ(rows.size(), 8u);
  EXPECT_EQ(rows[0].name, "name");
  EXPECT_EQ(rows[0].type, "string of `a-z` `0-9` `_`, required");
  EXPECT_EQ(rows[0].default_value, "");
  EXPECT_EQ(rows[1].type, "1..2^32");
  EXPECT_EQ(rows[1].default_value, "4096");
  EXPECT_EQ(rows[1].doc, "bytes");
  EXPECT_EQ(rows[2].default_value, "`true`");
  EXPECT_EQ(rows[3].type, "`ketama` `ketama_weighted`");
  EXPECT_EQ(rows[3].default_value, "`ketama`");
  EXPECT_EQ(rows[4].default_value, "`x`");
  EXPECT_EQ(rows[5].default_value, "`[]`");
  EXPECT_EQ(rows[6].name, "inner.weight");
  EXPECT_EQ(rows[6].type, "1..9");
  EXPECT_EQ(rows[7].type, "list");
  EXPECT_EQ(rows[7].default_value, "`[]`");
}

}  // namespace
}  // namespace mccache::config
