// confab peers: the legacy text dialect of the original implementation.
//
// A confab peer can join the seeds of the original implementation behind
// source 002 and live beside its peers. `legacy_peer_node` wraps the native
// peer node and translates its messages to and from the original's text,
// one message per TCP connection (engine/host/text_host.hpp carries them):
//   register (to seeds)      `IP:PORT`, answered with `IP:PORT` lines
//   pushed by seeds          `(SEED)ADDED NEW NODE TO NETWORK:<seed port>:<ip>:<port>`
//   ping / its reply         `(PEER)PING:<ip>:<port>` / `(PEER)PING_REPLY:<ip>:<port>`,
//                            the reply on a new connection
//   gossip                   its text (`<timestamp>:<IP>:<Msg#>`), forwarded unchanged
//   dead report (to seeds)   `Dead Node:<ip>:<port>:<timestamp>:<ip>`
// Links need no handshake (the original has none): a link request is
// answered at once, on the peer's behalf. Pongs carry no neighbour lists
// and legacy peers answer no probes, so a legacy-mode peer reports a
// neighbour on its own evidence, as the original does (probers_min 0).
// Messages with no legacy form (probes, Plumtree control, neighbour
// declarations) are not sent.
//
// Gossip identity. A gossip text that arrives is identified by the text
// itself (origin: the IP it names with port 0; sequence: a hash of the
// text), so every copy of one text is one message. A text this peer sent
// keeps the identity it had when it left: original peers flood every text
// back to whoever sent it, and the echo of this peer's own gossip must be
// a duplicate, not a new receipt.
//
// The wrapper is pure: it does no I/O and reads no clock; the text host
// delivers texts and carries the ones it sends.
//
// Thread: the host's.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/seam/env.hpp"

namespace confab::peers {

// ## legacy_translator
// The state of the translation: the registrations waiting for a seed's
// answer, the last ping sent to each neighbour, and the identities of the
// gossip texts seen (bounded: the newest `known_texts_max`).
class legacy_translator {
 public:
  static constexpr std::size_t known_texts_max = 4096;

  struct outbound {
    seam::node_id to;
    std::string text;
  };
  struct inbound {
    seam::node_id from;
    std::vector<std::byte> message;  // a native peers or seeds message
  };
  struct translation {
    std::vector<outbound> texts;    // to send
    std::vector<inbound> messages;  // to hand to the native node at once (answers on its behalf)
  };

  legacy_translator(seam::node_id self, std::vector<seam::node_id> seeds);

  // A native message the peer sends to `to`.
  result<translation> outgoing(seam::node_id to, std::span<const std::byte> message);
  // A text that arrived from `from` (a seed's answer to a registration when
  // `from` is that seed; else the source address of a connection): the
  // native message it means, nothing for a text that needs no answer (a
  // seed telling this peer of itself), `malformed` for one it cannot read.
  result<std::optional<inbound>> incoming(seam::node_id from, std::string_view text);

  bool is_seed(seam::node_id id) const;

 private:
  inbound seed_answer(seam::node_id seed, std::string_view text);
  inbound gossip_text(seam::node_id from, std::string_view text);
  void remember(std::uint64_t text_hash, seam::node_id origin, std::uint64_t seq);

  seam::node_id self_;
  std::vector<seam::node_id> seeds_;
  std::unordered_map<seam::node_id, std::uint64_t> registering_;  // seed -> request id
  std::unordered_map<seam::node_id, std::uint64_t> last_ping_;
  std::unordered_map<std::uint64_t, std::pair<seam::node_id, std::uint64_t>> known_;  // text hash -> (origin, seq)
  std::deque<std::uint64_t> known_order_;
};

// ## legacy_peer_node
// The native node `inner` behind the translator: a seam::node whose
// messages are legacy texts.
class legacy_peer_node final : public seam::node {
 public:
  legacy_peer_node(std::unique_ptr<seam::node> inner, seam::node_id self, std::vector<seam::node_id> seeds);
  ~legacy_peer_node() override;

  void on_start(seam::env& e) override;
  result<void> on_message(seam::env& e, seam::node_id from, std::span<const std::byte> text) override;
  void on_timer(seam::env& e) override;
  void on_link_down(seam::env& e, seam::node_id peer) override;

  seam::node& inner() noexcept { return *inner_; }

 private:
  class translating_env;
  void drain(seam::env& outer);

  std::unique_ptr<seam::node> inner_;
  legacy_translator translator_;
  std::vector<legacy_translator::inbound> answers_;  // handed to the inner node after its current callback
};

}  // namespace confab::peers
