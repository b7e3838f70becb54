#include "http/workers.h"

#include <string>

#include "common/threads.h"

namespace rightsize::http {

Workers::Workers(size_t n) {
  if (n == 0) n = 1;
  for (size_t i = 0; i < n; ++i) {
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    guards_.push_back(asio::make_work_guard(*contexts_.back()));
  }
}

Workers::~Workers() {
  stop();
  destroy();
}

void Workers::destroy() {
  guards_.clear();
  contexts_.clear();
}

asio::io_context& Workers::next() { return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()]; }

void Workers::start() {
  for (size_t i = 0; i < contexts_.size(); ++i)
    threads_.emplace_back([c = contexts_[i].get(), i] {
      nameThisThread("rs-io-" + std::to_string(i));
      c->run();
    });
}

void Workers::stop() {
  for (auto& g : guards_) g.reset();
  for (auto& ctx : contexts_) ctx->stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

}  // namespace rightsize::http
