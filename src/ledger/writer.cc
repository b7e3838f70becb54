#include "ledger/writer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <type_traits>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/threads.h"
#include "ledger/spill.h"

namespace rightsize::ledger {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
constexpr int kWriterNice = 10;

LedgerWriter::LedgerWriter(LedgerSink& sink, WriterOptions options) : sink_(sink), opts_([&] {
  WriterOptions o = std::move(options);
  o.max_batch = std::max<size_t>(o.max_batch, 1);
  o.queue_capacity = std::max(o.queue_capacity, o.max_batch);
  o.max_write_attempts = std::max(o.max_write_attempts, 1);
  return o;
}()) {
  queue_.reserve(2 * opts_.max_batch);
}

LedgerWriter::~LedgerWriter() {
  flushAndStop();
  std::lock_guard lk(spill_mu_);
  if (spill_file_) std::fclose(spill_file_);
}

void LedgerWriter::start() {
  std::lock_guard lk(mu_);
  if (started_ || stop_) return;
  started_ = true;
  thread_ = std::thread([this] { run(); });
}

bool LedgerWriter::submit(LedgerRecord&& record) {
  submitted_.fetch_add(1, std::memory_order_relaxed);
  std::unique_lock lk(mu_);
  if (!stop_ && queue_.size() >= opts_.queue_capacity) {
    ++room_waiters_;
    has_room_.wait_for(lk, opts_.submit_wait, [this] { return stop_ || queue_.size() < opts_.queue_capacity; });
    --room_waiters_;
  }
  if (stop_ || queue_.size() >= opts_.queue_capacity) {
    lk.unlock();
    spill(std::span<const LedgerRecord>(&record, 1));
    return false;
  }
  queue_.push_back(std::move(record));
  depth_.fetch_add(1, std::memory_order_relaxed);
  // Wake the writer only for a full batch (a partial one waits for the flush interval),
  // and only once: clearing writer_idle_ here keeps the next submitters from notifying too.
  bool wake = writer_idle_ && queue_.size() >= opts_.max_batch;
  if (wake) writer_idle_ = false;
  lk.unlock();
  if (wake) has_work_.notify_one();
  return true;
}

bool LedgerWriter::submitFeedback(FeedbackRecord&& feedback) {
  fb_submitted_.fetch_add(1, std::memory_order_relaxed);
  std::unique_lock lk(mu_);
  if (stop_ || feedback_queue_.size() >= opts_.queue_capacity) {
    lk.unlock();
    spill(std::span<const FeedbackRecord>(&feedback, 1));
    return false;
  }
  // Feedback is rare: it waits for the next flush, no wake-up.
  feedback_queue_.push_back(std::move(feedback));
  return true;
}

bool LedgerWriter::submitShadowGrade(ShadowGradeRecord&& grade) {
  sh_submitted_.fetch_add(1, std::memory_order_relaxed);
  std::unique_lock lk(mu_);
  if (stop_ || shadow_queue_.size() >= opts_.queue_capacity) {
    lk.unlock();
    sh_dropped_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("ledger: shadow grade of {} dropped ({})", grade.request_id, stop_ ? "ledger stopped" : "queue full");
    return false;
  }
  shadow_queue_.push_back(std::move(grade));  // rare: waits for the next flush, no wake-up
  return true;
}

void LedgerWriter::writeShadowGrades(std::vector<ShadowGradeRecord>& taken) {
  if (taken.empty()) return;
  for (int attempt = 1;; ++attempt) {
    auto r = sink_.writeShadowGrades(taken);
    if (r) {
      sh_written_.fetch_add(taken.size(), std::memory_order_relaxed);
      break;
    }
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("ledger: writing {} shadow grades failed (attempt {}/{}): {}", taken.size(), attempt,
                 opts_.max_write_attempts, r.error().message);
    if (attempt >= opts_.max_write_attempts) {
      spdlog::error("ledger: giving up on {} shadow grades (not spilled: dropped)", taken.size());
      sh_dropped_.fetch_add(taken.size(), std::memory_order_relaxed);
      break;
    }
    std::unique_lock lk(mu_);
    if (has_work_.wait_for(lk, opts_.retry_backoff, [this] { return stop_; })) {
      lk.unlock();
      sh_dropped_.fetch_add(taken.size(), std::memory_order_relaxed);
      spdlog::error("ledger: stopping: {} shadow grades dropped", taken.size());
      break;
    }
  }
  taken.clear();
}

void LedgerWriter::run() {
  nameThisThread("rs-ledger");
  // Below the io threads: when both want a core, the request path gets it and the batch waits (the
  // queue holds the rows meanwhile). It did not cure the one-connection p99 with the ledger on, which
  // is vCPU wake-up latency on the VM measured (docs/benchmarks.md), but a commit has no reason to
  // go before a request.
  if (!lowerThisThreadPriority(kWriterNice)) spdlog::debug("ledger: could not lower the writer thread's priority");
  std::vector<LedgerRecord> taken;
  taken.reserve(2 * opts_.max_batch);  // becomes the submitters' queue at the first swap
  std::vector<FeedbackRecord> taken_feedback;
  std::vector<ShadowGradeRecord> taken_shadow;
  auto next_flush = Clock::now() + opts_.flush_interval;
  for (;;) {
    {
      std::unique_lock lk(mu_);
      writer_idle_ = true;
      has_work_.wait_until(lk, next_flush, [this] { return stop_ || queue_.size() >= opts_.max_batch; });
      writer_idle_ = false;
      if (queue_.empty() && feedback_queue_.empty() && shadow_queue_.empty()) {
        if (stop_) return;
        next_flush = Clock::now() + opts_.flush_interval;
        continue;
      }
      // O(1) under the lock: submitters never wait while records are moved or written.
      taken.swap(queue_);
      taken_feedback.swap(feedback_queue_);
      taken_shadow.swap(shadow_queue_);
      if (room_waiters_ > 0) has_room_.notify_all();
    }
    next_flush = Clock::now() + opts_.flush_interval;
    writeAll(taken);
    writeFeedback(taken_feedback);
    writeShadowGrades(taken_shadow);
  }
}

void LedgerWriter::writeFeedback(std::vector<FeedbackRecord>& taken) {
  for (size_t off = 0; off < taken.size(); off += opts_.max_batch)
    writeWithRetry(std::span<const FeedbackRecord>(taken).subspan(off, std::min(opts_.max_batch, taken.size() - off)));
  taken.clear();
}

void LedgerWriter::writeAll(std::vector<LedgerRecord>& taken) {
  for (size_t off = 0; off < taken.size(); off += opts_.max_batch)
    writeWithRetry(std::span<const LedgerRecord>(taken).subspan(off, std::min(opts_.max_batch, taken.size() - off)));
  taken.clear();
  // After a burst, do not keep a burst-sized buffer around for good.
  if (taken.capacity() > 8 * opts_.max_batch) {
    std::vector<LedgerRecord>().swap(taken);
    taken.reserve(2 * opts_.max_batch);
  }
}

template <typename Row>
bool LedgerWriter::writeWithRetry(std::span<const Row> batch) {
  constexpr bool kRecords = std::is_same_v<Row, LedgerRecord>;
  auto backoff = opts_.retry_backoff;
  for (int attempt = 1;; ++attempt) {
    Result<void> r;
    if constexpr (kRecords) r = sink_.writeBatch(batch); else r = sink_.writeFeedback(batch);
    if (r) {
      if constexpr (kRecords) {
        written_.fetch_add(batch.size(), std::memory_order_relaxed);
        depth_.fetch_sub(batch.size(), std::memory_order_relaxed);
      } else {
        fb_written_.fetch_add(batch.size(), std::memory_order_relaxed);
      }
      return true;
    }
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("ledger: writing {} {} failed (attempt {}/{}): {}", batch.size(),
                 kRecords ? "records" : "feedback rows", attempt,
                 opts_.max_write_attempts, r.error().message);
    if (attempt >= opts_.max_write_attempts) break;
    // Back off, but not past a stop: on SIGTERM a failing sink spills at once instead of
    // holding the shutdown for the rest of the retries.
    std::unique_lock lk(mu_);
    if (has_work_.wait_for(lk, backoff, [this] { return stop_; })) break;
    backoff = std::min(backoff * 2, opts_.max_retry_backoff);
  }
  spdlog::error("ledger: giving up on {} {}, spilling them to {}", batch.size(),
                kRecords ? "records" : "feedback rows", opts_.spill_path.string());
  spill(batch);
  if constexpr (kRecords) depth_.fetch_sub(batch.size(), std::memory_order_relaxed);
  return false;
}

void LedgerWriter::spill(std::span<const LedgerRecord> records) {
  if (appendToSpill(records)) spilled_.fetch_add(records.size(), std::memory_order_relaxed);
  else dropped_.fetch_add(records.size(), std::memory_order_relaxed);
}

void LedgerWriter::spill(std::span<const FeedbackRecord> feedback) {
  if (appendToSpill(feedback)) fb_spilled_.fetch_add(feedback.size(), std::memory_order_relaxed);
  else fb_dropped_.fetch_add(feedback.size(), std::memory_order_relaxed);
}

template <typename Row>
bool LedgerWriter::appendToSpill(std::span<const Row> rows) {
  std::lock_guard lk(spill_mu_);
  bool ok = true;
  if (!spill_file_) {
    spill_file_ = std::fopen(opts_.spill_path.c_str(), "ab");
    ok = spill_file_ != nullptr;
  }
  if (ok) {
    for (const Row& r : rows) {
      std::string line = toSpillLine(r);
      if (std::fwrite(line.data(), 1, line.size(), spill_file_) != line.size()) ok = false;
    }
    // To the OS on every spill: a process crash then loses nothing that was spilled.
    if (std::fflush(spill_file_) != 0) ok = false;
  }
  if (!ok) {
    spdlog::error("ledger: cannot write spill file {}: {}; {} rows lost", opts_.spill_path.string(),
                  std::strerror(errno), rows.size());
    if (spill_file_) {
      std::fclose(spill_file_);
      spill_file_ = nullptr;  // try to reopen next time
    }
  }
  return ok;
}

void LedgerWriter::flushAndStop() {
  std::call_once(stop_once_, [this] {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    has_work_.notify_all();
    has_room_.notify_all();
    if (thread_.joinable()) {
      thread_.join();  // run() drains the queue before it returns
    } else {
      // Never started: drain on this thread.
      std::vector<LedgerRecord> taken;
      std::vector<FeedbackRecord> taken_feedback;
      std::vector<ShadowGradeRecord> taken_shadow;
      {
        std::lock_guard lk(mu_);
        taken.swap(queue_);
        taken_feedback.swap(feedback_queue_);
        taken_shadow.swap(shadow_queue_);
      }
      writeAll(taken);
      writeFeedback(taken_feedback);
      writeShadowGrades(taken_shadow);
    }
    std::lock_guard lk(spill_mu_);
    if (spill_file_) std::fflush(spill_file_);
  });
}

Result<size_t> LedgerWriter::replaySpill() {
  {
    std::lock_guard lk(mu_);
    if (started_) return fail(ErrorCode::kInternal, "ledger: replaySpill after start");
  }
  size_t total = 0;
  fs::path replaying = opts_.spill_path;
  replaying += ".replaying";
  std::error_code ec;
  // A `.replaying` file is a replay that did not finish (crash, sink failure): its
  // committed batches are skipped by the sink's unique request_id.
  if (fs::exists(replaying, ec)) {
    auto r = replayFile(replaying);
    if (!r) return r;
    total += *r;
  }
  {
    std::lock_guard lk(spill_mu_);
    if (spill_file_) {
      std::fclose(spill_file_);
      spill_file_ = nullptr;
    }
  }
  if (fs::exists(opts_.spill_path, ec)) {
    fs::rename(opts_.spill_path, replaying, ec);
    if (ec) {
      return fail(ErrorCode::kIo, fmt::format("ledger: cannot rename spill file {}: {}",
                                              opts_.spill_path.string(), ec.message()));
    }
    auto r = replayFile(replaying);
    if (!r) return r;
    total += *r;
  }
  if (total > 0) spdlog::info("ledger: replayed {} spilled records", total);
  return total;
}

Result<size_t> LedgerWriter::replayFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorCode::kIo, fmt::format("ledger: cannot read spill file {}", path.string()));
  fs::path rejected_path = opts_.spill_path;
  rejected_path += ".rejected";
  std::ofstream rejected;
  std::vector<LedgerRecord> batch;
  std::vector<FeedbackRecord> feedback;
  size_t total = 0;
  auto flush = [&]() -> Result<void> {
    if (batch.empty() && feedback.empty()) return {};
    Result<void> r = sink_.writeBatch(batch);
    if (r) r = sink_.writeFeedback(feedback);
    if (!r) {
      write_errors_.fetch_add(1, std::memory_order_relaxed);
      return fail(r.error().code, fmt::format("ledger: replaying {} failed, kept for the next start: {}",
                                              path.string(), r.error().message));
    }
    written_.fetch_add(batch.size(), std::memory_order_relaxed);
    replayed_.fetch_add(batch.size(), std::memory_order_relaxed);
    fb_written_.fetch_add(feedback.size(), std::memory_order_relaxed);
    total += batch.size() + feedback.size();
    batch.clear();
    feedback.clear();
    return {};
  };
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    if (isFeedbackSpillLine(line)) {
      if (auto fb = parseFeedbackSpillLine(line)) {
        feedback.push_back(std::move(*fb));
        if (feedback.size() >= opts_.max_batch) {
          if (auto r = flush(); !r) return fail(r.error());
        }
        continue;
      }
      // else: rejected below, like any line that does not parse
    }
    auto rec = parseSpillLine(line);
    if (!rec) {
      if (!rejected.is_open()) rejected.open(rejected_path, std::ios::binary | std::ios::app);
      rejected << line << '\n';
      rejected.flush();
      if (!rejected) {
        return fail(ErrorCode::kIo, fmt::format("ledger: cannot write {}", rejected_path.string()));
      }
      spill_rejected_.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("ledger: {} line {} is not a record ({}); moved to {}", path.string(), line_no,
                   rec.error().message, rejected_path.string());
      continue;
    }
    batch.push_back(std::move(*rec));
    if (batch.size() >= opts_.max_batch) {
      if (auto r = flush(); !r) return fail(r.error());
    }
  }
  if (in.bad()) return fail(ErrorCode::kIo, fmt::format("ledger: error reading {}", path.string()));
  if (auto r = flush(); !r) return fail(r.error());
  in.close();
  std::error_code ec;
  fs::remove(path, ec);
  if (ec) return fail(ErrorCode::kIo, fmt::format("ledger: cannot remove {}: {}", path.string(), ec.message()));
  return total;
}

WriterStats LedgerWriter::stats() const {
  WriterStats s;
  s.submitted = submitted_.load(std::memory_order_relaxed);
  s.written = written_.load(std::memory_order_relaxed);
  s.replayed = replayed_.load(std::memory_order_relaxed);
  s.spilled = spilled_.load(std::memory_order_relaxed);
  s.dropped = dropped_.load(std::memory_order_relaxed);
  s.write_errors = write_errors_.load(std::memory_order_relaxed);
  s.spill_rejected = spill_rejected_.load(std::memory_order_relaxed);
  s.queue_depth = depth_.load(std::memory_order_relaxed);
  s.feedback_submitted = fb_submitted_.load(std::memory_order_relaxed);
  s.feedback_written = fb_written_.load(std::memory_order_relaxed);
  s.feedback_spilled = fb_spilled_.load(std::memory_order_relaxed);
  s.feedback_dropped = fb_dropped_.load(std::memory_order_relaxed);
  s.shadow_submitted = sh_submitted_.load(std::memory_order_relaxed);
  s.shadow_written = sh_written_.load(std::memory_order_relaxed);
  s.shadow_dropped = sh_dropped_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace rightsize::ledger
