# cmake -DIN=page.html -DOUT=page.cc -P embed_page.cmake: writes OUT, a C++ source whose
# rightsize::server::dashboardHtml() returns the bytes of IN (as one raw string literal).
file(READ "${IN}" page)
string(FIND "${page}" ")rsdash\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw-string delimiter )rsdash\" and cannot be embedded")
endif()
file(WRITE "${OUT}.tmp"
"// Generated from src/server/dashboard/index.html by embed_page.cmake: do not edit.
#include \"server/dashboard.h\"

namespace rightsize::server {

std::string_view dashboardHtml() {
  static constexpr char kPage[] = R\"rsdash(${page})rsdash\";
  return {kPage, sizeof(kPage) - 1};
}

}  // namespace rightsize::server
")
file(RENAME "${OUT}.tmp" "${OUT}")
