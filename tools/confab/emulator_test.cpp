#include "tools/confab/emulator_test.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/core/histogram.hpp"
#include "engine/io/runtime.hpp"
#include "engine/host/fabric.hpp"

namespace confab::tools {

namespace {

using namespace std::chrono_literals;
using seam::node_id;

// A sends stamped frames to B at a steady rate (a burst every millisecond);
// B sends each straight back; A records the round trip.
struct pinger final : seam::node {
  node_id peer = 0;
  std::size_t per_ms = 50, want = 0, sent = 0;
  std::vector<double>* rtts = nullptr;  // ms
  void on_start(seam::env& e) override {
    if (peer) e.set_timer(e.now() + 1ms);
  }
  result<void> on_message(seam::env& e, node_id from, std::span<const std::byte> p) override {
    if (!peer) return e.send(from, p);  // the echo side
    std::int64_t at = 0;
    if (p.size() < sizeof at) return make_error(errc::malformed, "short probe");
    std::memcpy(&at, p.data(), sizeof at);
    if (rtts->size() < want) rtts->push_back(static_cast<double>(e.now().count() - at) / 1e6);
    return {};
  }
  void on_timer(seam::env& e) override {
    std::byte buf[16]{};
    for (std::size_t i = 0; i < per_ms && sent < want; ++i, ++sent) {
      const std::int64_t at = e.now().count();
      std::memcpy(buf, &at, sizeof at);
      (void)e.send(peer, buf);
    }
    if (sent < want) e.set_timer(e.now() + 1ms);
  }
};

}  // namespace

int run_emulator_test(const emulator_test_options& o) {
  if (o.jitter == "uniform" && o.jitter_ms > o.delay_ms) {
    std::fprintf(stderr, "confab emulator-test: --jitter-ms %.3f exceeds --delay-ms %.3f\n", o.jitter_ms, o.delay_ms);
    return 2;
  }
  const auto kind = delay::jitter_from_name(o.jitter).value_or(delay::jitter_kind::constant);
  delay::link_model m = delay::around(o.delay_ms, o.jitter_ms, kind);
  // The delivered distribution is compared with the model's, so frames may
  // overtake each other (FIFO would deliver a running maximum at this rate,
  // as a TCP stream does behind a slow segment).
  m.flags = delay::reorder;
  // The configured round trip: two independent one-way samples.
  std::vector<double> want;
  {
    delay::delay_line ref(o.seed ^ 0xabcdef);
    auto mm = m;
    want.resize(o.samples);
    for (auto& x : want) x = static_cast<double>(ref.sample_delay_ns(mm) + ref.sample_delay_ns(mm)) / 1e6;
  }
  std::vector<double> got;
  got.reserve(o.samples);
  host::fabric_group g({.threads = 1, .transport = host::transport_kind::inproc});
  g.default_link = m;
  std::unique_ptr<host::fabric> fab;
  host::fabric_options fo;
  fo.wake_quantum = std::chrono::microseconds(o.quantum_us);
  io::runtime_options ro;
  ro.threads = 1;
  io::parse_backend_choice(o.backend, ro.reactor.backend);
  io::runtime rt(ro);
  const double per_ms = static_cast<double>(o.rate) / 2.0 / 1000.0;  // each frame crosses the line twice
  const double expect_s = static_cast<double>(o.samples) / per_ms / 1000.0 + 2 * o.delay_ms / 1000.0 + 1.0;
  std::fprintf(stderr, "confab emulator-test: %llu frames/s through the delay line, %zu round trips (~%.0f s)\n",
               static_cast<unsigned long long>(o.rate), o.samples, expect_s);
  auto ran = rt.run([&](io::runtime&, io::reactor& r, unsigned) -> task<void> {
    fab = std::make_unique<host::fabric>(g, 0, r, o.seed, fo);
    auto a = std::make_unique<pinger>();
    a->peer = g.id_of(1);
    a->per_ms = static_cast<std::size_t>(std::max(1.0, per_ms));
    a->want = o.samples;
    a->rtts = &got;
    fab->add(0, std::move(a), 0ns);
    fab->add(1, std::make_unique<pinger>(), 0ns);
    std::stop_source stop;
    task_scope s;
    const auto epoch = io::clock::now();
    s.spawn([](std::vector<double>& v, std::size_t n, std::stop_source& st, io::clock::time_point ep, double limit_s,
               std::stop_token drain) -> task<void> {
      for (int k = 1; v.size() < n; ++k) {
        auto slept = co_await io::sleep_until(ep + 100ms * k, drain);
        if (!slept || k * 0.1 > limit_s) break;
        if (k % 20 == 0) std::fprintf(stderr, "  %5.1f s: %zu of %zu round trips\n", k * 0.1, v.size(), n);
      }
      st.request_stop();
    }(got, o.samples, stop, epoch, expect_s * 3 + 10, r.drain_token()));
    auto ok = co_await fab->run(epoch, stop.get_token());
    if (!ok) std::fprintf(stderr, "confab emulator-test: %s\n", ok.error().message().c_str());
    co_await s.join();
  });
  if (!ran) {
    std::fprintf(stderr, "confab emulator-test: cannot run: %s\n", ran.error().message().c_str());
    return 1;
  }
  const auto& late = fab->lateness();
  bool ok = got.size() == o.samples;
  nlohmann::ordered_json json = {{"rate_frames_per_s", o.rate},
                                 {"round_trips", got.size()},
                                 {"frames", late.count()},
                                 {"quantum_us", o.quantum_us},
                                 {"lateness_us",
                                  {{"p50", late.quantile(0.5) / 1e3},
                                   {"p90", late.quantile(0.9) / 1e3},
                                   {"p99", late.quantile(0.99) / 1e3},
                                   {"p999", late.quantile(0.999) / 1e3},
                                   {"max", static_cast<double>(late.max()) / 1000.0}}}};
  std::printf("confab emulator-test: %zu round trips, %llu frames through the delay line at %llu frames/s\n", got.size(),
              static_cast<unsigned long long>(late.count()), static_cast<unsigned long long>(o.rate));
  std::printf("  lateness (hand-over minus due): p50 %.0f us, p90 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us\n",
              late.quantile(0.5) / 1e3, late.quantile(0.9) / 1e3, late.quantile(0.99) / 1e3, late.quantile(0.999) / 1e3,
              static_cast<double>(late.max()) / 1000.0);
  json["rtt_ms"] = nlohmann::ordered_json::object();
  if (!got.empty()) {
    latency_histogram want_ns, got_ns;
    for (double ms : want) want_ns.add(static_cast<std::uint64_t>(ms * 1e6));
    for (double ms : got) got_ns.add(static_cast<std::uint64_t>(ms * 1e6));
    for (double q : {0.5, 0.9, 0.99}) {
      const double w = want_ns.quantile(q) / 1e6, h = got_ns.quantile(q) / 1e6, err = (h - w) / w;
      const bool within = std::fabs(err) <= 0.02;
      ok &= within;
      std::printf("  RTT p%-4g configured %.3f ms, measured %.3f ms (%+.2f%%) %s\n", q * 100, w, h, err * 100,
                  within ? "within 2%" : "OFF BY MORE THAN 2%");
      char name[16];
      std::snprintf(name, sizeof name, "p%g", q * 100);
      json["rtt_ms"][name] = {{"configured", w}, {"measured", h}, {"error", err}};
    }
  }
  json["distribution_ok"] = ok;
  if (!o.json.empty()) {
    std::ofstream f(o.json);
    f << json.dump() << "\n";
  }
  if (got.size() != o.samples) std::printf("  only %zu of %zu round trips completed\n", got.size(), o.samples);
  std::printf("%s\n", ok ? "emulator self-test passed" : "emulator self-test FAILED");
  return ok ? 0 : 1;
}

}  // namespace confab::tools
