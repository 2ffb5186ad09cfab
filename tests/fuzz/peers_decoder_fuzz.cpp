// Fuzz target for the peers wire decoder (libFuzzer where clang is
// available; always as a deterministic run in tests/protocols/peers_wire_test.cpp).
// Invariants: never crashes; every message it accepts re-encodes to exactly
// the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "protocols/peers/wire.hpp"

extern "C" int confab_fuzz_peers_decoder(const std::uint8_t* data, std::size_t size) {
  using namespace confab;
  std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  auto m = peers::decode(in);
  if (!m) {
    if (m.code() != errc::malformed || m.error().detail == nullptr) std::abort();
    return 0;
  }
  const auto again = peers::encode(*m);
  if (again.size() != size || std::memcmp(again.data(), data, size) != 0) std::abort();
  return 0;
}

#ifdef CONFAB_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return confab_fuzz_peers_decoder(data, size);
}
#endif
