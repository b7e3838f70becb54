#pragma once
// Result<T>: the return type of every operation that can fail in an expected way.
// No exceptions on the request path: failures travel as values.

#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace rightsize {

// One code per kind of failure. Each code maps to exactly one HTTP status and one
// OpenAI error `type` in api/errors.cc; nowhere else decides that mapping.
enum class ErrorCode {
  kInvalidArgument,   // bad input from a caller (CLI flag, config value, request field) -> 400
  kMalformedJson,     // body is not JSON -> 400
  kUnauthorized,      // missing or bad API key -> 401
  kForbidden,         // a policy forbids the request (e.g. sensitive data, no on-prem model) -> 403
  kNotFound,          // unknown model, route or path -> 404
  kMethodNotAllowed,  // -> 405
  kPayloadTooLarge,   // body over the limit -> 413
  kRateLimited,       // budget or rate limit -> 429
  kUpstreamError,     // upstream answered with an error after retries/fallbacks -> 502
  kUnavailable,       // no healthy candidate (all circuits open), draining -> 503
  kTimeout,           // upstream timed out -> 504
  kIo,                // local file or socket trouble (CLI, startup) -> 500
  kCorruptData,       // a file we read is not what it claims (router file, outcomes) -> 500
  kInternal,          // an invariant of ours broke -> 500
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  // Upstream status when the failure came from an upstream (0 otherwise); lets the
  // gateway pass 4xx client errors from a provider through unchanged.
  int upstream_status = 0;
};

template <typename T>
using Result = tl::expected<T, Error>;

// Builds the unexpected side of a Result: `return fail(ErrorCode::kNotFound, "no such model");`
inline tl::unexpected<Error> fail(ErrorCode code, std::string message, int upstream_status = 0) {
  return tl::unexpected<Error>(Error{code, std::move(message), upstream_status});
}
inline tl::unexpected<Error> fail(Error e) { return tl::unexpected<Error>(std::move(e)); }

// Name of a code for logs and tests ("not_found").
const char* errorCodeName(ErrorCode code);

}  // namespace rightsize
