#pragma once
// Worker threads, each running its own single-threaded io_context (the Envoy/nginx model):
// a connection — downstream or pooled upstream — lives on one thread for its whole life, so
// nothing it touches needs a lock or a strand, and stream timeouts can never race an operation.

#include <memory>
#include <thread>
#include <vector>

#include "http/asio.h"

namespace rightsize::http {

class Workers {
 public:
  explicit Workers(size_t n);
  ~Workers();
  size_t size() const { return contexts_.size(); }
  asio::io_context& context(size_t i) { return *contexts_[i]; }
  // Round-robin choice for a new connection. Thread-safe.
  asio::io_context& next();
  // Runs every context on its own thread; returns at once.
  void start();
  // Stops every context and joins the threads.
  void stop();
  // After stop(): destroys the contexts and with them every suspended coroutine (sessions,
  // streams). Whatever those coroutines reference must still be alive; every I/O object
  // bound to a context must be destroyed before this call or by it.
  void destroy();

 private:
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> next_{0};
};

}  // namespace rightsize::http
