// Fuzz target for the average-consensus wire decoder (libFuzzer where clang
// is available; always as a deterministic run in
// tests/protocols/average_test.cpp). Invariants: never crashes; a refusal
// is `malformed` with a reason; every message it accepts re-encodes to
// exactly the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "protocols/average/wire.hpp"

extern "C" int confab_fuzz_average_decoder(const std::uint8_t* data, std::size_t size) {
  using namespace confab;
  std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  auto m = average::decode(in);
  if (!m) {
    if (m.code() != errc::malformed || m.error().detail == nullptr) std::abort();
    return 0;
  }
  const auto again = average::encode(*m);
  if (again.size() != size || std::memcmp(again.data(), data, size) != 0) std::abort();
  return 0;
}

#ifdef CONFAB_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return confab_fuzz_average_decoder(data, size);
}
#endif
