#pragma once
// The spill file: ledger records the writer could not hand to the sink, as JSON lines
// (one object per line, field names as the SQL columns). Read back by
// LedgerWriter::replaySpill() at the next start.

#include <string>
#include <string_view>

#include "common/result.h"
#include "ledger/record.h"

namespace rightsize::ledger {

// One JSON object followed by '\n'.
std::string toSpillLine(const LedgerRecord& record);

// Parses one line (without or with its '\n'). kCorruptData when it is not a complete
// record (e.g. the last line of a file cut short by a crash).
Result<LedgerRecord> parseSpillLine(std::string_view line);

// Feedback goes to the same file, one line each, marked by a leading "feedback":true:
//   {"feedback":true,"ts_us":1700000000000000,"request_id":"req-1","score":0.5}
std::string toSpillLine(const FeedbackRecord& feedback);
// True when `line` is a feedback line (checked on its first bytes; parse it to validate it).
bool isFeedbackSpillLine(std::string_view line);
// kCorruptData unless every field is present and the score is in [0, 1].
Result<FeedbackRecord> parseFeedbackSpillLine(std::string_view line);

}  // namespace rightsize::ledger
