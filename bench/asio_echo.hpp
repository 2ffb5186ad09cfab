// A conventional Boost.Asio echo server (one io_context, one thread,
// async_read_some into a per-connection buffer, then async_write), written
// as Asio's own examples do. Shared by echo_server (Asio on epoll) and
// echo_server_asio_uring (the same code with Asio's io_uring backend, which
// is chosen when this header is compiled: BOOST_ASIO_HAS_IO_URING and
// BOOST_ASIO_DISABLE_EPOLL before it is included).
#pragma once

#include <array>
#include <boost/asio.hpp>
#include <cstdio>
#include <memory>

namespace bench {

namespace asio = boost::asio;
using asio::ip::tcp;

class asio_session : public std::enable_shared_from_this<asio_session> {
 public:
  explicit asio_session(tcp::socket s) : socket_(std::move(s)) {}
  void start() { read(); }

 private:
  void read() {
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(data_), [this, self](boost::system::error_code ec, std::size_t n) {
      if (!ec) write(n);
    });
  }
  void write(std::size_t n) {
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(data_, n), [this, self](boost::system::error_code ec, std::size_t) {
      if (!ec) read();
    });
  }
  tcp::socket socket_;
  std::array<char, 4096> data_;
};

inline void asio_accept(tcp::acceptor& a) {
  a.async_accept([&a](boost::system::error_code ec, tcp::socket s) {
    if (!ec) {
      s.set_option(tcp::no_delay(true));
      std::make_shared<asio_session>(std::move(s))->start();
    }
    asio_accept(a);
  });
}

// Serves 127.0.0.1:port until SIGINT or SIGTERM; prints "ready PORT" once listening.
inline int run_asio_echo(unsigned short port) {
  asio::io_context ctx(1);
  tcp::acceptor acc(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  std::printf("ready %u\n", acc.local_endpoint().port());
  std::fflush(stdout);
  asio::signal_set sigs(ctx, SIGINT, SIGTERM);
  sigs.async_wait([&](auto, int) { ctx.stop(); });
  asio_accept(acc);
  ctx.run();
  return 0;
}

}  // namespace bench
