#include "evals/outcomes.h"

#include <algorithm>
#include <numeric>

#include <zlib.h>

#include <cmath>
#include <cstring>
#include <limits>

#include <simdjson.h>

#include "api/chat_types.h"
#include "common/strings.h"

namespace rightsize::evals {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();


// Text of a message's `content`: a string, or the text parts of an array joined by "\n".
bool contentText(simdjson::dom::element content, std::string& out) {
  if (content.is_null()) return true;
  std::string_view s;
  if (content.get_string().get(s) == simdjson::SUCCESS) {
    out.assign(s);
    return true;
  }
  simdjson::dom::array parts;
  if (content.get_array().get(parts) != simdjson::SUCCESS) return false;
  for (auto part : parts) {
    std::string_view t;
    if (part.get_string().get(t) == simdjson::SUCCESS || part["text"].get_string().get(t) == simdjson::SUCCESS) {
      if (!out.empty()) out.push_back('\n');
      out.append(t);
    }
  }
  return true;
}

// Reads id and the ask of one record. `err` gets the reason on failure.
bool readIdAndAsk(simdjson::dom::object obj, std::string& id, std::string& ask, std::string& err) {
  std::string_view sv;
  auto id_el = obj["id"];
  if (id_el.error()) {
    err = "missing \"id\"";
    return false;
  }
  if (id_el.get_string().get(sv) == simdjson::SUCCESS) {
    id.assign(sv);
  } else {
    int64_t iv;
    if (id_el.get_int64().get(iv) != simdjson::SUCCESS) {
      err = "\"id\" must be a string or an integer";
      return false;
    }
    id = std::to_string(iv);
  }
  if (id.empty()) {
    err = "empty \"id\"";
    return false;
  }
  auto prompt = obj["prompt"];
  auto messages = obj["messages"];
  if (!prompt.error() && !messages.error()) {
    err = "has both \"prompt\" and \"messages\"";
    return false;
  }
  if (!prompt.error()) {
    if (prompt.get_string().get(sv) != simdjson::SUCCESS) {
      err = "\"prompt\" must be a string";
      return false;
    }
    ask.assign(sv);
    return true;
  }
  if (messages.error()) {
    err = "missing \"prompt\" (or \"messages\")";
    return false;
  }
  simdjson::dom::array arr;
  if (messages.get_array().get(arr) != simdjson::SUCCESS) {
    err = "\"messages\" must be an array";
    return false;
  }
  std::vector<api::ChatMessage> msgs;
  for (auto m : arr) {
    api::ChatMessage cm;
    if (m["role"].get_string().get(sv) != simdjson::SUCCESS) {
      err = "a message without a string \"role\"";
      return false;
    }
    cm.role.assign(sv);
    auto content = m["content"];
    if (!content.error() && !contentText(content.value_unsafe(), cm.text)) {
      err = "a message \"content\" that is neither a string nor an array of parts";
      return false;
    }
    msgs.push_back(std::move(cm));
  }
  ask = api::humanAsk(msgs);
  return true;
}

bool number(simdjson::dom::element el, double& out) {
  if (el.get_double().get(out) == simdjson::SUCCESS) return true;
  int64_t i;
  if (el.get_int64().get(i) == simdjson::SUCCESS) {
    out = static_cast<double>(i);
    return true;
  }
  uint64_t u;
  if (el.get_uint64().get(u) == simdjson::SUCCESS) {
    out = static_cast<double>(u);
    return true;
  }
  return false;
}

}  // namespace

bool OutcomeSet::has(size_t i, size_t m) const { return !std::isnan(scoreAt(i, m)); }

int OutcomeSet::modelIndex(const std::string& name) const {
  for (size_t m = 0; m < models.size(); ++m)
    if (models[m] == name) return static_cast<int>(m);
  return -1;
}

Result<void> forEachJsonLine(const std::string& text, const std::string& path, const JsonLineFn& fn) {
  simdjson::dom::parser parser;
  size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    ++line_no;
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    if (trim(line).empty()) continue;
    const std::string where = path + ":" + std::to_string(line_no);
    simdjson::dom::element doc;
    if (auto e = parser.parse(line.data(), line.size()).get(doc); e)
      return fail(ErrorCode::kCorruptData, where + ": not valid JSON (" + simdjson::error_message(e) + ")");
    simdjson::dom::object obj;
    if (doc.get_object().get(obj) != simdjson::SUCCESS) return fail(ErrorCode::kCorruptData, where + ": not a JSON object");
    if (auto r = fn(where, obj); !r) return r;
  }
  return {};
}

Result<std::string> readMaybeGzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return fail(ErrorCode::kIo, "cannot open " + path + ": " + std::strerror(errno));
  std::string out;
  char buf[1 << 16];
  for (;;) {
    int n = gzread(f, buf, sizeof(buf));
    if (n < 0) {
      int errnum = 0;
      std::string msg = gzerror(f, &errnum);
      gzclose(f);
      return fail(ErrorCode::kIo, "cannot read " + path + ": " + msg);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  gzclose(f);
  return out;
}

Result<OutcomeSet> readOutcomes(const std::vector<std::string>& paths) {
  OutcomeSet set;
  // Outcomes are gathered sparsely, then laid out as a matrix once all models are known.
  std::vector<std::vector<std::pair<uint32_t, std::pair<float, double>>>> cells;
  std::vector<std::vector<std::pair<uint32_t, std::string>>> texts;  // responses, when given
  std::map<std::string, uint32_t> model_ids;
  simdjson::dom::parser parser;
  for (const auto& path : paths) {
    auto text = readMaybeGzip(path);
    if (!text) return fail(text.error());
    auto r = forEachJsonLine(*text, path, [&](const std::string& where, simdjson::dom::object obj) -> Result<void> {
      auto bad = [&](const std::string& why) { return fail(ErrorCode::kCorruptData, where + ": " + why); };
      std::string id, ask, err;
      if (!readIdAndAsk(obj, id, ask, err)) return bad(err);
      if (auto it = set.index.find(id); it != set.index.end())
        return bad("duplicate id '" + id + "' (first at " + set.where[it->second] + ")");
      std::string task;
      std::string_view sv;
      if (obj["task"].get_string().get(sv) == simdjson::SUCCESS) task.assign(sv);
      simdjson::dom::object outs;
      if (obj["outcomes"].get_object().get(outs) != simdjson::SUCCESS) return bad("missing \"outcomes\" object");
      std::vector<std::pair<uint32_t, std::pair<float, double>>> row;
      std::vector<std::pair<uint32_t, std::string>> row_texts;
      for (auto field : outs) {
        const std::string model(field.key);
        if (model.empty()) return bad("an outcome with an empty model name");
        simdjson::dom::object o;
        if (field.value.get_object().get(o) != simdjson::SUCCESS)
          return bad("outcome for '" + model + "' is not an object");
        double score = 0, cost = 0;
        auto s_el = o["score"];
        if (s_el.error() || !number(s_el.value_unsafe(), score))
          return bad("outcome for '" + model + "' has no numeric \"score\"");
        if (!(score >= 0 && score <= 1)) return bad("score of '" + model + "' is outside [0, 1]");
        auto c_el = o["cost_usd"];
        if (c_el.error() || !number(c_el.value_unsafe(), cost))
          return bad("outcome for '" + model + "' has no numeric \"cost_usd\"");
        if (!(cost >= 0) || !std::isfinite(cost)) return bad("cost_usd of '" + model + "' is negative");
        auto [it, added] = model_ids.emplace(model, static_cast<uint32_t>(set.models.size()));
        if (added) set.models.push_back(model);
        for (const auto& c : row)
          if (c.first == it->second) return bad("model '" + model + "' appears twice");
        row.push_back({it->second, {static_cast<float>(score), cost}});
        auto r_el = o["response"];
        if (!r_el.error()) {
          if (r_el.get_string().get(sv) != simdjson::SUCCESS) return bad("\"response\" of '" + model + "' is not a string");
          row_texts.push_back({it->second, std::string(sv)});
        }
      }
      set.index.emplace(id, set.ids.size());
      set.ids.push_back(std::move(id));
      set.tasks.push_back(std::move(task));
      set.asks.push_back(std::move(ask));
      set.where.push_back(where);
      cells.push_back(std::move(row));
      texts.push_back(std::move(row_texts));
      return {};
    });
    if (!r) return fail(r.error());
  }
  if (set.ids.empty()) return fail(ErrorCode::kInvalidArgument, "no records in the outcome files");
  const size_t m_count = set.models.size();
  set.score.assign(set.ids.size() * m_count, kNaN);
  set.cost_usd.assign(set.ids.size() * m_count, kNaN);
  for (size_t i = 0; i < cells.size(); ++i)
    for (const auto& [m, sc] : cells[i]) {
      set.score[i * m_count + m] = sc.first;
      set.cost_usd[i * m_count + m] = sc.second;
    }
  set.response.assign(set.ids.size() * m_count, std::string());
  set.has_response.assign(set.ids.size() * m_count, false);
  for (size_t i = 0; i < texts.size(); ++i)
    for (auto& [m, t] : texts[i]) {
      set.response[i * m_count + m] = std::move(t);
      set.has_response[i * m_count + m] = true;
      ++set.responses_present;
    }
  return set;
}

Result<std::vector<PromptRecord>> readPrompts(const std::string& path) {
  auto text = readMaybeGzip(path);
  if (!text) return fail(text.error());
  std::vector<PromptRecord> out;
  std::map<std::string, std::string> seen;  // id -> where
  auto r = forEachJsonLine(*text, path, [&](const std::string& where, simdjson::dom::object obj) -> Result<void> {
    auto bad = [&](const std::string& why) { return fail(ErrorCode::kCorruptData, where + ": " + why); };
    PromptRecord rec;
    std::string err;
    if (!readIdAndAsk(obj, rec.id, rec.ask, err)) return bad(err);
    if (auto [it, added] = seen.emplace(rec.id, where); !added)
      return bad("duplicate id '" + rec.id + "' (first at " + it->second + ")");
    out.push_back(std::move(rec));
    return {};
  });
  if (!r) return fail(r.error());
  return out;
}

Result<routing::TrainingData> toTrainingData(const OutcomeSet& set, const std::vector<std::string>& models) {
  std::vector<size_t> cols;
  if (models.empty()) {
    for (size_t m = 0; m < set.models.size(); ++m) cols.push_back(m);
  } else {
    for (const auto& name : models) {
      int m = set.modelIndex(name);
      if (m < 0) {
        std::string known;
        for (const auto& k : set.models) known += (known.empty() ? "" : ", ") + k;
        return fail(ErrorCode::kInvalidArgument, "model '" + name + "' has no outcomes (known: " + known + ")");
      }
      cols.push_back(static_cast<size_t>(m));
    }
  }
  routing::TrainingData d;
  for (size_t c : cols) d.models.push_back(set.models[c]);
  for (size_t i = 0; i < set.size(); ++i) {
    bool any = false;
    for (size_t c : cols) any = any || set.has(i, c);
    if (!any) continue;
    d.ids.push_back(set.ids[i]);
    d.asks.push_back(set.asks[i]);
    d.tasks.push_back(set.tasks[i]);
    for (size_t c : cols) {
      d.score.push_back(set.scoreAt(i, c));
      d.cost_usd.push_back(set.costAt(i, c));
    }
  }
  return d;
}

namespace {

// Records `rows` and model columns `cols` of `set`, in those orders.
OutcomeSet subset(const OutcomeSet& set, const std::vector<size_t>& rows, const std::vector<size_t>& cols) {
  OutcomeSet out;
  for (size_t c : cols) out.models.push_back(set.models[c]);
  for (size_t i : rows) {
    out.index[set.ids[i]] = out.ids.size();
    out.ids.push_back(set.ids[i]);
    out.tasks.push_back(set.tasks[i]);
    out.asks.push_back(set.asks[i]);
    out.where.push_back(set.where[i]);
    for (size_t c : cols) {
      out.score.push_back(set.scoreAt(i, c));
      out.cost_usd.push_back(set.costAt(i, c));
      out.response.push_back(set.responseAt(i, c));
      out.has_response.push_back(set.hasResponse(i, c));
      out.responses_present += set.hasResponse(i, c) ? 1 : 0;
    }
  }
  return out;
}

}  // namespace

Result<OutcomeSet> restrictModels(const OutcomeSet& set, const std::vector<std::string>& models) {
  std::vector<size_t> cols;
  for (const auto& name : models) {
    const int m = set.modelIndex(name);
    if (m < 0) return fail(ErrorCode::kInvalidArgument, "model '" + name + "' has no outcomes");
    if (std::find(cols.begin(), cols.end(), static_cast<size_t>(m)) != cols.end())
      return fail(ErrorCode::kInvalidArgument, "model '" + name + "' given twice");
    cols.push_back(static_cast<size_t>(m));
  }
  std::vector<size_t> rows;
  for (size_t i = 0; i < set.size(); ++i) {
    bool any = false;
    for (size_t c : cols) any = any || set.has(i, c);
    if (any) rows.push_back(i);
  }
  return subset(set, rows, cols);
}

OutcomeSet restrictRecords(const OutcomeSet& set, const std::vector<size_t>& rows) {
  std::vector<size_t> cols(set.models.size());
  std::iota(cols.begin(), cols.end(), 0);
  return subset(set, rows, cols);
}

}  // namespace rightsize::evals
