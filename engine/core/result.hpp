// confab engine: outcomes as values.
//
// Every engine operation that can fail for an expected reason (peer gone,
// deadline passed, operation cancelled, frame malformed) returns a
// `result<T>`. The kernel's negated errno is mapped once, in `from_errno`,
// into a small canonical `errc`; the raw errno is kept beside it for logs.
//
//   result<std::size_t> n = co_await conn.send(bytes);
//   if (!n) log("send failed: {}", n.error().message());
//
// Broken invariants are not results: they are assertions that stop the
// program (see CONFAB_ASSERT).
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace confab {

// ## errc
// The canonical outcomes. Callers switch on these, never on raw errno.
enum class errc : unsigned char {
  ok = 0,
  cancelled,      // the operation's stop_token was triggered
  timed_out,      // its deadline passed
  closed,         // orderly end of stream (peer closed, EOF)
  reset,          // connection reset or broken pipe
  refused,        // connection refused
  unreachable,    // network or host unreachable
  address_in_use, // bind failed: address in use or no ephemeral port left
  no_buffers,     // provided-buffer ring ran empty (transient)
  too_large,      // a frame or message exceeded its configured limit
  malformed,      // input could not be decoded
  queue_full,     // a bounded queue refused an item
  resource,       // EMFILE, ENFILE, ENOMEM: out of descriptors or memory
  permission,     // EPERM, EACCES
  unsupported,    // ENOSYS, EOPNOTSUPP, EINVAL from a feature probe
  invalid_argument,
  other,          // anything else; see error::sys_errno
};

// ## errc_name
// A short stable name for logs and JSON ("timed_out").
const char* errc_name(errc e) noexcept;

// ## error
// A canonical code plus the errno it came from (0 when it did not come from
// the kernel) and an optional static detail string for the reader.
struct error {
  errc code = errc::other;
  int sys_errno = 0;
  const char* detail = nullptr;  // static storage only
  // A size over a limit, for `too_large` (both 0 otherwise): the detail
  // stays static text and the numbers travel with the value, so an error
  // never points at storage that a later error overwrites.
  std::uint64_t size = 0, limit = 0;

  friend bool operator==(const error& a, errc b) noexcept { return a.code == b; }
  std::string message() const;
};

// ## from_errno
// Maps a positive errno into the canonical set. This is the one place that
// knows errno values.
error from_errno(int e) noexcept;

// Header-only, so a protocol that sees only the seam links no engine code.
inline const char* errc_name(errc e) noexcept {
  switch (e) {
    case errc::ok: return "ok";
    case errc::cancelled: return "cancelled";
    case errc::timed_out: return "timed_out";
    case errc::closed: return "closed";
    case errc::reset: return "reset";
    case errc::refused: return "refused";
    case errc::unreachable: return "unreachable";
    case errc::address_in_use: return "address_in_use";
    case errc::no_buffers: return "no_buffers";
    case errc::too_large: return "too_large";
    case errc::malformed: return "malformed";
    case errc::queue_full: return "queue_full";
    case errc::resource: return "resource";
    case errc::permission: return "permission";
    case errc::unsupported: return "unsupported";
    case errc::invalid_argument: return "invalid_argument";
    case errc::other: return "other";
  }
  return "unknown";
}

inline error from_errno(int e) noexcept {
  errc c = errc::other;
  switch (e) {
    case 0: c = errc::ok; break;
    case ECANCELED: c = errc::cancelled; break;
    case ETIME:
    case ETIMEDOUT: c = errc::timed_out; break;
    case ECONNRESET:
    case EPIPE:
    case ECONNABORTED: c = errc::reset; break;
    case ECONNREFUSED: c = errc::refused; break;
    case ENETUNREACH:
    case EHOSTUNREACH: c = errc::unreachable; break;
    case EADDRINUSE:
    case EADDRNOTAVAIL: c = errc::address_in_use; break;
    case ENOBUFS: c = errc::no_buffers; break;
    case EMSGSIZE: c = errc::too_large; break;
    case EMFILE:
    case ENFILE:
    case ENOMEM: c = errc::resource; break;
    case EPERM:
    case EACCES: c = errc::permission; break;
    case ENOSYS:
    case EOPNOTSUPP: c = errc::unsupported; break;
    case EINVAL: c = errc::invalid_argument; break;
    default: break;
  }
  return error{c, e, nullptr};
}

inline std::string error::message() const {
  std::string s = errc_name(code);
  if (detail) {
    s += ": ";
    s += detail;
  }
  if (limit) {
    s += " (" + std::to_string(size) + " > " + std::to_string(limit) + ")";
  }
  if (sys_errno) {
    s += " (";
    s += std::strerror(sys_errno);
    s += ")";
  }
  return s;
}

inline error make_error(errc c, const char* detail = nullptr) noexcept {
  return error{c, 0, detail};
}

// ## problem
// A failure told in words to a person: which line of which file, which
// option, which value was wrong ("seeds.txt: line 3: '10.0.0.1' has no
// port"). Where a program acts on the kind of failure (the engine, the
// protocols) the error is `error` above; where a person reads it (config
// files, scenarios, topologies, command lines, reports) it is a `problem`.
struct problem {
  std::string text;
  const std::string& message() const noexcept { return text; }
};

// ## result<T, E>
// Holds either a T or an E: `error` by default, `problem` where a person
// reads it. The one way, across engine, linalg, protocols, harness and
// tools, to return something that can fail for an expected reason.
// `[[nodiscard]]`: ignoring an outcome is a compile warning (an error with
// -Werror).
template <class T, class E = error>
class [[nodiscard]] result {
 public:
  using value_type = T;
  using error_type = E;
  result(T v) : v_(std::in_place_index<0>, std::move(v)) {}  // NOLINT implicit
  result(E e) : v_(std::in_place_index<1>, std::move(e)) {}  // NOLINT implicit
  template <class C>
    requires(std::is_same_v<C, errc> && std::is_same_v<E, confab::error>)
  result(C c) : v_(std::in_place_index<1>, confab::error{c}) {}  // NOLINT implicit

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }
  T& value() & { check(); return std::get<0>(v_); }
  const T& value() const& { check(); return std::get<0>(v_); }
  T&& value() && { check(); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const E& error() const noexcept { return std::get<1>(v_); }
  errc code() const noexcept
    requires std::is_same_v<E, confab::error>
  {
    return has_value() ? errc::ok : std::get<1>(v_).code;
  }

 private:
  void check() const {
    if (!has_value()) {
      std::fprintf(stderr, "confab: value() on error result: %s\n", std::string(error().message()).c_str());
      std::abort();
    }
  }
  std::variant<T, E> v_;
};

template <class E>
class [[nodiscard]] result<void, E> {
 public:
  using error_type = E;
  result() = default;
  result(E e) : e_(std::move(e)), ok_(false) {}  // NOLINT implicit
  template <class C>
    requires(std::is_same_v<C, errc> && std::is_same_v<E, confab::error>)
  result(C c) : e_{c}, ok_(c == errc::ok) {}  // NOLINT implicit
  bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  const E& error() const noexcept { return e_; }
  errc code() const noexcept
    requires std::is_same_v<E, confab::error>
  {
    return ok_ ? errc::ok : e_.code;
  }
  void value() const {
    if (!ok_) {
      std::fprintf(stderr, "confab: value() on error result: %s\n", std::string(e_.message()).c_str());
      std::abort();
    }
  }

 private:
  E e_{};
  bool ok_ = true;
};

// Turns a syscall-style return (negative errno on failure) into a result.
inline result<int> from_syscall(int res) noexcept {
  if (res < 0) return from_errno(-res);
  return res;
}

}  // namespace confab

// Broken invariants stop the program with file and line. Always on, also in
// release builds: a consensus engine that continues past one is worse than
// one that stops.
#define CONFAB_ASSERT(cond)                                                      \
  do {                                                                           \
    if (!(cond)) [[unlikely]] {                                                  \
      std::fprintf(stderr, "confab: assertion failed: %s at %s:%d\n", #cond,     \
                   __FILE__, __LINE__);                                          \
      std::abort();                                                              \
    }                                                                            \
  } while (0)
