#include "http/wire.h"

#include <charconv>

namespace rightsize::http {

namespace {

size_t fieldsSize(const bhttp::fields& f) {
  size_t n = 2;  // the empty line
  for (const auto& e : f) n += e.name_string().size() + e.value().size() + 4;
  return n;
}

void appendFields(std::string& out, const bhttp::fields& f) {
  for (const auto& e : f) {
    const auto name = e.name_string();
    const auto value = e.value();
    out.append(name.data(), name.size());
    out.append(": ", 2);
    out.append(value.data(), value.size());
    out.append("\r\n", 2);
  }
  out.append("\r\n", 2);
}

}  // namespace

void appendHead(std::string& out, const bhttp::response_header<>& h) {
  // Same digits as Beast's writer: "HTTP/X.Y ### reason\r\n".
  const unsigned version = h.version();
  const unsigned code = h.result_int();
  beast::string_view reason = h.reason();
  if (reason.empty()) reason = bhttp::obsolete_reason(static_cast<bhttp::status>(code));
  out.reserve(out.size() + 15 + reason.size() + fieldsSize(h));
  const char line[13] = {'H', 'T', 'T', 'P', '/', static_cast<char>('0' + version / 10), '.',
                         static_cast<char>('0' + version % 10), ' ', static_cast<char>('0' + code / 100),
                         static_cast<char>('0' + (code / 10) % 10), static_cast<char>('0' + code % 10), ' '};
  out.append(line, sizeof line);
  out.append(reason.data(), reason.size());
  out.append("\r\n", 2);
  appendFields(out, h);
}

void appendHead(std::string& out, const bhttp::request_header<>& h) {
  // "<method> <target> HTTP/X.Y\r\n"
  const unsigned version = h.version();
  const beast::string_view method = h.method_string();
  const beast::string_view target = h.target();
  out.reserve(out.size() + method.size() + target.size() + 12 + fieldsSize(h));
  out.append(method.data(), method.size());
  out.push_back(' ');
  out.append(target.data(), target.size());
  const char tail[11] = {' ', 'H', 'T', 'T', 'P', '/', static_cast<char>('0' + version / 10), '.',
                         static_cast<char>('0' + version % 10), '\r', '\n'};
  out.append(tail, sizeof tail);
  appendFields(out, h);
}

void HeadFields::insert(std::string_view name, std::string_view value) {
  // The trim of bhttp::fields (detail::trim: spaces and tabs).
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (text_.empty()) text_.reserve(512);
  text_.append(name);
  text_.append(": ", 2);
  text_.append(value);
  text_.append("\r\n", 2);
}

namespace {

void appendContentLength(std::string& out, uint64_t n) {
  char num[24];
  auto r = std::to_chars(num, num + sizeof num, n);
  out.append("Content-Length: ", 16);
  out.append(num, r.ptr);
  out.append("\r\n\r\n", 4);
}

}  // namespace

void appendResponseHead(std::string& out, unsigned status, const HeadFields& fields, bool keep_alive,
                        uint64_t content_length) {
  const beast::string_view reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  out.reserve(out.size() + 15 + reason.size() + fields.text().size() + 19 + 40);
  const char line[13] = {'H', 'T', 'T', 'P', '/', '1', '.', '1', ' ', static_cast<char>('0' + status / 100),
                         static_cast<char>('0' + (status / 10) % 10), static_cast<char>('0' + status % 10), ' '};
  out.append(line, sizeof line);
  out.append(reason.data(), reason.size());
  out.append("\r\n", 2);
  out.append(fields.text());
  if (!keep_alive) out.append("Connection: close\r\n", 19);
  appendContentLength(out, content_length);
}

void appendRequestHead(std::string& out, bhttp::verb method, std::string_view target, const HeadFields& fields,
                       std::string_view host, uint64_t content_length) {
  const beast::string_view m = bhttp::to_string(method);
  out.reserve(out.size() + m.size() + target.size() + 12 + fields.text().size() + host.size() + 8 + 40);
  out.append(m.data(), m.size());
  out.push_back(' ');
  out.append(target);
  out.append(" HTTP/1.1\r\n", 11);
  out.append(fields.text());
  out.append("Host: ", 6);
  out.append(host);
  out.append("\r\n", 2);
  appendContentLength(out, content_length);
}

}  // namespace rightsize::http
