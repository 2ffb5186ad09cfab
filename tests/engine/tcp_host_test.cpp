#include "engine/host/tcp_host.hpp"  // first: the header compiles alone

#include <gtest/gtest.h>

#include "engine/sim/simulator.hpp"
#include "tests/engine/flood_node.hpp"
#include "tests/engine/helpers.hpp"

using namespace confab;
using namespace std::chrono_literals;
using confab::testing::flood_node;
using io::backend_choice;

namespace {

class tcp_host_test : public ::testing::TestWithParam<backend_choice> {};

task<void> stop_when_done(std::vector<std::unique_ptr<host::tcp_host>>& hosts, std::size_t want, std::stop_source* stop) {
  const auto give_up = io::clock::now() + 10s;
  while (io::clock::now() < give_up) {
    bool all = true;
    for (auto& h : hosts) all = all && static_cast<flood_node&>(h->get()).seen.size() >= want;
    if (all) break;
    co_await io::sleep_for(5ms);
  }
  co_await io::sleep_for(200ms);  // let the last duplicate copies land
  stop->request_stop();
}

task<void> run_hosts(std::vector<std::unique_ptr<host::tcp_host>>& hosts, std::size_t want, int* failures) {
  std::stop_source stop;
  task_scope s;
  auto one = [](host::tcp_host& h, std::stop_token st, int* failures) -> task<void> {
    auto r = co_await h.run(st);
    if (!r) ++*failures;
  };
  for (auto& h : hosts) s.spawn(one(*h, stop.get_token(), failures));
  s.spawn(stop_when_done(hosts, want, &stop));
  co_await s.join();
}

TEST_P(tcp_host_test, the_same_node_runs_over_real_tcp_as_in_the_simulator) {
  CONFAB_MAKE_REACTOR(r, GetParam());
  constexpr std::size_t n = 6;
  constexpr int rumours = 4;
  std::vector<net::address> dir;
  for (std::size_t i = 0; i < n; ++i) dir.push_back(net::address::ipv4(0x7f000001u + static_cast<std::uint32_t>(i), confab::testing::free_port()));
  std::vector<std::unique_ptr<host::tcp_host>> hosts;
  for (seam::node_id i = 0; i < n; ++i)
    hosts.push_back(std::make_unique<host::tcp_host>(*r, i, dir, std::make_unique<flood_node>(n, rumours), 100 + i));
  int failures = 0;
  r->run(run_hosts(hosts, rumours, &failures));
  EXPECT_EQ(failures, 0);
  for (auto& h : hosts) {
    auto& f = static_cast<flood_node&>(h->get());
    EXPECT_EQ(f.seen.size(), static_cast<std::size_t>(rumours));
    EXPECT_EQ(h->stats().bad_frames, 0u);
  }
  // Every non-origin node receives each rumour from all the others but the
  // one it came from, exactly as in the lossless simulator.
  sim::simulator s(1, {.delay_min = 1ms, .delay_max = 3ms});
  for (std::size_t i = 0; i < n; ++i) s.add_node([](seam::node_id) { return std::make_unique<flood_node>(6, 4); });
  s.run_for(1s);
  for (seam::node_id i = 1; i < n; ++i) {
    auto& tcp = static_cast<flood_node&>(hosts[i]->get());
    auto& sim = *static_cast<flood_node*>(s.get(i));
    EXPECT_EQ(tcp.seen.size(), sim.seen.size());
    std::size_t tcp_copies = 0, sim_copies = 0;
    for (auto& [k, v] : tcp.copies) tcp_copies += static_cast<std::size_t>(v);
    for (auto& [k, v] : sim.copies) sim_copies += static_cast<std::size_t>(v);
    EXPECT_EQ(tcp_copies, sim_copies) << "node " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(backends, tcp_host_test, ::testing::Values(backend_choice::uring, backend_choice::epoll),
                         confab::testing::backend_param_name);

}  // namespace
