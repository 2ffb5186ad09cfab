// confab tools: endpoints given by name.
//
// Seed lists and the --listen / --advertise / --via / --metrics options
// take `IP:PORT` or `NAME:PORT`; a name is resolved once, at start, through
// the system resolver (DNS, /etc/hosts: getaddrinfo, IPv4), to its first
// address. What a node is called stays an endpoint (IP and port): the
// protocols never see names. A name that does not resolve is an error
// naming it and the resolver's reason.
//
//   auto id = resolve_endpoint("seed-0.seeds:7001");   // result<node_id, problem>
//
// Thread: any (getaddrinfo is thread-safe).
#pragma once

#include <string_view>

#include "engine/core/result.hpp"
#include "engine/seam/env.hpp"

namespace confab::tools {

result<seam::node_id, problem> resolve_endpoint(std::string_view text);

}  // namespace confab::tools
