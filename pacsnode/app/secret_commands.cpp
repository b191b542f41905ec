#include "pacsnode/app/secret_commands.h"

#include <cstdio>
#include <iostream>

#include "security/encoding.h"
#include "security/secrets.h"

namespace pacs {

int secret_command(const std::string& command) {
  if (command == "new-token") {
    // 32 random bytes: far beyond guessing, so one fast hash is the right way to store it.
    const std::string token = security::base64url_encode(security::random_bytes(32));
    std::printf("token: %s\nhash:  %s\n", token.c_str(), security::hash_token(token).c_str());
    return 0;
  }
  std::string secret;
  if (!std::getline(std::cin, secret) || secret.empty()) {
    std::fprintf(stderr, "pacsnode %s: give the secret on standard input\n", command.c_str());
    return 2;
  }
  if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  const std::string hash =
      command == "hash-token" ? security::hash_token(secret) : security::hash_password(secret);
  std::printf("%s\n", hash.c_str());
  return 0;
}

}  // namespace pacs
