#pragma once
// The client-API shapes live with the request pipeline (src/pipeline/response_shape.h); the
// ingresses that provide one (server/anthropic_ingress.cc) are declared here; server/responses_ingress.cc makes one per request.

#include "pipeline/response_shape.h"

namespace rightsize::server {

using pipeline::ResponseShape;
using pipeline::StreamShape;

// The Anthropic Messages API shape (api/anthropic_ingress.h).
const ResponseShape& anthropicShape();

}  // namespace rightsize::server
