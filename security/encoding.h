// Byte encodings of credentials: base64 (HTTP Basic), base64url (JWT, JWKS), hex (digests).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pacs::security {

// Strict decoders: nullopt on any character outside the alphabet, on bad padding or on a length
// no encoder produces. base64url takes no padding (RFC 7515 2); base64 requires it (RFC 4648 4).
std::optional<std::string> base64url_decode(std::string_view text);
std::optional<std::string> base64_decode(std::string_view text);
std::string base64url_encode(std::string_view bytes);
std::string base64_encode(std::string_view bytes);
std::string hex_encode(std::string_view bytes);

}  // namespace pacs::security
