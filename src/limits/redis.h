#pragma once
// A blocking Redis connection (hiredis) for one thread, with connect/command timeouts and
// reconnection, and the small thread that runs blocking jobs off the io threads.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/result.h"

struct redisContext;

namespace rightsize::limits {

struct RedisUrl {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user;      // ACL user (AUTH user password); empty: AUTH password
  std::string password;
  int db = 0;
};
// Parses redis://[[user]:password@]host[:port][/db]. rediss:// (TLS) is refused: hiredis 0.14
// has no TLS.
Result<RedisUrl> parseRedisUrl(std::string_view url);

// A reply, copied out of hiredis's tree.
struct RedisReply {
  enum class Type { kNil, kInteger, kString, kStatus, kArray, kError } type = Type::kNil;
  int64_t integer = 0;
  std::string str;  // string, status and error replies
  std::vector<RedisReply> elements;
};

// Not thread-safe: one thread owns it. Every call blocks for at most the timeout given.
class RedisConnection {
 public:
  RedisConnection(RedisUrl url, std::chrono::milliseconds timeout);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Sends one command and waits for its reply. Connects first if needed; after a failure,
  // reconnection is tried at most every `reconnect_every` (calls in between fail at once, so a
  // dead Redis costs nothing per request). An error reply is returned as a value (Type::kError),
  // a transport failure as Error{kUnavailable}.
  Result<RedisReply> command(const std::vector<std::string>& argv);

  // Runs a Lua script by SHA (EVALSHA), loading it (SCRIPT LOAD) on first use and after NOSCRIPT.
  Result<RedisReply> eval(const std::string& script, const std::vector<std::string>& keys,
                          const std::vector<std::string>& args);

  std::chrono::milliseconds reconnect_every{500};

 private:
  Result<void> connect();
  void drop();

  RedisUrl url_;
  std::chrono::milliseconds timeout_;
  redisContext* ctx_ = nullptr;
  std::chrono::steady_clock::time_point next_connect_{};
  std::vector<std::pair<std::string, std::string>> shas_;  // script -> sha (a couple of scripts)
};

// One thread running blocking jobs in order, with a bounded queue, plus an optional periodic
// task. post() never blocks: over `max_queue` jobs it returns false (the caller fails fast).
class BlockingWorker {
 public:
  BlockingWorker(std::string name, size_t max_queue);
  ~BlockingWorker();
  // Starts the thread; `tick` (may be empty) runs every `period` between jobs.
  void start(std::function<void()> tick, std::chrono::milliseconds period);
  // Stops the thread; pending jobs are destroyed without running. Idempotent.
  void stop();
  // Queues `job` (moved from only when accepted); false when stopped or full.
  bool post(std::packaged_task<void()>&& job);

 private:
  void run();
  std::string name_;
  size_t max_queue_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<void()>> jobs_;
  bool stopping_ = false;
  std::function<void()> tick_;
  std::chrono::milliseconds period_{0};
  std::thread thread_;
};

}  // namespace rightsize::limits
