// The daemons' --check-config, --version and --help, run as real processes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>

namespace {

using ::testing::HasSubstr;

struct Run {
  int exit_code;
  std::string output;  // stdout and stderr together
};

Run run(const std::string& command) {
  Run r{-1, ""};
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string write_temp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

class CheckConfig : public ::testing::TestWithParam<std::string> {
 protected:
  std::string bin() const { return std::string(MCCACHE_BIN_DIR) + "/" + GetParam(); }
};

TEST_P(CheckConfig, GoodFile_ExitsZero) {
  auto r = run(bin() + " --check-config --config " MCCACHE_SOURCE_DIR "/examples/config/dc1.json");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("OK"));
}

TEST_P(CheckConfig, BrokenFile_PrintsPathAndFixAndExitsOne) {
  auto path = write_temp("broken.json", R"({"datacenter": "dc1",
    "pool": {"servers": ["127.0.0.1:11211"]},
    "mcproxy": {"backend": {"request_timeout_ms": -5}},
    "invalidator": {"source": {"dsn": "host=x"}}})");
  auto r = run(bin() + " --check-config --config " + path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr(path + ": mcproxy.backend.request_timeout_ms: -5 is out of "
                                         "range; use 1..600000"));
}

TEST_P(CheckConfig, SyntaxError_PrintsLineColumn) {
  auto path = write_temp("syntax.json", "{\n\"datacenter\": \"dc1\",\n\"pool\": {\n}\n,,}");
  auto r = run(bin() + " --check-config --config " + path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr(path + ":5:"));
}

TEST_P(CheckConfig, MissingConfigFlag_ExitsOne) {
  auto r = run(bin() + " --check-config");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("--config FILE is required"));
}

TEST_P(CheckConfig, VersionAndHelp_ExitZero) {
  auto v = run(bin() + " --version");
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_THAT(v.output, HasSubstr(GetParam() + " 0."));
  auto h = run(bin() + " --help");
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_THAT(h.output, HasSubstr("--check-config"));
}

INSTANTIATE_TEST_SUITE_P(Daemons, CheckConfig, ::testing::Values("mcproxy", "invalidator"));

}  // namespace
