#pragma once
// Request ids: 16 random bytes as 32 hex chars, from a per-thread generator seeded
// from the OS. Thread-safe (thread_local state).

#include <string>
#include <string_view>

namespace rightsize {

std::string newRequestId();

// An id a client may choose (x-request-id, POST /v1/feedback's request_id): 1 to 128 characters
// of [A-Za-z0-9-_.:], what the ledger holds as an id and a log line prints safely.
bool validRequestId(std::string_view id);

}  // namespace rightsize
