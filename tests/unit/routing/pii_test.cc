// PII detector precision: every positive is found as its kind; look-alikes (checksums that
// fail, dates, order numbers, file names, public keys) are not reported as anything.
#include <gtest/gtest.h>

#include <string>

#include "routing/pii.h"

namespace rightsize::routing {
namespace {

struct Sample {
  PiiKind kind;
  std::string text;
};

const std::vector<Sample> kPositives = {
    {PiiKind::kEmail, "write to jane.doe@example.com please"},
    {PiiKind::kEmail, "Contact: J.Smith+billing@mail.example.co.uk."},
    {PiiKind::kPhone, "call me on +44 20 7946 0958 tomorrow"},
    {PiiKind::kPhone, "my number is (415) 555-2671."},
    {PiiKind::kPhone, "reach me at 415-555-2671"},
    {PiiKind::kPhone, "US office: +1 415 555 2671"},
    {PiiKind::kPhone, "Tel. +33 1 42 68 53 00"},
    {PiiKind::kPaymentCard, "card 4111 1111 1111 1111 exp 12/29"},
    {PiiKind::kPaymentCard, "pay with 5500-0000-0000-0004"},
    {PiiKind::kPaymentCard, "amex 378282246310005"},
    {PiiKind::kPaymentCard, "discover:6011111111111117"},
    {PiiKind::kIban, "IBAN DE89 3704 0044 0532 0130 00 for rent"},
    {PiiKind::kIban, "send it to GB82WEST12345698765432"},
    {PiiKind::kIban, "FR14 2004 1010 0505 0001 3M02 606"},
    {PiiKind::kNationalId, "SSN 123-45-6789"},
    {PiiKind::kNationalId, "NI number AB 12 34 56 C"},
    {PiiKind::kNationalId, "ni: JG103759A"},
    {PiiKind::kNationalId, "DNI 12345678Z"},
    {PiiKind::kSecret, "OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz123456"},
    {PiiKind::kSecret, "aws_access_key_id = AKIAIOSFODNN7EXAMPLE"},
    {PiiKind::kSecret, "token ghp_abcdefghijklmnopqrstuvwxyz0123456789"},
    {PiiKind::kSecret, "-----BEGIN RSA PRIVATE KEY-----\nMIIEow..."},
    {PiiKind::kSecret, "-----BEGIN PRIVATE KEY-----"},
    {PiiKind::kSecret, "slack xoxb-123456789012-abcdefghij"},
    {PiiKind::kSecret, "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"},
};

const std::vector<std::string> kNegatives = {
    "card 4111 1111 1111 1112 exp 12/29",                 // fails Luhn
    "order number 1234567812345670",                      // passes Luhn, no issuer starts with 1
    "tracking 9400 1000 0000 0000 0000 00",               // 22 digits
    "IBAN DE89 3704 0044 0532 0130 01",                   // fails mod 97
    "GB82 WEST 1234 5698 7654 33",                        // fails mod 97
    "the meeting is on 2024-01-15 at 10:30",              // a date
    "order #415-555-2671 shipped",                        // an order number shaped like a phone
    "ref ORD-415-555-2671",                               // glued to an identifier
    "call 123-456-7890",                                  // area code cannot start with 1
    "ISBN 978-3-16-148410-0",
    "version 1.2.3 released 2023.11.05",
    "server 192.168.100.200 port 8080",
    "12:30-13:45 slot, room 555-1234",
    "icon@2x.png and logo@3x.jpg",                        // file names, not addresses
    "user at example dot com",
    "SSN 000-12-3456 is not issued",                      // never-issued area
    "666-12-3456 and 912-12-3456",
    "123-00-4567",                                        // group 00
    "QQ123456C is the documentation example",             // prefix never issued
    "GB123456A",
    "DNI 12345678A",                                      // wrong check letter
    "pip install scikit-learn; import sk-learn",          // not a key
    "task-scheduler-configuration-manager-v2",
    "AKIA1234",
    "-----BEGIN PUBLIC KEY-----",
    "the answer is 42, and pi is 3.14159265358979",
    "Commit 3f2a9c1d4e5b6a7c8d9e0f1a2b3c4d5e6f7a8b9c",
    "Invoice 2023-555-0147 due",
};

class PiiDetectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = PiiDetector::make();
    ASSERT_TRUE(d) << d.error().message;
    det_ = std::move(*d);
  }
  std::unique_ptr<PiiDetector> det_;
};

TEST_F(PiiDetectorTest, FindsEveryPositiveAsItsKind) {
  for (const auto& s : kPositives) {
    PiiScan r = det_->scan(s.text);
    EXPECT_GE(r.count(s.kind), 1u) << "missed " << piiKindName(s.kind) << " in: " << s.text;
  }
}

TEST_F(PiiDetectorTest, ReportsNothingInLookAlikes) {
  for (const auto& text : kNegatives) {
    PiiScan r = det_->scan(text);
    for (size_t k = 0; k < kPiiKindCount; ++k)
      EXPECT_EQ(r.counts[k], 0u) << "false " << piiKindName(static_cast<PiiKind>(k)) << " in: " << text;
  }
}

TEST_F(PiiDetectorTest, CountsSeveralFindingsAcrossTexts) {
  PiiScan r;
  det_->scanInto("a@example.com and b@example.org", r);
  det_->scanInto("and c@example.net", r);
  EXPECT_EQ(r.count(PiiKind::kEmail), 3u);
  EXPECT_TRUE(r.any());
  EXPECT_FALSE(det_->scan("").any());
}

TEST(PiiDetector, OnlyScansTheConfiguredKinds) {
  const PiiKind only[] = {PiiKind::kEmail};
  auto d = PiiDetector::make(only);
  ASSERT_TRUE(d);
  PiiScan r = (*d)->scan("jane@example.com, card 4111111111111111");
  EXPECT_EQ(r.count(PiiKind::kEmail), 1u);
  EXPECT_EQ(r.count(PiiKind::kPaymentCard), 0u);
}

TEST(PiiChecksums, LuhnAndIban) {
  EXPECT_TRUE(luhnValid("4111111111111111"));
  EXPECT_FALSE(luhnValid("4111111111111112"));
  EXPECT_FALSE(luhnValid("41x1"));
  EXPECT_TRUE(ibanValid("DE89370400440532013000"));
  EXPECT_FALSE(ibanValid("DE89370400440532013001"));
  EXPECT_FALSE(ibanValid("de89370400440532013000"));
  EXPECT_TRUE(validPaymentCard("378282246310005"));
  EXPECT_FALSE(validPaymentCard("1234567812345670"));
}

TEST(PiiKinds, NamesRoundTrip) {
  for (size_t k = 0; k < kPiiKindCount; ++k) {
    auto kind = static_cast<PiiKind>(k);
    EXPECT_EQ(piiKindFromName(piiKindName(kind)), kind);
  }
  EXPECT_FALSE(piiKindFromName("ssn"));
}

}  // namespace
}  // namespace rightsize::routing
