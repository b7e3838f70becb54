#include "routing/router_model.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace rightsize::routing {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr size_t kHeaderBytes = 8 + 4 + 4 + 8;  // magic, version, feature version, payload length
constexpr uint32_t kMaxModels = 4096;
constexpr uint32_t kMaxKnobs = 100000;

// Little-endian, explicit widths: the file is the same on every machine.
class ByteWriter {
 public:
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) buf_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) buf_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void f32(float v) { u32(std::bit_cast<uint32_t>(v)); }
  void f64(double v) { u64(std::bit_cast<uint64_t>(v)); }
  void str(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    buf_.append(s);
  }
  void floats(const std::vector<float>& v) {
    u32(static_cast<uint32_t>(v.size()));
    for (float x : v) f32(x);
  }
  std::string& bytes() { return buf_; }

 private:
  std::string buf_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view b) : b_(b) {}
  bool ok() const { return ok_; }
  size_t pos() const { return pos_; }
  bool atEnd() const { return pos_ == b_.size(); }
  size_t remaining() const { return b_.size() - pos_; }
  uint32_t u32() {
    if (!need(4)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(b_[pos_ + i])) << (8 * i);
    pos_ += 4;
    return v;
  }
  uint64_t u64() {
    if (!need(8)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(b_[pos_ + i])) << (8 * i);
    pos_ += 8;
    return v;
  }
  float f32() { return std::bit_cast<float>(u32()); }
  double f64() { return std::bit_cast<double>(u64()); }
  std::string str(size_t max_len) {
    uint32_t n = u32();
    if (!ok_ || n > max_len || !need(n)) {
      ok_ = false;
      return {};
    }
    std::string s(b_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  std::vector<float> floats(size_t max_len) {
    uint32_t n = u32();
    if (!ok_ || n > max_len || !need(static_cast<size_t>(n) * 4)) {
      ok_ = false;
      return {};
    }
    std::vector<float> v(n);
    for (auto& x : v) x = f32();
    return v;
  }

 private:
  bool need(size_t n) {
    if (!ok_ || b_.size() - pos_ < n) ok_ = false;
    return ok_;
  }
  std::string_view b_;
  size_t pos_ = 0;
  bool ok_ = true;
};

void writeHead(ByteWriter& w, const LinearHead& h, uint32_t hash_bits) {
  w.u32(h.outputs);
  w.floats(h.bias);
  w.floats(h.dense_w);
  // Only the rows some training prompt touched are non-zero: store those, without padding.
  const size_t rows = size_t{1} << hash_bits;
  auto nonzero_row = [&](size_t r) {
    const float* row = h.row(static_cast<uint32_t>(r));
    return std::any_of(row, row + h.outputs, [](float x) { return x != 0.0f; });
  };
  uint32_t nonzero = 0;
  for (size_t r = 0; r < rows; ++r) nonzero += nonzero_row(r) ? 1 : 0;
  w.u32(nonzero);
  for (size_t r = 0; r < rows; ++r) {
    if (!nonzero_row(r)) continue;
    w.u32(static_cast<uint32_t>(r));
    const float* row = h.row(static_cast<uint32_t>(r));
    for (uint32_t c = 0; c < h.outputs; ++c) w.f32(row[c]);
  }
}

bool readHead(ByteReader& r, LinearHead& h, uint32_t hash_bits, std::string& why) {
  const uint32_t outputs = r.u32();
  if (!r.ok() || outputs == 0 || outputs > kMaxModels) {
    why = "bad output count";
    return false;
  }
  if ((size_t{1} << hash_bits) * ((outputs + 3) / 4 * 4) > kMaxTableFloats) {
    why = "table of 2^" + std::to_string(hash_bits) + " rows x " + std::to_string(outputs) + " outputs is too large";
    return false;
  }
  h.reset(hash_bits, outputs);
  h.bias = r.floats(kMaxModels);
  h.dense_w = r.floats(static_cast<size_t>(kMaxModels) * kDenseFeatures);
  const size_t rows = size_t{1} << hash_bits;
  const uint32_t nonzero = r.u32();
  if (!r.ok() || nonzero > rows || static_cast<size_t>(nonzero) * (4 + 4 * outputs) > r.remaining()) {
    why = r.ok() ? "bad row count" : "truncated";
    return false;
  }
  uint32_t prev = 0;
  for (uint32_t i = 0; i < nonzero && r.ok(); ++i) {
    const uint32_t row = r.u32();
    if (!r.ok() || row >= rows || (i > 0 && row <= prev)) {
      why = "bad row index";
      return false;
    }
    prev = row;
    float* dst = h.row(row);
    for (uint32_t c = 0; c < outputs; ++c) dst[c] = r.f32();
  }
  if (!r.ok()) why = "truncated";
  return r.ok();
}

template <typename T>
bool allFinite(const std::vector<T>& v) {
  return std::all_of(v.begin(), v.end(), [](T x) { return std::isfinite(x); });
}

thread_local PromptFeatures t_features;

// Sum of the table rows of the buckets. A fixed row width lets the compiler keep the sums in
// registers and vectorize the adds.
template <uint32_t S>
void accumulateFixed(const float* table, std::span<const uint32_t> buckets, float* acc) {
  float a[S] = {};
  for (uint32_t b : buckets) {
    const float* row = table + static_cast<size_t>(b) * S;
    for (uint32_t c = 0; c < S; ++c) a[c] += row[c];
  }
  for (uint32_t c = 0; c < S; ++c) acc[c] = a[c];
}

void accumulate(const LinearHead& h, std::span<const uint32_t> buckets, float* acc) {
  switch (h.stride) {
    case 4: return accumulateFixed<4>(h.table.data(), buckets, acc);
    case 8: return accumulateFixed<8>(h.table.data(), buckets, acc);
    case 12: return accumulateFixed<12>(h.table.data(), buckets, acc);
    case 16: return accumulateFixed<16>(h.table.data(), buckets, acc);
    case 20: return accumulateFixed<20>(h.table.data(), buckets, acc);
    case 24: return accumulateFixed<24>(h.table.data(), buckets, acc);
    case 32: return accumulateFixed<32>(h.table.data(), buckets, acc);
    default: break;
  }
  std::fill(acc, acc + h.stride, 0.0f);
  for (uint32_t b : buckets) {
    const float* row = h.row(b);
    for (uint32_t c = 0; c < h.stride; ++c) acc[c] += row[c];
  }
}

}  // namespace

void LinearHead::reset(uint32_t hash_bits, uint32_t n_outputs) {
  outputs = n_outputs;
  stride = (n_outputs + 3) / 4 * 4;
  table.assign((size_t{1} << hash_bits) * stride, 0.0f);
  bias.assign(n_outputs, 0.0f);
  dense_w.assign(static_cast<size_t>(kDenseFeatures) * n_outputs, 0.0f);
}

int RouterModel::modelIndex(std::string_view name) const {
  for (size_t i = 0; i < models.size(); ++i)
    if (models[i] == name) return static_cast<int>(i);
  return -1;
}

void RouterModel::predict(std::string_view ask, std::span<double> out) const {
  extractFeatures(ask, hash_bits, t_features);
  predictFeatures(t_features, out);
}

void RouterModel::predictFeatures(const PromptFeatures& f, std::span<double> out) const {
  const size_t m_count = models.size();
  const size_t t_count = tasks.size();
  const size_t outs = head.outputs;
  float dstd[kDenseFeatures];
  for (size_t d = 0; d < kDenseFeatures; ++d) dstd[d] = (f.dense[d] - dense_mean[d]) * dense_inv_std[d];
  constexpr size_t kInline = 128;
  float inline_acc[kInline];
  double inline_z[kInline];
  std::vector<float> heap_acc;
  std::vector<double> heap_z;
  float* acc = inline_acc;
  double* z = inline_z;
  if (head.stride > kInline) {
    heap_acc.resize(head.stride);
    heap_z.resize(head.stride);
    acc = heap_acc.data();
    z = heap_z.data();
  }
  accumulate(head, f.buckets(), acc);
  for (size_t c = 0; c < outs; ++c) {
    double v = head.bias[c] + static_cast<double>(f.sparse_scale) * acc[c];
    for (size_t d = 0; d < kDenseFeatures; ++d) v += dstd[d] * head.dense_w[d * outs + c];
    z[c] = v;
  }
  if (t_count > 0) {
    // Task probabilities (softmax), in place over the task columns.
    double* tz = z + m_count;
    double zmax = tz[0];
    for (size_t t = 1; t < t_count; ++t) zmax = std::max(zmax, tz[t]);
    double sum = 0;
    for (size_t t = 0; t < t_count; ++t) sum += (tz[t] = std::exp(tz[t] - zmax));
    for (size_t t = 0; t < t_count; ++t) tz[t] /= sum;
    for (size_t m = 0; m < m_count; ++m) {
      double q = 0;
      for (size_t t = 0; t < t_count; ++t) q += tz[t] * task_mu[t * m_count + m];
      q = std::clamp(q, 1e-4, 1 - 1e-4);
      z[m] += task_weight[m] * std::log(q / (1 - q));
    }
  }
  const size_t m_out = std::min(m_count, out.size());
  if (ood.empty()) {
    for (size_t m = 0; m < m_out; ++m) out[m] = sigmoid(z[m]);
    return;
  }
  const double lam = std::clamp(static_cast<double>(ood[0]) + ood[1] * coverage(f), 0.0, 1.0);
  for (size_t m = 0; m < m_out; ++m) out[m] = lam * sigmoid(z[m]) + (1 - lam) * mean_score[m];
}

double RouterModel::coverage(const PromptFeatures& f) const {
  if (sketch_bits == 0) return 1.0;
  return sketchCoverage(f.hashes(), sketch.data(), sketch_bits);
}

double RouterModel::weightForKnob(double knob) const {
  if (!(knob > 0)) return kInf;
  if (knob >= 1) return 0;
  if (knobs.empty()) return (1 - knob) / knob;  // uncalibrated fallback, still monotone
  if (knob <= knobs.front().knob) return knobs.front().weight;
  if (knob >= knobs.back().knob) return knobs.back().weight;
  auto it = std::upper_bound(knobs.begin(), knobs.end(), knob,
                             [](double k, const KnobPoint& p) { return k < p.knob; });
  const KnobPoint& hi = *it;
  const KnobPoint& lo = *(it - 1);
  if (hi.knob <= lo.knob) return hi.weight;
  double t = (knob - lo.knob) / (hi.knob - lo.knob);
  // Interpolate in log space when both are positive (the table spans decades).
  if (lo.weight > 0 && hi.weight > 0) return std::exp((1 - t) * std::log(lo.weight) + t * std::log(hi.weight));
  return (1 - t) * lo.weight + t * hi.weight;
}

double RouterModel::knobForQuality(double target) const {
  for (const auto& p : knobs)
    if (p.quality >= target) return p.knob;
  return 1.0;
}

int RouterModel::choose(std::span<const double> p, std::span<const double> cost_usd,
                        std::span<const uint8_t> allowed, double knob, int anchor) const {
  return chooseWithWeight(p, cost_usd, allowed, weightForKnob(knob), anchor);
}

int RouterModel::chooseWithWeight(std::span<const double> p, std::span<const double> cost_usd,
                                  std::span<const uint8_t> allowed, double weight, int anchor) const {
  int best = -1;
  auto quality = [&](size_t i) { return static_cast<int>(i) == anchor ? p[i] + anchor_bonus : p[i]; };
  const double scale = cost_scale_usd > 0 ? cost_scale_usd : 1.0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (!allowed.empty() && !allowed[i]) continue;
    if (best < 0) {
      best = static_cast<int>(i);
      continue;
    }
    const size_t b = static_cast<size_t>(best);
    bool better;
    if (std::isinf(weight)) {
      // Cheapest; among equal costs the higher predicted quality.
      better = cost_usd[i] < cost_usd[b] || (cost_usd[i] == cost_usd[b] && quality(i) > quality(b));
    } else {
      const double ui = quality(i) - weight * cost_usd[i] / scale;
      const double ub = quality(b) - weight * cost_usd[b] / scale;
      better = ui > ub || (ui == ub && cost_usd[i] < cost_usd[b]);
    }
    if (better) best = static_cast<int>(i);
  }
  return best;
}

std::string RouterModel::serialize() const {
  ByteWriter w;
  w.u32(hash_bits);
  w.u32(static_cast<uint32_t>(models.size()));
  for (size_t m = 0; m < models.size(); ++m) {
    w.str(models[m]);
    w.f64(costs[m].base_usd);
    w.f64(costs[m].per_byte_usd);
    w.f64(mean_score[m]);
    w.f64(mean_cost_usd[m]);
  }
  w.f64(best_single_quality);
  w.f64(cost_scale_usd);
  for (float x : dense_mean) w.f32(x);
  for (float x : dense_inv_std) w.f32(x);
  writeHead(w, head, hash_bits);
  w.u32(static_cast<uint32_t>(tasks.size()));
  for (const auto& t : tasks) w.str(t);
  w.floats(task_mu);
  w.floats(task_weight);
  w.u32(static_cast<uint32_t>(knobs.size()));
  for (const auto& k : knobs) {
    w.f64(k.knob);
    w.f64(k.weight);
    w.f64(k.cost_usd);
    w.f64(k.quality);
  }
  w.u32(static_cast<uint32_t>(anchor_model));
  w.f64(anchor_bonus);
  w.u32(sketch_bits);
  w.u32(static_cast<uint32_t>(sketch.size()));
  for (uint64_t v : sketch) w.u64(v);
  w.floats(ood);
  w.str(description);
  std::string& payload = w.bytes();

  ByteWriter out;
  out.bytes().append(kRouterMagic, sizeof(kRouterMagic));
  out.u32(kRouterFormatVersion);
  out.u32(kFeatureVersion);
  out.u64(payload.size());
  out.bytes().append(payload);
  out.u32(static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(payload.data()),
                                      static_cast<uInt>(payload.size()))));
  return std::move(out.bytes());
}

Result<RouterModel> RouterModel::parse(std::string_view bytes, const std::string& source) {
  auto corrupt = [&](const std::string& why) {
    return fail(ErrorCode::kCorruptData, "router file " + source + ": " + why);
  };
  if (bytes.size() < sizeof(kRouterMagic) || std::memcmp(bytes.data(), kRouterMagic, sizeof(kRouterMagic)) != 0)
    return corrupt("not a rightsize router file (bad magic)");
  if (bytes.size() < kHeaderBytes) return corrupt("truncated header");
  ByteReader head(bytes.substr(sizeof(kRouterMagic)));
  const uint32_t version = head.u32();
  const uint32_t feature_version = head.u32();
  const uint64_t payload_len = head.u64();
  if (version != kRouterFormatVersion)
    return corrupt("format version " + std::to_string(version) + ", this build reads version " +
                   std::to_string(kRouterFormatVersion) + " (retrain with this rightsize)");
  if (feature_version != kFeatureVersion)
    return corrupt("feature version " + std::to_string(feature_version) + ", this build computes version " +
                   std::to_string(kFeatureVersion) + " (retrain with this rightsize)");
  if (bytes.size() - kHeaderBytes < 4 || payload_len != bytes.size() - kHeaderBytes - 4)
    return corrupt("truncated or padded: header says " + std::to_string(payload_len) + " payload bytes, file has " +
                   std::to_string(bytes.size() >= kHeaderBytes + 4 ? bytes.size() - kHeaderBytes - 4 : 0));
  std::string_view payload = bytes.substr(kHeaderBytes, payload_len);
  ByteReader tail(bytes.substr(kHeaderBytes + payload_len));
  const uint32_t stored_crc = tail.u32();
  const auto crc = static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size())));
  if (crc != stored_crc) return corrupt("checksum mismatch (file is damaged)");

  RouterModel r;
  ByteReader in(payload);
  r.hash_bits = in.u32();
  if (!in.ok() || r.hash_bits < 10 || r.hash_bits > 24) return corrupt("bad hash_bits");
  const uint32_t m_count = in.u32();
  if (!in.ok() || m_count == 0 || m_count > kMaxModels) return corrupt("bad model count");
  for (uint32_t m = 0; m < m_count && in.ok(); ++m) {
    r.models.push_back(in.str(4096));
    CostModel c;
    c.base_usd = in.f64();
    c.per_byte_usd = in.f64();
    r.costs.push_back(c);
    r.mean_score.push_back(in.f64());
    r.mean_cost_usd.push_back(in.f64());
  }
  r.best_single_quality = in.f64();
  r.cost_scale_usd = in.f64();
  for (auto& x : r.dense_mean) x = in.f32();
  for (auto& x : r.dense_inv_std) x = in.f32();
  if (!in.ok()) return corrupt("truncated payload");
  std::string why;
  if (!readHead(in, r.head, r.hash_bits, why)) return corrupt("table: " + why);
  const uint32_t t_count = in.u32();
  if (!in.ok() || t_count > kMaxModels) return corrupt("bad task count");
  for (uint32_t t = 0; t < t_count && in.ok(); ++t) r.tasks.push_back(in.str(4096));
  r.task_mu = in.floats(static_cast<size_t>(kMaxModels) * kMaxModels);
  r.task_weight = in.floats(kMaxModels);
  const uint32_t k_count = in.u32();
  if (!in.ok() || k_count > kMaxKnobs) return corrupt("bad knob table");
  for (uint32_t i = 0; i < k_count && in.ok(); ++i) {
    KnobPoint k;
    k.knob = in.f64();
    k.weight = in.f64();
    k.cost_usd = in.f64();
    k.quality = in.f64();
    r.knobs.push_back(k);
  }
  r.anchor_model = static_cast<int>(in.u32());
  r.anchor_bonus = in.f64();
  r.sketch_bits = in.u32();
  if (!in.ok() || r.sketch_bits > 26 || (r.sketch_bits != 0 && r.sketch_bits < 6)) return corrupt("bad sketch size");
  const uint32_t words = in.u32();
  if (!in.ok() || words != (r.sketch_bits == 0 ? 0u : (1u << r.sketch_bits) / 32) ||
      static_cast<size_t>(words) * 8 > in.remaining())
    return corrupt("bad sketch");
  r.sketch.resize(words);
  for (auto& v : r.sketch) v = in.u64();
  r.ood = in.floats(2);
  r.description = in.str(1 << 20);
  if (!in.ok()) return corrupt("truncated payload");
  if (!in.atEnd()) return corrupt("unexpected bytes after the payload");
  if (auto v = r.validate(); !v) return corrupt(v.error().message);
  return r;
}

Result<void> RouterModel::validate() const {
  const size_t m = models.size();
  auto bad = [](const std::string& why) { return fail(ErrorCode::kCorruptData, why); };
  if (m == 0) return bad("no models");
  if (costs.size() != m || mean_score.size() != m || mean_cost_usd.size() != m) return bad("per-model sizes differ");
  for (size_t i = 0; i < m; ++i) {
    if (models[i].empty()) return bad("empty model name");
    for (size_t j = 0; j < i; ++j)
      if (models[i] == models[j]) return bad("duplicate model '" + models[i] + "'");
    if (!std::isfinite(costs[i].base_usd) || !std::isfinite(costs[i].per_byte_usd)) return bad("bad cost model");
  }
  if (!(cost_scale_usd > 0) || !std::isfinite(cost_scale_usd)) return bad("bad cost scale");
  const size_t t = tasks.size();
  const size_t outs = m + t;
  if (head.outputs != outs || head.bias.size() != outs || head.dense_w.size() != kDenseFeatures * outs ||
      head.stride < outs || head.table.size() != (size_t{1} << hash_bits) * head.stride)
    return bad("predictor sizes do not match the models");
  if (task_mu.size() != t * m || task_weight.size() != (t > 0 ? m : 0)) return bad("bad task prior");
  if (!allFinite(task_mu) || !allFinite(task_weight)) return bad("non-finite task prior");
  if (!allFinite(head.table) || !allFinite(head.bias) || !allFinite(head.dense_w)) return bad("non-finite weights");
  if (sketch.size() != (sketch_bits == 0 ? 0u : (size_t{1} << sketch_bits) / 32)) return bad("bad sketch");
  if (!ood.empty() && ood.size() != 2) return bad("bad shrinkage");
  if (!allFinite(ood)) return bad("non-finite shrinkage");
  if (anchor_model < -1 || anchor_model >= static_cast<int>(m) || !(anchor_bonus >= 0 && anchor_bonus <= 1))
    return bad("bad anchor");
  for (size_t i = 0; i < knobs.size(); ++i) {
    const auto& k = knobs[i];
    if (!(k.knob >= 0 && k.knob <= 1) || !(k.weight >= 0) || !std::isfinite(k.quality)) return bad("bad knob table");
    if (i > 0 && (k.knob < knobs[i - 1].knob || k.weight > knobs[i - 1].weight)) return bad("knob table not monotone");
  }
  return {};
}

Result<RouterModel> RouterModel::load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return fail(ErrorCode::kIo, "router file " + path + ": cannot open: " + std::strerror(errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return fail(ErrorCode::kIo, "router file " + path + ": read error");
  return parse(ss.str(), path);
}

Result<void> RouterModel::save(const std::string& path) const {
  const std::string bytes = serialize();
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return fail(ErrorCode::kIo, "cannot write " + tmp + ": " + std::strerror(errno));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.flush();
    if (!f) return fail(ErrorCode::kIo, "cannot write " + tmp + ": " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return fail(ErrorCode::kIo, "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
  }
  return {};
}

}  // namespace rightsize::routing
