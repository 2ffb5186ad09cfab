// The `confab` command.
//
//   confab sim [--config scenario.toml] [--out DIR] [--peers N] [--transport tcp|inproc] ...
//   confab emulator-test [--rate F] [--samples N] [--delay-ms D] [--jitter-ms J]
//   confab demo [--backend auto|uring|epoll] [--connections N] [--bytes N] [--duration-ms N]
//   confab exact table1|bounds|recover [--topology T] [--seed S] [--runs R] [--json]
//   confab avg [paper] --topology SPEC --dt DT [--mode M] [--transport tcp|inproc] [--out DIR]
//   confab avg-node --listen IP:PORT --config node.toml
//   confab exact-node --listen IP:PORT --config node.toml
//   confab seed --config seed.toml --listen IP:PORT
//   confab peer --config peer.toml --listen IP:PORT
//   confab seed-load --seeds seeds.txt --peers N [--window W] [--acked-out FILE]
//   confab seed-query --seeds seeds.txt [--full]
//   confab vote-server --listen IP:PORT
//
// Unknown options and impossible values get a one-line error naming them and
// exit code 2, before anything starts (CLI11's own codes, 105 and up, are
// mapped to 2); --help shows every default; --version names the commit.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "tools/confab/avg_cmd.hpp"
#include "tools/confab/demo.hpp"
#include "tools/confab/exact_cmd.hpp"
#include "tools/confab/launch.hpp"
#include "tools/confab/peer_cmd.hpp"
#include "tools/confab/seed_cmd.hpp"
#include "tools/confab/seed_load.hpp"
#include "tools/confab/sim_cmd.hpp"
#include "tools/confab/emulator_test.hpp"
#include "tools/confab/vote_cmd.hpp"
#include "tools/confab/vote_client.hpp"
#include "tools/confab/vote_load.hpp"
#include "version.hpp"

int main(int argc, char** argv) {
  CLI::App app{"confab: a networking engine for consensus and gossip systems"};
  app.option_defaults()->always_capture_default();
  app.set_version_flag("--version", std::string("confab ") + CONFAB_VERSION + " (commit " + CONFAB_COMMIT + ")");
  app.require_subcommand(1);
  std::string backend = "auto";
  confab::tools::demo_options demo;
  auto* d = app.add_subcommand("demo", "echo load over loopback that prints the engine's own figures");
  d->add_option("--backend", backend, "auto, uring or epoll")->check(CLI::IsMember({"auto", "uring", "epoll"}));
  d->add_option("--connections", demo.connections, "concurrent connections")->check(CLI::Range(1u, 5000u));
  d->add_option("--bytes", demo.message_bytes, "message size in bytes")->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
  d->add_option("--duration-ms", demo.duration_ms, "how long the load runs")->check(CLI::Range(100u, 600000u));
  confab::tools::exact_options exact;
  auto* e = app.add_subcommand("exact", "exact consensus: the paper's tables, bounds and recoveries");
  e->add_option("what", exact.what, "table1 | table2 | table3 | table4 | bounds | recover | run (over the network)")
      ->required()
      ->check(CLI::IsMember({"table1", "table2", "table3", "table4", "bounds", "recover", "run"}));
  e->add_option("--topology", exact.topology, "ring:N, torus:RxC, petersen, hypercube:D, complete:N, regular:NxD, er:NxP, ba:NxM, file:PATH");
  e->add_option("--compromised", exact.compromised, "comma-separated compromised nodes");
  e->add_option("--inject", exact.inject,
                "recover: the errors compromised nodes add: FILE of 'node step value' lines, node:value (every step), "
                "node@step:value, or crafted (an attack another subset explains too)");
  e->add_option("--seed", exact.seed, "seed for weights and states");
  e->add_option("--runs", exact.runs, "timed runs")->check(CLI::Range(1, 10000000));
  e->add_option("--node", exact.node, "observing node (recover)");
  e->add_flag("--json", exact.json, "print JSON");
  e->add_option("--f", exact.f, "run: compromised nodes every node allows for")->check(CLI::Range(0, 3));
  e->add_option("--malicious", exact.malicious,
                "run: NODE:STRATEGY[:VALUE],... with offset, noise, crafted, two-faced, silent (VALUE: its first silent round), small");
  e->add_option("--weights", exact.weights, "run: random (seeded) or metropolis")->check(CLI::IsMember({"random", "metropolis"}));
  e->add_option("--transport", exact.transport, "run: tcp or inproc")->check(CLI::IsMember({"tcp", "inproc"}));
  e->add_option("--delay-ms", exact.delay_ms, "run: emulated one-way link delay")->check(CLI::Range(0.0, 60000.0));
  e->add_option("--jitter-ms", exact.jitter_ms, "run: emulated jitter around it")->check(CLI::Range(0.0, 60000.0));
  e->add_option("--stall-timeout-ms", exact.stall_timeout_ms, "run: a neighbour silent this long is reported")
      ->check(CLI::Range(10.0, 3600000.0));
  e->add_option("--time-max", exact.time_max_s, "run: stops by itself after this many seconds")->check(CLI::Range(1.0, 86400.0));
  e->add_option("--threads", exact.threads, "run: reactor threads")->check(CLI::Range(1u, 64u));
  e->add_option("--out", exact.out, "run: folder for report.json and graph.svg");
  e->add_option("--backend", exact.backend, "run: auto, uring or epoll")->check(CLI::IsMember({"auto", "uring", "epoll"}));
  e->add_option("--base-port", exact.base_port, "run, tcp: listeners on base-port + thread")->check(CLI::Range(1024, 65000));
  e->add_flag("--quiet", exact.quiet, "run: no progress line");
  confab::tools::avg_options avg;
  auto* av = app.add_subcommand("avg", "average consensus (document 000): N nodes through the RTT emulator, or `avg paper`");
  av->footer("Example: confab avg --topology torus:5x5 --dt best --transport tcp --out avg-report");
  av->add_option("what", avg.what, "run (default) or paper (the document's Table I and Table II)")
      ->check(CLI::IsMember({"run", "paper"}));
  av->add_option("--topology", avg.topology, "ring:N, torus:RxC, petersen, hypercube:D, complete:N, regular:NxD, er:NxP, ba:NxM, file:PATH (edge list)");
  av->add_option("--dt", avg.dt, "step size: one value, one per node (comma list), best (2/(l2+lmax)) or safe (1/(1+max degree), stable on any graph)");
  av->add_option("--x0", avg.x0, "initial states: random (uniform [0,10), seeded) or a comma list");
  av->add_option("--mode", avg.mode, "laplacian, average-preserving or push-sum")
      ->check(CLI::IsMember({"laplacian", "average-preserving", "push-sum"}));
  av->add_option("--rounds", avg.rounds, "lock-step rounds, or pushes per node (push-sum)")->check(CLI::Range(1u, 10000000u));
  av->add_option("--staleness", avg.staleness, "lock-step: use the neighbours' states d rounds old")->check(CLI::Range(0u, 64u));
  av->add_option("--delay-ms", avg.delay_ms, "emulated one-way link delay")->check(CLI::Range(0.0, 600000.0));
  av->add_option("--jitter-ms", avg.jitter_ms, "emulated jitter around it")->check(CLI::Range(0.0, 600000.0));
  av->add_option("--jitter", avg.jitter, "uniform, normal, pareto, lognormal or constant")
      ->check(CLI::IsMember({"uniform", "normal", "pareto", "lognormal", "constant"}));
  av->add_option("--pause-ms", avg.pause_ms, "the document's sleep between rounds (stretches wall time only)")->check(CLI::Range(0.0, 600000.0));
  av->add_option("--loss", avg.loss, "fraction of frames the emulator drops")->check(CLI::Range(0.0, 0.9));
  av->add_option("--dup", avg.dup, "fraction of frames the emulator duplicates")->check(CLI::Range(0.0, 0.9));
  av->add_option("--push-interval-ms", avg.push_interval_ms, "push-sum: one push per interval")->check(CLI::Range(0.01, 600000.0));
  av->add_option("--stall-timeout-ms", avg.stall_timeout_ms, "a neighbour silent this long is reported")->check(CLI::Range(1.0, 86400000.0));
  av->add_option("--transport", avg.transport, "tcp or inproc")->check(CLI::IsMember({"tcp", "inproc"}));
  av->add_option("--threads", avg.threads, "reactor threads")->check(CLI::Range(1u, 64u));
  av->add_option("--tolerance", avg.tolerance, "disagreement (relative) the report measures time and rounds to")->check(CLI::Range(1e-15, 0.5));
  av->add_option("--time-max", avg.time_max_s, "the run stops by itself after this many seconds")->check(CLI::Range(1.0, 86400.0));
  av->add_option("--out", avg.out, "folder for report.json, trajectories.csv and the SVG plots");
  av->add_option("--backend", avg.backend, "auto, uring or epoll")->check(CLI::IsMember({"auto", "uring", "epoll"}));
  av->add_option("--base-port", avg.base_port, "tcp: listeners on base-port + thread")->check(CLI::Range(1024, 65000));
  av->add_option("--seed", avg.seed, "random seed (topology, initial states, emulator)");
  av->add_flag("--quiet", avg.quiet, "no progress line");
  confab::tools::exact_node_options exact_node;
  auto* en = app.add_subcommand("exact-node", "one exact-consensus node as its own process (document 004 over TCP)");
  en->footer("Example: confab exact-node --listen 127.0.0.1:7300 --config node3.toml (docs/exact_consensus.md)");
  en->add_option("--listen", exact_node.listen, "IP:PORT this node listens on (its entry in the config's nodes)")->required();
  en->add_option("--config", exact_node.config,
                 "TOML: topology, weights, seed, vertex, f, x0, nodes = [\"IP:PORT\", ...], malicious, out")
      ->required();
  en->add_option("--backend", exact_node.backend, "auto, uring or epoll")->check(CLI::IsMember({"auto", "uring", "epoll"}));
  confab::tools::avg_node_options avg_node;
  auto* an = app.add_subcommand("avg-node", "one average-consensus node as its own process (the document's two terminals)");
  an->footer("Example: confab avg-node --listen 127.0.0.1:7100 --config node.toml (docs/average.md)");
  an->add_option("--listen", avg_node.listen, "IP:PORT this node listens on")->required();
  an->add_option("--config", avg_node.config, "TOML: x0, dt, mode, rounds, neighbours = [\"IP:PORT\", ...]")->required();
  an->add_option("--backend", avg_node.backend, "auto, uring or epoll")->check(CLI::IsMember({"auto", "uring", "epoll"}));
  confab::tools::seed_options seed;
  auto* sd = app.add_subcommand("seed", "one seed of the membership service (replicated peer list)");
  sd->add_option("--config", seed.config, "TOML settings (docs/config.md)")->required();
  sd->add_option("--listen", seed.listen, "IP:PORT or NAME:PORT to listen on; the node's identity unless --advertise or --ordinal");
  sd->add_option("--ordinal", seed.ordinal,
                 "K or auto (SLURM_PROCID, else the host name's -N suffix): the identity is the seed list's entry K, bound on 0.0.0.0 at its port unless --listen");
  sd->add_option("--advertise", seed.advertise, "IP:PORT or NAME:PORT others reach this node at (its identity), when --listen is another (0.0.0.0, NAT)");
  sd->add_option("--legacy-port", seed.legacy_port, "serve the legacy text dialect on this port (0: off)")
      ->check(CLI::Range(0, 65535));
  sd->add_option("--backend", seed.backend, "auto, uring or epoll")->check(CLI::IsMember({"auto", "uring", "epoll"}));
  sd->add_option("--metrics", seed.metrics, "IP:PORT: serve GET /metrics (Prometheus text format) there");
  confab::tools::seed_repair_options repair;
  auto* sr = app.add_subcommand("seed-repair",
                                "a stopped seed's storage: what it holds; with --accept-loss, make a learner vote again");
  sr->add_option("--config", repair.config, "TOML settings (docs/config.md)")->required();
  sr->add_option("--listen", repair.listen, "IP:PORT of the seed, one of the seed list's entries");
  sr->add_option("--ordinal", repair.ordinal, "K or auto: the seed is the seed list's entry K (as `confab seed --ordinal`)");
  sr->add_option("--advertise", repair.advertise, "the seed's --advertise, when it has one");
  sr->add_flag("--accept-loss", repair.accept_loss,
               "make it a voter although it may have lost entries it acknowledged (docs/seeds.md, Storage faults)");
  confab::tools::peer_options peer;
  auto* pr = app.add_subcommand("peer", "one gossip peer: joins through the seeds, gossips, detects failures");
  pr->add_option("--config", peer.config, "TOML settings (docs/config.md)")->required();
  pr->add_option("--listen", peer.listen, "IP:PORT or NAME:PORT to listen on; the node's identity unless --advertise")->required();
  pr->add_option("--advertise", peer.advertise, "IP:PORT or NAME:PORT others reach this node at (its identity), when --listen is another (0.0.0.0, NAT)");
  pr->add_option("--backend", peer.backend, "auto, uring or epoll")->check(CLI::IsMember({"auto", "uring", "epoll"}));
  pr->add_option("--metrics", peer.metrics, "IP:PORT: serve GET /metrics (Prometheus text format) there");
  confab::tools::seed_load_options load;
  auto* sl = app.add_subcommand("seed-load", "register N synthetic peers with the seeds and report commit rate and latency");
  sl->add_option("--seeds", load.seeds_file, "the seed list (IP:PORT per line)")->required();
  sl->add_option("--peers", load.peers, "registrations to commit")->check(CLI::Range(1u, 1000000u));
  sl->add_option("--window", load.window, "registrations outstanding at once")->check(CLI::Range(1u, 100000u));
  sl->add_option("--retry-ms", load.retry_ms, "resend an unanswered registration after")->check(CLI::Range(10u, 600000u));
  sl->add_option("--timeout-ms", load.timeout_ms, "the run stops by itself after")->check(CLI::Range(100u, 3600000u));
  sl->add_option("--first-peer", load.first_peer, "index of the first synthetic peer")->check(CLI::Range(0u, 3000000u));
  sl->add_option("--acked-out", load.acked_out, "write the acknowledged peers here");
  sl->add_option("--key-file", load.key_file, "the cluster key (64 hex digits), when the seeds use one");
  sl->add_option("--via", load.via, "SEED=IP:PORT: reach that seed through this address (a proxy or port forward)");
  sl->add_flag("--keep", load.keep, "leave the synthetic peers in the PL at the end (by default they leave)");
  confab::tools::members_options mem;
  auto* mb = app.add_subcommand("members", "every member of the PL with its state, degree and reporters, from any seed");
  mb->add_option("--seeds", mem.seeds_file, "the seed list (IP:PORT or NAME:PORT per line)")->required();
  mb->add_flag("--json", mem.json, "one JSON object per member, then the seed's state");
  mb->add_option("--key-file", mem.key_file, "the cluster key (64 hex digits), when the seeds use one");
  mb->add_option("--via", mem.via, "SEED=IP:PORT: reach that seed through this address (a proxy or port forward)");
  mb->add_option("--timeout-ms", mem.timeout_ms, "give up after")->check(CLI::Range(100u, 600000u));
  confab::tools::force_leave_options fl;
  auto* fv = app.add_subcommand("force-leave", "remove one peer from the PL through the seeds' log (an operator's leave)");
  fv->add_option("--seeds", fl.seeds_file, "the seed list (IP:PORT or NAME:PORT per line)")->required();
  fv->add_option("peer", fl.peer, "IP:PORT or NAME:PORT of the peer")->required();
  fv->add_option("--key-file", fl.key_file, "the cluster key (64 hex digits), when the seeds use one");
  fv->add_option("--via", fl.via, "SEED=IP:PORT: reach that seed through this address (a proxy or port forward)");
  fv->add_option("--timeout-ms", fl.timeout_ms, "give up after")->check(CLI::Range(100u, 600000u));
  confab::tools::seed_query_options q;
  auto* sq = app.add_subcommand("seed-query", "ask every seed for its PL and check that they agree");
  sq->add_option("--seeds", q.seeds_file, "the seed list (IP:PORT per line)")->required();
  sq->add_flag("--full", q.full, "print every PL in full");
  sq->add_option("--key-file", q.key_file, "the cluster key (64 hex digits), when the seeds use one");
  sq->add_option("--via", q.via, "SEED=IP:PORT: reach that seed through this address (a proxy or port forward)");
  sq->add_option("--timeout-ms", q.timeout_ms, "give up on silent seeds after")->check(CLI::Range(100u, 600000u));
  confab::tools::sim_options sim;
  auto* sm = app.add_subcommand("sim", "S seeds and N peers in one process over real TCP or in-process, through the RTT emulator, with a report");
  sm->add_option("--config", sim.config, "TOML scenario (docs/sim.md); default: the embedded one")->check(CLI::ExistingFile);
  sm->add_option("--out", sim.out, "folder for report.json and report.html");
  sm->add_option("--backend", sim.backend, "auto, uring or epoll")->check(CLI::IsMember({"auto", "uring", "epoll"}));
  sm->add_option("--peers", sim.set.peers, "peers (overrides the scenario)")->check(CLI::Range(std::size_t{2}, std::size_t{1000000}));
  sm->add_option("--seeds", sim.set.seeds, "seeds")->check(CLI::Range(std::size_t{1}, std::size_t{7}));
  sm->add_option("--originators", sim.set.originators, "peers that gossip (0: all)")->check(CLI::Range(std::size_t{0}, std::size_t{1000000}));
  sm->add_option_function<std::string>(
        "--transport", [&sim](const std::string& v) { sim.set.transport = confab::host::transport_from_name(v); },
        "tcp or inproc")
      ->check([](const std::string& v) {
        return confab::host::transport_from_name(v) ? std::string() : "must be tcp or inproc, not " + v;
      });
  sm->add_option("--threads", sim.set.threads, "reactor threads (0: one per core)")->check(CLI::Range(0u, 64u));
  sm->add_option("--seed", sim.set.seed, "random seed of the scenario");
  sm->add_option("--duration", sim.set.duration_s, "seconds the run lasts (default: until the workload and faults played out)")
      ->check(CLI::Range(1.0, 86400.0));
  sm->add_option("--scale", sim.set.scale, "the documents' intervals times this")->check(CLI::Range(0.01, 100.0));
  sm->add_option("--delay-ms", sim.set.delay_ms, "one-way delay")->check(CLI::Range(0.0, 600000.0));
  sm->add_option("--jitter-ms", sim.set.jitter_ms, "jitter around it")->check(CLI::Range(0.0, 600000.0));
  sm->add_option("--base-port", sim.set.base_port, "tcp: listeners on base-port + thread")->check(CLI::Range(1024, 65000));
  sm->add_flag("--quiet", sim.quiet, "no progress line");
  sm->add_option("--threshold", sim.thresholds,
                 "METRIC OP NUMBER, e.g. 'removal_s_p99<=3' (repeatable; docs/sim.md lists the metrics): a run that "
                 "breaks one exits 1");
  confab::tools::emulator_test_options et;
  auto* em = app.add_subcommand("emulator-test", "the RTT emulator's self-test: lateness, and measured RTT against the configured one");
  em->add_option("--rate", et.rate, "frames per second through the delay line")->check(CLI::Range(std::uint64_t{1000}, std::uint64_t{10000000}));
  em->add_option("--samples", et.samples, "round trips to measure")->check(CLI::Range(std::size_t{1000}, std::size_t{100000000}));
  em->add_option("--delay-ms", et.delay_ms, "one-way delay")->check(CLI::Range(0.1, 10000.0));
  em->add_option("--jitter-ms", et.jitter_ms, "jitter")->check(CLI::Range(0.0, 10000.0));
  em->add_option("--jitter", et.jitter, "uniform (delay +- jitter), normal (sd = jitter) or constant")
      ->check(CLI::IsMember({"uniform", "normal", "constant"}));
  em->add_option("--seed", et.seed, "random seed");
  em->add_option("--quantum-us", et.quantum_us, "least time between two wake-ups of the pump")->check(CLI::Range(0u, 10000u));
  em->add_option("--backend", et.backend, "auto, uring or epoll")->check(CLI::IsMember({"auto", "uring", "epoll"}));
  em->add_option("--json", et.json, "write the figures as JSON here");
  confab::tools::launch_options launch;
  auto* la = app.add_subcommand("launch", "a whole cluster on this machine from one cluster file (docs/launch.md)");
  la->require_subcommand(1);
  auto* la_up = la->add_subcommand("up", "start the seeds and peers, supervise them, stop them all on Ctrl-C");
  la_up->add_option("cluster", launch.cluster_file, "the cluster file (TOML: [launch] and the node tables)")->required();
  la_up->add_option("--for", launch.for_seconds, "stop by itself after this many seconds (0: on SIGINT/SIGTERM)")
      ->check(CLI::Range(0u, 31536000u));
  la_up->add_option("--progress", launch.progress_seconds, "seconds between progress lines")->check(CLI::Range(1u, 3600u));
  la_up->add_option("--confab", launch.confab, "the confab binary the nodes run (default: this one)");
  auto* la_status = la->add_subcommand("status", "every node: process, restarts, uptime, and whether the PL holds it");
  la_status->add_option("cluster", launch.cluster_file, "the cluster file")->required();
  la_status->add_flag("--json", launch.json, "one JSON object per node, then a summary");
  auto* la_stop = la->add_subcommand("stop", "stop a running launch (as Ctrl-C would) and wait for it");
  la_stop->add_option("cluster", launch.cluster_file, "the cluster file")->required();
  confab::tools::launch_k8s_options k8s;
  auto* la_k8s = la->add_subcommand("k8s", "the cluster as Kubernetes objects: StatefulSets, headless Services, PDBs, a ConfigMap");
  la_k8s->add_option("cluster", k8s.cluster_file, "the cluster file (its [launch] seeds, peers, ports and node tables)")->required();
  la_k8s->add_option("--out", k8s.out, "write the YAML here (default: stdout)");
  la_k8s->add_option("--image", k8s.image, "the container image with confab on its PATH")->capture_default_str();
  la_k8s->add_option("--namespace", k8s.k8s_namespace, "the Kubernetes namespace")->capture_default_str();
  la_k8s->add_option("--cluster-domain", k8s.cluster_domain, "the cluster's DNS domain")->capture_default_str();
  la_k8s->add_option("--storage", k8s.storage, "each seed's volume (its Raft log)")->capture_default_str();
  confab::tools::vote_server_options vs;
  auto* vsc = app.add_subcommand("vote-server", "a voting server (document 001), the document's dialect: nc -C IP PORT (docs/voting.md)");
  vsc->add_option("--listen", vs.listen, "IP:PORT for the document's dialect")->required();
  vsc->add_option("--native-listen", vs.native_listen, "IP:PORT for the native dialect (status codes, AUTH by HMAC challenge)");
  vsc->add_option("--key-file", vs.key_file, "the cluster key (64 hex digits): native clients AUTH with it");
  vsc->add_option("--backend", vs.backend, "auto, uring or epoll")->check(CLI::IsMember({"auto", "uring", "epoll"}));
  vsc->add_option("--riddle", vs.riddle, "the challenge asked first");
  vsc->add_option("--answer", vs.answer, "its answer (any case)");
  vsc->add_option("--question", vs.question, "the question a poll opened by 'vote' asks (choices A and B)");
  vsc->add_option("--idle-timeout-ms", vs.idle_timeout_ms, "a client silent this long is closed (0: never)")
      ->check(CLI::Range(0u, 86400000u));
  vsc->add_option("--line-bytes-max", vs.line_bytes_max, "a longer line is refused, the connection kept")
      ->check(CLI::Range(16u, 65536u));
  vsc->add_option("--connections-max", vs.connections_max, "clients at once (each one descriptor, direct on io_uring)")
      ->check(CLI::Range(1u, 1000000u));
  vsc->add_option("--connections-per-source-max", vs.connections_per_source_max, "clients at once from one IP (0: no cap)")
      ->check(CLI::Range(0u, 1000000u));
  confab::tools::vote_client_options vo;
  auto* voc = app.add_subcommand("vote", "one client of a voting server's native dialect: authenticate, send commands, print the answers");
  voc->add_option("--server", vo.server, "IP:PORT of the server's native dialect")->required();
  voc->add_option("--key-file", vo.key_file, "the cluster key (64 hex digits): AUTH by HMAC challenge");
  voc->add_option("--answer", vo.answer, "the riddle's answer, without a key file (default keyboard)");
  voc->add_option("--timeout-s", vo.timeout_s, "the whole session ends by itself after this")->check(CLI::Range(1u, 86400u))->capture_default_str();
  voc->add_flag("--wait-closed", vo.wait_closed, "after the commands, wait for the next poll decision (603)");
  voc->add_option("commands", vo.commands, "commands, one per argument: OPEN q|a|b, VOTE poll choice, STATS [poll], DISCOVER, ...");
  confab::tools::vote_load_options vl;
  auto* vlc = app.add_subcommand("vote-load", "N clients of a voting server in the document's dialect: register, vote, hear the decision");
  vlc->add_option("--server", vl.server, "IP:PORT of the server's document dialect")->required();
  vlc->add_option("--clients", vl.clients, "clients")->check(CLI::Range(2u, 1000000u))->capture_default_str();
  vlc->add_option("--handshakes", vl.handshakes, "registrations in flight at once")->check(CLI::Range(1u, 100000u))->capture_default_str();
  vlc->add_option("--answer", vl.answer, "the riddle's answer")->capture_default_str();
  vlc->add_option("--timeout-s", vl.timeout_s, "the whole run stops by itself after this")->check(CLI::Range(1u, 86400u))->capture_default_str();
  vlc->add_option("--server-pid", vl.server_pid, "read this process's resident memory once every client is registered");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 2.
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (sm->parsed()) return confab::tools::run_sim_command(sim);
  if (vlc->parsed()) return confab::tools::run_vote_load_command(vl);
  if (voc->parsed()) return confab::tools::run_vote_client_command(vo);
  if (av->parsed()) return confab::tools::run_avg_command(avg);
  if (an->parsed()) return confab::tools::run_avg_node_command(avg_node);
  if (en->parsed()) return confab::tools::run_exact_node_command(exact_node);
  if (em->parsed()) return confab::tools::run_emulator_test(et);
  if (e->parsed()) return confab::tools::run_exact_command(exact);
  if (sd->parsed()) return confab::tools::run_seed_command(seed);
  if (sr->parsed()) return confab::tools::run_seed_repair_command(repair);
  if (sl->parsed()) return confab::tools::run_seed_load_command(load);
  if (pr->parsed()) return confab::tools::run_peer_command(peer);
  if (sq->parsed()) return confab::tools::run_seed_query_command(q);
  if (mb->parsed()) return confab::tools::run_members_command(mem);
  if (fv->parsed()) return confab::tools::run_force_leave_command(fl);
  if (la_up->parsed()) return confab::tools::run_launch_up(launch);
  if (la_status->parsed()) return confab::tools::run_launch_status(launch);
  if (la_stop->parsed()) return confab::tools::run_launch_stop(launch);
  if (la_k8s->parsed()) return confab::tools::run_launch_k8s(k8s);
  if (vsc->parsed()) return confab::tools::run_vote_server_command(vs);
  if (d->parsed()) {
    confab::io::parse_backend_choice(backend, demo.backend);
    return confab::tools::run_demo_command(demo);
  }
  return 2;
}
