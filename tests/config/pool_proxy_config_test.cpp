// The pool's gutter, mcproxy's shutdown_timeout_ms and tls: defaults, good values, and bad ones
// refused with the file, the JSON path and the fix.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"

namespace mccache::config {
namespace {

using ::testing::HasSubstr;

// A whole file around a "pool" body and an "mcproxy" body.
std::string file_with(const std::string& pool, const std::string& mcproxy = "") {
  return R"({"datacenter": "dc1", "pool": {)" + pool + R"(}, "mcproxy": {)" + mcproxy + "}}";
}

constexpr const char* kServers = R"("servers": ["127.0.0.1:11211", "127.0.0.1:11212"])";

std::string error_of(const std::string& text) {
  try {
    parse_config(text, "dc1.json", Role::kProxy);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(GutterConfig, Absent_IsOff) {
  auto c = parse_config(file_with(kServers), "dc1.json");
  EXPECT_FALSE(c.pool.gutter.enabled());
  EXPECT_TRUE(c.pool.gutter.servers.empty());
  EXPECT_EQ(c.pool.gutter.ttl_s, 10);
}

TEST(GutterConfig, EmptyServers_IsOff) {
  auto c =
      parse_config(file_with(std::string(kServers) + R"(, "gutter": {"servers": []})"), "dc1.json");
  EXPECT_FALSE(c.pool.gutter.enabled());
}

TEST(GutterConfig, ServersAndTtl_AreRead) {
  auto c = parse_config(
      file_with(std::string(kServers) +
                R"(, "hash": "ketama", "gutter": {"servers": ["127.0.0.1:11221", "[::1]:11222"],
                   "ttl_s": 5})"),
      "dc1.json");
  ASSERT_TRUE(c.pool.gutter.enabled());
  ASSERT_EQ(c.pool.gutter.servers.size(), 2u);
  EXPECT_EQ(c.pool.gutter.servers[0].str(), "127.0.0.1:11221");
  EXPECT_EQ(c.pool.gutter.servers[1].host, "::1");
  EXPECT_EQ(c.pool.gutter.ttl_s, 5);
  // The pool itself is unchanged by the gutter.
  EXPECT_EQ(c.pool.servers.size(), 2u);
}

TEST(GutterConfig, BadServer_NamesItsIndex) {
  EXPECT_EQ(error_of(file_with(std::string(kServers) +
                               R"(, "gutter": {"servers": ["127.0.0.1:11221", "nohost"]})")),
            "dc1.json: pool.gutter.servers[1]: \"nohost\" is not host:port (e.g. "
            "\"127.0.0.1:11221\")");
}

TEST(GutterConfig, ServerListedTwice_IsRefused) {
  EXPECT_EQ(error_of(file_with(std::string(kServers) + R"(, "gutter": {"servers":
                               ["127.0.0.1:11221", "127.0.0.1:11221"]})")),
            "dc1.json: pool.gutter.servers[1]: \"127.0.0.1:11221\" is listed twice; list each "
            "server once");
}

TEST(GutterConfig, PoolServerAsGutter_IsRefused) {
  auto e = error_of(
      file_with(std::string(kServers) + R"(, "gutter": {"servers": ["127.0.0.1:11212"]})"));
  EXPECT_THAT(e, HasSubstr("dc1.json: pool.gutter.servers[0]: \"127.0.0.1:11212\" is also in "
                           "pool.servers; a gutter must be separate memcached servers"));
}

TEST(GutterConfig, TtlOutOfRange_SaysTheRange) {
  EXPECT_EQ(error_of(file_with(std::string(kServers) +
                               R"(, "gutter": {"servers": ["127.0.0.1:11221"], "ttl_s": 0})")),
            "dc1.json: pool.gutter.ttl_s: 0 is out of range; use 1..86400");
  EXPECT_EQ(error_of(file_with(std::string(kServers) +
                               R"(, "gutter": {"servers": ["127.0.0.1:11221"], "ttl_s": "10"})")),
            "dc1.json: pool.gutter.ttl_s: expected an integer, found a string");
}

TEST(GutterConfig, UnknownField_SuggestsTheNearOne) {
  EXPECT_EQ(error_of(file_with(std::string(kServers) +
                               R"(, "gutter": {"servers": ["127.0.0.1:11221"], "ttl": 10})")),
            "dc1.json: pool.gutter.ttl: unknown field; did you mean \"ttl_s\"?");
}

TEST(GutterConfig, NotAnObject_IsRefused) {
  EXPECT_EQ(error_of(file_with(std::string(kServers) + R"(, "gutter": ["127.0.0.1:11221"])")),
            "dc1.json: pool.gutter: expected an object, found an array");
  EXPECT_EQ(error_of(file_with(std::string(kServers) + R"(, "gutter": {"servers": "x:1"})")),
            "dc1.json: pool.gutter.servers: expected an array of strings, found a string");
}

TEST(ProxyShutdownConfig, DefaultsToFiveSeconds) {
  auto c = parse_config(file_with(kServers), "dc1.json");
  ASSERT_TRUE(c.mcproxy);
  EXPECT_EQ(c.mcproxy->shutdown_timeout_ms, 5000);
}

TEST(ProxyShutdownConfig, ZeroAndLargeValues_AreAccepted) {
  EXPECT_EQ(parse_config(file_with(kServers, R"("shutdown_timeout_ms": 0)"), "dc1.json")
                .mcproxy->shutdown_timeout_ms,
            0);
  EXPECT_EQ(parse_config(file_with(kServers, R"("shutdown_timeout_ms": 600000)"), "dc1.json")
                .mcproxy->shutdown_timeout_ms,
            600000);
}

TEST(ProxyShutdownConfig, BadValues_AreRefusedWithTheRange) {
  EXPECT_EQ(error_of(file_with(kServers, R"("shutdown_timeout_ms": -1)")),
            "dc1.json: mcproxy.shutdown_timeout_ms: -1 is out of range; use 0..600000");
  EXPECT_EQ(error_of(file_with(kServers, R"("shutdown_timeout_ms": 1.5)")),
            "dc1.json: mcproxy.shutdown_timeout_ms: expected an integer, found a number");
  EXPECT_EQ(error_of(file_with(kServers, R"("shutdown_timout_ms": 100)")),
            "dc1.json: mcproxy.shutdown_timout_ms: unknown field; did you mean "
            "\"shutdown_timeout_ms\"?");
}

TEST(TlsConfig, AbsentOrNull_IsOff) {
  EXPECT_FALSE(parse_config(file_with(kServers), "dc1.json", Role::kProxy).mcproxy->tls.enabled());
  EXPECT_FALSE(parse_config(file_with(kServers, R"("tls": null)"), "dc1.json", Role::kProxy)
                   .mcproxy->tls.enabled());
}

TEST(TlsConfig, ReadableFiles_AreTaken) {
  // Any readable file passes the config check; OpenSSL loads them at start-up.
  auto c = parse_config(file_with(kServers, R"("tls": {"cert_file": "/etc/passwd",
      "key_file": "/etc/passwd", "min_version": "1.3"})"),
                        "dc1.json", Role::kProxy);
  EXPECT_TRUE(c.mcproxy->tls.enabled());
  EXPECT_EQ(c.mcproxy->tls.min_version, TlsVersion::kTls13);
  EXPECT_EQ(c.mcproxy->tls.ca_file, "");
}

TEST(TlsConfig, MissingOrUnreadableFiles_NameTheField) {
  EXPECT_THAT(error_of(file_with(kServers, R"("tls": {"cert_file": "/etc/passwd"})")),
              HasSubstr("mcproxy.tls.key_file"));
  EXPECT_THAT(error_of(file_with(kServers, R"("tls": {"cert_file": "/nonexistent/server.crt",
      "key_file": "/etc/passwd"})")),
              HasSubstr("mcproxy.tls.cert_file: \"/nonexistent/server.crt\" cannot be read"));
  EXPECT_THAT(error_of(file_with(kServers, R"("tls": {"cert_file": "/etc/passwd",
      "key_file": "/etc/passwd", "min_version": "1.0"})")),
              HasSubstr("mcproxy.tls.min_version"));
}

}  // namespace
}  // namespace mccache::config
