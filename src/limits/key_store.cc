#include "limits/key_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace rightsize::limits {

namespace {

// An flock on "<path>.lock" for one read-modify-write of the keys file.
class FileLock {
 public:
  explicit FileLock(const std::string& path) {
    fd_ = ::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ >= 0 && ::flock(fd_, LOCK_EX) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
  }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

Error ioError(const std::string& what, const std::string& path) {
  return Error{ErrorCode::kIo, fmt::format("{} {}: {}", what, path, std::strerror(errno))};
}

void sortKeys(std::vector<KeyRecord>& keys) {
  std::sort(keys.begin(), keys.end(), [](const KeyRecord& a, const KeyRecord& b) {
    return a.created_unix != b.created_unix ? a.created_unix < b.created_unix : a.id < b.id;
  });
}

}  // namespace

Result<std::vector<KeyRecord>> FileKeyStore::readUnlocked() {
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::vector<KeyRecord>{};
    return fail(ioError("cannot open keys file", path_));
  }
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      ::close(fd);
      return fail(ioError("cannot read keys file", path_));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > (64u << 20)) {
      ::close(fd);
      return fail(ErrorCode::kCorruptData, "keys file " + path_ + " is over 64 MB");
    }
  }
  ::close(fd);
  auto keys = parseKeysFile(text);
  if (!keys) return fail(ErrorCode::kCorruptData, path_ + ": " + keys.error().message);
  sortKeys(*keys);
  return keys;
}

Result<void> FileKeyStore::writeUnlocked(const std::vector<KeyRecord>& keys) {
  const std::string tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);  // hashes only, still private
  if (fd < 0) return fail(ioError("cannot write keys file", tmp));
  const std::string text = keysFileJson(keys);
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return fail(ioError("cannot write keys file", tmp));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return fail(ioError("cannot write keys file", tmp));
  if (::rename(tmp.c_str(), path_.c_str()) != 0) return fail(ioError("cannot replace keys file", path_));
  return {};
}

// No lock: writers replace the file atomically (rename), so a reader sees the old or the new
// table, never half of one. The lock is for read-modify-write only, and a gateway that only
// reads its keys (every 500 ms) creates no `.lock` file beside them.
Result<std::vector<KeyRecord>> FileKeyStore::list() { return readUnlocked(); }

Result<void> FileKeyStore::add(const KeyRecord& rec) {
  FileLock lock(path_);
  if (!lock.ok()) return fail(ioError("cannot lock keys file", path_ + ".lock"));
  auto keys = readUnlocked();
  if (!keys) return fail(keys.error());
  for (const auto& k : *keys)
    if (k.id == rec.id) return fail(ErrorCode::kInternal, "key id collision; try again");
  keys->push_back(rec);
  return writeUnlocked(*keys);
}

Result<bool> FileKeyStore::revoke(const std::string& id) {
  FileLock lock(path_);
  if (!lock.ok()) return fail(ioError("cannot lock keys file", path_ + ".lock"));
  auto keys = readUnlocked();
  if (!keys) return fail(keys.error());
  bool found = false;
  for (auto& k : *keys)
    if (k.id == id) found = true, k.revoked = true;
  if (!found) return false;
  if (auto st = writeUnlocked(*keys); !st) return fail(st.error());
  return true;
}

Result<std::string> FileKeyStore::version() {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::string("absent");
    return fail(ioError("cannot stat keys file", path_));
  }
  return fmt::format("{}:{}:{}.{}", st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

// ---------------------------------------------------------------------------------------------
namespace {

constexpr const char* kIdsKey = "rs:keys";
constexpr const char* kVersionKey = "rs:keys:version";
std::string recordKey(const std::string& id) { return "rs:key:" + id; }

Result<RedisReply> checked(Result<RedisReply> r) {
  if (r && r->type == RedisReply::Type::kError) return fail(ErrorCode::kUnavailable, "redis: " + r->str);
  return r;
}

int64_t toInt(const std::string& s) {
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

Result<std::vector<KeyRecord>> RedisKeyStore::list() {
  auto ids = checked(conn_.command({"SMEMBERS", kIdsKey}));
  if (!ids) return fail(ids.error());
  std::vector<KeyRecord> out;
  for (const auto& idr : ids->elements) {
    auto h = checked(conn_.command({"HGETALL", recordKey(idr.str)}));
    if (!h) return fail(h.error());
    if (h->elements.empty()) continue;  // removed between the two reads
    KeyRecord r;
    r.id = idr.str;
    for (size_t i = 0; i + 1 < h->elements.size(); i += 2) {
      const std::string& f = h->elements[i].str;
      const std::string& v = h->elements[i + 1].str;
      if (f == "name") r.name = v;
      else if (f == "salt") r.salt_hex = v;
      else if (f == "hash") r.hash_hex = v;
      else if (f == "created") r.created_unix = toInt(v);
      else if (f == "revoked") r.revoked = v == "1";
      else if (f == "usd_per_day_nanos") r.limits.usd_per_day = toInt(v);
      else if (f == "usd_per_month_nanos") r.limits.usd_per_month = toInt(v);
      else if (f == "requests_per_minute") r.limits.requests_per_minute = toInt(v);
      else if (f == "tokens_per_minute") r.limits.tokens_per_minute = toInt(v);
      else if (f == "requests_per_day") r.limits.requests_per_day = toInt(v);
    }
    out.push_back(std::move(r));
  }
  sortKeys(out);
  return out;
}

Result<void> RedisKeyStore::add(const KeyRecord& rec) {
  const auto& l = rec.limits;
  // One script so a reader never sees the id without its record.
  static const std::string kAdd = R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('INCR', KEYS[3])
return 1)lua";
  auto r = checked(conn_.eval(kAdd, {recordKey(rec.id), kIdsKey, kVersionKey},
                              {rec.id, "name", rec.name, "salt", rec.salt_hex, "hash", rec.hash_hex, "created",
                               std::to_string(rec.created_unix), "revoked", rec.revoked ? "1" : "0",
                               "usd_per_day_nanos", std::to_string(l.usd_per_day), "usd_per_month_nanos",
                               std::to_string(l.usd_per_month), "requests_per_minute",
                               std::to_string(l.requests_per_minute), "tokens_per_minute",
                               std::to_string(l.tokens_per_minute), "requests_per_day",
                               std::to_string(l.requests_per_day)}));
  if (!r) return fail(r.error());
  if (r->integer != 1) return fail(ErrorCode::kInternal, "key id collision; try again");
  return {};
}

Result<bool> RedisKeyStore::revoke(const std::string& id) {
  static const std::string kRevoke = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'revoked', '1')
redis.call('INCR', KEYS[2])
return 1)lua";
  auto r = checked(conn_.eval(kRevoke, {recordKey(id), kVersionKey}, {}));
  if (!r) return fail(r.error());
  return r->integer == 1;
}

Result<std::string> RedisKeyStore::version() {
  auto r = checked(conn_.command({"GET", kVersionKey}));
  if (!r) return fail(r.error());
  return r->type == RedisReply::Type::kNil ? std::string("0") : r->str;
}

Result<OpenedStore> openKeyStore(const config::LimitsConfig& cfg) {
  OpenedStore out;
  if (cfg.kind == config::LimitsKind::kRedis) {
    auto url = parseRedisUrl(cfg.url);
    if (!url) return fail(url.error());
    out.conn = std::make_unique<RedisConnection>(*url, std::max(cfg.timeout, std::chrono::milliseconds(2000)));
    out.store = std::make_unique<RedisKeyStore>(*out.conn);
  } else {
    out.store = std::make_unique<FileKeyStore>(cfg.keys_file);
  }
  return out;
}

}  // namespace rightsize::limits
