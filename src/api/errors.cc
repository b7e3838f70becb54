#include "api/errors.h"

#include "common/strings.h"

namespace rightsize::api {

int httpStatus(const Error& e) {
  switch (e.code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kMalformedJson: return 400;
    case ErrorCode::kUnauthorized: return 401;
    case ErrorCode::kForbidden: return 403;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kMethodNotAllowed: return 405;
    case ErrorCode::kPayloadTooLarge: return 413;
    case ErrorCode::kRateLimited: return 429;
    case ErrorCode::kUpstreamError:
      // A provider's verdict on the request itself (bad key, bad field) is passed through;
      // its outages (5xx, 429 after retries) are a bad gateway.
      if (e.upstream_status >= 400 && e.upstream_status < 500 && e.upstream_status != 429 &&
          e.upstream_status != 408)
        return e.upstream_status;
      return 502;
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kTimeout: return 504;
    case ErrorCode::kIo:
    case ErrorCode::kCorruptData:
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

const char* errorType(const Error& e) {
  switch (httpStatus(e)) {
    case 400: case 404: case 405: case 413: case 422:
      return e.code == ErrorCode::kNotFound ? "not_found_error" : "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 429: return "rate_limit_error";
    case 504: return "timeout_error";
    case 500: return "server_error";
    default: return "api_error";
  }
}

std::string errorBody(const Error& e, std::string_view param) {
  std::string out = "{\"error\":{\"message\":";
  appendJsonString(out, e.message);
  out += ",\"type\":";
  appendJsonString(out, errorType(e));
  out += ",\"code\":";
  appendJsonString(out, errorCodeName(e.code));
  out += ",\"param\":";
  if (param.empty())
    out += "null";
  else
    appendJsonString(out, param);
  out += "}}";
  return out;
}

std::string errorEvent(const Error& e) { return "data: " + errorBody(e) + "\n\n"; }

}  // namespace rightsize::api
