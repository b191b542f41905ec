// Stored secrets: API tokens and passwords live in the config only as one-way hashes.
//   API token:  sha256$<hex of SHA-256(token)>           (tokens are long random strings)
//   password:   pbkdf2-sha256$<iterations>$<salt b64>$<key b64>   (people choose weak ones)
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "storage/model/result.h"

namespace pacs::security {

std::string sha256(std::string_view bytes);  // the 32-byte digest
std::string random_bytes(std::size_t n);     // from the OS's CSPRNG (OpenSSL RAND_bytes)
std::string hmac_sha256(std::string_view key, std::string_view message);  // the 32-byte MAC

// A secret key of `size` random bytes kept in a file: read when it exists, else created (mode
// 0600, written in full before it appears under its name, so a crash never leaves half a key).
// Fails when the file cannot be made, or holds anything but a key of that size.
Result<std::string> load_or_create_key(const std::filesystem::path& file, std::size_t size = 32);

std::string hash_token(std::string_view token);
std::string hash_password(std::string_view password, unsigned iterations = 600000);
// Whether a stored form is well made (known scheme, sane parameters); the error says why not.
Result<void> check_stored_secret(std::string_view stored);
// Whether `presented` matches the stored hash; compares in constant time.
bool verify_secret(std::string_view stored, std::string_view presented);
// Equal bytes, in time that depends on the length only.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace pacs::security
