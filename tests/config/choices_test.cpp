// Every choice setting becomes its enum once, in config/; the names round-trip.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"

namespace mccache::config {
namespace {

using ::testing::HasSubstr;

std::string error_of(const std::string& text) {
  try {
    parse_config(text, "dc.json");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Choices, EveryNonDefaultName_BecomesItsEnum) {
  auto c = parse_config(R"({"datacenter": "dc1", "log": {"level": "debug"},
      "pool": {"servers": ["a:1"], "hash": "ketama_weighted"},
      "mcproxy": {"leases": {"delete_mode": "delete"}},
      "invalidator": {"source": {"dsn": "x", "on_slot_lost": "flush_region"},
                      "delivery": {"mode": "delete", "on_server_down": "skip"},
                      "truncate": "ignore"}})",
                        "dc.json");
  EXPECT_EQ(c.log.level, LogLevel::kDebug);
  EXPECT_EQ(c.pool.hash, HashMode::kKetamaWeighted);
  EXPECT_EQ(c.mcproxy->leases.delete_mode, DeleteMode::Remove);
  EXPECT_EQ(c.mcproxy->tls.min_version, TlsVersion::kTls12);
  EXPECT_EQ(c.invalidator->sources[0].on_slot_lost, SlotLostPolicy::kFlushRegion);
  EXPECT_EQ(c.invalidator->delivery.mode, DeleteMode::Remove);
  EXPECT_EQ(c.invalidator->delivery.on_server_down, ServerDownPolicy::kSkip);
  EXPECT_EQ(c.invalidator->truncate, TruncatePolicy::kIgnore);
}

TEST(Choices, Defaults_AreTheDocumentedOnes) {
  auto c = parse_config(R"({"datacenter": "dc1", "pool": {"servers": ["a:1"]}, "mcproxy": {},
      "invalidator": {"source": {"dsn": "x"}}})",
                        "dc.json");
  EXPECT_EQ(c.log.level, LogLevel::kInfo);
  EXPECT_EQ(c.mcproxy->leases.delete_mode, DeleteMode::Invalidate);
  EXPECT_EQ(c.invalidator->delivery.mode, DeleteMode::Invalidate);
  EXPECT_EQ(c.invalidator->truncate, TruncatePolicy::kFlushRegion);
}

// Every name maps to a distinct value whose name it is.
template <class E>
void expect_round_trip() {
  auto names = names_of(E{});
  for (size_t i = 0; i < names.size(); ++i) {
    auto value = from_name<E>(names[i]);
    ASSERT_TRUE(value) << names[i];
    EXPECT_EQ(static_cast<size_t>(*value), i);
    EXPECT_EQ(name_of(*value), names[i]);
  }
}

TEST(Choices, NamesRoundTrip) {
  expect_round_trip<LogLevel>();
  expect_round_trip<HashMode>();
  expect_round_trip<DeleteMode>();
  expect_round_trip<TlsVersion>();
  expect_round_trip<SlotLostPolicy>();
  expect_round_trip<ServerDownPolicy>();
  expect_round_trip<TruncatePolicy>();
  EXPECT_EQ(name_of(DeleteMode::Remove), "delete");
  EXPECT_EQ(name_of(LogLevel::kError), "error");
  EXPECT_EQ(from_name<TlsVersion>("1.3"), TlsVersion::kTls13);
  EXPECT_FALSE(from_name<HashMode>("md5"));
}

TEST(Choices, BadName_ListsTheNamesInOrder) {
  EXPECT_THAT(error_of(R"({"datacenter": "dc1", "pool": {"servers": ["a:1"]},
      "invalidator": {"source": {"dsn": "x"}, "truncate": "drop"}})"),
              HasSubstr("dc.json: invalidator.truncate: \"drop\" is not one of \"flush_region\", "
                        "\"ignore\", \"halt\""));
  EXPECT_THAT(error_of(R"({"datacenter": "dc1", "log": {"level": 3},
      "pool": {"servers": ["a:1"]}})"),
              HasSubstr("dc.json: log.level: expected a string, found a number"));
}

TEST(NameFields, BadDatacenterOrSlot_SaysWhichCharactersAreAllowed) {
  EXPECT_EQ(error_of(R"({"datacenter": "DC-1", "pool": {"servers": ["a:1"]}})"),
            "dc.json: datacenter: \"DC-1\": use lower-case letters, digits and '_' (it names the "
            "replication slot)");
  EXPECT_THAT(error_of(R"({"datacenter": "dc1", "pool": {"servers": ["a:1"]},
      "invalidator": {"source": {"dsn": "x", "slot": "my-slot"}}})"),
              HasSubstr("invalidator.source.slot: \"my-slot\": use lower-case letters, digits and "
                        "'_'"));
}

TEST(NameFields, EmptySlot_IsRefusedRatherThanNamingNoSlot) {
  EXPECT_EQ(error_of(R"({"datacenter": "dc1", "pool": {"servers": ["a:1"]},
      "invalidator": {"source": {"dsn": "x", "slot": ""}}})"),
            "dc.json: invalidator.source.slot: must not be empty");
}

}  // namespace
}  // namespace mccache::config
