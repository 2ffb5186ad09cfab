// confab tools: a seeds client message on a TCP link, for the tools that
// speak to a seed on behalf of peers (the legacy gateway, seed-load,
// seed-query): one frame per message (engine/host/link.hpp), sealed with
// the cluster key when one is set (protocols/common/auth.hpp).
//
//   (void)conn->send(seed_link::frame(sealer, peer, seed, seeds::register_request{.request_id = 1}));
//   auto m = seed_link::read(sealer, seed, *frame);   // result<seeds::client_message>
//
// Thread: the sealer's (one thread).
#pragma once

#include <span>
#include <vector>

#include "engine/host/link.hpp"
#include "protocols/common/auth.hpp"
#include "protocols/seeds/client.hpp"

namespace confab::tools::seed_link {

// An encoded client message from `sender` to the seed `receiver`, sealed
// when a cluster key is set, framed as `sender`.
inline std::vector<std::byte> frame(protocols::frame_sealer* sealer, seam::node_id sender, seam::node_id receiver,
                                    std::vector<std::byte> bytes) {
  if (sealer) sealer->seal(sender, receiver, bytes);
  return host::frame(sender, bytes);
}
inline std::vector<std::byte> frame(protocols::frame_sealer* sealer, seam::node_id sender, seam::node_id receiver,
                                    const seeds::client_message& m) {
  return frame(sealer, sender, receiver, seeds::encode_client(m));
}

// A frame from `from` (the seed): its client message, or why it is none.
// A tool speaks for many ids, so a reply sealed for any of them is taken.
inline result<seeds::client_message> read(protocols::frame_sealer* sealer, seam::node_id from,
                                          std::span<const std::byte> frame) {
  if (auto sender = host::read_sender(frame); !sender) return sender.error();
  auto payload = host::payload_of(frame, false);
  if (sealer) {
    auto inner = sealer->open(from, protocols::frame_sealer::any_receiver, payload);
    if (!inner) return inner.error();
    payload = *inner;
  }
  return seeds::decode_client(payload);
}

}  // namespace confab::tools::seed_link
