#include "evals/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/strings.h"

namespace rightsize::evals {
namespace {

constexpr double kWidth = 760, kHeight = 520;
constexpr double kLeft = 78, kRight = 250, kTop = 48, kBottom = 64;  // plot margins (legend on the right)

std::string esc(const std::string& s) { return xmlEscape(s); }

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof(b), "%.1f", v);
  return b;
}

std::string costLabel(double c) {
  char b[32];
  if (c >= 0.01) std::snprintf(b, sizeof(b), "$%.2g", c);
  else std::snprintf(b, sizeof(b), "$%.0e", c);
  return b;
}

struct Axes {
  double lx0, lx1, y0, y1;  // log10 cost range, quality range
  double x(double cost) const {
    const double lc = std::log10(std::max(cost, 1e-15));
    return kLeft + (lc - lx0) / (lx1 - lx0) * (kWidth - kLeft - kRight);
  }
  double y(double q) const { return kHeight - kBottom - (q - y0) / (y1 - y0) * (kHeight - kTop - kBottom); }
};

// A hull drawn on the log axis: its straight segments (in linear cost) become curves.
std::string hullPath(const std::vector<CostQuality>& hull, const Axes& ax, double x_end) {
  if (hull.empty()) return "";
  std::string d = "M" + num(ax.x(hull[0].cost)) + "," + num(ax.y(hull[0].quality));
  for (size_t i = 1; i < hull.size(); ++i) {
    const auto& a = hull[i - 1];
    const auto& b = hull[i];
    for (int s = 1; s <= 24; ++s) {
      const double t = s / 24.0;
      const double c = a.cost + t * (b.cost - a.cost);
      const double q = a.quality + t * (b.quality - a.quality);
      d += " L" + num(ax.x(c)) + "," + num(ax.y(q));
    }
  }
  // Flat after the last point, to the right edge of the data.
  if (x_end > hull.back().cost) d += " L" + num(ax.x(x_end)) + "," + num(ax.y(hull.back().quality));
  return d;
}

std::string shortName(const std::string& m) {
  auto pos = m.rfind('/');
  std::string s = pos == std::string::npos ? m : m.substr(pos + 1);
  return s.size() > 22 ? s.substr(0, 21) + "~" : s;
}

}  // namespace

std::string costQualitySvg(const ScoreReport& r, const std::string& title) {
  // Data range.
  double cmin = 1e300, cmax = 0, qmin = 1e300, qmax = -1e300;
  auto take = [&](const CostQuality& p) {
    if (p.cost > 0) cmin = std::min(cmin, p.cost), cmax = std::max(cmax, p.cost);
    qmin = std::min(qmin, p.quality), qmax = std::max(qmax, p.quality);
  };
  for (const auto& p : r.router.points) take(p);
  for (const auto& s : r.singles) take(s.mean);
  for (const auto& p : r.oracle.points) take(p);
  if (cmax <= 0) cmin = 1e-6, cmax = 1e-3;
  if (cmin >= cmax) cmin = cmax / 10;
  Axes ax{std::floor(std::log10(cmin) * 4) / 4 - 0.05, std::ceil(std::log10(cmax) * 4) / 4 + 0.05, 0, 1};
  const double pad = std::max(0.02, (qmax - qmin) * 0.08);
  ax.y0 = std::max(0.0, std::floor((qmin - pad) * 20) / 20);
  ax.y1 = std::min(1.0, std::ceil((qmax + pad) * 20) / 20);
  if (ax.y1 <= ax.y0) ax.y1 = ax.y0 + 0.1;

  std::string s;
  s += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(kWidth) + "\" height=\"" + num(kHeight) +
       "\" viewBox=\"0 0 " + num(kWidth) + " " + num(kHeight) + "\" font-family=\"Helvetica, Arial, sans-serif\">\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += "<text x=\"" + num(kLeft) + "\" y=\"28\" font-size=\"16\" font-weight=\"bold\">" + esc(title) + "</text>\n";
  const double px0 = kLeft, px1 = kWidth - kRight, py0 = kTop, py1 = kHeight - kBottom;
  // Grid and ticks: quality every 0.05 or 0.1; cost at 1, 2, 5 per decade.
  const double qstep = (ax.y1 - ax.y0) > 0.4 ? 0.1 : 0.05;
  for (double q = std::ceil(ax.y0 / qstep - 1e-9) * qstep; q <= ax.y1 + 1e-9; q += qstep) {
    const double y = ax.y(q);
    s += "<line x1=\"" + num(px0) + "\" y1=\"" + num(y) + "\" x2=\"" + num(px1) + "\" y2=\"" + num(y) +
         "\" stroke=\"#e4e4e4\"/>\n";
    char b[16];
    std::snprintf(b, sizeof(b), "%.2f", q);
    s += "<text x=\"" + num(px0 - 6) + "\" y=\"" + num(y + 4) + "\" font-size=\"11\" text-anchor=\"end\">" + b +
         "</text>\n";
  }
  for (int dec = static_cast<int>(std::floor(ax.lx0)); dec <= static_cast<int>(std::ceil(ax.lx1)); ++dec)
    for (double mult : {1.0, 2.0, 5.0}) {
      const double c = mult * std::pow(10.0, dec);
      const double lc = std::log10(c);
      if (lc < ax.lx0 || lc > ax.lx1) continue;
      const double x = ax.x(c);
      s += "<line x1=\"" + num(x) + "\" y1=\"" + num(py0) + "\" x2=\"" + num(x) + "\" y2=\"" + num(py1) +
           "\" stroke=\"" + (mult == 1.0 ? "#d0d0d0" : "#eeeeee") + "\"/>\n";
      s += "<text x=\"" + num(x) + "\" y=\"" + num(py1 + 16) + "\" font-size=\"11\" text-anchor=\"middle\">" +
           esc(costLabel(c)) + "</text>\n";
    }
  s += "<rect x=\"" + num(px0) + "\" y=\"" + num(py0) + "\" width=\"" + num(px1 - px0) + "\" height=\"" +
       num(py1 - py0) + "\" fill=\"none\" stroke=\"#333\"/>\n";
  s += "<text x=\"" + num((px0 + px1) / 2) + "\" y=\"" + num(kHeight - 18) +
       "\" font-size=\"13\" text-anchor=\"middle\">mean cost per prompt (USD, log scale)</text>\n";
  s += "<text transform=\"translate(20," + num((py0 + py1) / 2) +
       ") rotate(-90)\" font-size=\"13\" text-anchor=\"middle\">mean quality (score)</text>\n";
  // Q* reference line.
  s += "<line x1=\"" + num(px0) + "\" y1=\"" + num(ax.y(r.frame.q_star)) + "\" x2=\"" + num(px1) + "\" y2=\"" +
       num(ax.y(r.frame.q_star)) + "\" stroke=\"#999\" stroke-dasharray=\"2,3\"/>\n";

  const double x_end = std::pow(10.0, ax.lx1);
  s += "<path d=\"" + hullPath(r.zero.hull, ax, x_end) +
       "\" fill=\"none\" stroke=\"#888\" stroke-width=\"2\" stroke-dasharray=\"6,4\"/>\n";
  std::string curve;
  for (size_t i = 0; i < r.router.points.size(); ++i)
    curve += (i ? " L" : "M") + num(ax.x(r.router.points[i].cost)) + "," + num(ax.y(r.router.points[i].quality));
  s += "<path d=\"" + curve + "\" fill=\"none\" stroke=\"#9ecae1\" stroke-width=\"1\"/>\n";
  s += "<path d=\"" + hullPath(r.router.hull, ax, x_end) + "\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2.5\"/>\n";
  for (const auto& p : r.router.points)
    s += "<circle cx=\"" + num(ax.x(p.cost)) + "\" cy=\"" + num(ax.y(p.quality)) + "\" r=\"2.5\" fill=\"#1f77b4\"/>\n";
  for (const auto& m : r.singles) {
    const double x = ax.x(m.mean.cost), y = ax.y(m.mean.quality);
    s += "<rect x=\"" + num(x - 4) + "\" y=\"" + num(y - 4) + "\" width=\"8\" height=\"8\" fill=\"#ff7f0e\"/>\n";
    s += "<text x=\"" + num(x + 6) + "\" y=\"" + num(y + 12) + "\" font-size=\"9\" fill=\"#a0522d\">" +
         esc(shortName(m.name)) + "</text>\n";
  }
  for (const auto& p : r.oracle.points) {
    const double x = ax.x(p.cost), y = ax.y(p.quality);
    s += "<path d=\"M" + num(x) + "," + num(y - 7) + " L" + num(x + 6) + "," + num(y) + " L" + num(x) + "," +
         num(y + 7) + " L" + num(x - 6) + "," + num(y) + " Z\" fill=\"#2ca02c\"/>\n";
  }
  // Legend.
  const double lx = px1 + 18;
  double ly = py0 + 10;
  auto legend = [&](const std::string& sym, const std::string& text) {
    s += sym;
    s += "<text x=\"" + num(lx + 30) + "\" y=\"" + num(ly + 4) + "\" font-size=\"12\">" + esc(text) + "</text>\n";
    ly += 22;
  };
  // A report with no router points (an eval report: models and oracle only) leaves the router out.
  const bool has_router = !r.router.points.empty();
  if (has_router) {
    legend("<line x1=\"" + num(lx) + "\" y1=\"" + num(ly) + "\" x2=\"" + num(lx + 22) + "\" y2=\"" + num(ly) +
               "\" stroke=\"#1f77b4\" stroke-width=\"2.5\"/>\n",
           "router hull");
    legend("<circle cx=\"" + num(lx + 11) + "\" cy=\"" + num(ly) + "\" r=\"2.5\" fill=\"#1f77b4\"/>\n",
           "router, one point per knob");
  }
  legend("<line x1=\"" + num(lx) + "\" y1=\"" + num(ly) + "\" x2=\"" + num(lx + 22) + "\" y2=\"" + num(ly) +
             "\" stroke=\"#888\" stroke-width=\"2\" stroke-dasharray=\"6,4\"/>\n",
         "zero router (hull of models)");
  legend("<rect x=\"" + num(lx + 7) + "\" y=\"" + num(ly - 4) + "\" width=\"8\" height=\"8\" fill=\"#ff7f0e\"/>\n",
         "single model");
  legend("<path d=\"M" + num(lx + 11) + "," + num(ly - 7) + " L" + num(lx + 17) + "," + num(ly) + " L" +
             num(lx + 11) + "," + num(ly + 7) + " L" + num(lx + 5) + "," + num(ly) + " Z\" fill=\"#2ca02c\"/>\n",
         "oracle");
  legend("<line x1=\"" + num(lx) + "\" y1=\"" + num(ly) + "\" x2=\"" + num(lx + 22) + "\" y2=\"" + num(ly) +
             "\" stroke=\"#999\" stroke-dasharray=\"2,3\"/>\n",
         "Q* (best single model)");
  ly += 10;
  char b[160];
  auto stat = [&](const std::string& text) {
    s += "<text x=\"" + num(lx) + "\" y=\"" + num(ly) + "\" font-size=\"11\" fill=\"#333\">" + esc(text) + "</text>\n";
    ly += 16;
  };
  std::snprintf(b, sizeof(b), "prompts: %zu", r.prompts);
  stat(b);
  if (!has_router) {
    s += "</svg>\n";
    return s;
  }
  std::snprintf(b, sizeof(b), "AIQ router %.4f / zero %.4f", r.router.aiq, r.zero.aiq);
  stat(b);
  auto pct = [](const std::optional<double>& v) {
    char t[32];
    if (!v) return std::string("n/a");
    std::snprintf(t, sizeof(t), "%.1f%%", *v * 100);
    return std::string(t);
  };
  stat("savings@95 router " + pct(r.router.savings_95) + " / zero " + pct(r.zero.savings_95));
  stat("savings@parity router " + pct(r.router.savings_parity));
  std::snprintf(b, sizeof(b), "Q@C* router %.4f / Q* %.4f", r.router.q_at_cstar, r.frame.q_star);
  stat(b);
  if (r.router.apgr) {
    std::snprintf(b, sizeof(b), "APGR router %.3f", *r.router.apgr);
    stat(b);
  }
  s += "</svg>\n";
  return s;
}

}  // namespace rightsize::evals
