// The floor for an io_uring echo server: liburing and nothing else.
//
// One ring (single issuer, deferred task work), one multishot accept, one
// multishot receive per connection into a provided-buffer ring, the echo
// sent straight from the received buffer, which goes back to the ring when
// the send completes. No framework, no coroutines, no per-connection
// object beyond the kernel's. What an engine on io_uring can approach, not
// beat, on the same work (bench/echo_compare.py).
//
//   echo_server_raw_uring --port P      prints "ready PORT"; SIGTERM ends it
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr unsigned buffers = 4096, buffer_bytes = 4096, group = 0;
enum : std::uint64_t { accept_tag = 1, recv_tag = 2, send_tag = 3 };

struct pending_send {
  int fd = -1;
  unsigned len = 0, off = 0;
};

io_uring ring;
io_uring_buf_ring* br = nullptr;
std::vector<char> storage(std::size_t{buffers} * buffer_bytes);
std::vector<pending_send> sends(buffers);

io_uring_sqe* sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring);
  if (s == nullptr) {
    io_uring_submit(&ring);
    s = io_uring_get_sqe(&ring);
  }
  return s;
}

void give_back(unsigned bid) {
  io_uring_buf_ring_add(br, storage.data() + std::size_t{bid} * buffer_bytes, buffer_bytes,
                        static_cast<unsigned short>(bid), io_uring_buf_ring_mask(buffers), 0);
  io_uring_buf_ring_advance(br, 1);
}

void arm_recv(int fd) {
  io_uring_sqe* s = sqe();
  io_uring_prep_recv_multishot(s, fd, nullptr, 0, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = group;
  io_uring_sqe_set_data64(s, (std::uint64_t(fd) << 8) | recv_tag);
}

void send_from(unsigned bid) {
  const pending_send& p = sends[bid];
  io_uring_sqe* s = sqe();
  io_uring_prep_send(s, p.fd, storage.data() + std::size_t{bid} * buffer_bytes + p.off, p.len - p.off, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(s, (std::uint64_t(bid) << 8) | send_tag);
}

void arm_accept(int lfd) {
  io_uring_sqe* s = sqe();
  io_uring_prep_multishot_accept(s, lfd, nullptr, nullptr, 0);
  io_uring_sqe_set_data64(s, accept_tag);
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 0;
  for (int i = 1; i + 1 < argc; i += 2)
    if (std::string(argv[i]) == "--port") port = static_cast<unsigned short>(std::stoi(argv[i + 1]));
  signal(SIGPIPE, SIG_IGN);
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
  params.cq_entries = 65536;
  if (int rc = io_uring_queue_init_params(4096, &ring, &params); rc < 0) {
    std::fprintf(stderr, "echo_server_raw_uring: io_uring_queue_init: %s\n", std::strerror(-rc));
    return 1;
  }
  void* mem = mmap(nullptr, buffers * sizeof(io_uring_buf), PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  br = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(mem);
  reg.ring_entries = buffers;
  reg.bgid = group;
  if (int rc = io_uring_register_buf_ring(&ring, &reg, 0); rc < 0) {
    std::fprintf(stderr, "echo_server_raw_uring: io_uring_register_buf_ring: %s\n", std::strerror(-rc));
    return 1;
  }
  io_uring_buf_ring_init(br);
  for (unsigned b = 0; b < buffers; ++b)
    io_uring_buf_ring_add(br, storage.data() + std::size_t{b} * buffer_bytes, buffer_bytes, static_cast<unsigned short>(b),
                          io_uring_buf_ring_mask(buffers), static_cast<int>(b));
  io_uring_buf_ring_advance(br, buffers);

  const int lfd = socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || listen(lfd, 4096) < 0) {
    std::perror("echo_server_raw_uring: bind/listen");
    return 1;
  }
  socklen_t len = sizeof a;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
  std::printf("ready %u\n", ntohs(a.sin_port));
  std::fflush(stdout);
  arm_accept(lfd);

  for (;;) {
    if (int rc = io_uring_submit_and_wait(&ring, 1); rc < 0 && rc != -EINTR) {
      std::fprintf(stderr, "echo_server_raw_uring: submit: %s\n", std::strerror(-rc));
      return 1;
    }
    io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      const std::uint64_t ud = io_uring_cqe_get_data64(cqe);
      const int res = cqe->res;
      switch (ud & 0xff) {
        case accept_tag:
          if (res >= 0) {
            setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            arm_recv(res);
          }
          if (!(cqe->flags & IORING_CQE_F_MORE)) arm_accept(lfd);
          break;
        case recv_tag: {
          const int fd = static_cast<int>(ud >> 8);
          if (res > 0) {
            const unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
            sends[bid] = {fd, static_cast<unsigned>(res), 0};
            send_from(bid);
            if (!(cqe->flags & IORING_CQE_F_MORE)) arm_recv(fd);
          } else if (res == -ENOBUFS) {
            arm_recv(fd);  // the ring ran dry: sends in flight give buffers back
          } else {
            close(fd);  // end of stream or an error
          }
          break;
        }
        case send_tag: {
          const unsigned bid = static_cast<unsigned>(ud >> 8);
          pending_send& p = sends[bid];
          if (res > 0 && p.off + static_cast<unsigned>(res) < p.len) {
            p.off += static_cast<unsigned>(res);
            send_from(bid);  // the rest of a partial send
          } else {
            give_back(bid);
          }
          break;
        }
      }
    }
    io_uring_cq_advance(&ring, seen);
  }
}
