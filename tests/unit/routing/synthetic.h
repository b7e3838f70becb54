#pragma once
// A small synthetic training set where the right routing is known: prompts that say "hard"
// need the big model, the rest are answered by the small one too.

#include <cstdint>
#include <string>
#include <vector>

#include "routing/trainer.h"

namespace rightsize::routing::testing {

inline const char* kTopics[] = {"apples", "rivers", "planets", "engines", "poems", "taxes", "birds", "chess"};

inline TrainingData syntheticData(size_t n, uint64_t seed = 7) {
  TrainingData d;
  d.models = {"small", "medium", "big"};
  uint64_t s = seed;
  auto rnd = [&s]() {  // splitmix64 -> [0, 1)
    uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return static_cast<double>((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
  };
  for (size_t i = 0; i < n; ++i) {
    const bool hard = i % 2 == 0;
    const std::string topic = kTopics[(i / 2) % 8];
    d.ids.push_back("syn." + std::to_string(i));
    d.asks.push_back(hard ? "This is a hard question about " + topic + " number " + std::to_string(i) + "?"
                          : "Quick easy question about " + topic + " number " + std::to_string(i) + ".");
    const double p_small = hard ? 0.05 : 0.95, p_medium = hard ? 0.3 : 0.95, p_big = 0.95;
    d.score.push_back(rnd() < p_small ? 1.0f : 0.0f);
    d.score.push_back(rnd() < p_medium ? 1.0f : 0.0f);
    d.score.push_back(rnd() < p_big ? 1.0f : 0.0f);
    d.cost_usd.push_back(0.0001f);
    d.cost_usd.push_back(0.001f);
    d.cost_usd.push_back(0.01f);
  }
  return d;
}

inline TrainOptions fastOptions() {
  TrainOptions o;
  o.seed = 3;
  o.folds = 3;
  o.threads = 1;
  o.hash_bits = 12;
  o.epochs = 6;
  return o;
}

}  // namespace rightsize::routing::testing
