// The libpq side of logical replication: a `replication=database` connection streaming pgoutput
// from a slot (protocol-replication, START_REPLICATION ... LOGICAL), read without blocking.
#pragma once

#include <libpq-fe.h>

#include <string>
#include <string_view>

#include "invalidator/error.h"
#include "invalidator/pgoutput/decoder.h"

namespace mccache::invalidator::replication {

struct StreamOptions {
  std::string dsn;
  std::string slot;
  std::string publication;
};

// One CopyData message owned by libpq.
class CopyBuffer {
 public:
  CopyBuffer() = default;
  CopyBuffer(char* data, int len) : data_(data), len_(len) {}
  ~CopyBuffer() {
    if (data_) PQfreemem(data_);
  }
  CopyBuffer(const CopyBuffer&) = delete;
  CopyBuffer& operator=(const CopyBuffer&) = delete;
  void reset(char* data, int len) {
    if (data_) PQfreemem(data_);
    data_ = data;
    len_ = len;
  }
  std::string_view bytes() const { return {data_, static_cast<size_t>(len_)}; }

 private:
  char* data_ = nullptr;
  int len_ = 0;
};

class ReplicationStream {
 public:
  explicit ReplicationStream(StreamOptions options) : options_(std::move(options)) {}
  ~ReplicationStream() { close(); }
  ReplicationStream(const ReplicationStream&) = delete;
  ReplicationStream& operator=(const ReplicationStream&) = delete;

  // What start() found. A slot admits one consumer: a second invalidator (a standby) sees it
  // active and retries later; a slot that is missing or invalidated (wal_status 'lost') must never
  // be replaced silently (docs/invalidator.md, "Slot loss").
  enum class Start { kStreaming, kSlotActive, kSlotMissing, kSlotLost };
  struct Started {
    Start state = Start::kStreaming;
    int active_pid = 0;  // the other consumer, on kSlotActive
    // The slot's confirmed_flush_lsn (kStreaming: where this stream starts; kSlotActive: how far
    // the other consumer has confirmed).
    pgoutput::Lsn confirmed_flush = 0;
    std::string detail;  // what was found, for the log (all but kStreaming)
  };
  // Connects and starts streaming from the slot's confirmed position. The slot's state is read
  // first on the same connection (a walsender in database mode runs plain SQL), so the outcome
  // does not depend on the server's message language. An Error: the server could not be reached
  // or refused the commands.
  invalidator::Result<Started> start();
  bool connected() const { return conn_ != nullptr; }
  void close();

  // Non-blocking: true with a message in `out`, false when no complete message is buffered.
  invalidator::Result<bool> read(CopyBuffer& out);
  // Waits up to timeout_us for the socket to become readable; true if it is.
  bool wait_readable_us(int64_t timeout_us);
  // Standby status update: written = flushed = applied = `flush`, which delivery confirmed;
  // `now` is the client's clock as PostgreSQL counts it.
  Status send_status(pgoutput::Lsn flush, pgoutput::PgTimestamp now);

 private:
  invalidator::Result<Started> slot_state();

  StreamOptions options_;
  PGconn* conn_ = nullptr;
};

}  // namespace mccache::invalidator::replication
