// A raw TCP client for the server tests: requests sent a byte at a time, answers read as bytes,
// connections left open on purpose.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace iris::server {

// A TCP connection to the loopback port; reads give up after 10 s.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { ::close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  int fd() const { return fd_; }
  bool connected() const { return connected_; }
  void send(const std::string& data) { (void)::send(fd_, data.data(), data.size(), MSG_NOSIGNAL); }
  // Everything until the peer closes (or the 10 s read timeout); *closed says which.
  std::string read_all(bool* closed) {
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
        continue;
      }
      *closed = n == 0 || errno == ECONNRESET;
      return out;
    }
  }
  // Reads until `text` arrives (or the peer closes or times out).
  std::string read_until(const std::string& text) {
    std::string out;
    char c;
    while (out.find(text) == std::string::npos && ::recv(fd_, &c, 1, 0) == 1) out += c;
    return out;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

}  // namespace iris::server
