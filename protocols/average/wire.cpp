#include "protocols/average/wire.hpp"

#include <bit>
#include <cmath>

#include "protocols/common/codec.hpp"

namespace confab::average {

namespace {

struct encoder {
  codec::writer& w;
  void real(double v) { w.u64(std::bit_cast<std::uint64_t>(v)); }
  void operator()(const state& m) { w.u8(1), w.u32(m.round), real(m.x), real(m.dt), w.u8(m.again ? 1 : 0); }
  void operator()(const push& m) { w.u8(2), w.u64(m.seq), real(m.s), real(m.w); }
  void operator()(const halt& m) { w.u8(3), w.u8(static_cast<std::uint8_t>(m.reason)), w.u32(m.round); }
};

double real(codec::reader& r, const char* what) {
  const double v = std::bit_cast<double>(r.u64());
  if (r.ok() && !std::isfinite(v)) r.fail(what);
  return v;
}

}  // namespace

void encode(const message& m, std::vector<std::byte>& out) { codec::encode_versioned<encoder>(wire_version, m, out); }

std::vector<std::byte> encode(const message& m) { return codec::encode_versioned<encoder>(wire_version, m); }

result<message> decode(std::span<const std::byte> in) {
  codec::reader r(in);
  const auto type = codec::read_type(r, wire_version, "not an average-consensus message (wrong version byte)");
  if (!type) return type.error();
  message m;
  switch (*type) {
    case 1: {
      state s;
      s.round = r.u32();
      s.x = real(r, "state: x is not finite");
      s.dt = real(r, "state: dt is not finite");
      if (r.ok() && !(s.dt > 0)) r.fail("state: dt is not positive");
      const auto again = r.u8();
      if (r.ok() && again > 1) r.fail("state: again is neither 0 nor 1");
      s.again = again == 1;
      m = s;
      break;
    }
    case 2: {
      push p;
      p.seq = r.u64();
      p.s = real(r, "push: s is not finite");
      p.w = real(r, "push: w is not finite");
      if (r.ok() && p.seq == 0) r.fail("push: sequence number 0");
      m = p;
      break;
    }
    case 3: {
      halt h;
      const auto reason = r.u8();
      if (r.ok() && reason != 1 && reason != 2) r.fail("halt: unknown reason");
      h.reason = static_cast<halt_reason>(reason);
      h.round = r.u32();
      m = h;
      break;
    }
    default: return make_error(errc::malformed, "unknown average-consensus message type");
  }
  if (auto ok = r.finish(); !ok) return ok.error();
  return m;
}

}  // namespace confab::average
