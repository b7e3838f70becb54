#pragma once
// LedgerWriter: takes ledger records from the request path and writes them to a
// LedgerSink in batches, on its own thread. Nothing is dropped silently: a record the
// sink cannot take in time goes to an append-only spill file, replayed at the next start.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>
#include <span>
#include <vector>

#include "common/result.h"
#include "ledger/record.h"
#include "ledger/sink.h"

namespace rightsize::ledger {

struct WriterOptions {
  // Records waiting for the writer thread. The writer takes the whole queue at once, so up
  // to twice this many records are in memory (queued + being written).
  size_t queue_capacity = 65536;
  size_t max_batch = 1024;                           // records per transaction
  std::chrono::milliseconds flush_interval{100};     // a partial batch waits at most this long
  std::chrono::milliseconds submit_wait{5};          // backpressure: how long submit() waits for room
  std::filesystem::path spill_path = "rightsize-ledger.spill.jsonl";
  int max_write_attempts = 4;                        // per batch, before it is spilled
  std::chrono::milliseconds retry_backoff{50};       // doubled after each failed attempt...
  std::chrono::milliseconds max_retry_backoff{1000}; // ...up to this
};

// Counters for /metrics and tests. Invariant once stopped:
// submitted == written_live + spilled + dropped (written also counts replayed records).
struct WriterStats {
  uint64_t submitted = 0;     // submit() calls
  uint64_t written = 0;       // records committed to the sink (live and replayed)
  uint64_t replayed = 0;      // of which came from a spill file
  uint64_t spilled = 0;       // records appended to the spill file
  uint64_t dropped = 0;       // records lost because the spill file could not be written (logged)
  uint64_t write_errors = 0;  // failed writeBatch() calls
  uint64_t spill_rejected = 0;// spill lines that did not parse at replay (kept in <spill>.rejected)
  uint64_t queue_depth = 0;   // records waiting or being written
  // Feedback rows (submitFeedback), counted apart from the request records above.
  uint64_t feedback_submitted = 0;
  uint64_t feedback_written = 0;  // live and replayed
  uint64_t feedback_spilled = 0;
  uint64_t feedback_dropped = 0;
  // Shadow grades (submitShadowGrade): not spilled; a grade the sink cannot take is dropped.
  uint64_t shadow_submitted = 0;
  uint64_t shadow_written = 0;
  uint64_t shadow_dropped = 0;
};

class LedgerWriter {
 public:
  // `sink` must outlive the writer. Does not start the thread: call replaySpill() (optional)
  // then start().
  LedgerWriter(LedgerSink& sink, WriterOptions options);
  // Calls flushAndStop().
  ~LedgerWriter();
  LedgerWriter(const LedgerWriter&) = delete;
  LedgerWriter& operator=(const LedgerWriter&) = delete;

  // Loads the spill file (and a `.replaying` file left by a replay that crashed) into the
  // sink in batches and deletes it once every batch is committed. Lines that do not parse
  // (a line cut short by kill -9) are moved to `<spill>.rejected` and counted. Must be
  // called before start() (the sink is single-threaded). Returns the number of records
  // written; on a sink failure the file is kept for the next start.
  Result<size_t> replaySpill();

  // Starts the writer thread. Once only.
  void start();

  // Hands a record to the writer. Thread-safe; never waits on disk while the queue has
  // room. With the queue full it waits up to options.submit_wait for room, then appends
  // the record to the spill file. Returns true when queued, false when spilled (or, if
  // the spill file cannot be written, dropped -- logged and counted). After
  // flushAndStop() every record is spilled.
  bool submit(LedgerRecord&& record);

  // Hands a feedback row to the writer, written with the next flush (at most flush_interval
  // later). Thread-safe and never waits: with queue_capacity feedback rows already queued it
  // spills the row at once. Returns true when queued, false when spilled or dropped.
  bool submitFeedback(FeedbackRecord&& feedback);

  // Hands a shadow grade to the writer, written with the next flush. Thread-safe and never
  // waits. Shadow grades are not spilled: with queue_capacity grades queued, after
  // flushAndStop(), or when the sink fails every attempt, the grade is dropped (logged and
  // counted in stats().shadow_dropped). Returns true when queued.
  bool submitShadowGrade(ShadowGradeRecord&& grade);

  // Writes everything queued (retrying, then spilling, as usual) and stops the thread.
  // Idempotent. Called on SIGTERM after the in-flight requests are done.
  void flushAndStop();

  WriterStats stats() const;
  uint64_t queueDepth() const { return depth_.load(std::memory_order_relaxed); }

 private:
  void run();
  // Write `taken` in batches of max_batch and empty it (keeping its capacity).
  void writeAll(std::vector<LedgerRecord>& taken);
  void writeFeedback(std::vector<FeedbackRecord>& taken);
  void writeShadowGrades(std::vector<ShadowGradeRecord>& taken);
  // Writes one batch (records or feedback), retrying, then spilling it. Returns true when written.
  template <typename Row>
  bool writeWithRetry(std::span<const Row> batch);
  // Appends rows to the spill file; counts them as spilled, or dropped when it fails.
  void spill(std::span<const LedgerRecord> records);
  void spill(std::span<const FeedbackRecord> feedback);
  template <typename Row>
  bool appendToSpill(std::span<const Row> rows);
  Result<size_t> replayFile(const std::filesystem::path& path);

  LedgerSink& sink_;
  const WriterOptions opts_;

  std::mutex mu_;
  std::condition_variable has_work_;  // writer waits: a full batch, or stop
  std::condition_variable has_room_;  // submitters wait: queue below capacity
  // Vectors swapped with the writer's: the emptied one comes back with its capacity, so a
  // submit move-constructs into memory that is already there (a deque allocated a node per
  // record on the io thread and the writer freed it: a cross-thread malloc/free per request).
  std::vector<LedgerRecord> queue_;
  std::vector<FeedbackRecord> feedback_queue_;
  std::vector<ShadowGradeRecord> shadow_queue_;
  bool stop_ = false;
  bool writer_idle_ = false;
  int room_waiters_ = 0;

  std::mutex spill_mu_;
  std::FILE* spill_file_ = nullptr;

  std::thread thread_;
  std::once_flag stop_once_;
  bool started_ = false;

  std::atomic<uint64_t> submitted_{0}, written_{0}, replayed_{0}, spilled_{0}, dropped_{0},
      write_errors_{0}, spill_rejected_{0}, depth_{0};
  std::atomic<uint64_t> fb_submitted_{0}, fb_written_{0}, fb_spilled_{0}, fb_dropped_{0};
  std::atomic<uint64_t> sh_submitted_{0}, sh_written_{0}, sh_dropped_{0};
};

}  // namespace rightsize::ledger
