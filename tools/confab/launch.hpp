// `confab launch`: a whole cluster on one machine from one cluster file.
//
//   confab launch up cluster.toml [--for S]   # start, supervise, stop on Ctrl-C
//   confab launch status cluster.toml [--json]
//   confab launch stop cluster.toml
//
// The cluster file (docs/launch.md) has a [launch] table (how many seeds
// and peers, loopback or network namespaces, ports, restart policy) and the
// node tables of docs/config.md ([seed], [peer], [connections], [logs]),
// which every node receives unchanged through `RUN/node.toml`. Seed k is
// started with `--ordinal k`: its identity is entry k of `RUN/seeds.txt`.
//
// The supervisor runs in the foreground, one child process per node, each
// in its own process group with its output in `RUN/logs/NAME.log`. A node
// that exits is restarted by the policy (never, on-failure, always) after a
// delay that doubles up to 10 s, at most `restart_max` times. SIGINT or
// SIGTERM stops the peers first (so they leave through the seeds), then the
// seeds; a node still running after `stop_timeout_ms` is killed. The
// supervisor's view is written to `RUN/launch.json` at every change; `status`
// reads it and asks the seeds for the PL.
//
// Exit codes: 0 every node ran until the stop (restarts allowed); 1 a node
// failed for good, or (status) a node or member is missing; 2 a bad cluster
// file or usage.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/result.hpp"

namespace confab::tools {

enum class restart_policy { never, on_failure, always };

struct cluster_node {
  std::string name;  // seed-0, peer-12
  std::string role;  // seed, peer
  std::string ip;    // the node's own address (127.x or 10.x inside its namespace)
  std::string netns;  // its namespace, empty on loopback
};

// The cluster file, read and checked.
struct cluster_spec {
  std::string file;      // the cluster file's path
  std::string run_dir;   // absolute
  unsigned seeds = 3, peers = 10;
  bool netns = false;
  std::string subnet = "10.88";  // netns: nodes at SUBNET.x.y/16, the hub's bridge at SUBNET.255.254
  std::uint16_t port = 7001;     // every node's port (each has its own address)
  std::uint16_t metrics_port = 9100;  // 0: no metrics
  std::string backend = "auto";
  restart_policy restart = restart_policy::on_failure;
  unsigned restart_max = 5;
  unsigned restart_delay_ms = 500;
  unsigned stop_timeout_ms = 5000;
  unsigned start_rate = 50;  // peers started per 100 ms
  std::string node_tables;   // the cluster file without [launch] and the file keys, as TOML
  std::string key_file;      // cluster_key_file, absolute; empty: none
  bool resolve_wait_set = false;  // the cluster file sets resolve_wait_ms
  std::string node_toml;     // RUN/node.toml: the node tables and the launcher's file keys
  std::vector<cluster_node> nodes;  // seeds first
};
result<cluster_spec, problem> load_cluster(const std::string& path);

// The node settings file every node of the cluster reads: the cluster
// file's node tables with these file keys (paths written as given).
std::string node_toml(const cluster_spec& c, const std::string& seeds_file, const std::string& data_dir,
                      const std::string& key_file);

struct launch_options {
  std::string cluster_file;
  unsigned for_seconds = 0;  // up: stop by itself after (0: until SIGINT/SIGTERM)
  unsigned progress_seconds = 10;
  bool json = false;         // status
  std::string confab;        // the binary to start; default: this one
};
int run_launch_up(const launch_options& o);
int run_launch_status(const launch_options& o);
int run_launch_stop(const launch_options& o);

// `confab launch k8s cluster.toml`: the cluster as Kubernetes objects
// (docs/launch.md, "Kubernetes"): a ConfigMap with node.toml and the seed
// list of the seeds' DNS names, a headless Service and a StatefulSet each for
// seeds and peers, and a PodDisruptionBudget each. YAML on stdout or --out.
struct launch_k8s_options {
  std::string cluster_file;
  std::string out;  // empty or "-": stdout
  std::string image = "confab:latest";
  std::string k8s_namespace = "default";
  std::string cluster_domain = "cluster.local";
  std::string storage = "1Gi";  // each seed's volume for its Raft log
};
int run_launch_k8s(const launch_k8s_options& o);

}  // namespace confab::tools
