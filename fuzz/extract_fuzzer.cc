// Fuzzes the answer extractors of the cascade's agree stage (routing/extract.h), which read model
// output on the request path: the first input byte picks the extractor, the rest is the answer.
// Whatever comes back must be a normalized, non-empty value or no vote, and extracting the value
// again with `text` must give the value itself (normalizing is idempotent).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "routing/extract.h"

using rightsize::routing::Extractor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Extractor kinds[] = {
      *Extractor::parse("json:answer"), *Extractor::parse("regex:answer: *(\\w+)"), *Extractor::parse("number"),
      *Extractor::parse("choice"),      *Extractor::parse("answer"),                *Extractor::parse("text"),
  };
  static const Extractor text = *Extractor::parse("text");
  if (size == 0) return 0;
  const Extractor& ex = kinds[data[0] % (sizeof(kinds) / sizeof(kinds[0]))];
  const std::string_view answer(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto v = ex.extract(answer);
  if (!v) return 0;
  if (v->empty()) std::abort();
  const auto again = text.extract(*v);
  if (!again || *again != *v) std::abort();
  return 0;
}
