#include "config/config_builder.h"

#include <charconv>

#include <fmt/format.h>

namespace rightsize::config::detail {

Status ConfigBuilder::readListen(const Entry& e, std::string_view path, ServerConfig& s) const {
  std::string listen;
  if (auto st = readString(e, path, listen); !st) return st;
  auto bad = [&](std::string_view why) {
    return fail(errorAt(
        e.line, path, fmt::format("'{}': {} (expected host:port, e.g. 127.0.0.1:8080 or [::1]:8080)", listen, why)));
  };
  const std::string_view view = listen;
  std::string_view host;
  std::string_view port;
  if (startsWith(view, "[")) {
    const size_t close = view.find(']');
    if (close == std::string_view::npos) return bad("unclosed '['");
    if (view.substr(close + 1, 1) != ":") return bad("missing ':port' after ']'");
    host = view.substr(1, close - 1);
    port = view.substr(close + 2);
  } else {
    const size_t colon = view.rfind(':');
    if (colon == std::string_view::npos) return bad("missing ':port'");
    host = view.substr(0, colon);
    port = view.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return bad("an IPv6 address must be in brackets");
  }
  if (host.empty()) return bad("empty host");
  if (hasWhitespace(host)) return bad("host contains whitespace");
  uint32_t port_value = 0;
  const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), port_value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || port_value > 65535) {
    return bad("port must be an integer from 0 to 65535");
  }
  s.listen_host = std::string(host);
  s.listen_port = static_cast<uint16_t>(port_value);
  return {};
}

Status ConfigBuilder::readServer(const Entry& section, const std::string& path, ServerConfig& s) const {
  const std::vector<Field> fields = {
      {"listen", [&](const Entry& e, const std::string& p) { return readListen(e, p, s); }},
      {"threads", integer(s.threads, 0, 1024)},
      {"max_body_bytes", integer(s.max_body_bytes, 1, kMaxInt64)},
      {"max_header_bytes", integer(s.max_header_bytes, 1, kMaxUint32)},
      {"header_timeout_ms", millis(s.header_timeout, 1)},
      {"read_timeout_ms", millis(s.read_timeout, 1)},
      {"idle_timeout_ms", millis(s.idle_timeout, 1)},
      {"write_timeout_ms", millis(s.write_timeout, 1)},
      {"drain_timeout_ms", millis(s.drain_timeout, 0)},  // 0: stop at once
      {"max_connections", integer(s.max_connections, 1, kMaxUint32)},
      {"shadow_queue", integer(s.shadow_queue, 1, 1'000'000)},
      {"log_level", oneOf(s.log_level, {"trace", "debug", "info", "warn", "error", "off"})},
  };
  auto entries = readSection(section, path, fields);
  if (!entries) return fail(entries.error());
  return {};
}

}  // namespace rightsize::config::detail
