// What every wire decoder's fuzz target checks (libFuzzer where clang is
// available; always as a deterministic run inside the test suite):
// never crashes; a refusal is `malformed` with a reason; every message it
// accepts re-encodes to exactly the input. A broken invariant aborts, which
// both libFuzzer and the test runner report.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "engine/core/result.hpp"

namespace confab::testing {

template <class Decode, class Encode>
int fuzz_round_trip(const std::uint8_t* data, std::size_t size, Decode decode, Encode encode) {
  std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  auto m = decode(in);
  if (!m) {
    if (m.code() != errc::malformed || m.error().detail == nullptr) std::abort();
    return 0;
  }
  const auto again = encode(*m);
  if (again.size() != size || std::memcmp(again.data(), data, size) != 0) std::abort();
  return 0;
}

}  // namespace confab::testing

// Defines `confab_fuzz_<ns>_decoder` (the deterministic run's entry) for
// `confab::<ns>::decode`/`encode`, and libFuzzer's entry where it builds.
#ifdef CONFAB_LIBFUZZER
#define CONFAB_FUZZ_LIBFUZZER_ENTRY(fn) \
  extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) { return fn(data, size); }
#else
#define CONFAB_FUZZ_LIBFUZZER_ENTRY(fn)
#endif
#define CONFAB_FUZZ_WIRE_DECODER(ns)                                                                         \
  extern "C" int confab_fuzz_##ns##_decoder(const std::uint8_t* data, std::size_t size) {                    \
    return confab::testing::fuzz_round_trip(                                                                 \
        data, size, [](std::span<const std::byte> in) { return confab::ns::decode(in); },                    \
        [](const auto& m) { return confab::ns::encode(m); });                                                \
  }                                                                                                          \
  CONFAB_FUZZ_LIBFUZZER_ENTRY(confab_fuzz_##ns##_decoder)
