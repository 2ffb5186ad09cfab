// The cluster key: sealed messages open only under the same key and the
// same sender; anything else is refused with a reason.
#include "protocols/common/auth.hpp"

#include <gtest/gtest.h>

namespace confab::protocols {
namespace {

std::vector<std::byte> bytes(const char* s) {
  std::vector<std::byte> v;
  for (; *s; ++s) v.push_back(static_cast<std::byte>(*s));
  return v;
}

TEST(cluster_key, parses_64_hex_digits_only) {
  EXPECT_TRUE(parse_cluster_key(std::string(64, 'a') + "\n"));
  EXPECT_STREQ(parse_cluster_key("abc").error().detail, "a cluster key is 64 hexadecimal digits");
  EXPECT_STREQ(parse_cluster_key(std::string(63, 'a') + "g").error().detail, "a cluster key holds only hexadecimal digits");
}

TEST(cluster_key, seal_open_and_every_refusal) {
  const auto k1 = *parse_cluster_key(std::string(64, '1'));
  const auto k2 = *parse_cluster_key(std::string(64, '2'));
  cluster_auth a(k1), b(k2);
  auto m = bytes("hello seeds");
  const auto plain = m;
  a.seal(7, m);
  ASSERT_EQ(m.size(), plain.size() + tag_bytes);
  auto ok = a.open(7, m);
  ASSERT_TRUE(ok);
  EXPECT_TRUE(std::equal(ok->begin(), ok->end(), plain.begin(), plain.end()));
  EXPECT_EQ(b.open(7, m).code(), errc::permission);   // another key
  EXPECT_EQ(a.open(8, m).code(), errc::permission);   // another sender
  auto t = m;
  t[0] ^= std::byte{1};
  EXPECT_EQ(a.open(7, t).code(), errc::permission);   // altered
  EXPECT_EQ(a.open(7, plain).code(), errc::permission);  // never sealed
  EXPECT_STREQ(a.open(7, std::span(m).first(5)).error().detail, "cluster key: message without a tag");
}

}  // namespace
}  // namespace confab::protocols
