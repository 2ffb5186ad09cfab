// confab tools: the legacy text dialect's transport (one message per TCP
// connection, no framing, no newline), shared by the seed's legacy gateway
// and the peer's legacy mode.
#pragma once

#include <chrono>
#include <stop_token>
#include <string>

#include "engine/core/task.hpp"
#include "engine/net/connection.hpp"
#include "engine/seam/env.hpp"

namespace confab::tools {

// One message: everything that arrives until the sender closes, or
// `quiet` after the last bytes, or `first` without any. `too_large` above
// 4 KiB.
task<result<std::string>> read_legacy_message(net::connection& c, std::stop_token st,
                                              std::chrono::milliseconds first = std::chrono::seconds(5),
                                              std::chrono::milliseconds quiet = std::chrono::milliseconds(50));

// Connects to `to`, writes `text`, closes. Failures are returned.
task<result<void>> send_legacy_text(io::reactor& r, seam::node_id to, std::string text, std::stop_token st);

// Connects, writes `text`, reads one message back (the answer), closes.
task<result<std::string>> legacy_request(io::reactor& r, seam::node_id to, std::string text, std::stop_token st);

}  // namespace confab::tools
