#pragma once
// Stage "auth": who is calling. With virtual keys (Services::keys) the request must present a
// valid key: missing, unknown or revoked is 401 (503 while the key table cannot be loaded), before
// the body is even parsed. Fills ctx.key and info.key_id. No keys configured: passes.

#include "pipeline/services.h"
#include "pipeline/stage.h"

namespace rightsize::pipeline {

class AuthStage final : public Stage {
 public:
  explicit AuthStage(const Services& s) : s_(s) {}
  std::string_view name() const override { return "auth"; }
  Flow run(RequestContext& ctx) override;

 private:
  const Services& s_;
};

}  // namespace rightsize::pipeline
