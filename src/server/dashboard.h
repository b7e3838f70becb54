#pragma once
// The dashboard: GET / serves one self-contained HTML page (no external scripts, styles or
// fonts; compiled into the binary from src/server/dashboard/index.html), which polls
// GET /api/stats (Stats::json) and draws it. See docs/dashboard.md.

#include <string_view>

#include "http/server.h"
#include "server/stats.h"

namespace rightsize::server {

// The page's HTML, embedded at build time (src/server/dashboard/embed.cmake).
std::string_view dashboardHtml();

// 200 text/html with the page; never cached, so an upgraded binary serves its own page.
http::Response dashboardResponse();
// 200 application/json with stats.json(now), Cache-Control: no-store.
http::Response statsResponse(const Stats& stats);

}  // namespace rightsize::server
