// Fuzzes router file loading: RouterModel::parse on arbitrary bytes. The CRC makes random bytes
// fail early, so the fuzzer also wraps the input as a payload with a correct header and CRC
// (first input byte selects the mode) to reach the payload decoder. Whatever parses must be
// usable: validate() passes, serialize() round-trips, and predict()/choose() run on it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <zlib.h>

#include "routing/router_model.h"

using rightsize::routing::RouterModel;

namespace {
void put32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string bytes;
  if (data[0] & 1) {
    bytes.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  } else {
    // magic, format version, feature version, payload length, payload, CRC-32 of the payload (see router_model.h).
    std::string payload(reinterpret_cast<const char*>(data + 1), size - 1);
    bytes.append(rightsize::routing::kRouterMagic, 8);
    put32(bytes, rightsize::routing::kRouterFormatVersion);
    put32(bytes, rightsize::routing::kFeatureVersion);
    put64(bytes, payload.size());
    bytes += payload;
    put32(bytes, static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(payload.data()),
                                             static_cast<uInt>(payload.size()))));
  }
  auto m = RouterModel::parse(bytes, "fuzz.rsr");
  if (!m) return 0;
  if (!m->validate()) std::abort();
  const std::string again = m->serialize();
  auto m2 = RouterModel::parse(again, "again.rsr");
  if (!m2 || m2->serialize() != again) std::abort();
  if (m->modelCount() > 0 && m->modelCount() < 64) {
    std::vector<double> p(m->modelCount()), cost(m->modelCount());
    m->predict("Classify this ticket: my invoice is wrong", p);
    for (size_t i = 0; i < cost.size(); ++i) cost[i] = m->estimateCostUsd(i, 40);
    (void)m->choose(p, cost, {}, 0.5, m->anchor_model);
    (void)m->knobForQuality(0.9);
  }
  return 0;
}
