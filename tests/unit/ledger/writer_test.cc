#include "ledger/writer.h"

#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include <gtest/gtest.h>

#include "ledger/spill.h"
#include "ledger/sqlite_sink.h"
#include "unit/ledger/ledger_test_util.h"

namespace rightsize::ledger {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::FakeSink;
using testing::readLines;
using testing::sampleRecord;
using testing::TempDir;

WriterOptions smallOptions(const TempDir& dir) {
  WriterOptions o;
  o.queue_capacity = 8;
  o.max_batch = 4;
  o.flush_interval = 10ms;
  o.submit_wait = 1ms;
  o.spill_path = dir.path / "spill.jsonl";
  o.max_write_attempts = 3;
  o.retry_backoff = 1ms;
  o.max_retry_backoff = 2ms;
  return o;
}

TEST(LedgerWriter, WritesEverySubmissionFromFiftyThreads) {
  TempDir dir;
  auto sink = SqliteSink::open((dir.path / "ledger.db").string());
  ASSERT_TRUE(sink) << sink.error().message;
  WriterOptions o;
  o.spill_path = dir.path / "spill.jsonl";
  o.flush_interval = 5ms;
  LedgerWriter writer(**sink, o);
  writer.start();
  constexpr int kThreads = 50, kPerThread = 400;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&writer, t] {
      for (int i = 0; i < kPerThread; ++i) writer.submit(sampleRecord(t * kPerThread + i));
    });
  }
  for (auto& th : threads) th.join();
  writer.flushAndStop();
  WriterStats s = writer.stats();
  EXPECT_EQ(s.submitted, uint64_t{kThreads * kPerThread});
  EXPECT_EQ(s.written, uint64_t{kThreads * kPerThread});
  EXPECT_EQ(s.spilled, 0u);
  EXPECT_EQ(s.queue_depth, 0u);
  EXPECT_EQ((*sink)->rowCount().value(), kThreads * kPerThread);
}

TEST(LedgerWriter, FlushAndStopWritesEverythingStillQueued) {
  TempDir dir;
  auto sink = SqliteSink::open(":memory:");
  ASSERT_TRUE(sink);
  WriterOptions o;
  o.spill_path = dir.path / "spill.jsonl";
  o.flush_interval = 1h;  // nothing is written by the timer: only the stop can flush
  o.max_batch = 1000;
  LedgerWriter writer(**sink, o);
  writer.start();
  for (int i = 0; i < 2500; ++i) ASSERT_TRUE(writer.submit(sampleRecord(i)));
  writer.flushAndStop();
  EXPECT_EQ((*sink)->rowCount().value(), 2500);
  EXPECT_EQ(writer.stats().written, 2500u);
  EXPECT_EQ(writer.stats().queue_depth, 0u);
  EXPECT_FALSE(std::filesystem::exists(o.spill_path));
}

TEST(LedgerWriter, WritesAPartialBatchAfterTheFlushInterval) {
  TempDir dir;
  FakeSink sink;
  WriterOptions o = smallOptions(dir);
  o.max_batch = 100;
  o.queue_capacity = 100;
  LedgerWriter writer(sink, o);
  writer.start();
  ASSERT_TRUE(writer.submit(sampleRecord(1)));
  EXPECT_TRUE(eventually([&] { return sink.stored().size() == 1; }));
  writer.flushAndStop();
}

// The nice value of this process's thread named `name` (from /proc/self/task/*/stat), or nullopt.
std::optional<int> niceOfThread(const std::string& name) {
  for (const auto& t : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(t.path() / "comm");
    std::string c;
    std::getline(comm, c);
    if (c != name) continue;
    std::ifstream stat(t.path() / "stat");
    std::string line;
    std::getline(stat, line);
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    for (int i = 3; i <= 19; ++i) rest >> field;  // field 19: nice
    return std::stoi(field);
  }
  return std::nullopt;
}

TEST(LedgerWriter, TheWriterThreadIsNamedAndYieldsToTheIoThreads) {
  TempDir dir;
  FakeSink sink;
  LedgerWriter writer(sink, smallOptions(dir));
  writer.start();
  ASSERT_TRUE(writer.submit(sampleRecord(1)));
  ASSERT_TRUE(eventually([&] { return sink.stored().size() == 1; }));  // the thread has run
  const int process_nice = getpriority(PRIO_PROCESS, 0);
  const auto nice = niceOfThread("rs-ledger");
  ASSERT_TRUE(nice.has_value()) << "no thread named rs-ledger";
  EXPECT_EQ(*nice, std::min(process_nice + 10, 19));
  writer.flushAndStop();
}

TEST(LedgerWriter, WritesInBatchesOfAtMostMaxBatch) {
  TempDir dir;
  FakeSink sink;
  WriterOptions o = smallOptions(dir);
  o.queue_capacity = 100;
  LedgerWriter writer(sink, o);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(writer.submit(sampleRecord(i)));
  writer.start();
  writer.flushAndStop();
  EXPECT_EQ(sink.batchSizes(), (std::vector<size_t>{4, 4, 2}));
  EXPECT_EQ(sink.stored(), (std::vector<LedgerRecord>{sampleRecord(0), sampleRecord(1), sampleRecord(2),
                                                       sampleRecord(3), sampleRecord(4), sampleRecord(5),
                                                       sampleRecord(6), sampleRecord(7), sampleRecord(8),
                                                       sampleRecord(9)}))
      << "in submission order";
}

TEST(LedgerWriter, SpillsAfterTheBackpressureDeadlineWhenTheSinkIsStuck) {
  TempDir dir;
  FakeSink sink;
  sink.block();
  WriterOptions o = smallOptions(dir);
  o.submit_wait = 20ms;
  LedgerWriter writer(sink, o);
  writer.start();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(writer.submit(sampleRecord(i)));  // one full batch...
  ASSERT_TRUE(sink.waitBlocked());                                           // ...now stuck in the sink
  for (int i = 4; i < 12; ++i) ASSERT_TRUE(writer.submit(sampleRecord(i)));  // fills the queue (8)
  for (int i = 12; i < 17; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(writer.submit(sampleRecord(i)));
    EXPECT_GE(std::chrono::steady_clock::now() - t0, o.submit_wait) << "waited for room first";
  }
  EXPECT_EQ(writer.stats().spilled, 5u);
  auto lines = readLines(o.spill_path);
  ASSERT_EQ(lines.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(parseSpillLine(lines[i]).value(), sampleRecord(12 + i));
  sink.release();
  writer.flushAndStop();
  WriterStats s = writer.stats();
  EXPECT_EQ(sink.stored().size(), 12u);
  EXPECT_EQ(s.written, 12u);
  EXPECT_EQ(s.submitted, s.written + s.spilled);
  EXPECT_EQ(s.dropped, 0u);
}

TEST(LedgerWriter, SubmitGetsInWhenRoomFreesUpBeforeTheDeadline) {
  TempDir dir;
  FakeSink sink;
  sink.block();
  WriterOptions o = smallOptions(dir);
  o.submit_wait = 10s;
  LedgerWriter writer(sink, o);
  writer.start();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(writer.submit(sampleRecord(i)));
  ASSERT_TRUE(sink.waitBlocked());
  for (int i = 4; i < 12; ++i) ASSERT_TRUE(writer.submit(sampleRecord(i)));
  std::thread releaser([&] {
    std::this_thread::sleep_for(20ms);
    sink.release();
  });
  EXPECT_TRUE(writer.submit(sampleRecord(12)));  // waits for the writer, not for 10 s
  releaser.join();
  writer.flushAndStop();
  EXPECT_EQ(sink.stored().size(), 13u);
  EXPECT_EQ(writer.stats().spilled, 0u);
}

TEST(LedgerWriter, RetriesAFailedBatchAndKeepsIt) {
  TempDir dir;
  FakeSink sink;
  sink.failNext(2);
  WriterOptions o = smallOptions(dir);
  o.max_batch = 100;
  o.queue_capacity = 100;
  LedgerWriter writer(sink, o);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(writer.submit(sampleRecord(i)));  // queued before start: one batch
  writer.start();
  ASSERT_TRUE(eventually([&] { return writer.stats().written == 10; }));
  writer.flushAndStop();
  EXPECT_EQ(writer.stats().write_errors, 2u);
  EXPECT_EQ(writer.stats().spilled, 0u);
  EXPECT_EQ(sink.stored().size(), 10u);
}

TEST(LedgerWriter, SpillsABatchTheSinkKeepsFailing) {
  TempDir dir;
  FakeSink sink;
  sink.failNext(1000);
  WriterOptions o = smallOptions(dir);
  o.max_batch = 100;
  o.queue_capacity = 100;
  LedgerWriter writer(sink, o);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(writer.submit(sampleRecord(i)));
  writer.start();
  ASSERT_TRUE(eventually([&] { return writer.stats().spilled == 10; }));
  WriterStats s = writer.stats();
  EXPECT_EQ(s.write_errors, 3u) << "max_write_attempts tries, then spill";
  EXPECT_EQ(s.written, 0u);
  EXPECT_EQ(s.queue_depth, 0u);
  auto lines = readLines(o.spill_path);
  ASSERT_EQ(lines.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(parseSpillLine(lines[i]).value(), sampleRecord(i));
  writer.flushAndStop();
}

TEST(LedgerWriter, SpillsWhatIsSubmittedAfterStop) {
  TempDir dir;
  FakeSink sink;
  LedgerWriter writer(sink, smallOptions(dir));
  writer.start();
  writer.flushAndStop();
  EXPECT_FALSE(writer.submit(sampleRecord(1)));
  EXPECT_EQ(writer.stats().spilled, 1u);
  EXPECT_EQ(readLines(dir.path / "spill.jsonl").size(), 1u);
}

TEST(LedgerWriter, CountsRecordsItCannotSpillAsDropped) {
  TempDir dir;
  FakeSink sink;
  WriterOptions o = smallOptions(dir);
  o.spill_path = dir.path / "no-such-dir" / "spill.jsonl";
  LedgerWriter writer(sink, o);
  writer.flushAndStop();
  EXPECT_FALSE(writer.submit(sampleRecord(1)));
  EXPECT_EQ(writer.stats().dropped, 1u);
  EXPECT_EQ(writer.stats().spilled, 0u);
}

TEST(LedgerWriter, ReplaysASpillFileIntoTheSinkAndRemovesIt) {
  TempDir dir;
  WriterOptions o = smallOptions(dir);
  {
    std::ofstream out(o.spill_path);
    for (int i = 0; i < 10; ++i) out << toSpillLine(sampleRecord(i));
    std::string cut = toSpillLine(sampleRecord(10));
    out << cut.substr(0, cut.size() / 2);  // kill -9 in the middle of a spill write
  }
  auto sink = SqliteSink::open(":memory:");
  ASSERT_TRUE(sink);
  LedgerWriter writer(**sink, o);
  auto n = writer.replaySpill();
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 10u);
  EXPECT_EQ((*sink)->rowCount().value(), 10);
  EXPECT_EQ((*sink)->readRecords(100).value()[9], sampleRecord(9));
  EXPECT_FALSE(std::filesystem::exists(o.spill_path));
  auto rejected = o.spill_path;
  rejected += ".rejected";
  EXPECT_EQ(readLines(rejected).size(), 1u);
  EXPECT_EQ(writer.stats().spill_rejected, 1u);
  EXPECT_EQ(writer.stats().replayed, 10u);
}

TEST(LedgerWriter, RecordsSpilledInOneRunAreInTheDatabaseAfterTheNext) {
  TempDir dir;
  WriterOptions o = smallOptions(dir);
  {
    FakeSink broken;
    broken.failNext(1'000'000);
    LedgerWriter writer(broken, o);
    writer.start();
    for (int i = 0; i < 20; ++i) writer.submit(sampleRecord(i));
    writer.flushAndStop();
    WriterStats s = writer.stats();
    EXPECT_EQ(s.spilled, 20u);
    EXPECT_EQ(s.written, 0u);
  }
  auto sink = SqliteSink::open(":memory:");
  ASSERT_TRUE(sink);
  LedgerWriter writer(**sink, o);
  ASSERT_EQ(writer.replaySpill().value(), 20u);
  writer.start();
  writer.submit(sampleRecord(20));
  writer.flushAndStop();
  EXPECT_EQ((*sink)->rowCount().value(), 21);
  EXPECT_FALSE(std::filesystem::exists(o.spill_path));
}

TEST(LedgerWriter, KeepsTheSpillFileWhenReplayFailsAndFinishesItNextTime) {
  TempDir dir;
  WriterOptions o = smallOptions(dir);
  {
    std::ofstream out(o.spill_path);
    for (int i = 0; i < 10; ++i) out << toSpillLine(sampleRecord(i));
  }
  {
    FakeSink broken;
    broken.failNext(1);
    LedgerWriter writer(broken, o);
    EXPECT_FALSE(writer.replaySpill());
  }
  auto replaying = o.spill_path;
  replaying += ".replaying";
  EXPECT_TRUE(std::filesystem::exists(replaying));
  FakeSink sink;
  LedgerWriter writer(sink, o);
  EXPECT_EQ(writer.replaySpill().value(), 10u);
  EXPECT_EQ(sink.stored().size(), 10u);
  EXPECT_FALSE(std::filesystem::exists(replaying));
}

TEST(LedgerWriter, ReplayWithoutASpillFileIsANoOp) {
  TempDir dir;
  FakeSink sink;
  LedgerWriter writer(sink, smallOptions(dir));
  EXPECT_EQ(writer.replaySpill().value(), 0u);
  EXPECT_EQ(sink.calls(), 0);
}

TEST(LedgerWriter, RefusesToReplayOnceStarted) {
  TempDir dir;
  FakeSink sink;
  LedgerWriter writer(sink, smallOptions(dir));
  writer.start();
  EXPECT_FALSE(writer.replaySpill());
}

TEST(LedgerWriter, WritesFeedbackWithTheNextFlush) {
  TempDir dir;
  auto sink = SqliteSink::open(":memory:");
  ASSERT_TRUE(sink);
  LedgerWriter writer(**sink, smallOptions(dir));
  writer.start();
  FeedbackRecord f{fromEpochMicros(1'000), "req-1", 0.75};
  EXPECT_TRUE(writer.submitFeedback(FeedbackRecord(f)));
  ASSERT_TRUE(eventually([&] { return writer.stats().feedback_written == 1; }));
  writer.flushAndStop();
  EXPECT_EQ((*sink)->readFeedback().value(), std::vector<FeedbackRecord>{f});
  EXPECT_EQ(writer.stats().feedback_submitted, 1u);
}

TEST(LedgerWriter, SpillsFeedbackTheSinkRefusesAndReplaysItNextStart) {
  TempDir dir;
  WriterOptions o = smallOptions(dir);
  std::vector<FeedbackRecord> fb;
  for (int i = 0; i < 5; ++i) fb.push_back({fromEpochMicros(1'000 + i), fmt::format("req-{}", i), 0.2 * i});
  {
    FakeSink broken;
    broken.failNext(1'000'000);
    LedgerWriter writer(broken, o);
    writer.start();
    for (auto f : fb) writer.submitFeedback(std::move(f));
    writer.submit(sampleRecord(1));
    writer.flushAndStop();
    EXPECT_EQ(writer.stats().feedback_spilled, 5u);
    EXPECT_EQ(writer.stats().spilled, 1u);
    EXPECT_FALSE(writer.submitFeedback(FeedbackRecord(fb[0])));  // after stop: straight to the spill file
    EXPECT_EQ(writer.stats().feedback_spilled, 6u);
  }
  auto sink = SqliteSink::open(":memory:");
  ASSERT_TRUE(sink);
  LedgerWriter writer(**sink, o);
  auto n = writer.replaySpill();
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 7u);
  EXPECT_EQ((*sink)->readFeedback().value(), fb) << "the repeated one stored once";
  EXPECT_EQ((*sink)->rowCount().value(), 1);
  EXPECT_EQ(writer.stats().spill_rejected, 0u);
}

TEST(LedgerWriter, FeedbackNeverWaitsForRoom) {
  TempDir dir;
  FakeSink sink;
  sink.block();
  WriterOptions o = smallOptions(dir);
  o.submit_wait = 10s;  // would show up as a hang if submitFeedback waited
  LedgerWriter writer(sink, o);
  writer.start();
  writer.submit(sampleRecord(0));
  for (int i = 1; i < 4; ++i) writer.submit(sampleRecord(i));  // a full batch: the writer takes it and blocks
  ASSERT_TRUE(sink.waitBlocked());
  int queued = 0;
  for (int i = 0; i < 20; ++i) queued += writer.submitFeedback({fromEpochMicros(i), "req", 0.5}) ? 1 : 0;
  EXPECT_EQ(queued, 8) << "queue_capacity feedback rows queue, the rest spill at once";
  EXPECT_EQ(writer.stats().feedback_spilled, 12u);
  sink.release();
  writer.flushAndStop();
  EXPECT_EQ(sink.feedback().size(), 8u);
}

}  // namespace
}  // namespace rightsize::ledger
