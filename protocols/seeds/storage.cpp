#include "protocols/seeds/storage.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "protocols/common/codec.hpp"

namespace confab::seeds {

namespace {

void apply_batch(recovered_state& s, const persist_batch& b) {
  if (b.hard_changed) s.hard = b.hard;
  if (b.truncate_after != ~std::uint64_t{0} && b.truncate_after < s.log.size()) s.log.resize(b.truncate_after);
  if (!b.entries.empty()) {
    CONFAB_ASSERT(b.first_index >= 1 && b.first_index <= s.log.size() + 1);
    s.log.resize(b.first_index - 1);
    s.log.insert(s.log.end(), b.entries.begin(), b.entries.end());
  }
}

enum record : std::uint8_t { r_hard = 1, r_truncate = 2, r_entries = 3 };

std::uint32_t fnv1a(const std::byte* p, std::size_t n) {
  std::uint32_t h = 2166136261u;
  for (std::size_t i = 0; i < n; ++i) h = (h ^ std::to_integer<std::uint32_t>(p[i])) * 16777619u;
  return h;
}

void add_record(std::vector<std::byte>& out, std::uint8_t type, const std::vector<std::byte>& body) {
  codec::writer w(out);
  const std::size_t start = out.size();
  w.u32(static_cast<std::uint32_t>(1 + body.size()));
  w.u8(type);
  w.bytes(body);
  w.u32(fnv1a(out.data() + start + 4, 1 + body.size()));
}

}  // namespace

result<void> memory_store::save(const persist_batch& b) {
  apply_batch(state_, b);
  ++saves_;
  return {};
}

file_store::~file_store() {
  if (fd_ >= 0) ::close(fd_);
}

result<std::unique_ptr<file_store>> file_store::open(const std::string& path) {
  std::unique_ptr<file_store> s(new file_store());
  s->fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (s->fd_ < 0) return from_errno(errno);
  struct stat st {};
  if (::fstat(s->fd_, &st) != 0) return from_errno(errno);
  std::vector<std::byte> data(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < data.size()) {
    const auto n = ::pread(s->fd_, data.data() + got, data.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? from_errno(errno) : make_error(errc::other, "log file shrank while being read");
    got += static_cast<std::size_t>(n);
  }
  // Replay every whole, checksummed record; stop at the first that is not.
  std::size_t pos = 0;
  while (data.size() - pos >= 9) {
    codec::reader h(std::span<const std::byte>(data).subspan(pos, 4));
    const std::uint32_t len = h.u32();
    if (len == 0 || len > (1u << 24) || data.size() - pos < 8 + std::size_t{len}) break;
    const std::byte* rec = data.data() + pos + 4;
    codec::reader sum(std::span<const std::byte>(rec + len, 4));
    if (sum.u32() != fnv1a(rec, len)) break;
    codec::reader r(std::span<const std::byte>(rec + 1, len - 1));
    persist_batch b;
    switch (static_cast<std::uint8_t>(rec[0])) {
      case r_hard:
        b.hard_changed = true;
        b.hard.term = r.u64();
        b.hard.voted_for = r.u64();
        b.hard.commit = r.u64();
        break;
      case r_truncate:
        b.truncate_after = r.u64();
        break;
      case r_entries: {
        b.first_index = r.u64();
        b.entries.resize(r.count(65535, 17, "too many entries in one record"));
        for (auto& e : b.entries) {
          e.term = r.u64();
          e.kind = static_cast<entry_kind>(r.u8());
          e.peer = r.u64();
        }
        if (b.first_index < 1 || b.first_index > s->state_.log.size() + 1) r.fail("entries do not follow the log");
        break;
      }
      default:
        r.fail("unknown record type");
    }
    if (!r.finish()) break;
    apply_batch(s->state_, b);
    pos += 8 + len;
  }
  s->torn_ = data.size() - pos;
  if (s->torn_ != 0 && ::ftruncate(s->fd_, static_cast<off_t>(pos)) != 0) return from_errno(errno);
  if (::lseek(s->fd_, 0, SEEK_END) < 0) return from_errno(errno);
  return s;
}

result<void> file_store::save(const persist_batch& b) {
  if (b.empty()) return {};
  std::vector<std::byte> out, body;
  codec::writer w(body);
  if (b.truncate_after != ~std::uint64_t{0}) {
    w.u64(b.truncate_after);
    add_record(out, r_truncate, body);
    body.clear();
  }
  constexpr std::size_t per_record = 65535;  // a u16 count
  for (std::size_t off = 0; off < b.entries.size(); off += per_record) {
    const std::size_t n = std::min(b.entries.size() - off, per_record);
    w.u64(b.first_index + off);
    w.u16(static_cast<std::uint16_t>(n));
    for (std::size_t i = off; i < off + n; ++i) {
      w.u64(b.entries[i].term);
      w.u8(static_cast<std::uint8_t>(b.entries[i].kind));
      w.u64(b.entries[i].peer);
    }
    add_record(out, r_entries, body);
    body.clear();
  }
  if (b.hard_changed) {
    w.u64(b.hard.term);
    w.u64(b.hard.voted_for);
    w.u64(b.hard.commit);
    add_record(out, r_hard, body);
  }
  std::size_t done = 0;
  while (done < out.size()) {
    const auto n = ::write(fd_, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return from_errno(errno);
    done += static_cast<std::size_t>(n);
  }
  if (::fdatasync(fd_) != 0) return from_errno(errno);
  apply_batch(state_, b);
  return {};
}

}  // namespace confab::seeds
