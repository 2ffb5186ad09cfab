// confab engine: framing helpers over a connection.
//
// Length-prefixed frames (a 4-byte big-endian length, then the payload) and
// newline-terminated lines, each with a maximum size. A frame over the limit
// is `too_large` with the offending length in the message, reported as soon
// as the header is read; the caller closes that connection only.
//
//   frame_reader in(conn, {.frame_bytes_max = 1 << 20});
//   while (auto f = co_await in.next(stop)) handle(*f);   // span valid until next()
//   co_await send_frame(conn, payload);
//
// A peer that closes inside a frame ends the stream with `closed` and the
// detail "peer closed mid-frame"; a clean close between frames is plain
// `closed`.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/net/connection.hpp"

namespace confab::net {

enum class framing : unsigned char { length_prefixed, newline };

struct frame_options {
  framing kind = framing::length_prefixed;
  std::uint32_t frame_bytes_max = 1u << 20;
};

// Pure decoder state machine, shared by the reader and by tests/fuzzers:
// feed bytes, get frames. No I/O.
class frame_decoder {
 public:
  explicit frame_decoder(frame_options o = {}) : o_(o) {}
  // Looks for one complete frame at the front of `in`. Returns the number of
  // bytes the frame occupies (header included) and sets `payload`; 0 when
  // more bytes are needed; an error when the input is over the limit.
  result<std::size_t> decode(std::span<const std::byte> in, std::span<const std::byte>& payload) const;
  const frame_options& options() const noexcept { return o_; }

 private:
  frame_options o_;
  mutable std::string detail_;
};

class frame_reader {
 public:
  frame_reader(connection& c, frame_options o = {}) : c_(c), dec_(o) {}
  // The next frame's payload, valid until the next call.
  task<result<std::span<const std::byte>>> next(std::stop_token st = {});
  std::size_t buffered() const noexcept { return acc_.size() + (cur_.size() - off_); }

 private:
  connection& c_;
  frame_decoder dec_;
  chunk cur_;
  std::size_t off_ = 0;
  std::vector<std::byte> acc_;
  std::size_t acc_consumed_ = 0;
};

// Whether the end of a frame stream was bad input (a close inside a frame,
// an oversized or malformed frame) rather than a clean close between
// frames, a reset or a cancellation.
inline bool bad_end_of_stream(const error& e) noexcept {
  if (e.code == errc::closed) return e.detail != nullptr;
  return e.code != errc::cancelled && e.code != errc::reset;
}

// Queues one length-prefixed frame (header and payload together).
connection::send_awaiter send_frame(connection& c, std::span<const std::byte> payload, std::stop_token st = {});
// Queues one line; appends '\n'.
connection::send_awaiter send_line(connection& c, std::span<const std::byte> line, std::stop_token st = {});

std::span<const std::byte> as_bytes(std::string_view s) noexcept;

}  // namespace confab::net
