#include "common/threads.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace rightsize {

void nameThisThread(std::string_view name) {
  std::string n(name.substr(0, 15));  // the kernel keeps 16 bytes with the NUL
  pthread_setname_np(pthread_self(), n.c_str());
}

bool lowerThisThreadPriority(int nice) {
  const auto tid = static_cast<id_t>(gettid());
  errno = 0;
  const int now = getpriority(PRIO_PROCESS, tid);
  if (now == -1 && errno != 0) return false;
  return setpriority(PRIO_PROCESS, tid, now + nice) == 0;
}

}  // namespace rightsize
