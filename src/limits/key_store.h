#pragma once
// Where key records live. Blocking calls: used by the CLI and, in the gateway, only on the
// limits worker thread — never on an io thread.
//   FileKeyStore  (limits.kind: memory) — one JSON file (limits.keys_file), replaced atomically
//                 (write to a temp file, fsync, rename) under an flock so the CLI and a running
//                 gateway can both change it.
//   RedisKeyStore (limits.kind: redis)  — hash rs:key:<id> per key, set rs:keys of ids, and a
//                 counter rs:keys:version bumped on every change, so replicas reload cheaply.

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "limits/keys.h"
#include "limits/redis.h"

namespace rightsize::limits {

class KeyStore {
 public:
  virtual ~KeyStore() = default;
  // Every record, revoked ones included, ordered by creation time then id.
  virtual Result<std::vector<KeyRecord>> list() = 0;
  virtual Result<void> add(const KeyRecord& rec) = 0;
  // Marks a key revoked. Returns false if there is no key with that id.
  virtual Result<bool> revoke(const std::string& id) = 0;
  // A value that changes whenever the set of records does; cheap to read.
  virtual Result<std::string> version() = 0;
};

class FileKeyStore final : public KeyStore {
 public:
  explicit FileKeyStore(std::string path) : path_(std::move(path)) {}
  Result<std::vector<KeyRecord>> list() override;
  Result<void> add(const KeyRecord& rec) override;
  Result<bool> revoke(const std::string& id) override;
  Result<std::string> version() override;
  const std::string& path() const { return path_; }

 private:
  Result<std::vector<KeyRecord>> readUnlocked();
  Result<void> writeUnlocked(const std::vector<KeyRecord>& keys);
  std::string path_;
};

class RedisKeyStore final : public KeyStore {
 public:
  // `conn` must outlive the store and be used by one thread at a time.
  explicit RedisKeyStore(RedisConnection& conn) : conn_(conn) {}
  Result<std::vector<KeyRecord>> list() override;
  Result<void> add(const KeyRecord& rec) override;
  Result<bool> revoke(const std::string& id) override;
  Result<std::string> version() override;

 private:
  RedisConnection& conn_;
};

// The store a config names, for the CLI (which owns the Redis connection it creates).
struct OpenedStore {
  std::unique_ptr<RedisConnection> conn;
  std::unique_ptr<KeyStore> store;
};
Result<OpenedStore> openKeyStore(const config::LimitsConfig& cfg);

}  // namespace rightsize::limits
