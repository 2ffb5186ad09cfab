// Deterministic fuzzing of the decoders inside the test suite: seeded random
// inputs and mutations of valid streams. A failing input aborts with the
// seed in the test name's output.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "engine/seam/env.hpp"

extern "C" int confab_fuzz_frame_decoder(const std::uint8_t* data, std::size_t size);

namespace {

TEST(fuzz, frame_decoder_survives_200000_random_and_mutated_inputs) {
  confab::seam::random rng(20261121);
  std::vector<std::uint8_t> buf;
  for (int i = 0; i < 200000; ++i) {
    buf.clear();
    const bool mutate = (i % 2) == 0;
    if (mutate) {
      // A valid stream of frames, then a few byte flips.
      buf.push_back(static_cast<std::uint8_t>(rng.below(2)));
      const int frames = static_cast<int>(rng.below(5));
      for (int f = 0; f < frames; ++f) {
        const auto len = static_cast<std::uint32_t>(rng.below(300));
        if (buf[0] & 1) {
          for (std::uint32_t k = 0; k < len; ++k) buf.push_back(static_cast<std::uint8_t>('a' + rng.below(26)));
          buf.push_back('\n');
        } else {
          buf.push_back(static_cast<std::uint8_t>(len >> 24));
          buf.push_back(static_cast<std::uint8_t>(len >> 16));
          buf.push_back(static_cast<std::uint8_t>(len >> 8));
          buf.push_back(static_cast<std::uint8_t>(len));
          for (std::uint32_t k = 0; k < len; ++k) buf.push_back(static_cast<std::uint8_t>(rng.next()));
        }
      }
      const int flips = static_cast<int>(rng.below(4));
      for (int k = 0; k < flips && buf.size() > 1; ++k) buf[1 + rng.below(buf.size() - 1)] ^= static_cast<std::uint8_t>(1u << rng.below(8));
      if (!buf.empty() && rng.below(3) == 0) buf.resize(rng.below(buf.size() + 1));  // truncation
    } else {
      const auto n = rng.below(64);
      for (std::uint64_t k = 0; k < n; ++k) buf.push_back(static_cast<std::uint8_t>(rng.next()));
    }
    ASSERT_EQ(confab_fuzz_frame_decoder(buf.data(), buf.size()), 0) << "input " << i;
  }
}

}  // namespace
