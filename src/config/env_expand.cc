#include "config/env_expand.h"

#include <cctype>
#include <cstdlib>
#include <optional>

#include <fmt/format.h>

namespace rightsize::config {
namespace detail {
namespace {

bool isVariableName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    const bool ok = c == '_' || std::isalpha(c) || (i > 0 && std::isdigit(c));
    if (!ok) return false;
  }
  return true;
}

}  // namespace

tl::expected<std::string, std::string> expandEnv(std::string_view text, const EnvLookup& env) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      out += text[i++];
      continue;
    }
    const size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      return tl::unexpected<std::string>("unterminated '${' (write '$${' for a literal '${')");
    }
    const std::string_view inner = text.substr(i + 2, close - i - 2);
    const size_t sep = inner.find(":-");
    const std::string name(inner.substr(0, sep));
    if (!isVariableName(name)) {
      return tl::unexpected<std::string>(
          fmt::format("invalid environment variable name '{}' in '${{{}}}'", name, inner));
    }
    std::optional<std::string> value = env ? env(name) : std::nullopt;
    if (sep != std::string_view::npos && (!value || value->empty())) value = std::string(inner.substr(sep + 2));
    if (!value) {
      return tl::unexpected<std::string>(
          fmt::format("environment variable {} is not set (use ${{{}:-default}} for a default)", name, name));
    }
    out += *value;
    i = close + 1;
  }
  return out;
}

}  // namespace detail

EnvLookup processEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

}  // namespace rightsize::config
