#include "server/dashboard.h"

#include <chrono>

namespace rightsize::server {

namespace {

http::Response page(std::string content_type, std::string body) {
  http::Response res{http::bhttp::status::ok, 11};
  res.insert(http::bhttp::field::content_type, content_type);
  res.insert(http::bhttp::field::server, "rightsize");
  res.insert(http::bhttp::field::cache_control, "no-store");
  res.body() = std::move(body);
  return res;
}

}  // namespace

http::Response dashboardResponse() { return page("text/html; charset=utf-8", std::string(dashboardHtml())); }

http::Response statsResponse(const Stats& stats) {
  return page("application/json", stats.json(std::chrono::system_clock::now()));
}

}  // namespace rightsize::server
