#include "protocols/peers/wire.hpp"

#include "protocols/common/codec.hpp"

namespace confab::peers {

namespace {

struct encoder {
  codec::writer& w;
  void ids(const std::vector<node_id>& v) {
    w.u16(static_cast<std::uint16_t>(v.size()));
    for (auto id : v) w.u64(id);
  }
  void operator()(const link_request& m) { w.u8(1), w.u64(m.incarnation); }
  void operator()(const link_accept& m) { w.u8(2), w.u64(m.incarnation); }
  void operator()(const link_close&) { w.u8(3); }
  void operator()(const ping& m) { w.u8(4), w.u64(m.seq); }
  void operator()(const pong& m) {
    CONFAB_ASSERT(m.neighbours.size() <= neighbour_list_max);
    w.u8(5), w.u64(m.seq), w.u64(m.incarnation), ids(m.neighbours);
  }
  void operator()(const probe_request& m) { w.u8(6), w.u64(m.suspect), w.u64(m.round); }
  void operator()(const probe_ping& m) { w.u8(7), w.u64(m.round); }
  void operator()(const probe_ack& m) { w.u8(8), w.u64(m.round), w.u64(m.incarnation); }
  void operator()(const probe_result& m) { w.u8(9), w.u64(m.suspect), w.u64(m.round), w.u8(static_cast<std::uint8_t>(m.v)); }
  void operator()(const suspect_notice& m) { w.u8(10), w.u64(m.incarnation); }
  void operator()(const alive_notice& m) { w.u8(11), w.u64(m.incarnation); }
  void operator()(const gossip& m) {
    CONFAB_ASSERT(m.body.size() <= body_bytes_max);
    w.u8(12), w.u64(m.origin), w.u64(m.seq), w.u32(m.hops), w.u64(m.created_ns), w.text(m.body);
  }
  void operator()(const ihave& m) { w.u8(13), w.u64(m.origin), w.u64(m.seq), w.u32(m.hops); }
  void operator()(const graft& m) { w.u8(14), w.u64(m.origin), w.u64(m.seq); }
  void operator()(const prune&) { w.u8(15); }
};

}  // namespace

void encode(const message& m, std::vector<std::byte>& out) { codec::encode_versioned<encoder>(wire_version, m, out); }

std::vector<std::byte> encode(const message& m) { return codec::encode_versioned<encoder>(wire_version, m); }

result<message> decode(std::span<const std::byte> in) {
  if (!in.empty() && in[0] == std::byte{1}) return make_error(errc::malformed, "a seeds message where a peers message was expected");
  codec::reader r(in);
  const auto type = codec::read_type(r, wire_version, "unsupported peers wire version");
  if (!type) return type.error();
  const auto t = *type;
  message m;
  switch (t) {
    case 1: m = link_request{r.u64()}; break;
    case 2: m = link_accept{r.u64()}; break;
    case 3: m = link_close{}; break;
    case 4: m = ping{r.u64()}; break;
    case 5: {
      pong p;
      p.seq = r.u64();
      p.incarnation = r.u64();
      p.neighbours.resize(r.count(neighbour_list_max, 8, "pong: more neighbours than allowed"));
      for (auto& id : p.neighbours) id = r.u64();
      m = std::move(p);
      break;
    }
    case 6: {
      probe_request p;
      p.suspect = r.u64();
      p.round = r.u64();
      m = p;
      break;
    }
    case 7: m = probe_ping{r.u64()}; break;
    case 8: {
      probe_ack p;
      p.round = r.u64();
      p.incarnation = r.u64();
      m = p;
      break;
    }
    case 9: {
      probe_result p;
      p.suspect = r.u64();
      p.round = r.u64();
      const auto v8 = r.u8();
      if (v8 > 2) r.fail("probe_result: unknown verdict");
      p.v = static_cast<verdict>(v8);
      m = p;
      break;
    }
    case 10: m = suspect_notice{r.u64()}; break;
    case 11: m = alive_notice{r.u64()}; break;
    case 12: {
      gossip g;
      g.origin = r.u64();
      g.seq = r.u64();
      g.hops = r.u32();
      g.created_ns = r.u64();
      g.body = std::string(r.text(body_bytes_max, "gossip: body over 16 KiB"));
      m = std::move(g);
      break;
    }
    case 13: {
      ihave h;
      h.origin = r.u64();
      h.seq = r.u64();
      h.hops = r.u32();
      m = h;
      break;
    }
    case 14: {
      graft g;
      g.origin = r.u64();
      g.seq = r.u64();
      m = g;
      break;
    }
    case 15: m = prune{}; break;
    default:
      if (!r.ok()) return make_error(errc::malformed, "message has no type");
      return make_error(errc::malformed, "unknown peers message type");
  }
  if (auto f = r.finish(); !f) return f.error();
  return m;
}

const char* name(const message& m) noexcept {
  static constexpr const char* names[] = {"link_request",   "link_accept",  "link_close", "ping",   "pong",
                                          "probe_request",  "probe_ping",   "probe_ack",  "probe_result",
                                          "suspect_notice", "alive_notice", "gossip",     "ihave",  "graft", "prune"};
  return names[m.index()];
}

}  // namespace confab::peers
