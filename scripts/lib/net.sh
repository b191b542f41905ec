# shellcheck shell=bash
# Network helpers shared by the scripts: source this file.

# Prints a loopback port that was free a moment ago (the caller retries if it is taken first).
free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}
