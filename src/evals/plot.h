#pragma once
// A self-contained SVG of a score report: mean cost per prompt on a log x axis, mean quality on
// the y axis; the router's points and hull, every single model as a point, the zero router's
// hull and the oracle. Hand-written SVG 1.1, no scripts or external resources.

#include <string>

#include "evals/metrics.h"

namespace rightsize::evals {

std::string costQualitySvg(const ScoreReport& report, const std::string& title);

}  // namespace rightsize::evals
