#pragma once
// Request ids: 16 random bytes as 32 hex chars, from a per-thread generator seeded
// from the OS. Thread-safe (thread_local state).

#include <string>

namespace rightsize {

std::string newRequestId();

}  // namespace rightsize
