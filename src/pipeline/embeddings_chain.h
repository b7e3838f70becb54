#pragma once
// The chain POST /v1/embeddings runs: the chat chain's auth, route, privacy, decide, admit
// (without session pins) and account stages around the embeddings stages (embeddings_stages.h).

#include "pipeline/chain.h"
#include "pipeline/services.h"

namespace rightsize::pipeline {

// `s` must outlive the chain.
Chain makeEmbeddingsChain(const Services& s);

}  // namespace rightsize::pipeline
