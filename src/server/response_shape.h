#pragma once
// The client-API shapes live with the request pipeline (src/pipeline/response_shape.h); the
// ingresses that provide one (server/anthropic_ingress.cc, server/responses_ingress.cc) are declared here.

#include "pipeline/response_shape.h"

namespace rightsize::server {

using pipeline::ResponseShape;
using pipeline::StreamShape;

// The Anthropic Messages API shape (api/anthropic_ingress.h).
const ResponseShape& anthropicShape();
// The OpenAI Responses API shape (api/responses.h).
const ResponseShape& responsesShape();

}  // namespace rightsize::server
