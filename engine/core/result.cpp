#include "engine/core/result.hpp"

namespace confab {

const char* errc_name(errc e) noexcept {
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

error from_errno(int e) noexcept {
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

std::string error::message() const {
  std::string s = errc_name(code);
  if (detail) {
    s += ": ";
    s += detail;
  }
  if (sys_errno) {
    s += " (";
    s += std::strerror(sys_errno);
    s += ")";
  }
  return s;
}

}  // namespace confab
