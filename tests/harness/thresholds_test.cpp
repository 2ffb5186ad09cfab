// --threshold: parsing names what is wrong; a report breaks exactly the
// thresholds its figures do not meet, each named with the value.
#include "harness/thresholds.hpp"

#include <gtest/gtest.h>

namespace confab::harness {
namespace {

TEST(thresholds, parse_every_operator_and_refuse_what_is_wrong) {
  auto t = parse_threshold(" removal_s_p99 <= 3 ");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->metric, "removal_s_p99");
  EXPECT_EQ(t->relation, threshold::op::le);
  EXPECT_EQ(t->value, 3);
  EXPECT_EQ(t->text, "removal_s_p99 <= 3");
  EXPECT_EQ(parse_threshold("delivery_ratio>=0.999")->relation, threshold::op::ge);
  EXPECT_EQ(parse_threshold("false_removals==0")->relation, threshold::op::eq);
  EXPECT_EQ(parse_threshold("reach_all_ms_p99<250")->relation, threshold::op::lt);
  EXPECT_EQ(parse_threshold("hops_max>1")->relation, threshold::op::gt);
  EXPECT_NE(parse_threshold("delivery_ratio 1").error().text.find("expected METRIC OP NUMBER"), std::string::npos);
  EXPECT_NE(parse_threshold("delivery_ratio => 1").error().text.find("expected METRIC OP NUMBER"), std::string::npos);
  const auto unknown = parse_threshold("latency<3").error().text;
  EXPECT_NE(unknown.find("unknown metric 'latency'"), std::string::npos);
  EXPECT_NE(unknown.find("removal_s_p99"), std::string::npos);  // the known ones listed
  EXPECT_NE(parse_threshold("false_removals==zero").error().text.find("'zero' is not a number"), std::string::npos);
  EXPECT_NE(parse_threshold("false_removals==1x").error().text.find("is not a number"), std::string::npos);
  EXPECT_NE(parse_threshold("false_removals==").error().text.find("is not a number"), std::string::npos);
}

TEST(thresholds, a_report_breaks_exactly_the_thresholds_it_misses) {
  report r;
  r.delivery_ratio = 0.98;
  r.killed = 5;
  r.removed = 4;
  r.false_removals = 0;
  r.removal_all_s.p99 = 2.5;
  std::vector<threshold> ts;
  for (const char* text : {"delivery_ratio >= 0.999", "false_removals == 0", "removal_s_p99 <= 3",
                           "dead_not_removed == 0", "removal_s_p99 < 2.5"})
    ts.push_back(*parse_threshold(text));
  const auto b = broken(r, ts);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0], "threshold delivery_ratio >= 0.999 broken: 0.98");
  EXPECT_EQ(b[1], "threshold dead_not_removed == 0 broken: 1");
  EXPECT_EQ(b[2], "threshold removal_s_p99 < 2.5 broken: 2.5");
  for (const auto& name : metric_names()) EXPECT_TRUE(metric_value(r, name)) << name;
}

}  // namespace
}  // namespace confab::harness
