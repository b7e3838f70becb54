#pragma once
// Internal to src/config: the YAML kit the section readers are written with. Entries of a
// mapping with their lines, scalar readers (strings, paths, enums, integers, numbers,
// booleans) after ${VAR} expansion, FieldReader factories, and "<source>:<line>: <path>: <what>"
// errors. Every reader fails with the first problem found; none throws, but yaml-cpp may (the
// caller of the kit catches, see parseConfig).

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "common/result.h"
#include "config/config.h"

namespace rightsize::config::detail {

// Every duration fits an int32 of milliseconds (~24.8 days): generous for any timeout, and
// safe to hand to timers, sockets and arithmetic on time points without overflow.
constexpr int64_t kMaxMillis = std::numeric_limits<int32_t>::max();
constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();
constexpr int64_t kMaxUint32 = std::numeric_limits<uint32_t>::max();
// Prices become integer nano-dollars per million tokens (common/money.h); this bound keeps them, and
// their products with token counts, far from int64 / int128 overflow.
constexpr double kMaxUsdPerMtok = 1'000'000;

using Status = Result<void>;
using Keys = std::span<const std::string_view>;
// Values an enumerated key accepts. Owned (not an initializer_list) so readers may keep it.
using Choices = std::vector<std::string_view>;

template <typename Range>
bool contains(const Range& keys, std::string_view key) {
  for (std::string_view k : keys)
    if (k == key) return true;
  return false;
}

template <typename Range>
std::string joinKeys(const Range& keys) {
  std::string out;
  for (std::string_view k : keys) {
    if (!out.empty()) out += ", ";
    out += k;
  }
  return out;
}

const char* describeNode(const YAML::Node& node);

// 1-based line of `node`; nodes without a position (an empty document) count as line 1.
int lineOf(const YAML::Node& node);

bool hasWhitespace(std::string_view s);

bool startsWith(std::string_view s, std::string_view prefix);

// One key/value pair of a YAML mapping. `line` is where the key was written: a value's own
// mark can point past blank lines (an empty value) so the key's line is what users recognise.
struct Entry {
  std::string key;
  YAML::Node value;
  int line = 1;
};

// Reads one key's value into its destination; `path` names the key in messages ("server.threads").
using FieldReader = std::function<Status(const Entry& e, const std::string& path)>;

// One key a section accepts and how its value is read. A section's table is also its list of
// known keys, in the order messages list them.
struct Field {
  std::string_view key;
  FieldReader read;
};

// The readers, bound to one document: its `source` (for messages), the environment ${VAR}
// expands from, and the directory relative paths resolve against (none when empty). Holds
// references: all three must outlive the kit. FieldReaders it makes capture `this`.
class YamlKit {
 public:
  YamlKit(const std::string& source, const EnvLookup& env, const std::string& base_dir)
      : source_(source), env_(env), base_dir_(base_dir) {}

  Error errorAt(int line, std::string_view path, std::string_view what) const;

  static std::string child(std::string_view path, std::string_view key);

  static std::vector<std::string_view> keysOf(const std::vector<Field>& fields);

  static const Entry* find(const std::vector<Entry>& entries, std::string_view key);

  // The entries of a mapping in document order. A null node (a key with no value) is an empty
  // mapping. Fails on anything else that is not a mapping, on non-scalar, empty or repeated
  // keys, and, when `known` is non-empty, on keys outside `known`. `line` locates `node`.
  Result<std::vector<Entry>> entriesOf(const YAML::Node& node, std::string_view path, int line, Keys known) const;

  // Calls each entry's reader, in document order. Every entry's key must be in `fields`.
  static Status readEntries(const std::vector<Entry>& entries, std::string_view path,
                            const std::vector<Field>& fields);

  // A whole section: its keys must be those of `fields`; each present one is read.
  Result<std::vector<Entry>> readSection(const Entry& section, std::string_view path,
                                         const std::vector<Field>& fields) const;

  // The text of a scalar after ${VAR} expansion. Fails on maps, lists and null.
  Result<std::string> scalarText(const YAML::Node& node, int line, std::string_view path,
                                 std::string_view expected) const;

  Status readString(const Entry& e, std::string_view path, std::string& out) const;

  Status readNonEmptyString(const Entry& e, std::string_view path, std::string& out) const;

  // A file path; relative ones are taken relative to base_dir_ when it is set.
  Status readPath(const Entry& e, std::string_view path, std::string& out) const;

  std::string resolvePath(const std::string& p) const;

  Status readEnum(const Entry& e, std::string_view path, const Choices& allowed, std::string& out) const;

  // Decimal integers only: no signs other than '-', no hex, no fractions, no exponents.
  Result<int64_t> parseInt(const Entry& e, std::string_view path, int64_t min, int64_t max) const;

  Result<double> parseNumber(const Entry& e, std::string_view path) const;

  Status readBool(const Entry& e, std::string_view path, bool& out) const;

  // A map of plain strings (rules' metadata and headers). `lower_keys` folds names to lower case.
  Status readStringMap(const Entry& e, const std::string& path, bool lower_keys,
                       std::map<std::string, std::string>& out) const;

  // Fails on the first entry whose key is not in `allowed`: "'<key>' is not valid for <what>
  // (valid: <allowed>)", at the entry's line.
  Status checkKeysAllowed(const std::vector<Entry>& entries, std::string_view path, const Choices& allowed,
                          std::string_view what) const;

  // Runs `read` on each entry of a mapping of named things (providers, models, routes), with the
  // entry's path. A null node is an empty mapping; anything else that is not a mapping fails.
  Status forEachNamed(const Entry& section, const std::string& path,
                      const std::function<Status(const Entry&, const std::string&)>& read) const;

  // Runs `read` on each item of a list, as an Entry whose line is the item's.
  Status forEachItem(const Entry& e, const std::string& path, std::string_view what,
                     const std::function<Status(const Entry&, const std::string&)>& read) const;

  // --- FieldReader factories: each binds a destination and its rules. ---

  FieldReader text(std::string& out) const;

  FieldReader nonEmptyText(std::string& out) const;

  FieldReader filePath(std::string& out) const;

  FieldReader oneOf(std::string& out, Choices allowed) const;

  template <typename T>
  FieldReader integer(T& out, int64_t min, int64_t max) const {
    return [this, &out, min, max](const Entry& e, const std::string& p) -> Status {
      auto v = parseInt(e, p, min, max);
      if (!v) return fail(v.error());
      out = static_cast<T>(*v);
      return {};
    };
  }

  // Durations are written as integer milliseconds under a `_ms` key.
  FieldReader millis(Millis& out, int64_t min) const;

  template <class Out>  // double or std::optional<double>
  FieldReader price(Out& out) const {
    return [this, &out](const Entry& e, const std::string& p) -> Status {
      auto v = parseNumber(e, p);
      if (!v) return fail(v.error());
      if (*v < 0) return fail(errorAt(e.line, p, fmt::format("must be >= 0, got {}", *v)));
      if (*v > kMaxUsdPerMtok)
        return fail(errorAt(e.line, p, fmt::format("must be <= {}, got {}", kMaxUsdPerMtok, *v)));
      out = *v;
      return {};
    };
  }

  // For a key read before the others because their rules depend on it.
  static FieldReader alreadyRead();

  FieldReader boolean(bool& out) const;

  FieldReader optionalBool(std::optional<bool>& out) const;

  FieldReader optionalInt(std::optional<int64_t>& out, int64_t min, int64_t max) const;

 protected:
  const std::string& source_;
  const EnvLookup& env_;
  const std::string& base_dir_;
};

}  // namespace rightsize::config::detail
