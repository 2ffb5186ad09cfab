// confab protocols: the byte codec every wire module shares.
//
// A `writer` appends big-endian integers and counted lists to a byte vector;
// a `reader` takes them back and never trusts a length: every read checks
// what is left, and the first failure sticks, so a decoder can read a whole
// message and check once at the end.
//
//   codec::writer w(out); w.u8(1); w.u64(term);
//   codec::reader r(bytes); auto t = r.u64(); if (!r.ok()) return r.error();
//
// Thread: values; no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/core/result.hpp"

namespace confab::codec {

class writer {
 public:
  explicit writer(std::vector<std::byte>& out) : out_(out) {}
  void u8(std::uint8_t v) { out_.push_back(static_cast<std::byte>(v)); }
  void u16(std::uint16_t v) { put(v, 2); }
  void u32(std::uint32_t v) { put(v, 4); }
  void u64(std::uint64_t v) { put(v, 8); }
  void bytes(std::span<const std::byte> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  // A u16 length, then the bytes (callers bound the size first).
  void text(std::string_view s) {
    u16(static_cast<std::uint16_t>(s.size()));
    for (char c : s) out_.push_back(static_cast<std::byte>(c));
  }

 private:
  void put(std::uint64_t v, int n) {
    for (int s = (n - 1) * 8; s >= 0; s -= 8) out_.push_back(static_cast<std::byte>(v >> s));
  }
  std::vector<std::byte>& out_;
};

class reader {
 public:
  explicit reader(std::span<const std::byte> in) : in_(in) {}
  std::uint8_t u8() { return static_cast<std::uint8_t>(get(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(get(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(get(4)); }
  std::uint64_t u64() { return get(8); }
  // A counted list's length, refused (and the reader failed) above `max`
  // or when fewer than count*item_bytes bytes are left.
  std::size_t count(std::size_t max, std::size_t item_bytes, const char* what) {
    const std::size_t n = u16();
    if (!ok_) return 0;
    if (n > max) return fail(what), 0;
    if (n * item_bytes > left()) return fail("list longer than the message"), 0;
    return n;
  }
  std::string_view text(std::size_t max, const char* what) {
    const std::size_t n = u16();
    if (!ok_) return {};
    if (n > max) return fail(what), std::string_view{};
    if (n > left()) return fail("text longer than the message"), std::string_view{};
    std::string_view s(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  std::span<const std::byte> rest() {
    auto r = in_.subspan(pos_);
    pos_ = in_.size();
    return r;
  }
  std::size_t left() const noexcept { return in_.size() - pos_; }
  bool ok() const noexcept { return ok_; }
  void fail(const char* why) noexcept {
    if (ok_) why_ = why;
    ok_ = false;
  }
  // ## finish
  // The message must be consumed exactly: trailing bytes are an error too.
  result<void> finish() {
    if (ok_ && pos_ != in_.size()) fail("trailing bytes after the message");
    if (!ok_) return make_error(errc::malformed, why_);
    return {};
  }

 private:
  std::uint64_t get(int n) {
    if (!ok_) return 0;
    if (left() < static_cast<std::size_t>(n)) return fail("message truncated"), 0;
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | std::to_integer<std::uint64_t>(in_[pos_ + i]);
    pos_ += n;
    return v;
  }
  std::span<const std::byte> in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
  const char* why_ = nullptr;
};

// ## read_type / encode_versioned
// Every protocol message is [u8 version][u8 type][body]. `read_type`
// checks the version and returns the type, or `malformed` naming what was
// wrong ("empty message", `wrong_version`, "message has no type").
// `encode_versioned` writes the version, then what `Encoder{writer}` writes
// for the alternative `m` holds.
inline result<std::uint8_t> read_type(reader& r, std::uint8_t version, const char* wrong_version) {
  const auto v = r.u8();
  if (!r.ok()) return make_error(errc::malformed, "empty message");
  if (v != version) return make_error(errc::malformed, wrong_version);
  const auto t = r.u8();
  if (!r.ok()) return make_error(errc::malformed, "message has no type");
  return t;
}

template <class Encoder, class Message>
void encode_versioned(std::uint8_t version, const Message& m, std::vector<std::byte>& out) {
  writer w(out);
  w.u8(version);
  std::visit(Encoder{w}, m);
}

template <class Encoder, class Message>
std::vector<std::byte> encode_versioned(std::uint8_t version, const Message& m) {
  std::vector<std::byte> out;
  encode_versioned<Encoder>(version, m, out);
  return out;
}

}  // namespace confab::codec
