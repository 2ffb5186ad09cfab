#include "protocols/seeds/storage.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "protocols/common/codec.hpp"
#include "protocols/common/endpoints.hpp"

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

enum record : std::uint8_t { r_truncate = 2, r_entries = 3 };  // 1 (a hard state record) was format 1's

constexpr char log_magic[8] = {'C', 'O', 'N', 'F', 'A', 'B', 'L', 'G'};
constexpr char state_magic[8] = {'C', 'O', 'N', 'F', 'A', 'B', 'S', 'T'};
constexpr std::uint32_t log_format = 2, state_format = 1;
constexpr std::size_t header_bytes = 32, state_bytes = 64, record_overhead = 4 + 8;
constexpr std::uint32_t record_bytes_max = 1u << 24;

std::uint64_t checksum(const std::byte* p, std::size_t n) { return XXH3_64bits(p, n); }

std::span<const std::byte> magic_bytes(const char (&m)[8]) { return std::as_bytes(std::span<const char, 8>(m)); }

void seal(std::vector<std::byte>& out, std::size_t start) {
  codec::writer w(out);
  w.u64(checksum(out.data() + start, out.size() - start));
}

std::vector<std::byte> log_header(std::uint64_t identity) {
  std::vector<std::byte> h;
  codec::writer w(h);
  w.bytes(magic_bytes(log_magic));
  w.u32(log_format);
  w.u32(0);
  w.u64(identity);
  seal(h, 0);
  return h;
}

void add_record(std::vector<std::byte>& out, std::uint8_t type, const std::vector<std::byte>& body) {
  codec::writer w(out);
  const std::size_t start = out.size();
  w.u32(static_cast<std::uint32_t>(1 + body.size()));
  w.u8(type);
  w.bytes(body);
  seal(out, start);
}

// The length of a whole record at `pos` whose checksum holds, or 0.
std::size_t valid_record_at(const std::vector<std::byte>& d, std::size_t pos) {
  if (d.size() - pos < record_overhead + 1) return 0;
  codec::reader h(std::span<const std::byte>(d).subspan(pos, 4));
  const std::uint32_t len = h.u32();
  if (len == 0 || len > record_bytes_max || d.size() - pos < record_overhead + std::size_t{len}) return 0;
  codec::reader sum(std::span<const std::byte>(d).subspan(pos + 4 + len, 8));
  return sum.u64() == checksum(d.data() + pos, 4 + len) ? record_overhead + len : 0;
}

enum class read_status { ok, absent, failed };
read_status read_file(const std::string& path, std::vector<std::byte>& out, int& err) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err = errno;
    return errno == ENOENT ? read_status::absent : read_status::failed;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    err = errno;
    ::close(fd);
    return read_status::failed;
  }
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < out.size()) {
    const auto n = ::pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      ::close(fd);
      return read_status::failed;
    }
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return read_status::ok;
}

result<void> write_all(int fd, const std::vector<std::byte>& b) {
  std::size_t done = 0;
  while (done < b.size()) {
    const auto n = ::write(fd, b.data() + done, b.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return from_errno(errno);
    done += static_cast<std::size_t>(n);
  }
  return {};
}

result<void> sync_dir(const std::string& file) {
  auto dir = std::filesystem::path(file).parent_path();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return from_errno(errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  return rc == 0 ? result<void>{} : from_errno(err);
}

std::string sys_text(int err) { return std::strerror(err); }

// Parses a state block; false with `why` when it is not one.
bool parse_state(const std::vector<std::byte>& d, hard_state& h, std::uint64_t& identity, std::string& why) {
  if (d.size() != state_bytes) {
    why = std::to_string(d.size()) + " bytes instead of " + std::to_string(state_bytes);
    return false;
  }
  codec::reader sum(std::span<const std::byte>(d).subspan(state_bytes - 8, 8));
  if (sum.u64() != checksum(d.data(), state_bytes - 8)) {
    why = "its checksum does not match";
    return false;
  }
  if (std::memcmp(d.data(), state_magic, 8) != 0) {
    why = "it is not a confab state file";
    return false;
  }
  codec::reader r(std::span<const std::byte>(d).subspan(8, state_bytes - 16));
  if (r.u32() != state_format) {
    why = "unknown state format";
    return false;
  }
  const std::uint32_t flags = r.u32();
  identity = r.u64();
  h.term = r.u64();
  h.voted_for = r.u64();
  h.commit = r.u64();
  h.vote_floor = r.u64();
  h.learner = (flags & 1) != 0;
  return true;
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

result<void> file_store::write_state(const hard_state& hs) {
  std::vector<std::byte> b;
  codec::writer w(b);
  w.bytes(magic_bytes(state_magic));
  w.u32(state_format);
  w.u32(hs.learner ? 1 : 0);
  w.u64(identity_);
  w.u64(hs.term);
  w.u64(hs.voted_for);
  w.u64(hs.commit);
  w.u64(hs.vote_floor);
  seal(b, 0);
  const std::string path = base_ + ".state", tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return from_errno(errno);
  auto wrote = write_all(fd, b);
  if (wrote && ::fsync(fd) != 0) wrote = from_errno(errno);
  ::close(fd);
  if (!wrote) {
    ::unlink(tmp.c_str());  // the previous state file stands
    return wrote;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return from_errno(errno);
  return sync_dir(path);
}

result<std::unique_ptr<file_store>, problem> file_store::open(const std::string& base, std::uint64_t identity) {
  std::unique_ptr<file_store> s(new file_store());
  s->base_ = base;
  s->identity_ = identity;
  const std::string log_path = base + ".raft", state_path = base + ".state";
  const std::string who = endpoints::id_string(identity);
  std::vector<std::byte> log, state;
  int err = 0;
  const auto log_read = read_file(log_path, log, err);
  if (log_read == read_status::failed) return problem{"cannot read " + log_path + ": " + sys_text(err)};
  const auto state_read = read_file(state_path, state, err);
  if (state_read == read_status::failed) return problem{"cannot read " + state_path + ": " + sys_text(err)};

  auto& rep = s->report_;
  std::string damage;          // empty unless corrupt
  std::string damaged_file;    // the file to copy aside
  // ## the state file
  hard_state hard;
  bool have_state = false;
  if (state_read == read_status::ok) {
    std::uint64_t owner = 0;
    std::string why;
    if (parse_state(state, hard, owner, why)) {
      if (owner != identity)
        return problem{state_path + " belongs to seed " + endpoints::id_string(owner) + ", not to " + who +
                       ": refusing to start (a data directory of another seed?)"};
      have_state = true;
    } else {
      damage = state_path + " is damaged (" + why + ")";
      damaged_file = state_path;
    }
  }
  // ## the log: header, then records
  std::size_t pos = 0;
  const bool log_present = log_read == read_status::ok && !log.empty();
  if (log_present) {
    if (log.size() >= header_bytes && std::memcmp(log.data(), log_magic, 8) == 0) {
      codec::reader sum(std::span<const std::byte>(log).subspan(24, 8));
      codec::reader h(std::span<const std::byte>(log).subspan(8, 16));
      const bool sealed = sum.u64() == checksum(log.data(), 24);
      const auto format = h.u32();
      (void)h.u32();
      const auto owner = h.u64();
      if (sealed && format == log_format && owner != identity)
        return problem{log_path + " belongs to seed " + endpoints::id_string(owner) + ", not to " + who +
                       ": refusing to start (a data directory of another seed?)"};
      if (sealed && format == log_format) pos = header_bytes;
    }
    if (pos == 0) {
      if (damage.empty()) {
        damage = log_path + ": the header (offset 0) is damaged or not a confab log format " + std::to_string(log_format);
        damaged_file = log_path;
      }
    }
  }
  if (pos == header_bytes) {
    while (pos < log.size()) {
      const std::size_t n = valid_record_at(log, pos);
      std::string bad;
      persist_batch b;
      if (n == 0) {
        bad = "damaged";
      } else {
        codec::reader r(std::span<const std::byte>(log).subspan(pos + 5, n - record_overhead - 1));
        switch (static_cast<std::uint8_t>(log[pos + 4])) {
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
        if (!r.finish()) bad = "checksummed but unreadable";
      }
      if (!bad.empty()) {
        // Valid data after the bad record means it is not a torn append.
        std::size_t next = pos + 1;
        while (next < log.size() && valid_record_at(log, next) == 0) ++next;
        if (next < log.size() || n != 0) {
          damage = log_path + ": the record at offset " + std::to_string(pos) + " is " + bad +
                   (next < log.size() ? ", and a valid record follows at offset " + std::to_string(next) : "");
          damaged_file = log_path;
        } else {
          rep.kind = recovery_report::torn_tail;
          rep.cut_bytes = log.size() - pos;
          rep.text = log_path + ": a torn final record was cut (" + std::to_string(rep.cut_bytes) + " bytes at offset " +
                     std::to_string(pos) + ", a crash in mid-append)";
        }
        break;
      }
      apply_batch(s->state_, b);
      pos += n;
    }
  }
  const std::uint64_t entries = s->state_.log.size();
  if (damage.empty() && !have_state && (entries > 0 || state_read == read_status::ok)) {
    damage = state_path + " is missing while " + log_path + " holds " + std::to_string(entries) + " entries";
    damaged_file = log_path;
  }
  if (damage.empty() && have_state && entries < hard.commit) {
    damage = log_path + " holds " + std::to_string(entries) + " entries but " + std::to_string(hard.commit) +
             " were committed: entries were lost";
    if (log_present) damaged_file = log_path;
  }
  if (damage.empty() && have_state && !log_present && hard.term > 0) {
    damage = log_path + " is missing while " + state_path + " is at term " + std::to_string(hard.term);
  }

  // ## decide
  const bool fresh = damage.empty() && !have_state && entries == 0;
  if (!damage.empty()) {
    rep.kind = recovery_report::corrupt;
    if (!damaged_file.empty()) {
      rep.kept_aside = damaged_file + ".damaged-" + std::to_string(static_cast<long long>(std::time(nullptr)));
      std::error_code ec;
      std::filesystem::copy_file(damaged_file, rep.kept_aside, std::filesystem::copy_options::overwrite_existing, ec);
      if (ec) return problem{"cannot keep a copy of " + damaged_file + " aside: " + ec.message()};
    }
    if (!have_state) {
      // The term is at least that of the last verified entry; the vote is
      // unknown, so the vote floor covers the whole term.
      hard = hard_state{};
      hard.term = s->state_.log.empty() ? 0 : s->state_.log.back().term;
      hard.vote_floor = hard.term;
    }
    hard.learner = true;
    hard.commit = std::min<std::uint64_t>(hard.commit, entries);
    rep.text = damage + ". Kept " + std::to_string(entries) + " verified entries (damaged copy: " +
               (rep.kept_aside.empty() ? "none" : rep.kept_aside) +
               "); this seed is a learner: it neither votes nor stands until the leader has given it back what was "
               "committed";
  } else if (fresh) {
    rep.kind = recovery_report::fresh;
    hard = hard_state{};
    rep.text = "no Raft state in " + base + ".{raft,state}: a new or wiped seed, a learner until it has caught up "
               "with a leader or a majority of seeds show the cluster is new";
  } else if (rep.kind != recovery_report::torn_tail) {
    rep.kind = recovery_report::clean;
    rep.text = "recovered term " + std::to_string(hard.term) + ", " + std::to_string(entries) + " log entries";
  }
  s->state_.hard = hard;

  // ## bring the files to what was recovered
  s->fd_ = ::open(log_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (s->fd_ < 0) return problem{"cannot open " + log_path + ": " + sys_text(errno)};
  const bool rewrite_header = pos < header_bytes;
  if (rewrite_header) {
    if (::ftruncate(s->fd_, 0) != 0) return problem{"cannot truncate " + log_path + ": " + sys_text(errno)};
    auto h = log_header(identity);
    if (auto w = write_all(s->fd_, h); !w) return problem{"cannot write " + log_path + ": " + w.error().message()};
    pos = header_bytes;  // (no record was read: nothing verified is lost)
  } else if (pos < log.size()) {
    if (::ftruncate(s->fd_, static_cast<off_t>(pos)) != 0) return problem{"cannot cut " + log_path + ": " + sys_text(errno)};
  }
  if (::lseek(s->fd_, 0, SEEK_END) < 0) return problem{"cannot seek " + log_path + ": " + sys_text(errno)};
  if (::fdatasync(s->fd_) != 0) return problem{"cannot sync " + log_path + ": " + sys_text(errno)};
  if (rewrite_header || !have_state || !damage.empty()) {
    if (auto d = sync_dir(log_path); !d) return problem{"cannot sync the directory of " + log_path + ": " + d.error().message()};
    if (auto w = s->write_state(hard); !w) return problem{"cannot write " + state_path + ": " + w.error().message()};
  }
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
  if (!out.empty()) {
    const off_t end = ::lseek(fd_, 0, SEEK_CUR);
    if (auto wr = write_all(fd_, out); !wr) {
      // A full disk (or a quota): take back the part written, so the log
      // never holds half a record before later good ones, and let the
      // caller try again.
      if (end >= 0 && ::ftruncate(fd_, end) == 0) ::lseek(fd_, end, SEEK_SET);
      return wr;
    }
    // A failed sync leaves the page cache in an unknown state: the caller
    // must stop (storage.hpp).
    if (::fdatasync(fd_) != 0) return make_error(errc::other, "fdatasync failed: the log's state on disk is unknown");
  }
  // The log first: a state file never promises more than the log holds.
  if (b.hard_changed)
    if (auto ws = write_state(b.hard); !ws) return ws;
  apply_batch(state_, b);
  return {};
}

}  // namespace confab::seeds
