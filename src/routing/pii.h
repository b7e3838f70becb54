#pragma once
// Personal-data detector for privacy routing: finds e-mail addresses, phone numbers, payment
// card numbers (Luhn-checked), IBANs (mod-97-checked), national IDs (US SSN, UK NINO, Spanish
// DNI with its check letter) and API keys / secrets in text. Pure: no I/O, nothing logged; it
// reports kinds and counts, never the matched text.
//
// Precision over recall: formats that are mostly false positives (bare 10-digit numbers,
// dates, order numbers) are not reported. Thread-safe: scan() is const and may run on every
// io thread at once.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace rightsize::routing {

enum class PiiKind { kEmail, kPhone, kPaymentCard, kIban, kNationalId, kSecret };
inline constexpr size_t kPiiKindCount = 6;

// "email", "phone", "payment_card", "iban", "national_id", "secret" (the config and metric names).
std::string_view piiKindName(PiiKind k);
std::optional<PiiKind> piiKindFromName(std::string_view name);

struct PiiScan {
  std::array<uint32_t, kPiiKindCount> counts{};  // findings per kind (indexed by PiiKind)
  bool any() const {
    for (uint32_t c : counts)
      if (c) return true;
    return false;
  }
  uint32_t count(PiiKind k) const { return counts[static_cast<size_t>(k)]; }
};

class PiiDetector {
 public:
  // Builds a detector for `kinds` (empty = all kinds). Fails only if a built-in pattern does
  // not compile (kInternal).
  static Result<std::unique_ptr<PiiDetector>> make(std::span<const PiiKind> kinds = {});
  ~PiiDetector();

  // Scans `text`; each finding is validated (checksums, number ranges, boundaries) before it counts.
  PiiScan scan(std::string_view text) const;
  // Scans several texts (the messages of a request) into one result.
  void scanInto(std::string_view text, PiiScan& out) const;

 private:
  PiiDetector() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Checksums, exposed for tests.
bool luhnValid(std::string_view digits);           // digits only
bool ibanValid(std::string_view iban);             // letters and digits only, no spaces
bool validPaymentCard(std::string_view digits);    // length, issuer prefix and Luhn

}  // namespace rightsize::routing
