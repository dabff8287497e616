// The one tokenizer of memcached protocol lines, for requests and replies alike: tokens are
// separated by spaces, a run of spaces counts as one (proto_text.c's tokenize_command), and each
// token is a view into the line, never a copy (the offsets idea of memcached's vendor/mcmc).
#pragma once

#include <cstddef>
#include <string_view>

namespace mccache::pool {

class Tokens {
 public:
  explicit constexpr Tokens(std::string_view line) : rest_(line) {}

  // The next token; empty once the line is used up.
  constexpr std::string_view next() {
    size_t i = 0;
    while (i < rest_.size() && rest_[i] == ' ') ++i;
    size_t start = i;
    while (i < rest_.size() && rest_[i] != ' ') ++i;
    std::string_view token = rest_.substr(start, i - start);
    rest_.remove_prefix(i);
    return token;
  }

  // What follows the tokens taken so far, without its leading spaces.
  constexpr std::string_view rest() const {
    size_t i = 0;
    while (i < rest_.size() && rest_[i] == ' ') ++i;
    return rest_.substr(i);
  }

  constexpr bool done() const { return rest().empty(); }

 private:
  std::string_view rest_;
};

// Calls f(index, token) for each token of `line`, counting from 0.
template <typename F>
constexpr void for_each_token(std::string_view line, F&& f) {
  Tokens tokens(line);
  size_t index = 0;
  for (std::string_view t = tokens.next(); !t.empty(); t = tokens.next()) f(index++, t);
}

}  // namespace mccache::pool
