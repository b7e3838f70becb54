# GET / serves dashboard/index.html compiled into rs_server: at build time (again whenever the page
# changes) embed_page.cmake turns it into a C++ source defining server::dashboardHtml(), so
# `rightsize serve` reads no files at run time. Included from src/server/CMakeLists.txt.
set(RS_DASHBOARD_PAGE ${CMAKE_CURRENT_SOURCE_DIR}/dashboard/index.html)
set(RS_DASHBOARD_CC ${CMAKE_CURRENT_BINARY_DIR}/dashboard_page.cc)
add_custom_command(
  OUTPUT ${RS_DASHBOARD_CC}
  COMMAND ${CMAKE_COMMAND} -DIN=${RS_DASHBOARD_PAGE} -DOUT=${RS_DASHBOARD_CC}
          -P ${CMAKE_CURRENT_SOURCE_DIR}/dashboard/embed_page.cmake
  DEPENDS ${RS_DASHBOARD_PAGE} ${CMAKE_CURRENT_SOURCE_DIR}/dashboard/embed_page.cmake
  COMMENT "Embedding the dashboard page"
  VERBATIM)
target_sources(rs_server PRIVATE ${RS_DASHBOARD_CC})
