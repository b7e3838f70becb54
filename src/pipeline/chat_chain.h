#pragma once
// The chat request's chain of stages, registered in one place (chat_chain.cc). A new concern is a
// new stage file plus one line there. docs/architecture.md walks a request through it.

#include "pipeline/chain.h"
#include "pipeline/services.h"

namespace rightsize::pipeline {

// auth → shape → route → privacy → decide → admit → dispatch, then account on every exit.
// `s` must outlive the chain.
Chain makeChatChain(const Services& s);

}  // namespace rightsize::pipeline
