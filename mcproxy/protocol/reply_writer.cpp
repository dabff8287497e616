// Reply formats from memcached's doc/protocol.txt.
#include "mcproxy/protocol/reply_writer.h"

#include <charconv>

namespace mccache::protocol {

void append_number(std::string& out, uint64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

void append_signed(std::string& out, int64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

void append_value(std::string& out, std::string_view key, std::string_view flags,
                  std::string_view data, std::string_view cas) {
  out.append("VALUE ");
  out.append(key);
  out.push_back(' ');
  if (flags.empty()) {
    out.push_back('0');
  } else {
    out.append(flags);
  }
  out.push_back(' ');
  append_number(out, data.size());
  if (!cas.empty()) {
    out.push_back(' ');
    out.append(cas);
  }
  out.append("\r\n");
  out.append(data);
  out.append("\r\n");
}

void append_server_error(std::string& out, std::string_view reason) {
  out.append("SERVER_ERROR ");
  out.append(reason);
  out.append("\r\n");
}

void append_stat(std::string& out, std::string_view name, std::string_view value) {
  out.append("STAT ");
  out.append(name);
  out.push_back(' ');
  out.append(value);
  out.append("\r\n");
}

void append_meta_get(std::string& out, std::string_view key, Command command, int64_t exptime) {
  out.append("mg ");
  out.append(key);
  out.append(" v f c k");
  if (command == Command::kGat || command == Command::kGats) {
    out.append(" T");
    append_signed(out, exptime);
  }
  out.append("\r\n");
}

GetTranslation translate_meta_get(const Reply& reply, std::string_view key, bool with_cas,
                                  std::string& out) {
  GetTranslation t;
  switch (reply.code) {
    case ReplyCode::kValue:
    case ReplyCode::kHeader: {
      bool stale = reply.has_flag('X');
      if (stale || reply.has_flag('Z')) {
        t.result = GetResult::kMiss;
        t.give_back_win = stale && reply.has_flag('W');
        return t;
      }
      append_value(out, key, reply.flag('f'), reply.value, with_cas ? reply.flag('c') : "");
      t.result = GetResult::kHit;
      return t;
    }
    case ReplyCode::kMiss:
    case ReplyCode::kNotFound:
      t.result = GetResult::kMiss;
      return t;
    case ReplyCode::kError:
      out.append(reply.raw);
      t.result = GetResult::kError;
      return t;
    default:
      append_server_error(out, "unexpected backend reply to mg");
      t.result = GetResult::kError;
      return t;
  }
}

void append_give_back_win(std::string& out, std::string_view key, int stale_ttl_s) {
  append_invalidate(out, key, stale_ttl_s);
}

void append_invalidate(std::string& out, std::string_view key, int stale_ttl_s) {
  out.append("md ");
  out.append(key);
  out.append(" I T");
  append_signed(out, stale_ttl_s);
  out.append("\r\n");
}

void translate_invalidate(const Reply& reply, std::string& out) {
  switch (reply.code) {
    case ReplyCode::kHeader:
      out.append("DELETED\r\n");
      return;
    case ReplyCode::kNotFound:
      out.append("NOT_FOUND\r\n");
      return;
    case ReplyCode::kExists:
      out.append("EXISTS\r\n");
      return;
    case ReplyCode::kError:
      out.append(reply.raw);
      return;
    default:
      append_server_error(out, "unexpected backend reply to md");
  }
}

}  // namespace mccache::protocol
