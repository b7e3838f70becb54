#pragma once
// Naming and prioritizing the gateway's own threads (Linux).

#include <string_view>

namespace rightsize {

// Names the calling thread (shown by top -H, ps -L, perf and gdb); cut to the kernel's 15 bytes.
void nameThisThread(std::string_view name);

// Lowers the calling thread's scheduling priority by `nice` steps (nice is per thread on Linux),
// for background work that must not take the CPU from the io threads when both want it (the ledger
// writer). Best effort: returns false if the kernel refused.
bool lowerThisThreadPriority(int nice);

}  // namespace rightsize
