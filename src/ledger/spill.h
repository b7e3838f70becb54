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

}  // namespace rightsize::ledger
