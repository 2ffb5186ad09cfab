#include "protocols/seeds/wire.hpp"

#include <type_traits>

#include "protocols/common/codec.hpp"

namespace confab::seeds {

namespace {

enum type : std::uint8_t {
  t_request_vote = 1,
  t_vote_reply = 2,
  t_append_entries = 3,
  t_append_reply = 4,
  t_register_request = 10,
  t_dead_report = 11,
  t_neighbours = 12,
  t_register_reply = 13,
  t_pl_request = 14,
  t_leave_request = 15,
  t_leave_reply = 16,
  t_members_request = 17,
  t_members_reply = 18,
  t_watch_request = 19,
  t_forward = 20,
};

void ids(codec::writer& w, const std::vector<node_id>& v) {
  w.u16(static_cast<std::uint16_t>(v.size()));
  for (auto id : v) w.u64(id);
}
std::vector<node_id> ids(codec::reader& r, std::size_t max, const char* what) {
  std::vector<node_id> v(r.count(max, 8, what));
  for (auto& id : v) id = r.u64();
  return v;
}

struct encoder {
  codec::writer& w;
  void operator()(const request_vote& m) {
    w.u8(t_request_vote);
    w.u64(m.term);
    w.u64(m.last_index);
    w.u64(m.last_term);
    w.u8(m.pre_vote);
  }
  void operator()(const vote_reply& m) {
    w.u8(t_vote_reply);
    w.u64(m.term);
    w.u8(m.granted);
    w.u8(m.pre_vote);
  }
  void operator()(const append_entries& m) {
    CONFAB_ASSERT(m.entries.size() <= entries_per_append_max);
    w.u8(t_append_entries);
    w.u64(m.term);
    w.u64(m.prev_index);
    w.u64(m.prev_term);
    w.u64(m.leader_commit);
    w.u16(static_cast<std::uint16_t>(m.entries.size()));
    for (const auto& e : m.entries) {
      w.u64(e.term);
      w.u8(static_cast<std::uint8_t>(e.kind));
      w.u64(e.peer);
    }
  }
  void operator()(const append_reply& m) {
    w.u8(t_append_reply);
    w.u64(m.term);
    w.u8(m.success);
    w.u64(m.match_index);
  }
  void operator()(const register_request& m) {
    w.u8(t_register_request);
    w.u64(m.request_id);
  }
  void operator()(const dead_report& m) {
    CONFAB_ASSERT(m.confirmers.size() <= confirmers_max);
    w.u8(t_dead_report);
    w.u64(m.suspect);
    w.u64(m.reporter);
    w.u64(m.timestamp_ms);
    ids(w, m.confirmers);
  }
  void operator()(const neighbours& m) {
    CONFAB_ASSERT(m.ids.size() <= neighbours_max);
    w.u8(t_neighbours);
    ids(w, m.ids);
  }
  void operator()(const register_reply& m) {
    CONFAB_ASSERT(m.peers.size() <= peers_per_reply_max);
    w.u8(t_register_reply);
    w.u64(m.request_id);
    w.u8(static_cast<std::uint8_t>(m.status));
    w.u64(m.leader);
    w.u64(m.commit_index);
    w.u64(m.pl_size);
    w.u64(m.pl_digest);
    ids(w, m.peers);
    CONFAB_ASSERT(m.degrees.empty() || m.degrees.size() == m.peers.size());
    w.u16(static_cast<std::uint16_t>(m.degrees.size()));
    for (auto d : m.degrees) w.u16(d);
  }
  void operator()(const pl_request& m) {
    w.u8(t_pl_request);
    w.u64(m.request_id);
  }
  void operator()(const leave_request& m) {
    w.u8(t_leave_request);
    w.u64(m.request_id);
    w.u64(m.peer);
  }
  void operator()(const leave_reply& m) {
    w.u8(t_leave_reply);
    w.u64(m.request_id);
    w.u8(static_cast<std::uint8_t>(m.status));
    w.u64(m.peer);
    w.u64(m.commit_index);
  }
  void operator()(const members_request& m) {
    w.u8(t_members_request);
    w.u64(m.request_id);
    w.u64(m.after);
    w.u16(m.limit);
  }
  void operator()(const watch_request& m) {
    w.u8(t_watch_request);
    w.u64(m.suspect);
  }
  void operator()(const members_reply& m) {
    CONFAB_ASSERT(m.members.size() <= members_per_reply_max);
    w.u8(t_members_reply);
    w.u64(m.request_id);
    w.u8(m.role);
    w.u8(m.learner);
    w.u64(m.term);
    w.u64(m.leader);
    w.u64(m.commit_index);
    w.u64(m.pl_size);
    w.u64(m.pl_digest);
    w.u16(static_cast<std::uint16_t>(m.members.size()));
    for (const auto& x : m.members) {
      w.u64(x.id);
      w.u8(static_cast<std::uint8_t>(x.state));
      w.u16(x.degree);
      w.u16(x.reporters);
    }
    w.u8(m.more);
  }
  void operator()(const forward& m) {
    w.u8(t_forward);
    w.u64(m.origin);
    std::visit([this](const auto& in) { (*this)(in); }, m.inner);
  }
};

bool flag(codec::reader& r) {
  const auto v = r.u8();
  if (v > 1) r.fail("a flag byte is neither 0 nor 1");
  return v == 1;
}

result<message> decode_body(codec::reader& r, std::uint8_t t, bool nested) {
  switch (t) {
    case t_request_vote: {
      request_vote m;
      m.term = r.u64();
      m.last_index = r.u64();
      m.last_term = r.u64();
      m.pre_vote = flag(r);
      return message{m};
    }
    case t_vote_reply: {
      vote_reply m;
      m.term = r.u64();
      m.granted = flag(r);
      m.pre_vote = flag(r);
      return message{m};
    }
    case t_append_entries: {
      append_entries m;
      m.term = r.u64();
      m.prev_index = r.u64();
      m.prev_term = r.u64();
      m.leader_commit = r.u64();
      m.entries.resize(r.count(entries_per_append_max, 17, "append_entries: more entries than allowed"));
      for (auto& e : m.entries) {
        e.term = r.u64();
        const auto k = r.u8();
        if (k > 2) r.fail("append_entries: unknown entry kind");
        e.kind = static_cast<entry_kind>(k);
        e.peer = r.u64();
      }
      return message{std::move(m)};
    }
    case t_append_reply: {
      append_reply m;
      m.term = r.u64();
      m.success = flag(r);
      m.match_index = r.u64();
      return message{m};
    }
    case t_register_request: {
      register_request m;
      m.request_id = r.u64();
      return message{m};
    }
    case t_dead_report: {
      dead_report m;
      m.suspect = r.u64();
      m.reporter = r.u64();
      m.timestamp_ms = r.u64();
      m.confirmers = ids(r, confirmers_max, "dead_report: more confirmers than allowed");
      return message{std::move(m)};
    }
    case t_neighbours: {
      neighbours m;
      m.ids = ids(r, neighbours_max, "neighbours: more ids than allowed");
      return message{std::move(m)};
    }
    case t_register_reply: {
      register_reply m;
      m.request_id = r.u64();
      const auto s = r.u8();
      if (s > 2) r.fail("register_reply: unknown status");
      m.status = static_cast<register_status>(s);
      m.leader = r.u64();
      m.commit_index = r.u64();
      m.pl_size = r.u64();
      m.pl_digest = r.u64();
      m.peers = ids(r, peers_per_reply_max, "register_reply: more peers than allowed");
      m.degrees.resize(r.count(peers_per_reply_max, 2, "register_reply: more degrees than allowed"));
      for (auto& d : m.degrees) d = r.u16();
      if (!m.degrees.empty() && m.degrees.size() != m.peers.size()) r.fail("register_reply: degrees do not match peers");
      return message{std::move(m)};
    }
    case t_pl_request: {
      pl_request m;
      m.request_id = r.u64();
      return message{m};
    }
    case t_leave_request: {
      leave_request m;
      m.request_id = r.u64();
      m.peer = r.u64();
      return message{m};
    }
    case t_leave_reply: {
      leave_reply m;
      m.request_id = r.u64();
      const auto st = r.u8();
      if (st > 1) r.fail("leave_reply: unknown status");
      m.status = static_cast<leave_status>(st);
      m.peer = r.u64();
      m.commit_index = r.u64();
      return message{m};
    }
    case t_members_request: {
      members_request m;
      m.request_id = r.u64();
      m.after = r.u64();
      m.limit = r.u16();
      return message{m};
    }
    case t_members_reply: {
      members_reply m;
      m.request_id = r.u64();
      m.role = r.u8();
      if (m.role > 3) r.fail("members_reply: unknown role");
      m.learner = flag(r);
      m.term = r.u64();
      m.leader = r.u64();
      m.commit_index = r.u64();
      m.pl_size = r.u64();
      m.pl_digest = r.u64();
      m.members.resize(r.count(members_per_reply_max, 13, "members_reply: more members than allowed"));
      for (auto& x : m.members) {
        x.id = r.u64();
        const auto st = r.u8();
        if (st > 2) r.fail("members_reply: unknown member state");
        x.state = static_cast<member_state>(st);
        x.degree = r.u16();
        x.reporters = r.u16();
      }
      m.more = flag(r);
      return message{std::move(m)};
    }
    case t_watch_request: {
      watch_request m;
      m.suspect = r.u64();
      return message{m};
    }
    case t_forward: {
      if (nested) return make_error(errc::malformed, "forward: nested forward");
      forward m;
      m.origin = r.u64();
      const auto inner_type = r.u8();
      if (!r.ok()) break;
      if (inner_type != t_register_request && inner_type != t_dead_report && inner_type != t_leave_request)
        return make_error(errc::malformed, "forward: carries a message that cannot be forwarded");
      auto inner = decode_body(r, inner_type, true);
      if (!inner) return inner;
      if (auto* rr = std::get_if<register_request>(&*inner)) m.inner = *rr;
      else if (auto* lr = std::get_if<leave_request>(&*inner)) m.inner = *lr;
      else m.inner = std::get<dead_report>(std::move(*inner));
      return message{std::move(m)};
    }
    default:
      return make_error(errc::malformed, "unknown message type");
  }
  return make_error(errc::malformed, "message truncated");
}

}  // namespace

void encode(const message& m, std::vector<std::byte>& out) { codec::encode_versioned<encoder>(wire_version, m, out); }

std::vector<std::byte> encode(const message& m) { return codec::encode_versioned<encoder>(wire_version, m); }

result<message> decode(std::span<const std::byte> in) {
  codec::reader r(in);
  const auto type = codec::read_type(r, wire_version, "unsupported wire version");
  if (!type) return type.error();
  const auto t = *type;
  auto m = decode_body(r, t, false);
  if (!m) return m;
  if (auto f = r.finish(); !f) return f.error();
  return m;
}

void encode_client(const client_message& m, std::vector<std::byte>& out) {
  std::visit([&out](const auto& x) { encode(message{x}, out); }, m);
}

std::vector<std::byte> encode_client(const client_message& m) {
  std::vector<std::byte> out;
  encode_client(m, out);
  return out;
}

result<client_message> decode_client(std::span<const std::byte> in) {
  auto m = decode(in);
  if (!m) return m.error();
  client_message out;
  // GCC 12 warns that the alternatives' members may be used uninitialized
  // when a variant is moved between variants (a false positive under
  // -O2 with sanitizers); plain assignment per alternative avoids it.
  if (auto* x = std::get_if<register_request>(&*m)) out = *x;
  else if (auto* x = std::get_if<pl_request>(&*m)) out = *x;
  else if (auto* x = std::get_if<dead_report>(&*m)) out.emplace<dead_report>(std::move(*x));
  else if (auto* x = std::get_if<neighbours>(&*m)) out.emplace<neighbours>(std::move(*x));
  else if (auto* x = std::get_if<register_reply>(&*m)) out.emplace<register_reply>(std::move(*x));
  else if (auto* x = std::get_if<leave_request>(&*m)) out = *x;
  else if (auto* x = std::get_if<leave_reply>(&*m)) out = *x;
  else if (auto* x = std::get_if<members_request>(&*m)) out = *x;
  else if (auto* x = std::get_if<members_reply>(&*m)) out.emplace<members_reply>(std::move(*x));
  else if (auto* x = std::get_if<watch_request>(&*m)) out = *x;
  else return make_error(errc::malformed, "a seed-to-seed message where a client message was expected");
  return out;
}

const char* name(const message& m) noexcept {
  static constexpr const char* names[] = {"request_vote",  "vote_reply", "append_entries", "append_reply", "register",
                                          "dead_report", "neighbours", "register_reply", "forward", "pl_request",
                                          "leave_request", "leave_reply", "members_request", "members_reply",
                                          "watch_request"};
  return names[m.index()];
}

}  // namespace confab::seeds
