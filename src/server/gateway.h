#pragma once
// The gateway: the HTTP endpoints, and the wiring of the chat pipeline (src/pipeline/): built once
// from a validated Config — providers with their breakers, routes with their policies and
// dispatch strategies, the session pin store, the chain of stages — then handle() runs
// concurrently on every worker thread. A chat request is a RequestContext run through the chain.

#include <atomic>
#include <memory>
#include <string>

#include "api/responses.h"
#include "config/config.h"
#include "http/server.h"
#include "pipeline/chain.h"
#include "pipeline/services.h"
#include "pipeline/shadow.h"
#include "server/accounting.h"
#include "server/auth.h"
#include "server/response_shape.h"

namespace rightsize::server {

namespace asio = boost::asio;

class Gateway : public std::enable_shared_from_this<Gateway> {
 public:
  // Builds providers (replay data is loaded here), breakers and route policies. Any failure —
  // a bad replay file, an unknown policy, a bad router file — is returned; nothing half-starts.
  static Result<std::unique_ptr<Gateway>> make(std::shared_ptr<const config::Config> cfg);

  // The http::Handler.
  asio::awaitable<void> handle(http::Request& req, http::ResponseWriter& w);
  // The http::ErrorResponder: an OpenAI error body with the given status.
  http::Response errorResponse(int status, std::string message, std::string_view target = {}) const;

  // The configuration this gateway was built from.
  const config::Config& config() const { return *cfg_; }

  // /readyz answers 503 from now on.
  void setDraining() { draining_ = true; }
  // Where answered requests are recorded (ledger + /metrics); null: not recorded, /metrics
  // answers 404. Set once, before serving. Not owned.
  void setAccounting(Accounting* acc);
  // Virtual keys, budgets and rate limits (src/server/auth.h); null: none. Set once, before
  // serving. Not owned.
  void setKeyAuth(KeyAuth* ka);
  // Shadow evaluation (pipeline/shadow.h, docs/shadow.md); null: none. Set once, before serving.
  // Not owned; shared by every gateway a reload builds.
  void setShadow(pipeline::ShadowRunner* runner);
  // After the worker threads stopped, or once no request uses this gateway any more (a gateway
  // retired by a reload): releases upstream connection pools. Idempotent.
  void shutdown() {
    for (auto& [_, p] : services_.providers) p.provider->shutdown();
  }

 private:
  explicit Gateway(std::shared_ptr<const config::Config> cfg);

  // The chat pipeline. `shape` null: OpenAI in and out; else the client's API (response_shape.h).
  asio::awaitable<void> chat(http::Request& req, http::ResponseWriter& w, const ResponseShape* shape = nullptr);
  // POST /v1/messages (server/anthropic_ingress.cc): chat() with the Anthropic shape.
  asio::awaitable<void> messages(http::Request& req, http::ResponseWriter& w);
  // POST /v1/messages/count_tokens (server/anthropic_ingress.cc): {"input_tokens": N} from the
  // Anthropic upstream when the model (a route: its first candidate) is served by a kind: anthropic
  // provider, else (or when that call fails) the gateway's estimate (api::estimateTokens over the
  // translated content); 404 for an unknown model.
  asio::awaitable<void> countTokens(http::Request& req, http::ResponseWriter& w);
  // POST /v1/responses (server/responses_ingress.cc): chat() with an OpenAI Responses shape made
  // for the request, continuing its previous_response_id's stored conversation (404 when it is
  // unknown or another key's, 400 when it was sensitive, 503 when the store fails).
  asio::awaitable<void> responses(http::Request& req, http::ResponseWriter& w);
  // GET / DELETE /v1/responses/{id}: a stored response, only to the key that made it (404 otherwise;
  // a sensitive one's content was never stored: 404 to GET).
  asio::awaitable<void> storedResponse(http::Request& req, http::ResponseWriter& w, std::string_view id);
  // POST /v1/embeddings: the embeddings pipeline (pipeline/embeddings_chain.h).
  asio::awaitable<void> embeddings(http::Request& req, http::ResponseWriter& w);
  http::Response models() const;
  http::Response ready() const;

  // KeyAuth and Accounting as the pipeline sees them (pipeline/services.h).
  class KeyGateOf final : public pipeline::KeyGate {
   public:
    explicit KeyGateOf(KeyAuth& ka) : ka_(ka) {}
    Result<std::shared_ptr<const limits::KeyRecord>> authenticate(const http::Request& req) const override {
      return ka_.authenticate(req);
    }
    asio::awaitable<limits::Admission> admit(const limits::KeyRecord& key, int64_t est_tokens,
                                             Nanos est_cost) override {
      return ka_.admit(key, est_tokens, est_cost);
    }
    http::Response refusal(const limits::Admission& a, const ResponseShape* shape) const override {
      return KeyAuth::refusal(a, shape);
    }
    void settle(const limits::Admission& a, bool success, int64_t tokens, Nanos cost) override {
      ka_.settle(a, success, tokens, cost);
    }

   private:
    KeyAuth& ka_;
  };
  class RecorderOf final : public pipeline::RequestRecorder {
   public:
    explicit RecorderOf(Accounting& acc) : acc_(acc) {}
    void record(ledger::LedgerRecord&& r, bool routed) override { acc_.record(std::move(r), routed); }
    bool storePrompts() const override { return acc_.storePrompts(); }
    void recordShadow(ledger::ShadowGradeRecord&& g) override { acc_.recordShadow(std::move(g)); }

   private:
    Accounting& acc_;
  };

  std::shared_ptr<const config::Config> cfg_;
  std::unique_ptr<asio::ssl::context> tls_;
  pipeline::Services services_;
  pipeline::Chain chain_;
  pipeline::Chain embeddings_chain_;
  std::string models_body_;
  // Recent Responses output items, for item_reference (thread-safe).
  api::ResponseItemStore response_items_;
  std::atomic<bool> draining_{false};
  Accounting* accounting_ = nullptr;
  KeyAuth* key_auth_ = nullptr;
  std::unique_ptr<KeyGateOf> key_gate_;
  std::unique_ptr<RecorderOf> recorder_;
};

}  // namespace rightsize::server
