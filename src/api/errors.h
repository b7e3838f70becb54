#pragma once
// The one place that maps an ErrorCode to an HTTP status and an OpenAI error body.

#include <string>
#include <string_view>
#include <utility>

#include "common/result.h"

namespace rightsize::api {

// HTTP status for an error. Upstream 4xx statuses carried in Error::upstream_status for
// kUpstreamError pass through (a provider's 401/400 is reported as such, not as 502).
int httpStatus(const Error& e);

// OpenAI `type` for an error: invalid_request_error, authentication_error, permission_error,
// not_found_error, rate_limit_error, api_error, timeout_error, server_error.
const char* errorType(const Error& e);

// {"error": {"message": ..., "type": ..., "code": ..., "param": null}}
std::string errorBody(const Error& e, std::string_view param = {});  // param: null when empty

// A request field the API cannot accept (400 invalid_request_error), as a Result's error side:
// `return badRequest("model: must be a string");`
inline tl::unexpected<Error> badRequest(std::string message) {
  return fail(ErrorCode::kInvalidArgument, std::move(message));
}

// The same error as one SSE event ("data: {...}\n\n"), for failures after a stream started.
std::string errorEvent(const Error& e);

}  // namespace rightsize::api
