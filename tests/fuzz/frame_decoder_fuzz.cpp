// Fuzz target for the frame decoder.
//
// Built two ways: as a libFuzzer target where clang is available
// (LLVMFuzzerTestOneInput), and always as a deterministic mutation run inside
// the test suite (tests/engine/fuzz_test.cpp feeds it seeded random and
// mutated inputs). Invariants: never crashes, never reads past the input, a
// decoded frame lies inside the input, `too_large` only for a declared
// length (or line) over the limit.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "engine/net/framing.hpp"

extern "C" int confab_fuzz_frame_decoder(const std::uint8_t* data, std::size_t size) {
  using namespace confab;
  if (size < 1) return 0;
  const bool lines = (data[0] & 1) != 0;
  net::frame_decoder d({.kind = lines ? net::framing::newline : net::framing::length_prefixed, .frame_bytes_max = 256});
  std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  while (!in.empty()) {
    std::span<const std::byte> payload;
    auto r = d.decode(in, payload);
    if (!r) {
      if (r.code() != errc::too_large) std::abort();
      if (!lines) {
        const auto* p = reinterpret_cast<const unsigned char*>(in.data());
        const std::uint32_t len = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
        if (len <= 256) std::abort();
      }
      return 0;
    }
    if (*r == 0) return 0;  // needs more input
    if (*r > in.size()) std::abort();
    if (payload.data() < in.data() || payload.data() + payload.size() > in.data() + *r) std::abort();
    in = in.subspan(*r);
  }
  return 0;
}

#ifdef CONFAB_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return confab_fuzz_frame_decoder(data, size);
}
#endif
