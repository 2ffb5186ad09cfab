// confab tools: a seeds client message on a TCP link, for the tools that
// speak to a seed on behalf of peers (the legacy gateway, seed-load,
// seed-query): one frame per message (engine/host/link.hpp), sealed with
// the cluster key when one is set (protocols/common/auth.hpp).
//
//   (void)conn->send(seed_link::frame(auth, peer, seeds::register_request{.request_id = 1}));
//   auto m = seed_link::read(auth, seed, *frame);     // result<seeds::client_message>
//
// Thread: values.
#pragma once

#include <span>
#include <vector>

#include "engine/host/link.hpp"
#include "protocols/common/auth.hpp"
#include "protocols/seeds/client.hpp"

namespace confab::tools::seed_link {

// An encoded client message (seeds::encode_client), framed as `sender`.
inline std::vector<std::byte> frame(const protocols::cluster_auth* auth, seam::node_id sender, std::vector<std::byte> bytes) {
  if (auth) auth->seal(sender, bytes);
  return host::frame(sender, bytes);
}
inline std::vector<std::byte> frame(const protocols::cluster_auth* auth, seam::node_id sender,
                                    const seeds::client_message& m) {
  return frame(auth, sender, seeds::encode_client(m));
}

// A frame from `from` (the seed): its client message, or why it is none.
inline result<seeds::client_message> read(const protocols::cluster_auth* auth, seam::node_id from,
                                          std::span<const std::byte> frame) {
  if (auto sender = host::read_sender(frame); !sender) return sender.error();
  auto payload = host::payload_of(frame, false);
  if (auth) {
    auto inner = auth->open(from, payload);
    if (!inner) return inner.error();
    payload = *inner;
  }
  return seeds::decode_client(payload);
}

}  // namespace confab::tools::seed_link
