#pragma once
// The client API a request came in through. The pipeline (src/pipeline/chain.h) speaks OpenAI Chat
// Completions; another ingress (POST /v1/messages, server/anthropic_ingress.cc) hands it a
// ResponseShape that turns the client's body into an OpenAI one (the shape stage), and the
// pipeline's OpenAI-shaped answers — errors, whole completions, stream chunks — into the client's
// shapes. A null shape means OpenAI as is (the hot path pays nothing).

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "api/chat_response.h"
#include "common/result.h"

namespace rightsize::pipeline {

struct RequestInfo;

// Per streamed request: turns the relayed OpenAI chunks into the client's events. Not thread-safe.
class StreamShape {
 public:
  virtual ~StreamShape() = default;
  // Appends what to send for one OpenAI chunk payload (possibly nothing). An Error ends the
  // stream with errorEvent().
  virtual Result<void> chunk(std::string_view data, std::string& out) = 0;
  // Appends the events that end a complete stream (in place of "data: [DONE]").
  virtual void done(const api::Usage& usage, std::string& out) = 0;
  // The event that reports a failure after the stream started.
  virtual std::string errorEvent(const Error& e) const = 0;
};

// Immutable and shared by every request of its ingress, or made for one request (then used by
// that request's coroutine only).
class ResponseShape {
 public:
  virtual ~ResponseShape() = default;
  // The client's body → an OpenAI Chat Completions body (errors are answered with errorBody()).
  virtual Result<std::string> request(std::string_view body) const = 0;
  virtual std::string errorBody(const Error& e) const = 0;
  // A non-streaming OpenAI chat.completion → the client's answer body.
  virtual Result<std::string> completion(std::string_view body, const std::optional<api::Usage>& usage) const = 0;
  virtual std::unique_ptr<StreamShape> stream() const = 0;
  // Called once when the request is finished, answered or not, before its ledger row is written
  // (the account stage): a shape made for one request may keep what it answered (the Responses
  // API's stored responses). Default: nothing.
  virtual void finished(const RequestInfo& /*info*/) const {}
};

}  // namespace rightsize::pipeline
