// The config loader: good files become typed structs; bad ones name file, path and fix.
#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

namespace mccache::config {
namespace {

using ::testing::HasSubstr;

constexpr const char* kMinimal = R"({
  "datacenter": "dc2",
  "pool": {"servers": ["127.0.0.1:11211"]},
  "mcproxy": {},
  "invalidator": {"source": {"dsn": "host=127.0.0.1"}}
})";

// Returns the ConfigError message, or "" if the text loaded.
std::string error_of(const std::string& text, Role role = Role::kAny) {
  try {
    parse_config(text, "dc.json", role);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, Minimal_FillsDocumentedDefaults) {
  auto c = parse_config(kMinimal, "dc.json");
  EXPECT_EQ(c.datacenter, "dc2");
  ASSERT_EQ(c.pool.servers.size(), 1u);
  EXPECT_EQ(c.pool.servers[0].str(), "127.0.0.1:11211");
  EXPECT_EQ(c.pool.hash, HashMode::kKetama);
  ASSERT_TRUE(c.mcproxy);
  EXPECT_EQ(c.mcproxy->listen.str(), "127.0.0.1:11311");
  EXPECT_FALSE(c.mcproxy->admin_commands);
  EXPECT_EQ(c.mcproxy->limits.max_key_bytes, 250);
  EXPECT_EQ(c.mcproxy->limits.max_value_bytes, 1 << 20);
  EXPECT_EQ(c.mcproxy->leases.lease_ttl_s, 10);
  ASSERT_TRUE(c.invalidator);
  EXPECT_EQ(c.invalidator->sources[0].slot, "mcinval_dc2");  // derived from the datacenter
  EXPECT_FALSE(c.invalidator->sources[0].wait_for_replay);
  EXPECT_EQ(c.invalidator->delivery.on_server_down, ServerDownPolicy::kHold);
  EXPECT_EQ(c.invalidator->delivery.max_held_keys, 1000000);
}

TEST(Config, ExampleFile_LoadsEveryField) {
  auto c = load_config(MCCACHE_SOURCE_DIR "/examples/config/dc1.json");
  EXPECT_EQ(c.pool.servers.size(), 2u);
  ASSERT_TRUE(c.mcproxy && c.invalidator);
  ASSERT_TRUE(c.mcproxy->metrics_listen);
  EXPECT_EQ(c.mcproxy->metrics_listen->port, 9311);
  EXPECT_EQ(c.invalidator->tables.at("public.users"),
            (std::vector<std::string>{"user:{id}", "user_by_name:{username}"}));
}

TEST(Config, SyntaxError_NamesLineAndColumn) {
  auto e = error_of("{\n  \"datacenter\": \"dc1\",\n  \"pool\": {\"servers\": [1 2]}\n}");
  EXPECT_THAT(e, HasSubstr("dc.json:3:"));
  EXPECT_THAT(e, HasSubstr("JSON syntax error"));
}

TEST(Config, TrailingGarbage_IsASyntaxError) {
  EXPECT_THAT(error_of(std::string(kMinimal) + " x"), HasSubstr("JSON syntax error"));
}

TEST(Config, CommentsAndTrailingCommas_AreAccepted) {
  EXPECT_EQ(error_of("// dc\n{\"datacenter\": \"dc1\", \"pool\": {\"servers\": "
                     "[\"127.0.0.1:1\",],},}"),
            "");
}

TEST(Config, UnknownField_SuggestsTheNearName) {
  auto e = error_of(R"({"datacenter": "dc1", "pool": {"servers": ["a:1"]},
                        "mcproxy": {"lisen": "127.0.0.1:1"}})");
  EXPECT_THAT(e, HasSubstr("dc.json: mcproxy.lisen: unknown field; did you mean \"listen\"?"));
}

TEST(Config, UnknownField_FarFromAnyName_SaysRemoveIt) {
  auto e = error_of(R"({"datacenter": "dc1", "pool": {"servers": ["a:1"]}, "zzzzzz": 1})");
  EXPECT_THAT(e, HasSubstr("zzzzzz: unknown field; remove it"));
}

TEST(Config, WrongType_NamesPathAndExpectedType) {
  auto e = error_of(R"({"datacenter": "dc1", "pool": {"servers": ["a:1"]},
                        "mcproxy": {"threads": "two"}})");
  EXPECT_THAT(e, HasSubstr("mcproxy.threads: expected an integer, found a string"));
}

TEST(Config, OutOfRange_GivesTheRange) {
  auto e = error_of(R"({"datacenter": "dc1", "pool": {"servers": ["a:1"]},
                        "mcproxy": {"limits": {"max_key_bytes": 300}}})");
  EXPECT_THAT(e, HasSubstr("mcproxy.limits.max_key_bytes: 300 is out of range; use 1..250"));
}

TEST(Config, BadServer_NamesItsIndex) {
  auto e = error_of(R"({"datacenter": "dc1", "pool": {"servers": ["127.0.0.1:1", "nohost"]}})");
  EXPECT_THAT(e, HasSubstr("pool.servers[1]: \"nohost\" is not host:port"));
}

TEST(Config, DuplicateServer_IsRefused) {
  auto e = error_of(R"({"datacenter": "dc1", "pool": {"servers": ["h:1", "h:1"]}})");
  EXPECT_THAT(e, HasSubstr("listed twice"));
}

TEST(Config, EmptyPool_IsRefused) {
  auto e = error_of(R"({"datacenter": "dc1", "pool": {"servers": []}})");
  EXPECT_THAT(e, HasSubstr("pool.servers: needs at least one memcached server"));
}

TEST(Config, MissingDatacenter_SaysAddIt) {
  EXPECT_THAT(error_of(R"({"pool": {"servers": ["a:1"]}})"), HasSubstr("datacenter: is required"));
}

TEST(Config, BadChoice_ListsTheChoices) {
  auto e = error_of(R"({"datacenter": "dc1", "pool": {"servers": ["a:1"]},
      "invalidator": {"source": {"dsn": "x"}, "delivery": {"on_server_down": "drop"}}})");
  EXPECT_THAT(e, HasSubstr("invalidator.delivery.on_server_down: \"drop\" is not one of "
                           "\"hold\", \"skip\""));
}

TEST(Config, MaxHeldKeys_OutOfRange_NamesTheRange) {
  auto e = error_of(R"({"datacenter": "dc1", "pool": {"servers": ["a:1"]},
      "invalidator": {"source": {"dsn": "x"}, "delivery": {"max_held_keys": 0}}})");
  EXPECT_THAT(e,
              HasSubstr("invalidator.delivery.max_held_keys: 0 is out of range; use 1..100000000"));
}

TEST(Config, TableName_MustBeSchemaQualified) {
  auto e = error_of(R"({"datacenter": "dc1", "pool": {"servers": ["a:1"]},
      "invalidator": {"source": {"dsn": "x"}, "tables": {"users": ["u:{id}"]}}})");
  EXPECT_THAT(e, HasSubstr("invalidator.tables.users: table must be written \"schema.table\""));
}

TEST(Config, BrokenTemplate_NamesTableAndIndex) {
  auto e = error_of(R"({"datacenter": "dc1", "pool": {"servers": ["a:1"]},
      "invalidator": {"source": {"dsn": "x"},
                      "tables": {"public.users": ["user:{id}", "user:{name"]}}})");
  EXPECT_THAT(e, HasSubstr("invalidator.tables.\"public.users\"[1]: template \"user:{name\" has "
                           "an unclosed '{'"));
}

TEST(Config, RoleWithoutItsSection_IsRefused) {
  auto e = error_of(R"({"datacenter": "dc1", "pool": {"servers": ["a:1"]}})", Role::kInvalidator);
  EXPECT_THAT(e, HasSubstr("invalidator: is required to run the invalidator"));
  EXPECT_EQ(error_of(R"({"datacenter": "dc1", "pool": {"servers": ["a:1"]}})", Role::kAny), "");
}

TEST(Config, PipelineLimitBelowValueLimit_IsRefused) {
  auto e = error_of(R"({"datacenter": "dc1", "pool": {"servers": ["a:1"]},
      "mcproxy": {"limits": {"max_value_bytes": 2000000, "max_pipeline_bytes": 1000000}}})");
  EXPECT_THAT(e, HasSubstr("max_pipeline_bytes: must be at least max_value_bytes"));
}

TEST(Config, MissingFile_SaysSo) {
  try {
    load_config("/nonexistent/dc.json");
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("/nonexistent/dc.json: cannot read the config file"));
  }
}

TEST(HostPort, ParsesV4V6AndRejectsJunk) {
  EXPECT_EQ(parse_host_port("127.0.0.1:11211")->port, 11211);
  EXPECT_EQ(parse_host_port("[::1]:80")->host, "::1");
  EXPECT_FALSE(parse_host_port("host"));
  EXPECT_FALSE(parse_host_port("host:0"));
  EXPECT_FALSE(parse_host_port("host:70000"));
  EXPECT_FALSE(parse_host_port("host:12x"));
  EXPECT_FALSE(parse_host_port(":1"));
  EXPECT_FALSE(parse_host_port("::1:80"));
}

}  // namespace
}  // namespace mccache::config

// Invalidator operations fields: standby retry, slot-loss policy and state file, shutdown
// deadline, several sources (sharded primaries).
namespace mccache::config {
namespace {

std::string invalidator_config(const std::string& source_extra, const std::string& extra = "") {
  return R"({"datacenter": "dc1", "pool": {"servers": ["a:1"]},
      "invalidator": {"source": {"dsn": "x")" +
         source_extra + "}" + extra + "}}";
}

TEST(Config, InvalidatorOperationsFields_HaveDocumentedDefaults) {
  auto c = parse_config(invalidator_config(""), "dc.json");
  EXPECT_EQ(c.invalidator->sources[0].standby_retry_ms, 1000);
  EXPECT_EQ(c.invalidator->sources[0].on_slot_lost, SlotLostPolicy::kHalt);
  EXPECT_EQ(c.invalidator->sources[0].state_file, "");
  EXPECT_EQ(c.invalidator->shutdown_timeout_ms, 5000);
  c = parse_config(invalidator_config(R"(, "standby_retry_ms": 250, "on_slot_lost": "flush_region",
      "state_file": "/var/lib/mcinval/dc1.state")",
                                      R"(, "shutdown_timeout_ms": 0)"),
                   "dc.json");
  EXPECT_EQ(c.invalidator->sources[0].standby_retry_ms, 250);
  EXPECT_EQ(c.invalidator->sources[0].on_slot_lost, SlotLostPolicy::kFlushRegion);
  EXPECT_EQ(c.invalidator->sources[0].state_file, "/var/lib/mcinval/dc1.state");
  EXPECT_EQ(c.invalidator->shutdown_timeout_ms, 0);
}

TEST(Config, StandbyRetryOutOfRange_IsRefused) {
  EXPECT_THAT(error_of(invalidator_config(R"(, "standby_retry_ms": 0)")),
              HasSubstr("invalidator.source.standby_retry_ms"));
}

TEST(Config, UnknownSlotLostPolicy_ListsTheChoices) {
  EXPECT_THAT(error_of(invalidator_config(R"(, "on_slot_lost": "recreate")")),
              HasSubstr("invalidator.source.on_slot_lost: \"recreate\" is not one of \"halt\", "
                        "\"flush_region\""));
}

TEST(Config, StateFileNotAString_IsRefused) {
  EXPECT_THAT(error_of(invalidator_config(R"(, "state_file": 3)")),
              HasSubstr("invalidator.source.state_file"));
}

TEST(Config, NegativeShutdownTimeout_IsRefused) {
  EXPECT_THAT(error_of(invalidator_config("", R"(, "shutdown_timeout_ms": -1)")),
              HasSubstr("invalidator.shutdown_timeout_ms"));
}

std::string sharded(const std::string& sources, const std::string& extra = "") {
  return R"({"datacenter": "dc2", "pool": {"servers": ["a:1"]},
      "invalidator": {"sources": )" +
         sources + extra + "}}";
}

TEST(Config, SeveralSources_EachWithItsNameSlotAndReplica) {
  auto c = parse_config(sharded(R"([
      {"name": "users", "dsn": "host=p1", "wait_for_replay": "host=r1"},
      {"name": "posts", "dsn": "host=p2", "slot": "custom"}])"),
                        "dc.json");
  ASSERT_EQ(c.invalidator->sources.size(), 2u);
  EXPECT_EQ(c.invalidator->sources[0].name, "users");
  EXPECT_EQ(c.invalidator->sources[0].slot, "mcinval_dc2_users");
  EXPECT_EQ(c.invalidator->sources[0].wait_for_replay, std::optional<std::string>("host=r1"));
  EXPECT_EQ(c.invalidator->sources[1].dsn, "host=p2");
  EXPECT_EQ(c.invalidator->sources[1].slot, "custom");
  EXPECT_FALSE(c.invalidator->sources[1].wait_for_replay);
}

TEST(Config, SingleSource_IsUnnamedAndTakesTheSectionsReplica) {
  auto c = parse_config(invalidator_config("", R"(, "wait_for_replay": "host=r")"), "dc.json");
  ASSERT_EQ(c.invalidator->sources.size(), 1u);
  EXPECT_EQ(c.invalidator->sources[0].name, "");
  EXPECT_EQ(c.invalidator->sources[0].wait_for_replay, std::optional<std::string>("host=r"));
}

TEST(Config, SourceAndSourcesTogether_OrNeither_AreRefused) {
  EXPECT_THAT(error_of(R"({"datacenter": "dc1", "pool": {"servers": ["a:1"]},
      "invalidator": {"source": {"dsn": "x"}, "sources": [{"name": "a", "dsn": "y"}]}})"),
              HasSubstr("dc.json: invalidator.sources: give either \"source\" (one primary) or "
                        "\"sources\""));
  EXPECT_THAT(error_of(R"({"datacenter": "dc1", "pool": {"servers": ["a:1"]},
      "invalidator": {"tables": {}}})"),
              HasSubstr("invalidator.source: give either"));
}

TEST(Config, SourcesWithDuplicateOrMissingNames_AreRefusedWithTheirIndex) {
  EXPECT_THAT(error_of(sharded(R"([{"name": "a", "dsn": "x"}, {"name": "a", "dsn": "y"}])")),
              HasSubstr("invalidator.sources[1].name: \"a\" is used by two sources"));
  EXPECT_THAT(error_of(sharded(R"([{"dsn": "x"}])")), HasSubstr("invalidator.sources[0].name"));
  EXPECT_THAT(error_of(sharded(R"([{"name": "Bad-Name", "dsn": "x"}])")),
              HasSubstr("use lower-case letters, digits and '_'"));
  EXPECT_THAT(error_of(sharded("[]")), HasSubstr("invalidator.sources: expected a list"));
}

TEST(Config, SectionLevelReplicaWithSources_PointsToThePerSourceField) {
  EXPECT_THAT(error_of(sharded(R"([{"name": "a", "dsn": "x"}])", R"(, "wait_for_replay": "r")")),
              HasSubstr("give each source its own wait_for_replay"));
}

}  // namespace
}  // namespace mccache::config
