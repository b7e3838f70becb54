#pragma once
// Small string helpers. No I/O.

#include <string>
#include <string_view>
#include <vector>

namespace rightsize {

// Appends `s` to `out` as a JSON string literal (with quotes), escaping per RFC 8259.
// Invalid UTF-8 is passed through byte for byte (callers feed text they got as JSON).
void appendJsonString(std::string& out, std::string_view s);
std::string jsonString(std::string_view s);

// `s` with &, <, > and " escaped, for HTML/XML/SVG text and attribute values.
std::string xmlEscape(std::string_view s);

bool iequals(std::string_view a, std::string_view b);
// ASCII white space (what std::isspace accepts in the C locale), without the locale lookup.
inline bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
std::string_view trim(std::string_view s);  // without leading and trailing isSpace
std::vector<std::string_view> split(std::string_view s, char sep);
std::string toLower(std::string_view s);

}  // namespace rightsize
