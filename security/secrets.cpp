#include "security/secrets.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <vector>

#include "security/encoding.h"

namespace pacs::security {
namespace {

constexpr std::string_view kTokenScheme = "sha256$";
constexpr std::string_view kPasswordScheme = "pbkdf2-sha256$";

std::vector<std::string_view> split_dollars(std::string_view text) {
  std::vector<std::string_view> out;
  for (std::size_t guard = 0; guard <= text.size(); ++guard) {
    const auto at = text.find('$');
    out.push_back(text.substr(0, at));
    if (at == std::string_view::npos) break;
    text.remove_prefix(at + 1);
  }
  return out;
}

struct Pbkdf2 {
  unsigned iterations = 0;
  std::string salt, key;
};

std::optional<Pbkdf2> parse_pbkdf2(std::string_view stored) {
  if (!stored.starts_with(kPasswordScheme)) return std::nullopt;
  const auto parts = split_dollars(stored.substr(kPasswordScheme.size()));
  if (parts.size() != 3) return std::nullopt;
  Pbkdf2 out;
  auto [end, ec] =
      std::from_chars(parts[0].data(), parts[0].data() + parts[0].size(), out.iterations);
  if (ec != std::errc() || end != parts[0].data() + parts[0].size()) return std::nullopt;
  auto salt = base64_decode(parts[1]);
  auto key = base64_decode(parts[2]);
  if (!salt || !key) return std::nullopt;
  out.salt = std::move(*salt);
  out.key = std::move(*key);
  return out;
}

std::string pbkdf2(std::string_view password, const std::string& salt, unsigned iterations,
                   std::size_t length) {
  std::string key(length, '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()),
                        static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                        static_cast<int>(length),
                        reinterpret_cast<unsigned char*>(key.data())) != 1)
    throw std::runtime_error("PBKDF2 failed");
  return key;
}

}  // namespace

std::string sha256(std::string_view bytes) {
  std::string digest(32, '\0');
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), reinterpret_cast<unsigned char*>(digest.data()),
                 &length, EVP_sha256(), nullptr) != 1 ||
      length != 32)
    throw std::runtime_error("SHA-256 failed");
  return digest;
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw std::runtime_error("no random bytes from OpenSSL");
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view message) {
  std::string mac(32, '\0');
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(),
           reinterpret_cast<unsigned char*>(mac.data()), &length) == nullptr ||
      length != 32)
    throw std::runtime_error("HMAC-SHA-256 failed");
  return mac;
}

Result<std::string> load_or_create_key(const std::filesystem::path& file, std::size_t size) {
  auto read_key = [&]() -> Result<std::string> {
    std::ifstream in(file, std::ios::binary);
    std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.eof() && !in.good())
      return fail(ErrorCode::StorageFailure, "cannot read the key file " + file.string());
    if (key.size() != size)
      return fail(ErrorCode::StorageFailure, "the key file " + file.string() + " holds " +
                                                 std::to_string(key.size()) + " bytes, not " +
                                                 std::to_string(size) + ": restore it");
    return key;
  };
  if (std::filesystem::exists(file)) return read_key();
  // Written under a temp name, then linked into place: link() fails when another process made
  // the key meanwhile, and then both use that one.
  const std::string key = random_bytes(size);
  const std::filesystem::path temp = file.string() + ".tmp" + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return fail(ErrorCode::StorageFailure,
                "cannot create " + temp.string() + ": " + std::strerror(errno));
  const bool written =
      ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) && ::fsync(fd) == 0;
  ::close(fd);
  const int linked = written ? ::link(temp.c_str(), file.c_str()) : -1;
  const int link_error = errno;
  ::unlink(temp.c_str());
  if (!written)
    return fail(ErrorCode::StorageFailure, "cannot write the key file " + file.string());
  if (linked != 0 && link_error == EEXIST) return read_key();
  if (linked != 0)
    return fail(ErrorCode::StorageFailure,
                "cannot create " + file.string() + ": " + std::strerror(link_error));
  return key;
}

std::string hash_token(std::string_view token) {
  return std::string(kTokenScheme) + hex_encode(sha256(token));
}

std::string hash_password(std::string_view password, unsigned iterations) {
  const std::string salt = random_bytes(16);
  return std::string(kPasswordScheme) + std::to_string(iterations) + "$" + base64_encode(salt) +
         "$" + base64_encode(pbkdf2(password, salt, iterations, 32));
}

Result<void> check_stored_secret(std::string_view stored) {
  if (stored.starts_with(kTokenScheme)) {
    const auto hex = stored.substr(kTokenScheme.size());
    const bool ok = hex.size() == 64 && hex.find_first_not_of("0123456789abcdef") == hex.npos;
    if (!ok) return fail(ErrorCode::InvalidArgument, "sha256$ must be followed by 64 hex digits");
    return {};
  }
  if (stored.starts_with(kPasswordScheme)) {
    auto parsed = parse_pbkdf2(stored);
    if (!parsed) return fail(ErrorCode::InvalidArgument, "malformed pbkdf2-sha256$ITER$SALT$KEY");
    if (parsed->iterations < 10000 || parsed->iterations > 10000000 || parsed->salt.size() < 8 ||
        parsed->key.size() < 16)
      return fail(ErrorCode::InvalidArgument,
                  "pbkdf2-sha256 needs 10,000 to 10,000,000 iterations, 8+ bytes of salt, a "
                  "16+ byte key");
    return {};
  }
  return fail(ErrorCode::InvalidArgument,
              "a stored secret is sha256$HEX or pbkdf2-sha256$ITER$SALT$KEY (see pacsnode "
              "hash-token and hash-password), never the secret itself");
}

bool verify_secret(std::string_view stored, std::string_view presented) {
  if (!check_stored_secret(stored)) return false;
  if (stored.starts_with(kTokenScheme)) return constant_time_equal(stored, hash_token(presented));
  const auto parsed = parse_pbkdf2(stored);
  return constant_time_equal(
      parsed->key, pbkdf2(presented, parsed->salt, parsed->iterations, parsed->key.size()));
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace pacs::security
