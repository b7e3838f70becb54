#include "api/embeddings.h"

#include <gtest/gtest.h>

namespace rightsize::api {
namespace {

Error parseError(std::string body) {
  auto r = parseEmbeddingsRequest(body);
  EXPECT_FALSE(r) << body;
  return r ? Error{} : r.error();
}

TEST(EmbeddingsRequestParse, ReadsASingleStringAndTheOptions) {
  std::string body = R"({"model":"emb","input":"hello world","dimensions":4,"encoding_format":"base64","user":"u1"})";
  auto r = parseEmbeddingsRequest(body);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->model, "emb");
  ASSERT_EQ(r->texts.size(), 1u);
  EXPECT_EQ(r->texts[0], "hello world");
  EXPECT_EQ(r->items, 1u);
  EXPECT_EQ(r->content_chars, 11u);
  EXPECT_EQ(r->dimensions, 4);
  EXPECT_EQ(r->encoding_format, "base64");
  EXPECT_EQ(r->user, "u1");
}

TEST(EmbeddingsRequestParse, ReadsABatchOfStrings) {
  std::string body = R"({"model":"emb","input":["ab","cde"]})";
  auto r = parseEmbeddingsRequest(body);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->items, 2u);
  EXPECT_EQ(r->content_chars, 5u);
  EXPECT_FALSE(r->dimensions);
  EXPECT_EQ(r->encoding_format, "");
}

TEST(EmbeddingsRequestParse, ReadsTokenArrays) {
  std::string one = R"({"model":"emb","input":[1,2,3]})";
  auto r = parseEmbeddingsRequest(one);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->items, 1u);
  EXPECT_EQ(r->input_tokens, 3);
  EXPECT_TRUE(r->texts.empty());
  std::string many = R"({"model":"emb","input":[[1,2],[3]]})";
  r = parseEmbeddingsRequest(many);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->items, 2u);
  EXPECT_EQ(r->input_tokens, 3);
}

TEST(EmbeddingsRequestParse, ReadsTheSensitiveFlag) {
  std::string body = R"({"model":"emb","input":"x","rightsize":{"sensitive":true}})";
  auto r = parseEmbeddingsRequest(body);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->sensitive);
  EXPECT_NE(parseError(R"({"model":"emb","input":"x","rightsize":{"sensitive":"yes"}})").message.find("sensitive"),
            std::string::npos);
}

TEST(EmbeddingsRequestParse, RejectsMalformedJsonAsMalformed) {
  EXPECT_EQ(parseError(R"({"model":"emb","input":)").code, ErrorCode::kMalformedJson);
}

TEST(EmbeddingsRequestParse, RejectsMissingOrEmptyFieldsNamingThem) {
  EXPECT_NE(parseError(R"([1])").message.find("JSON object"), std::string::npos);
  EXPECT_NE(parseError(R"({"input":"x"})").message.find("model"), std::string::npos);
  EXPECT_NE(parseError(R"({"model":"","input":"x"})").message.find("model"), std::string::npos);
  Error e = parseError(R"({"model":"emb"})");
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument);
  EXPECT_NE(e.message.find("input: required"), std::string::npos);
  EXPECT_NE(parseError(R"({"model":"emb","input":[]})").message.find("empty array"), std::string::npos);
  EXPECT_NE(parseError(R"({"model":"emb","input":""})").message.find("empty string"), std::string::npos);
  EXPECT_NE(parseError(R"({"model":"emb","input":[[]]})").message.find("input[0]: must not be empty"),
            std::string::npos);
}

TEST(EmbeddingsRequestParse, RejectsWrongTypesNamingTheField) {
  EXPECT_NE(parseError(R"({"model":"emb","input":42})").message.find("input: must be"), std::string::npos);
  EXPECT_NE(parseError(R"({"model":"emb","input":{"a":1}})").message.find("input: must be"), std::string::npos);
  EXPECT_NE(parseError(R"({"model":"emb","input":["a",1]})").message.find("input[1]"), std::string::npos);
  EXPECT_NE(parseError(R"({"model":"emb","input":[1,"a"]})").message.find("token"), std::string::npos);
  EXPECT_NE(parseError(R"({"model":"emb","input":[1,-2]})").message.find("non-negative"), std::string::npos);
  EXPECT_NE(parseError(R"({"model":"emb","input":[[1],"a"]})").message.find("input[1]"), std::string::npos);
  EXPECT_NE(parseError(R"({"model":"emb","input":"x","dimensions":0})").message.find("dimensions"),
            std::string::npos);
  EXPECT_NE(parseError(R"({"model":"emb","input":"x","dimensions":"8"})").message.find("dimensions"),
            std::string::npos);
  EXPECT_NE(parseError(R"({"model":"emb","input":"x","encoding_format":"int8"})").message.find("encoding_format"),
            std::string::npos);
  EXPECT_NE(parseError(R"({"model":"emb","input":"x","user":5})").message.find("user"), std::string::npos);
}

TEST(EmbeddingsRequestParse, RejectsMoreThanTheMaximumNumberOfInputs) {
  std::string body = R"({"model":"emb","input":[)";
  for (size_t i = 0; i <= kMaxEmbeddingInputs; ++i) body += i ? ",\"a\"" : "\"a\"";
  body += "]}";
  Error e = parseError(body);
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument);
  EXPECT_NE(e.message.find("at most 2048"), std::string::npos);
}

TEST(EmbeddingsRequestRewrite, ReplacesTheModelAndKeepsEverythingElse) {
  std::string body = R"({"input":["a","b"],"model":"emb","dimensions":8,"rightsize":{"sensitive":true},"encoding_format":"base64"})";
  ASSERT_TRUE(parseEmbeddingsRequest(body));
  auto out = rewriteEmbeddingsRequest(body, "text-embedding-3-small");
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(*out, R"({"input":["a","b"],"model":"text-embedding-3-small","dimensions":8,"encoding_format":"base64"})");
}

}  // namespace
}  // namespace rightsize::api
