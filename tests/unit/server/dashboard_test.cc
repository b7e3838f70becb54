#include "server/dashboard.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace rightsize::server {
namespace {

TEST(Dashboard, EmbedsThePageByteForByte) {
  std::ifstream in(std::string(RIGHTSIZE_SOURCE_DIR) + "/src/server/dashboard/index.html", std::ios::binary);
  ASSERT_TRUE(in) << "cannot read the page source";
  std::stringstream page;
  page << in.rdbuf();
  EXPECT_EQ(dashboardHtml(), page.str());
}

TEST(Dashboard, ServesHtmlThatIsNeverCached) {
  auto res = dashboardResponse();
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res[http::bhttp::field::content_type], "text/html; charset=utf-8");
  EXPECT_EQ(res[http::bhttp::field::cache_control], "no-store");
  EXPECT_EQ(res.body(), dashboardHtml());
}

TEST(Dashboard, StatsResponseIsTheStatsJson) {
  Stats stats;
  auto res = statsResponse(stats);
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res[http::bhttp::field::content_type], "application/json");
  EXPECT_NE(res.body().find("\"totals\":{\"requests\":0,"), std::string::npos) << res.body();
}

}  // namespace
}  // namespace rightsize::server
