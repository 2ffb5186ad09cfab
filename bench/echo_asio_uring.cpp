// The Asio echo server of bench/asio_echo.hpp on Asio's io_uring backend
// (Boost 1.81: BOOST_ASIO_HAS_IO_URING with BOOST_ASIO_DISABLE_EPOLL, so
// sockets as well as files go through io_uring). Its own program: the
// backend is a compile-time choice for every Asio user in a program.
//
//   echo_server_asio_uring --port P
#define BOOST_ASIO_HAS_IO_URING 1
#define BOOST_ASIO_DISABLE_EPOLL 1
#include <string>

#include "bench/asio_echo.hpp"

int main(int argc, char** argv) {
  unsigned short port = 0;
  for (int i = 1; i + 1 < argc; i += 2)
    if (std::string(argv[i]) == "--port") port = static_cast<unsigned short>(std::stoi(argv[i + 1]));
  return bench::run_asio_echo(port);
}
