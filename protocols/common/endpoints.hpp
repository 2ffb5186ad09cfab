// confab protocols: node ids as the documents' `IP:PORT`, and seed lists.
//
// A node reachable over TCP is named by its endpoint id (seam::endpoint_id),
// so the peer list the seeds keep is, on the wire and in logs, the
// documents' list of `IP:PORT`. Ids of simulated nodes print as `#N`.
//
//   auto seeds = parse_seed_list(text);   // "127.0.0.1:7000\n# comment\n127.0.0.1,7001\n"
//   std::string s = id_string(id);        // "127.0.0.1:7000"
//
// Thread: values.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/result.hpp"
#include "engine/seam/env.hpp"

namespace confab::endpoints {

std::string id_string(seam::node_id id);

// ## parse_endpoint
// `IP:PORT` or `IP,PORT` (IPv4 dotted quad, port 1..65535), surrounding
// blanks ignored. `malformed` naming the part that is wrong.
result<seam::node_id> parse_endpoint(std::string_view text);

// ## parse_seed_list
// The documents' seed file: one endpoint per line; blank lines and `#`
// comments skipped. A problem names the line number and what was wrong.
// `resolve` turns one entry into an endpoint: IPv4 literals by default;
// tools pass one that also resolves `name:port` (DNS, /etc/hosts), which
// protocols never do themselves.
using endpoint_resolver = std::function<result<seam::node_id, problem>(std::string_view)>;
result<std::vector<seam::node_id>, problem> parse_seed_list(std::string_view text, const endpoint_resolver& resolve = {});

}  // namespace confab::endpoints
