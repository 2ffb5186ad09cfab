#include "tools/confab/sim_cmd.hpp"

#include <cstdio>

#include "harness/analysis.hpp"
#include "harness/cluster.hpp"
#include "harness/report.hpp"
#include "harness/thresholds.hpp"

namespace confab::tools {

int run_sim_command(const sim_options& o) {
  auto loaded = o.config.empty() ? harness::default_scenario() : harness::load_scenario(o.config);
  if (!loaded) {
    std::fprintf(stderr, "confab sim: %s\n", loaded.error().text.c_str());
    return 2;
  }
  std::vector<harness::threshold> thresholds;
  for (const auto& text : o.thresholds) {
    auto t = harness::parse_threshold(text);
    if (!t) {
      std::fprintf(stderr, "confab sim: %s\n", t.error().text.c_str());
      return 2;
    }
    thresholds.push_back(std::move(t).value());
  }
  harness::scenario scen = std::move(loaded).value();
  harness::apply(o.set, scen);
  harness::prepare(scen, o.backend);
  if (auto valid = harness::validate(scen); !valid) {
    std::fprintf(stderr, "confab sim: %s\n", valid.error().text.c_str());
    return 2;
  }
  auto record = harness::run_cluster(scen, {.backend = o.backend, .progress = !o.quiet});
  if (!record) {
    std::fprintf(stderr, "confab sim: cannot run: %s\n", record.error().message().c_str());
    return 1;
  }
  auto rep = harness::analyse(*record);
  for (auto& why : harness::broken(rep, thresholds)) rep.problems.push_back(std::move(why));
  auto written = harness::write_report(rep, o.out);
  if (written) written = harness::write_trace(*record, rep, o.out + "/trace.jsonl");
  if (!written) {
    std::fprintf(stderr, "confab sim: %s\n", written.error().text.c_str());
    return 1;
  }
  std::fputs(harness::summary_text(rep, o.out).c_str(), stdout);
  // 0: a clean run; 1: a run that found problems (lost messages, dead peers
  // left, seeds that disagree, an emulation that was not faithful, a
  // broken --threshold).
  return rep.problems.empty() ? 0 : 1;
}

}  // namespace confab::tools
