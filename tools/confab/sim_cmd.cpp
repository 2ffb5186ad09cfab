#include "tools/confab/sim_cmd.hpp"

#include <cstdio>

#include "harness/analysis.hpp"
#include "harness/cluster.hpp"
#include "harness/report.hpp"

namespace confab::tools {

int run_sim_command(const sim_options& o) {
  auto loaded = o.config.empty() ? harness::default_scenario() : harness::load_scenario(o.config);
  if (!loaded) {
    std::fprintf(stderr, "confab sim: %s\n", loaded.error().text.c_str());
    return 2;
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
  const auto rep = harness::analyse(*record);
  auto written = harness::write_report(rep, o.out);
  if (written) written = harness::write_trace(*record, rep, o.out + "/trace.jsonl");
  if (!written) {
    std::fprintf(stderr, "confab sim: %s\n", written.error().text.c_str());
    return 1;
  }
  std::fputs(harness::summary_text(rep, o.out).c_str(), stdout);
  // 0: a clean run; 1: a run that found problems (lost messages, dead peers
  // left, seeds that disagree, an emulation that was not faithful).
  return rep.problems.empty() ? 0 : 1;
}

}  // namespace confab::tools
