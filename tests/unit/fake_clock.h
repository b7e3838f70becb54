#pragma once
// A steady clock the test moves by hand, for code that takes a clock function
// (CircuitBreaker::Clock, session pins, the pipeline's stages).

#include <chrono>
#include <functional>

namespace rightsize {

struct FakeClock {
  std::chrono::steady_clock::time_point now{};
  std::function<std::chrono::steady_clock::time_point()> fn() {
    return [this] { return now; };
  }
};

}  // namespace rightsize
