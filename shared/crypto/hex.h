#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fleetml::crypto {

// Lower-case hexadecimal of arbitrary bytes ("\x01\xab" -> "01ab").
std::string to_hex(std::string_view bytes);

// Bytes of a hexadecimal string (either case); nullopt when the length is odd or a character
// is not a hex digit. Never throws, so it is safe on attacker-supplied text.
std::optional<std::string> from_hex(std::string_view hex);

// True when `text` is exactly `bytes` bytes in lower-case hex, the form fleetml uses on the
// wire and in file names (e.g. is_lower_hex(sha, 32) for a SHA-256).
bool is_lower_hex(std::string_view text, std::size_t bytes);

}  // namespace fleetml::crypto
