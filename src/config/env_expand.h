#pragma once
// Internal to src/config: ${VAR} expansion of config values.

#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "config/config.h"

namespace rightsize::config::detail {

// ${VAR} -> value, ${VAR:-default} -> value unless unset or empty, $${ -> literal "${".
// Expanded text is not expanded again. Variables are looked up with `env` (none when it is
// empty). Fails with what is wrong ("environment variable X is not set ..."), for the caller
// to prefix with where it was written.
tl::expected<std::string, std::string> expandEnv(std::string_view text, const EnvLookup& env);

}  // namespace rightsize::config::detail
