// docs/config.md's field tables against the parser's own tables: a field added, renamed, or given
// a new type, range or default in code fails here until the page says the same.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace mccache::config {
namespace {

struct PageRow {
  std::string name;
  std::string type;
  std::string default_value;
};

std::string trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return std::string(s);
}

// Cells 1-3 of "| `name` | type | default | meaning |", with the backticks around the name gone.
PageRow parse_row(std::string_view line) {
  std::vector<std::string> cells;
  size_t start = 1;
  for (size_t bar = line.find('|', start); bar != std::string_view::npos && cells.size() < 3;
       bar = line.find('|', start)) {
    cells.push_back(trim(line.substr(start, bar - start)));
    start = bar + 1;
  }
  cells.resize(3);
  auto& name = cells[0];
  if (name.size() >= 2 && name.front() == '`' && name.back() == '`')
    name = name.substr(1, name.size() - 2);
  return {cells[0], cells[1], cells[2]};
}

// The body rows of the first table after the line "## <heading>"; nullopt without that heading.
std::optional<std::vector<PageRow>> table_under(const std::string& page,
                                                const std::string& heading) {
  std::istringstream in(page);
  std::string line;
  while (std::getline(in, line) && line != "## " + heading) {
  }
  if (!in) return std::nullopt;
  std::vector<PageRow> rows;
  bool in_table = false;
  size_t header_lines = 0;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) break;
    bool table_line = !line.empty() && line.front() == '|';
    if (!table_line && in_table) break;
    if (!table_line) continue;
    in_table = true;
    if (header_lines < 2) {  // "| field | type | ..." and "| --- | ..."
      ++header_lines;
      continue;
    }
    rows.push_back(parse_row(line));
  }
  return rows;
}

std::string as_row(const FieldDoc& f) {
  return "| `" + f.name + "` | " + f.type + " | " + f.default_value + " | " + std::string(f.doc) +
         " |";
}

// One line per disagreement between the page and the code; empty when they agree.
std::vector<std::string> differences(const std::string& page,
                                     const std::vector<SectionDocs>& code) {
  std::vector<std::string> out;
  for (const auto& section : code) {
    auto where = "docs/config.md, " + section.heading + ": ";
    auto rows = table_under(page, section.heading);
    if (!rows) {
      out.push_back(where + "no \"## " + section.heading + "\" heading");
      continue;
    }
    std::map<std::string, PageRow> on_page;
    for (const auto& r : *rows) on_page[r.name] = r;
    std::vector<std::string> code_order;
    for (const auto& f : section.fields) {
      code_order.push_back(f.name);
      auto it = on_page.find(f.name);
      if (it == on_page.end()) {
        out.push_back(where + "`" + f.name + "` is missing; add " + as_row(f));
        continue;
      }
      if (it->second.type != f.type)
        out.push_back(where + "`" + f.name + "` has type \"" + it->second.type +
                      "\"; the code says \"" + f.type + "\"");
      if (it->second.default_value != f.default_value)
        out.push_back(where + "`" + f.name + "` has default \"" + it->second.default_value +
                      "\"; the code says \"" + f.default_value + "\"");
      on_page.erase(it);
    }
    for (const auto& [name, row] : on_page)
      out.push_back(where + "`" + name + "` is not a field; remove it or add it to the code");
    std::vector<std::string> page_order;
    for (const auto& r : *rows) page_order.push_back(r.name);
    if (out.empty() && page_order != code_order)
      out.push_back(where + "rows are not in the code's order (the order fields are read in)");
  }
  return out;
}

std::string read_page() {
  std::ifstream in(MCCACHE_SOURCE_DIR "/docs/config.md");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The page the code would write: a heading and a table per section.
std::string page_of(const std::vector<SectionDocs>& code) {
  std::string page;
  for (const auto& section : code) {
    page += "## " + section.heading + "\n\nSome text.\n\n| field | type | default | meaning |\n";
    page += "| --- | --- | --- | --- |\n";
    for (const auto& f : section.fields) page += as_row(f) + "\n";
    page += "\nMore text | with a bar.\n\n";
  }
  return page;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(ConfigDocs, FieldTables_AgreeWithTheParsersTables) {
  auto page = read_page();
  ASSERT_FALSE(page.empty()) << "cannot read docs/config.md";
  auto problems = differences(page, documented_fields());
  std::string all;
  for (const auto& p : problems) all += p + "\n";
  EXPECT_TRUE(problems.empty()) << all;
}

TEST(ConfigDocs, EverySectionHasFields) {
  auto code = documented_fields();
  ASSERT_EQ(code.size(), 4u);
  for (const auto& section : code) EXPECT_FALSE(section.fields.empty()) << section.heading;
}

TEST(ConfigDocsCheck, PageWrittenFromTheCode_Agrees) {
  EXPECT_THAT(differences(page_of(documented_fields()), documented_fields()), ::testing::IsEmpty());
}

TEST(ConfigDocsCheck, ChangedDefault_IsReported) {
  auto page = replaced(page_of(documented_fields()), "| `threads` | 1..64 | 2 |",
                       "| `threads` | 1..64 | 4 |");
  EXPECT_THAT(differences(page, documented_fields()),
              ::testing::ElementsAre("docs/config.md, `mcproxy`: `threads` has default \"4\"; the "
                                     "code says \"2\""));
}

TEST(ConfigDocsCheck, ChangedRangeOrChoices_AreReported) {
  auto page = replaced(page_of(documented_fields()), "| `limits.max_key_bytes` | 1..250 |",
                       "| `limits.max_key_bytes` | 1..255 |");
  page = replaced(page, "`hold` `skip`", "`hold` `skip` `drop`");
  EXPECT_THAT(differences(page, documented_fields()),
              ::testing::ElementsAre(::testing::HasSubstr("`limits.max_key_bytes` has type "
                                                          "\"1..255\""),
                                     ::testing::HasSubstr("`delivery.on_server_down` has type")));
}

TEST(ConfigDocsCheck, MissingExtraAndReorderedRows_AreReported) {
  auto code = documented_fields();
  auto page = page_of(code);
  auto row = as_row(code[1].fields.back()) + "\n";  // pool's last row
  auto missing = replaced(page, row, "");
  EXPECT_THAT(differences(missing, code),
              ::testing::ElementsAre(::testing::HasSubstr("is missing; add | `")));
  auto extra = replaced(page, row, row + "| `gutter.weight` | 1..9 | 1 | made up |\n");
  EXPECT_THAT(differences(extra, code),
              ::testing::ElementsAre(::testing::HasSubstr("`gutter.weight` is not a field")));
  auto first = as_row(code[1].fields.front()) + "\n";
  auto reordered = replaced(replaced(page, first, ""), row, row + first);
  EXPECT_THAT(differences(reordered, code),
              ::testing::ElementsAre(::testing::HasSubstr("not in the code's order")));
}

}  // namespace
}  // namespace mccache::config
