#include "evals/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include <simdjson.h>

#include "common/strings.h"

namespace rightsize::evals {
namespace {

constexpr double kEps = 1e-12;

std::string fmtG(double v, int digits = 4) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*g", digits, v);
  return buf;
}

std::string fmtPct(const std::optional<double>& v) {
  if (!v) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.1f%%", *v * 100.0);
  return buf;
}

std::string fmtQ(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.4f", v);
  return buf;
}

std::string fmtOptQ(const std::optional<double>& v) { return v ? fmtQ(*v) : "n/a"; }

std::string jsonNum(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.10g", v);
  return buf;
}
std::string jsonOpt(const std::optional<double>& v) { return v ? jsonNum(*v) : "null"; }

}  // namespace

std::vector<CostQuality> upperHull(std::vector<CostQuality> pts) {
  std::sort(pts.begin(), pts.end(), [](const CostQuality& a, const CostQuality& b) {
    return a.cost < b.cost || (a.cost == b.cost && a.quality > b.quality);
  });
  // Pareto front: each kept point is strictly better than every cheaper one.
  std::vector<CostQuality> front;
  for (const auto& p : pts)
    if (front.empty() || p.quality > front.back().quality) {
      if (!front.empty() && p.cost == front.back().cost) continue;
      front.push_back(p);
    }
  // Upper concave hull of the front (monotone chain): drop points on or under a chord.
  std::vector<CostQuality> hull;
  for (const auto& p : front) {
    while (hull.size() >= 2) {
      const auto& a = hull[hull.size() - 2];
      const auto& b = hull.back();
      const double cross = (b.cost - a.cost) * (p.quality - a.quality) - (b.quality - a.quality) * (p.cost - a.cost);
      if (cross >= 0) hull.pop_back();
      else break;
    }
    hull.push_back(p);
  }
  return hull;
}

double hullQualityAt(const std::vector<CostQuality>& hull, double cost) {
  if (hull.empty() || cost < hull.front().cost) return 0;
  if (cost >= hull.back().cost) return hull.back().quality;
  for (size_t i = 1; i < hull.size(); ++i) {
    const auto& a = hull[i - 1];
    const auto& b = hull[i];
    if (cost <= b.cost) {
      const double t = (cost - a.cost) / (b.cost - a.cost);
      return a.quality + t * (b.quality - a.quality);
    }
  }
  return hull.back().quality;
}

std::optional<double> hullCostFor(const std::vector<CostQuality>& hull, double quality) {
  if (hull.empty()) return std::nullopt;
  if (quality <= hull.front().quality) return hull.front().cost;
  for (size_t i = 1; i < hull.size(); ++i) {
    const auto& a = hull[i - 1];
    const auto& b = hull[i];
    if (quality <= b.quality + kEps) {
      if (quality >= b.quality) return b.cost;
      const double t = (quality - a.quality) / (b.quality - a.quality);
      return a.cost + t * (b.cost - a.cost);
    }
  }
  return std::nullopt;
}

double hullMeanQuality(const std::vector<CostQuality>& hull, double lo, double hi) {
  if (!(hi > lo)) return hullQualityAt(hull, lo);
  // Breakpoints inside (lo, hi); the function is linear between consecutive ones, except for
  // the jump from 0 at the first point, which is a breakpoint too (the left piece is 0).
  std::vector<double> xs{lo};
  for (const auto& p : hull)
    if (p.cost > lo && p.cost < hi) xs.push_back(p.cost);
  xs.push_back(hi);
  double area = 0;
  for (size_t i = 1; i < xs.size(); ++i) {
    const double a = xs[i - 1], b = xs[i];
    // Evaluate just inside the piece so the jump at the first point is taken correctly.
    const double mid = 0.5 * (a + b);
    double fa, fb;
    if (hull.empty() || mid < hull.front().cost) {
      fa = fb = 0;
    } else {
      fa = hullQualityAt(hull, std::max(a, hull.front().cost));
      fb = hullQualityAt(hull, b);
    }
    area += 0.5 * (fa + fb) * (b - a);
  }
  return area / (hi - lo);
}

CurveMetrics curveMetrics(const std::vector<CostQuality>& points, const Frame& f,
                          const std::vector<CostQuality>& share_points) {
  CurveMetrics m;
  m.points = points;
  m.hull = upperHull(points);
  if (f.c_star > 0) {
    if (auto c = hullCostFor(m.hull, f.q_star)) m.savings_parity = 1.0 - *c / f.c_star;
    if (auto c = hullCostFor(m.hull, 0.95 * f.q_star)) m.savings_95 = 1.0 - *c / f.c_star;
  }
  m.q_at_cstar = hullQualityAt(m.hull, f.c_star);
  m.aiq = hullMeanQuality(m.hull, f.c_min, f.c_max);
  if (f.two_candidates && !share_points.empty() && f.q_strong > f.q_weak) {
    const auto sh = upperHull(share_points);
    const double span = f.q_strong - f.q_weak;
    // Before the hull's first share, the router could send everything to the weak model: PGR 0.
    const double first = std::clamp(sh.front().cost, 0.0, 1.0);
    const double mean_q = f.q_weak * first + (first < 1 ? hullMeanQuality(sh, first, 1.0) * (1.0 - first) : 0.0);
    m.apgr = (mean_q - f.q_weak) / span;
    auto cpt = [&](double x) -> std::optional<double> {
      const double target = f.q_weak + x * span;
      auto c = hullCostFor(sh, target);
      if (c && target <= f.q_weak) c = 0.0;
      return c;
    };
    m.cpt50 = cpt(0.5);
    m.cpt80 = cpt(0.8);
  }
  return m;
}

Result<std::vector<DecisionRecord>> readDecisions(const std::string& path) {
  auto text = readMaybeGzip(path);
  if (!text) return fail(text.error());
  std::vector<DecisionRecord> out;
  auto r = forEachJsonLine(*text, path, [&](const std::string& where, simdjson::dom::object doc) -> Result<void> {
    auto bad = [&](const std::string& why) { return fail(ErrorCode::kCorruptData, where + ": " + why); };
    DecisionRecord d;
    d.where = where;
    std::string_view sv;
    if (doc["id"].get_string().get(sv) != simdjson::SUCCESS) {
      int64_t iv;
      if (doc["id"].get_int64().get(iv) != simdjson::SUCCESS) return bad("missing string \"id\"");
      d.id = std::to_string(iv);
    } else {
      d.id.assign(sv);
    }
    if (doc["model"].get_string().get(sv) != simdjson::SUCCESS) return bad("missing string \"model\"");
    d.model.assign(sv);
    auto k = doc["knob"];
    double kv = 0;
    if (k.error()) {
      kv = 0;  // a decision without a knob (e.g. a fixed policy) is one point
    } else if (k.get_double().get(kv) != simdjson::SUCCESS) {
      int64_t iv;
      if (k.get_int64().get(iv) != simdjson::SUCCESS) return bad("\"knob\" must be a number");
      kv = static_cast<double>(iv);
    }
    d.knob = kv;
    out.push_back(std::move(d));
    return {};
  });
  if (!r) return fail(r.error());
  if (out.empty()) return fail(ErrorCode::kInvalidArgument, path + ": no decisions");
  return out;
}

std::string decisionLine(const std::string& id, const std::string& model, double knob) {
  std::string s = "{\"id\": ";
  appendJsonString(s, id);
  s += ", \"model\": ";
  appendJsonString(s, model);
  char buf[48];
  std::snprintf(buf, sizeof(buf), ", \"knob\": %.6g}", knob);
  s += buf;
  return s;
}

Result<ScoreReport> scoreDecisions(const OutcomeSet& data, const std::vector<DecisionRecord>& decisions) {
  const size_t m_count = data.models.size();
  // knob -> (record -> model)
  std::map<double, std::map<size_t, size_t>> by_knob;
  std::set<size_t> decided;
  for (const auto& d : decisions) {
    auto it = data.index.find(d.id);
    if (it == data.index.end())
      return fail(ErrorCode::kInvalidArgument, d.where + ": id '" + d.id + "' is not in the outcomes");
    const int m = data.modelIndex(d.model);
    if (m < 0 || !data.has(it->second, static_cast<size_t>(m)))
      return fail(ErrorCode::kInvalidArgument,
                  d.where + ": no outcome of model '" + d.model + "' for id '" + d.id + "'");
    auto [_, added] = by_knob[d.knob].emplace(it->second, static_cast<size_t>(m));
    if (!added)
      return fail(ErrorCode::kInvalidArgument, d.where + ": a second decision for id '" + d.id + "' at knob " +
                                                   fmtG(d.knob, 6));
    decided.insert(it->second);
  }
  for (const auto& [knob, choices] : by_knob)
    if (choices.size() != decided.size())
      return fail(ErrorCode::kInvalidArgument, "knob " + fmtG(knob, 6) + " decides " +
                                                   std::to_string(choices.size()) + " prompts, but " +
                                                   std::to_string(decided.size()) + " prompts have decisions");
  ScoreReport r;
  r.prompts = decided.size();
  const double n = static_cast<double>(decided.size());

  // Single-model baselines: the models with an outcome on every decided prompt.
  std::vector<size_t> singles;
  for (size_t m = 0; m < m_count; ++m) {
    bool all = true;
    double q = 0, c = 0;
    for (size_t i : decided) {
      if (!data.has(i, m)) {
        all = false;
        break;
      }
      q += data.scoreAt(i, m);
      c += data.costAt(i, m);
    }
    if (!all) {
      r.partial_models.push_back(data.models[m]);
      continue;
    }
    singles.push_back(m);
    r.singles.push_back({data.models[m], {c / n, q / n}, {}});
  }
  if (r.singles.empty())
    return fail(ErrorCode::kInvalidArgument, "no model has an outcome on every decided prompt: no baseline");
  Frame& f = r.frame;
  size_t best = 0;
  for (size_t s = 1; s < r.singles.size(); ++s) {
    const auto& a = r.singles[s].mean;
    const auto& b = r.singles[best].mean;
    if (a.quality > b.quality || (a.quality == b.quality && a.cost < b.cost)) best = s;
  }
  f.q_star = r.singles[best].mean.quality;
  f.c_star = r.singles[best].mean.cost;
  f.c_min = f.c_max = r.singles[0].mean.cost;
  for (const auto& s : r.singles) f.c_min = std::min(f.c_min, s.mean.cost), f.c_max = std::max(f.c_max, s.mean.cost);
  r.best_model = r.singles[best].name;
  size_t weak = best;
  if (r.singles.size() == 2) {
    weak = 1 - best;
    f.two_candidates = r.singles[weak].mean.quality < f.q_star;
    f.q_strong = f.q_star;
    f.q_weak = r.singles[weak].mean.quality;
    r.weak_model = r.singles[weak].name;
  }
  const size_t strong_m = singles[best];

  // Router curve.
  std::vector<CostQuality> pts, share_pts;
  for (const auto& [knob, choices] : by_knob) {
    double q = 0, c = 0, strong = 0;
    for (const auto& [i, m] : choices) {
      q += data.scoreAt(i, m);
      c += data.costAt(i, m);
      if (m == strong_m) strong += 1;
    }
    r.knobs.push_back(knob);
    pts.push_back({c / n, q / n});
    share_pts.push_back({strong / n, q / n});
    r.router_share.push_back(strong / n);
  }
  r.router = curveMetrics(pts, f, share_pts);

  // Baselines.
  std::vector<CostQuality> single_pts, single_share;
  for (size_t s = 0; s < r.singles.size(); ++s) {
    single_pts.push_back(r.singles[s].mean);
    single_share.push_back({s == best ? 1.0 : 0.0, r.singles[s].mean.quality});
    r.singles[s].metrics = curveMetrics({r.singles[s].mean}, f, {single_share.back()});
  }
  r.zero = curveMetrics(single_pts, f, single_share);
  {
    // Random: with probability a the best single model, otherwise a uniformly random other one
    // (a = 1/M is the uniform random router; with two models this is RouteLLM's random router).
    std::vector<CostQuality> rp, rs;
    const size_t k = r.singles.size();
    double oq = 0, oc = 0;
    for (size_t s = 0; s < k; ++s)
      if (s != best) oq += r.singles[s].mean.quality, oc += r.singles[s].mean.cost;
    if (k > 1) oq /= static_cast<double>(k - 1), oc /= static_cast<double>(k - 1);
    for (int step = 0; step <= 10; ++step) {
      const double a = k > 1 ? step / 10.0 : 1.0;
      const CostQuality p{a * f.c_star + (1 - a) * oc, a * f.q_star + (1 - a) * oq};
      rp.push_back(p);
      rs.push_back({a, p.quality});
    }
    r.random = curveMetrics(rp, f, rs);
  }
  {
    double q = 0, c = 0, strong = 0;
    for (size_t i : decided) {
      size_t pick = singles[0];
      for (size_t m : singles) {
        const double sm = data.scoreAt(i, m), sp = data.scoreAt(i, pick);
        if (sm > sp || (sm == sp && data.costAt(i, m) < data.costAt(i, pick))) pick = m;
      }
      q += data.scoreAt(i, pick);
      c += data.costAt(i, pick);
      if (pick == strong_m) strong += 1;
    }
    r.oracle = curveMetrics({{c / n, q / n}}, f, {{strong / n, q / n}});
  }
  return r;
}

std::string reportTable(const ScoreReport& r) {
  const Frame& f = r.frame;
  std::string out;
  out += "prompts: " + std::to_string(r.prompts) + "   best single model: " + r.best_model + " (Q* " +
         fmtQ(f.q_star) + ", C* $" + fmtG(f.c_star) + ")   cost range $" + fmtG(f.c_min) + " .. $" +
         fmtG(f.c_max) + "\n";
  if (!r.partial_models.empty()) {
    out += "not baselines (missing outcomes on some prompts):";
    for (const auto& m : r.partial_models) out += " " + m;
    out += "\n";
  }
  char line[512];
  const bool two = f.two_candidates;
  auto header = [&] {
    std::snprintf(line, sizeof(line), "%-44s %8s %10s %7s %8s %10s %7s", "", "quality", "cost $", "AIQ", "sav@95",
                  "sav@parity", "Q@C*");
    out += line;
    if (two) {
      std::snprintf(line, sizeof(line), " %6s %6s %6s", "APGR", "CPT50", "CPT80");
      out += line;
    }
    out += "\n";
  };
  auto row = [&](const std::string& name, const CurveMetrics& m, const CostQuality& shown) {
    std::string nm = name.size() > 44 ? name.substr(0, 41) + "..." : name;
    std::snprintf(line, sizeof(line), "%-44s %8s %10s %7s %8s %10s %7s", nm.c_str(), fmtQ(shown.quality).c_str(),
                  fmtG(shown.cost, 3).c_str(), fmtQ(m.aiq).c_str(), fmtPct(m.savings_95).c_str(),
                  fmtPct(m.savings_parity).c_str(), fmtQ(m.q_at_cstar).c_str());
    out += line;
    if (two) {
      std::snprintf(line, sizeof(line), " %6s %6s %6s", fmtOptQ(m.apgr).c_str(), fmtPct(m.cpt50).c_str(),
                    fmtPct(m.cpt80).c_str());
      out += line;
    }
    out += "\n";
  };
  auto top = [](const CurveMetrics& m) { return m.hull.empty() ? CostQuality{} : m.hull.back(); };
  header();
  row("router (" + std::to_string(r.knobs.size()) + " knob values; best hull point)", r.router, top(r.router));
  row("zero router (hull of single models)", r.zero, top(r.zero));
  row("random router (best model w.p. a, a=0..1)", r.random, top(r.random));
  row("oracle (per prompt, cheapest best score)", r.oracle, r.oracle.points.front());
  for (const auto& s : r.singles) row("single: " + s.name, s.metrics, s.mean);
  out += "\nrouter curve (knob: cost $, quality" + std::string(two ? ", share to " + r.best_model : "") + ")\n";
  for (size_t i = 0; i < r.knobs.size(); ++i) {
    std::snprintf(line, sizeof(line), "  %-8s %10s  %s", fmtG(r.knobs[i], 4).c_str(),
                  fmtG(r.router.points[i].cost, 4).c_str(), fmtQ(r.router.points[i].quality).c_str());
    out += line;
    if (two) out += "  " + fmtPct(r.router_share[i]);
    out += "\n";
  }
  return out;
}

namespace {

void appendCurve(std::string& s, const CurveMetrics& m) {
  auto pts = [&](const std::vector<CostQuality>& v) {
    s += "[";
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) s += ", ";
      s += "[" + jsonNum(v[i].cost) + ", " + jsonNum(v[i].quality) + "]";
    }
    s += "]";
  };
  s += "{\"aiq\": " + jsonNum(m.aiq) + ", \"savings_95\": " + jsonOpt(m.savings_95) +
       ", \"savings_parity\": " + jsonOpt(m.savings_parity) + ", \"q_at_cstar\": " + jsonNum(m.q_at_cstar) +
       ", \"apgr\": " + jsonOpt(m.apgr) + ", \"cpt50\": " + jsonOpt(m.cpt50) + ", \"cpt80\": " + jsonOpt(m.cpt80) +
       ", \"points\": ";
  pts(m.points);
  s += ", \"hull\": ";
  pts(m.hull);
  s += "}";
}

}  // namespace

std::string reportJson(const ScoreReport& r) {
  const Frame& f = r.frame;
  std::string s = "{\"prompts\": " + std::to_string(r.prompts) + ", \"best_model\": " + jsonString(r.best_model) +
                  ", \"q_star\": " + jsonNum(f.q_star) + ", \"c_star\": " + jsonNum(f.c_star) +
                  ", \"c_min\": " + jsonNum(f.c_min) + ", \"c_max\": " + jsonNum(f.c_max) +
                  ", \"two_candidates\": " + (f.two_candidates ? "true" : "false");
  if (f.two_candidates) s += ", \"weak_model\": " + jsonString(r.weak_model);
  s += ", \"knobs\": [";
  for (size_t i = 0; i < r.knobs.size(); ++i) s += (i ? ", " : "") + jsonNum(r.knobs[i]);
  s += "], \"router_share_strong\": [";
  for (size_t i = 0; i < r.router_share.size(); ++i) s += (i ? ", " : "") + jsonNum(r.router_share[i]);
  s += "], \"router\": ";
  appendCurve(s, r.router);
  s += ", \"zero_router\": ";
  appendCurve(s, r.zero);
  s += ", \"random_router\": ";
  appendCurve(s, r.random);
  s += ", \"oracle\": ";
  appendCurve(s, r.oracle);
  s += ", \"single_models\": [";
  for (size_t i = 0; i < r.singles.size(); ++i) {
    if (i) s += ", ";
    s += "{\"model\": " + jsonString(r.singles[i].name) + ", \"quality\": " + jsonNum(r.singles[i].mean.quality) +
         ", \"cost_usd\": " + jsonNum(r.singles[i].mean.cost) + ", \"metrics\": ";
    appendCurve(s, r.singles[i].metrics);
    s += "}";
  }
  s += "], \"partial_models\": [";
  for (size_t i = 0; i < r.partial_models.size(); ++i) s += (i ? ", " : "") + jsonString(r.partial_models[i]);
  s += "]}";
  return s;
}

}  // namespace rightsize::evals
