// The invalidator's error style on the data path: a call that can fail returns Result<T> (a value
// or the Error that prevented it, std::expected's shape) or Status (Result without a value). The
// pure decoders return their own status enums (pgoutput/, keys/); start-up and reload throw
// (config, catalog, state file) and are caught where a source starts or reloads.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace mccache::invalidator {

struct Error {
  std::string message;  // what failed, for the log: "connect: timed out"
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& operator*() { return std::get<0>(v_); }
  const T& operator*() const { return std::get<0>(v_); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;

inline Error fail(std::string message) { return Error{std::move(message)}; }

}  // namespace mccache::invalidator
