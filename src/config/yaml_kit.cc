#include "config/yaml_kit.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <set>
#include <utility>

#include "common/strings.h"
#include "config/env_expand.h"

namespace rightsize::config::detail {

const char* describeNode(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Null: return "null (no value)";
    case YAML::NodeType::Undefined: return "nothing";
  }
  return "nothing";
}

int lineOf(const YAML::Node& node) {
  const int line = node.Mark().line;
  return line < 0 ? 1 : line + 1;
}

bool hasWhitespace(std::string_view s) {
  for (char c : s)
    if (std::isspace(static_cast<unsigned char>(c))) return true;
  return false;
}

bool startsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

Error YamlKit::errorAt(int line, std::string_view path, std::string_view what) const {
  std::string msg = fmt::format("{}:{}: ", source_, line);
  if (!path.empty()) msg += fmt::format("{}: ", path);
  msg += what;
  return Error{ErrorCode::kInvalidArgument, std::move(msg)};
}

std::string YamlKit::child(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

std::vector<std::string_view> YamlKit::keysOf(const std::vector<Field>& fields) {
  std::vector<std::string_view> keys;
  for (const Field& f : fields) keys.push_back(f.key);
  return keys;
}

const Entry* YamlKit::find(const std::vector<Entry>& entries, std::string_view key) {
  for (const Entry& e : entries)
    if (e.key == key) return &e;
  return nullptr;
}

Result<std::vector<Entry>> YamlKit::entriesOf(const YAML::Node& node, std::string_view path, int line, Keys known) const {
  std::vector<Entry> out;
  if (node.IsNull() || !node.IsDefined()) return out;
  if (!node.IsMap()) return fail(errorAt(line, path, fmt::format("expected a map, got {}", describeNode(node))));
  const std::string where = path.empty() ? std::string("at top level") : fmt::format("in {}", path);
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;  // a copy: `it->` yields a temporary proxy
    const int key_line = lineOf(key);
    if (!key.IsScalar()) {
      return fail(errorAt(key_line, path, fmt::format("keys must be plain names, got {}", describeNode(key))));
    }
    const std::string& name = key.Scalar();
    if (!known.empty() && !contains(known, name)) {
      return fail(
          errorAt(key_line, "", fmt::format("unknown key '{}' {} (known: {})", name, where, joinKeys(known))));
    }
    if (name.empty()) return fail(errorAt(key_line, path, "empty name"));
    if (!seen.insert(name).second) {
      return fail(errorAt(key_line, "", fmt::format("duplicate key '{}' {}", name, where)));
    }
    out.push_back(Entry{name, it->second, key_line});
  }
  return out;
}

Status YamlKit::readEntries(const std::vector<Entry>& entries, std::string_view path,
                            const std::vector<Field>& fields) {
  for (const Entry& e : entries) {
    for (const Field& f : fields) {
      if (f.key != e.key) continue;
      if (auto st = f.read(e, child(path, e.key)); !st) return st;
    }
  }
  return {};
}

Result<std::vector<Entry>> YamlKit::readSection(const Entry& section, std::string_view path,
                                                const std::vector<Field>& fields) const {
  auto entries = entriesOf(section.value, path, section.line, keysOf(fields));
  if (!entries) return entries;
  if (auto st = readEntries(*entries, path, fields); !st) return fail(st.error());
  return entries;
}

Result<std::string> YamlKit::scalarText(const YAML::Node& node, int line, std::string_view path,
                                        std::string_view expected) const {
  if (!node.IsScalar()) {
    return fail(errorAt(line, path, fmt::format("expected {}, got {}", expected, describeNode(node))));
  }
  auto expanded = expandEnv(node.Scalar(), env_);
  if (!expanded) return fail(errorAt(line, path, expanded.error()));
  return std::move(*expanded);
}

Status YamlKit::readString(const Entry& e, std::string_view path, std::string& out) const {
  auto text = scalarText(e.value, e.line, path, "a string");
  if (!text) return fail(text.error());
  out = std::move(*text);
  return {};
}

Status YamlKit::readNonEmptyString(const Entry& e, std::string_view path, std::string& out) const {
  auto st = readString(e, path, out);
  if (st && out.empty()) return fail(errorAt(e.line, path, "must not be empty"));
  return st;
}

Status YamlKit::readPath(const Entry& e, std::string_view path, std::string& out) const {
  auto st = readNonEmptyString(e, path, out);
  if (st) out = resolvePath(out);
  return st;
}

std::string YamlKit::resolvePath(const std::string& p) const {
  if (base_dir_.empty() || std::filesystem::path(p).is_absolute()) return p;
  return (std::filesystem::path(base_dir_) / p).string();
}

Status YamlKit::readEnum(const Entry& e, std::string_view path, const Choices& allowed, std::string& out) const {
  auto text = scalarText(e.value, e.line, path, "a string");
  if (!text) return fail(text.error());
  if (!contains(allowed, *text)) {
    return fail(errorAt(e.line, path, fmt::format("must be one of {}; got '{}'", joinKeys(allowed), *text)));
  }
  out = std::move(*text);
  return {};
}

Result<int64_t> YamlKit::parseInt(const Entry& e, std::string_view path, int64_t min, int64_t max) const {
  auto text = scalarText(e.value, e.line, path, "an integer");
  if (!text) return fail(text.error());
  int64_t value = 0;
  const char* first = text->data();
  const char* last = first + text->size();
  const auto [ptr, ec] = std::from_chars(first, last, value);
  if (ec == std::errc::result_out_of_range) {
    return fail(errorAt(e.line, path, fmt::format("integer '{}' is out of range (at most {})", *text, max)));
  }
  if (ec != std::errc() || ptr != last || text->empty()) {
    return fail(errorAt(e.line, path, fmt::format("expected an integer, got '{}'", *text)));
  }
  if (value < min) return fail(errorAt(e.line, path, fmt::format("must be >= {}, got {}", min, value)));
  if (value > max) return fail(errorAt(e.line, path, fmt::format("must be <= {}, got {}", max, value)));
  return value;
}

Result<double> YamlKit::parseNumber(const Entry& e, std::string_view path) const {
  auto text = scalarText(e.value, e.line, path, "a number");
  if (!text) return fail(text.error());
  double value = 0;
  const char* first = text->data();
  const char* last = first + text->size();
  const auto [ptr, ec] = std::from_chars(first, last, value);
  if (ec != std::errc() || ptr != last || text->empty() || !std::isfinite(value)) {
    return fail(errorAt(e.line, path, fmt::format("expected a number, got '{}'", *text)));
  }
  return value;
}

Status YamlKit::readBool(const Entry& e, std::string_view path, bool& out) const {
  auto text = scalarText(e.value, e.line, path, "true or false");
  if (!text) return fail(text.error());
  if (*text == "true") out = true;
  else if (*text == "false") out = false;
  else return fail(errorAt(e.line, path, fmt::format("expected true or false, got '{}'", *text)));
  return {};
}

Status YamlKit::readStringMap(const Entry& e, const std::string& path, bool lower_keys,
                              std::map<std::string, std::string>& out) const {
  auto entries = entriesOf(e.value, path, e.line, {});
  if (!entries) return fail(entries.error());
  for (const Entry& kv : *entries) {
    const std::string key = lower_keys ? toLower(kv.key) : kv.key;
    if (out.count(key) != 0) return fail(errorAt(kv.line, child(path, kv.key), "given twice"));
    if (auto st = readString(kv, child(path, kv.key), out[key]); !st) return st;
  }
  return {};
}

Status YamlKit::checkKeysAllowed(const std::vector<Entry>& entries, std::string_view path, const Choices& allowed,
                                 std::string_view what) const {
  for (const Entry& e : entries) {
    if (!contains(allowed, e.key)) {
      return fail(errorAt(e.line, path, fmt::format("'{}' is not valid for {} (valid: {})", e.key, what,
                                                    joinKeys(allowed))));
    }
  }
  return {};
}

Status YamlKit::forEachNamed(const Entry& section, const std::string& path,
                             const std::function<Status(const Entry&, const std::string&)>& read) const {
  auto named = entriesOf(section.value, path, section.line, {});
  if (!named) return fail(named.error());
  for (const Entry& n : *named) {
    if (auto st = read(n, child(path, n.key)); !st) return st;
  }
  return {};
}

Status YamlKit::forEachItem(const Entry& e, const std::string& path, std::string_view what,
                            const std::function<Status(const Entry&, const std::string&)>& read) const {
  if (!e.value.IsSequence()) {
    return fail(errorAt(e.line, path, fmt::format("expected a list of {}, got {}", what, describeNode(e.value))));
  }
  size_t index = 0;
  for (auto it = e.value.begin(); it != e.value.end(); ++it) {
    const YAML::Node item = *it;
    Entry ie{std::string(), item, lineOf(item)};
    if (auto st = read(ie, fmt::format("{}[{}]", path, index++)); !st) return st;
  }
  return {};
}

FieldReader YamlKit::text(std::string& out) const {
  return [this, &out](const Entry& e, const std::string& p) { return readString(e, p, out); };
}

FieldReader YamlKit::nonEmptyText(std::string& out) const {
  return [this, &out](const Entry& e, const std::string& p) { return readNonEmptyString(e, p, out); };
}

FieldReader YamlKit::filePath(std::string& out) const {
  return [this, &out](const Entry& e, const std::string& p) { return readPath(e, p, out); };
}

FieldReader YamlKit::oneOf(std::string& out, Choices allowed) const {
  return [this, &out, allowed = std::move(allowed)](const Entry& e, const std::string& p) {
    return readEnum(e, p, allowed, out);
  };
}

FieldReader YamlKit::millis(Millis& out, int64_t min) const {
  return [this, &out, min](const Entry& e, const std::string& p) -> Status {
    auto v = parseInt(e, p, min, kMaxMillis);
    if (!v) return fail(v.error());
    out = Millis(*v);
    return {};
  };
}

FieldReader YamlKit::alreadyRead() {
  return [](const Entry&, const std::string&) -> Status { return {}; };
}

FieldReader YamlKit::boolean(bool& out) const {
  return [this, &out](const Entry& e, const std::string& p) { return readBool(e, p, out); };
}

FieldReader YamlKit::optionalBool(std::optional<bool>& out) const {
  return [this, &out](const Entry& e, const std::string& p) -> Status {
    bool b = false;
    if (auto st = readBool(e, p, b); !st) return st;
    out = b;
    return {};
  };
}

FieldReader YamlKit::optionalInt(std::optional<int64_t>& out, int64_t min, int64_t max) const {
  return [this, &out, min, max](const Entry& e, const std::string& p) -> Status {
    auto v = parseInt(e, p, min, max);
    if (!v) return fail(v.error());
    out = *v;
    return {};
  };
}

}  // namespace rightsize::config::detail
