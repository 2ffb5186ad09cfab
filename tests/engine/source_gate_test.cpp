// The connection caps of a listening port: per source IP and in total, each
// place given back when its ticket goes, refusals counted with a reason.
#include "engine/net/source_gate.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace confab::net {
namespace {

TEST(source_gate, caps_per_source_and_in_total_and_gives_places_back) {
  source_gate g({.per_source_max = 2, .total_max = 3});
  std::vector<source_gate::ticket> held;
  for (int i = 0; i < 2; ++i) {
    auto t = g.admit(1);
    ASSERT_TRUE(t);
    held.push_back(std::move(*t));
  }
  auto third = g.admit(1);
  ASSERT_FALSE(third);
  EXPECT_STREQ(third.error().detail, "too many connections from this source IP");
  auto other = g.admit(2);
  ASSERT_TRUE(other);
  EXPECT_EQ(g.open(), 3u);
  auto over = g.admit(3);
  ASSERT_FALSE(over);
  EXPECT_STREQ(over.error().detail, "too many connections open on this port");
  EXPECT_EQ(g.refused_source(), 1u);
  EXPECT_EQ(g.refused_total(), 1u);
  held.pop_back();  // one of source 1's places back
  EXPECT_EQ(g.open(), 2u);
  EXPECT_TRUE(g.admit(1));  // (a temporary: given back at once)
  *other = {};              // released by assignment
  EXPECT_EQ(g.open(), 1u);
  source_gate::ticket moved = std::move(held.back());
  held.clear();
  EXPECT_EQ(g.open(), 1u);  // a moved-from ticket gives nothing back
}

TEST(source_gate, zero_is_no_cap) {
  source_gate g;
  std::vector<source_gate::ticket> held;
  for (int i = 0; i < 10000; ++i) {
    auto t = g.admit(7);
    ASSERT_TRUE(t);
    held.push_back(std::move(*t));
  }
  EXPECT_EQ(g.open(), 10000u);
  held.clear();
  EXPECT_EQ(g.open(), 0u);
}

}  // namespace
}  // namespace confab::net
