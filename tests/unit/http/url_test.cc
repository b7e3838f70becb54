#include <gtest/gtest.h>

#include "http/client.h"

namespace rightsize::http {
namespace {

TEST(ParseUrl, ReadsSchemeHostPortAndPath) {
  auto u = parseUrl("https://api.openai.com/v1/");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "api.openai.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->path, "/v1");
  auto v = parseUrl("http://127.0.0.1:8000/v1");
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->tls);
  EXPECT_EQ(v->port, 8000);
  auto w = parseUrl("http://[::1]:9000");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->host, "::1");
  EXPECT_EQ(w->port, 9000);
  EXPECT_EQ(w->path, "");
}

TEST(ParseUrl, RejectsBadUrls) {
  EXPECT_FALSE(parseUrl("ftp://x"));
  EXPECT_FALSE(parseUrl("http://"));
  EXPECT_FALSE(parseUrl("http://host:0/"));
  EXPECT_FALSE(parseUrl("http://host:99999/"));
  EXPECT_FALSE(parseUrl("http://host:12ab/"));
  EXPECT_FALSE(parseUrl("http://[::1/"));
}

}  // namespace
}  // namespace rightsize::http
