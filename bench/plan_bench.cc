// `rightsize plan` benchmark: wall time and peak memory of reading an outcomes file with responses
// and planning over it (evals::readOutcomes + evals::planRoute, what `rightsize plan` does), on
// deterministic synthetic data. Plain main(): prints numbers, asserts nothing about time.
//
//   rs_plan_bench [prompts=10000] [models=16] [max_stages=2] [dir=/tmp] [learned=1] [extract=choice]
//
// learned=0 is plain `plan` (no router is trained, no learned + cascade candidates); 1 is `plan --learned`.
//
// Data: `prompts` multiple-choice prompts in 4 tasks; model m (cheapest first) is right with a
// probability rising with m, lowered by the prompt's difficulty, and answers in one of several
// formats ("B", "(B)", "The answer is B.", "**B**"; cheaper models more often give no letter); costs
// grow 1.6x per model. The reference is the dearest model. The file is written to `dir`, read
// back and removed.

#include <sys/resource.h>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/strings.h"
#include "evals/outcomes.h"
#include "evals/planner.h"

using Clock = std::chrono::steady_clock;

namespace {

// splitmix64: deterministic, no <random> distribution differences between library versions.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
};

std::string answerText(char letter, uint64_t style) {
  switch (style % 6) {
    case 0: return std::string(1, letter);
    case 1: return fmt::format("({})", letter);
    case 2: return fmt::format("The answer is {}.", letter);
    case 3: return fmt::format("**{}**", letter);
    case 4: return fmt::format("{}\n", letter);
    default: return "I am not sure which option is meant here.";  // no vote
  }
}

bool writeData(const std::string& path, size_t prompts, size_t models) {
  gzFile f = gzopen(path.c_str(), "wb1");
  if (!f) return false;
  Rng rng{42};
  const char* tasks[] = {"arc", "mmlu", "hellaswag", "winogrande"};
  for (size_t i = 0; i < prompts; ++i) {
    const char truth = static_cast<char>('A' + rng.next() % 4);
    const double difficulty = rng.unit() * 0.4;
    std::string line = fmt::format(R"({{"id":"p{}","task":"{}","prompt":{},"outcomes":{{)", i, tasks[i % 4],
                                   rightsize::jsonString(fmt::format("Question {}: which option is right? A) one B) two C) three D) four", i)));
    for (size_t m = 0; m < models; ++m) {
      const double skill = 0.45 + 0.47 * static_cast<double>(m) / static_cast<double>(models - 1);
      const bool right = rng.unit() < skill - difficulty + 0.2;
      const char letter = right ? truth : static_cast<char>('A' + (truth - 'A' + 1 + rng.next() % 3) % 4);
      // Cheaper models miss the format more often (up to 20% of answers without a letter).
      const bool votes = rng.unit() >= 0.2 * (1 - static_cast<double>(m) / static_cast<double>(models - 1));
      const uint64_t style = votes ? rng.next() % 5 : 5;
      const double cost = 1e-5 * std::pow(1.6, static_cast<double>(m)) * (1 + 0.1 * rng.unit());
      line += fmt::format(R"({}"m{:02}":{{"score":{},"cost_usd":{},"response":{}}})", m ? "," : "", m,
                          right && votes ? 1 : 0, cost, rightsize::jsonString(answerText(letter, style)));
    }
    line += "}}\n";
    if (gzwrite(f, line.data(), static_cast<unsigned>(line.size())) != static_cast<int>(line.size())) {
      gzclose(f);
      return false;
    }
  }
  return gzclose(f) == Z_OK;
}

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

}  // namespace

int main(int argc, char** argv) {
  const size_t prompts = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10000;
  const size_t models = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 16;
  const int max_stages = argc > 3 ? std::atoi(argv[3]) : 2;
  const std::string dir = argc > 4 ? argv[4] : "/tmp";
  const bool learned = argc > 5 ? std::atoi(argv[5]) != 0 : true;
  const std::string extract = argc > 6 ? argv[6] : "choice";
  if (prompts < 10 || models < 3 || models > 99) {
    std::fprintf(stderr, "usage: rs_plan_bench [prompts>=10] [models 3..99] [max_stages] [dir] [learned 0|1] [extract]\n");
    return 2;
  }
  const std::string path = fmt::format("{}/rs_plan_bench_{}x{}.jsonl.gz", dir, prompts, models);
  auto t0 = Clock::now();
  if (!writeData(path, prompts, models)) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    return 1;
  }
  auto t1 = Clock::now();
  auto set = rightsize::evals::readOutcomes({path});
  auto t2 = Clock::now();
  std::filesystem::remove(path);
  if (!set) {
    std::fprintf(stderr, "%s\n", set.error().message.c_str());
    return 1;
  }
  rightsize::evals::PlanOptions opt;
  opt.reference = fmt::format("m{:02}", models - 1);
  opt.extract = extract;
  opt.quality = 0.97;
  opt.max_stages = max_stages;
  opt.learned = learned;
  auto plan = rightsize::evals::planRoute(*set, opt);
  auto t3 = Clock::now();
  if (!plan) {
    std::fprintf(stderr, "%s\n", plan.error().message.c_str());
    return 1;
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  fmt::print("plan benchmark: {} prompts x {} models, max_stages {}, {} folds, --extract {}, {} candidates{}\n", prompts,
             models, max_stages, opt.folds, extract, plan->candidates.size(), learned ? " (--learned: with learned + cascade)" : " (no learned candidates)");
  fmt::print("  write synthetic data   {:8.2f} s (not part of plan)\n", seconds(t0, t1));
  fmt::print("  read outcomes          {:8.2f} s\n", seconds(t1, t2));
  fmt::print("  plan (search + CV)     {:8.2f} s\n", seconds(t2, t3));
  fmt::print("  read + plan            {:8.2f} s\n", seconds(t1, t3));
  fmt::print("  peak RSS               {:8.1f} MB\n", static_cast<double>(ru.ru_maxrss) / 1024.0);
  fmt::print("  chosen: {} (held-out quality {:.4f} vs reference {:.4f}, cost {:.6f} vs {:.6f})\n",
             plan->candidates[plan->chosen].name, plan->cv_quality, plan->cv_ref_quality, plan->cv_cost_usd,
             plan->cv_ref_cost_usd);
  return 0;
}
