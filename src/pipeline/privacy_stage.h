#pragma once
// Stage "privacy", before any policy decides and before anything is sent anywhere: a sensitive
// request (flagged, or with personal data found by the PII detector) may only reach on-prem
// models, fallbacks included (PolicyServices::restrictSensitive); when the route has none it is
// refused with 403 and never sent. Sets info.sensitive; removes remote fallbacks.

#include "pipeline/services.h"
#include "pipeline/stage.h"

namespace rightsize::pipeline {

class PrivacyStage final : public Stage {
 public:
  explicit PrivacyStage(const Services& s) : s_(s) {}
  std::string_view name() const override { return "privacy"; }
  Flow run(RequestContext& ctx) override;

 private:
  const Services& s_;
};

}  // namespace rightsize::pipeline
