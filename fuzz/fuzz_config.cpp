// Fuzzes the config loader: whatever the text, parse_config either returns a config or throws
// ConfigError with a message naming the file. Any other exception (std::out_of_range from a stray
// .at(), std::bad_alloc from a huge reserve, ...) or a sanitizer report is a bug.
#include <cstdio>
#include <exception>
#include <string>

#include "config/config.h"
#include "fuzz/fuzz_check.h"

namespace {

using namespace mccache::config;

bool parses(std::string_view text, Role role) {
  try {
    DatacenterConfig c = parse_config(text, "fuzz.json", role);
    FUZZ_CHECK(c.file == "fuzz.json", "config remembers its file");
    FUZZ_CHECK(!c.datacenter.empty(), "a config names its datacenter");
    FUZZ_CHECK(role != Role::kProxy || c.mcproxy, "proxy role has its section");
    FUZZ_CHECK(role != Role::kInvalidator || c.invalidator, "invalidator role has its section");
    return true;
  } catch (const ConfigError& e) {
    std::string_view what = e.what();
    FUZZ_CHECK(what.starts_with("fuzz.json"), "ConfigError names the file");
    FUZZ_CHECK(what.size() > std::string_view("fuzz.json: ").size(), "ConfigError says what");
    return false;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parse_config threw something other than ConfigError: %s\n", e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "parse_config threw a non-std exception\n");
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (parses(text, Role::kAny)) {
    parses(text, Role::kProxy);
    parses(text, Role::kInvalidator);
  }
  return 0;
}
