#include <gtest/gtest.h>

#include <future>
#include <vector>

#include "limits/redis.h"

namespace rightsize::limits {
namespace {

TEST(BlockingWorker, RunsJobsInOrderOnItsOwnThread) {
  BlockingWorker w("test", 100);
  w.start({}, std::chrono::milliseconds(0));
  std::vector<int> order;
  std::promise<std::thread::id> where;
  for (int i = 0; i < 10; ++i) {
    std::packaged_task<void()> job([&order, i] { order.push_back(i); });
    ASSERT_TRUE(w.post(std::move(job)));
  }
  std::packaged_task<void()> last([&where] { where.set_value(std::this_thread::get_id()); });
  auto done = where.get_future();
  ASSERT_TRUE(w.post(std::move(last)));
  EXPECT_NE(done.get(), std::this_thread::get_id());
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(BlockingWorker, FullQueueRefusesWithoutTakingTheJob) {
  BlockingWorker w("test", 2);  // not started: nothing drains the queue
  std::packaged_task<void()> a([] {}), b([] {}), c([] {});
  EXPECT_TRUE(w.post(std::move(a)));
  EXPECT_TRUE(w.post(std::move(b)));
  EXPECT_FALSE(w.post(std::move(c)));
  EXPECT_TRUE(c.valid());  // still the caller's: it can fail the request itself
}

TEST(BlockingWorker, StoppedWorkerRefusesAndDropsPendingJobs) {
  BlockingWorker w("test", 10);
  std::packaged_task<void()> pending([] {});
  auto f = pending.get_future();
  EXPECT_TRUE(w.post(std::move(pending)));
  w.stop();
  EXPECT_THROW(f.get(), std::future_error);  // broken promise: destroyed without running
  std::packaged_task<void()> late([] {});
  EXPECT_FALSE(w.post(std::move(late)));
}

}  // namespace
}  // namespace rightsize::limits
