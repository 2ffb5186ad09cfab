#include "tools/confab/launch.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "harness/toml_util.hpp"
#include "tools/confab/config.hpp"
#include "tools/confab/node_cmd.hpp"

namespace confab::tools {

namespace fs = std::filesystem;
using harness::table_reader;
using clock_type = std::chrono::steady_clock;

namespace {

std::string node_ip(const cluster_spec& c, bool seed, unsigned i) {
  // Loopback: seeds at 127.0.1.x, peers at 127.1.x.y (seed-load's synthetic
  // peers use 127.2.x.y). Namespaces: seeds at SUBNET.1.x, peers from SUBNET.2.1.
  const unsigned hi = i / 254, lo = i % 254 + 1;
  if (!c.netns) return seed ? "127.0.1." + std::to_string(lo) : "127.1." + std::to_string(hi) + "." + std::to_string(lo);
  return c.subnet + "." + std::to_string(seed ? 1 : 2 + hi) + "." + std::to_string(lo);
}

}  // namespace

std::string node_toml(const cluster_spec& c, const std::string& seeds_file, const std::string& data_dir,
                      const std::string& key_file) {
  // Keys before the first table; toml++ writes the tables' own root keys
  // (replay_window_ms, resolve_wait_ms) first, so the two texts join.
  std::string t = "# written by confab launch from " + fs::absolute(fs::path(c.file)).string() + "; edit that file instead\n";
  auto quoted = [](const std::string& v) {
    std::ostringstream o;
    o << toml::value<std::string>(v);
    return o.str();
  };
  t += "seeds_file = " + quoted(seeds_file) + "\n";
  t += "data_dir = " + quoted(data_dir) + "\n";
  if (!key_file.empty()) t += "cluster_key_file = " + quoted(key_file) + "\n";
  return t + c.node_tables;
}

result<cluster_spec, problem> load_cluster(const std::string& path) {
  auto root = harness::read_toml(path);
  if (!root) return root.error();
  cluster_spec c;
  c.file = path;
  const auto* launch = (*root)["launch"].as_table();
  if (!launch) return problem{path + ": a [launch] table is required (seeds, peers, network, ...)"};
  table_reader r(*launch, "launch.", path);
  std::string network = "loopback", run_dir = "run";
  r.only({"seeds", "peers", "network", "subnet", "port", "metrics_port", "backend", "run_dir", "restart", "restart_max",
          "restart_delay_ms", "stop_timeout_ms", "start_rate"})
      .integer("seeds", 1, 254, c.seeds)
      .integer("peers", 0, 60000, c.peers)
      .choice("network", {std::pair{"loopback", std::string("loopback")}, std::pair{"netns", std::string("netns")}}, network)
      .text("subnet", c.subnet)
      .integer("port", 1, 65535, c.port)
      .integer("metrics_port", 0, 65535, c.metrics_port)
      .choice("backend", {std::pair{"auto", std::string("auto")}, std::pair{"uring", std::string("uring")},
                          std::pair{"epoll", std::string("epoll")}}, c.backend)
      .text("run_dir", run_dir)
      .choice("restart", {std::pair{"never", restart_policy::never}, std::pair{"on-failure", restart_policy::on_failure},
                          std::pair{"always", restart_policy::always}}, c.restart)
      .integer("restart_max", 0, 1000, c.restart_max)
      .integer("restart_delay_ms", 0, 600000, c.restart_delay_ms)
      .integer("stop_timeout_ms", 100, 600000, c.stop_timeout_ms)
      .integer("start_rate", 1, 10000, c.start_rate);
  r.check(c.metrics_port != c.port, "launch.metrics_port must differ from launch.port");
  unsigned a = 0, b = 0;
  char tail = 0;
  r.check(std::sscanf(c.subnet.c_str(), "%u.%u%c", &a, &b, &tail) == 2 && a < 256 && b < 256 && a != 127 && a != 0,
          "launch.subnet must be two numbers A.B (the nodes get A.B.x.y/16), not 127 or 0");
  if (auto done = r.done(); !done) return done.error();
  c.netns = network == "netns";
  if (c.netns && c.peers > 253 * 254) return problem{path + ": launch.peers: at most 64262 in one /16"};
  const auto base = fs::absolute(fs::path(path)).parent_path();
  c.run_dir = (base / run_dir).lexically_normal().string();

  // The node tables go to every node as they are; the file names are the
  // launcher's.
  toml::table node = *root;
  node.erase("launch");
  for (auto&& [key, value] : node) {
    const std::string k(key.str());
    if (k == "seeds_file" || k == "data_dir")
      return problem{path + ": '" + k + "' is the launcher's to set (RUN/seeds.txt, RUN/data); leave it out"};
  }
  if (auto* key = node["cluster_key_file"].as_string()) {
    c.key_file = (base / key->get()).lexically_normal().string();
    node.erase("cluster_key_file");
  }
  c.resolve_wait_set = node.contains("resolve_wait_ms");
  std::ostringstream text;
  text << node << "\n";
  c.node_tables = text.str();
  c.node_toml = node_toml(c, "seeds.txt", "data", c.key_file);

  const std::string tag = "cf" + std::to_string(std::hash<std::string>{}(c.run_dir) % 100000);
  for (unsigned i = 0; i < c.seeds; ++i)
    c.nodes.push_back({"seed-" + std::to_string(i), "seed", node_ip(c, true, i), c.netns ? tag + "s" + std::to_string(i) : ""});
  for (unsigned i = 0; i < c.peers; ++i)
    c.nodes.push_back({"peer-" + std::to_string(i), "peer", node_ip(c, false, i), c.netns ? tag + "p" + std::to_string(i) : ""});
  return c;
}

namespace {

std::string hub_of(const cluster_spec& c) {
  return "cf" + std::to_string(std::hash<std::string>{}(c.run_dir) % 100000) + "hub";
}

std::string self_exe() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("confab") : p.string();
}

// Runs a command to its end; its exit status (127: could not start).
int run_quiet(const std::vector<std::string>& argv, std::string* out = nullptr) {
  int pipefd[2] = {-1, -1};
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return 127;
  const pid_t pid = ::fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(pipefd[1], 1);
    if (!out) ::dup2(pipefd[1], 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  std::string text;
  char b[4096];
  for (;;) {
    const auto n = ::read(pipefd[0], b, sizeof b);
    if (n > 0) {
      text.append(b, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (out) *out = text;
  else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) std::fprintf(stderr, "%s", text.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  if (run_quiet(argv) == 0) return true;
  std::string line;
  for (auto& a : argv) line += a + " ";
  std::fprintf(stderr, "confab launch: failed: %s\n", line.c_str());
  return false;
}

void remove_namespaces(const cluster_spec& c) {
  for (auto& n : c.nodes)
    if (!n.netns.empty() && fs::exists("/run/netns/" + n.netns)) (void)run_quiet({"ip", "netns", "del", n.netns});
  if (fs::exists("/run/netns/" + hub_of(c))) (void)run_quiet({"ip", "netns", "del", hub_of(c)});
}

// A hub namespace with a bridge, and one namespace per node on it; the
// supervisor then moves itself into the hub, so it reaches every node and
// the machine's own network is never touched.
bool make_namespaces(const cluster_spec& c) {
  remove_namespaces(c);  // a previous run's, if it was killed
  const auto hub = hub_of(c);
  if (!ip({"netns", "add", hub}) || !ip({"-n", hub, "link", "set", "lo", "up"}) ||
      !ip({"-n", hub, "link", "add", "br0", "type", "bridge"}) ||
      !ip({"-n", hub, "addr", "add", c.subnet + ".255.254/16", "dev", "br0"}) || !ip({"-n", hub, "link", "set", "br0", "up"}))
    return false;
  std::size_t done = 0;
  for (std::size_t i = 0; i < c.nodes.size(); ++i) {
    const auto& n = c.nodes[i];
    const std::string v = "v" + std::to_string(i);
    if (!ip({"netns", "add", n.netns}) || !ip({"-n", n.netns, "link", "set", "lo", "up"}) ||
        !ip({"-n", hub, "link", "add", v, "type", "veth", "peer", "name", "eth0", "netns", n.netns}) ||
        !ip({"-n", hub, "link", "set", v, "master", "br0", "up"}) ||
        !ip({"-n", n.netns, "addr", "add", n.ip + "/16", "dev", "eth0"}) || !ip({"-n", n.netns, "link", "set", "eth0", "up"}))
      return false;
    if (++done % 100 == 0) std::fprintf(stderr, "confab launch: %zu/%zu namespaces made\n", done, c.nodes.size());
  }
  const int fd = ::open(("/run/netns/" + hub).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "confab launch: cannot enter the namespace %s: %s\n", hub.c_str(), std::strerror(errno));
    if (fd >= 0) ::close(fd);
    return false;
  }
  ::close(fd);
  return true;
}

struct proc {
  const cluster_node* node = nullptr;
  std::vector<std::string> argv;
  pid_t pid = -1;
  std::string state = "waiting";  // waiting, running, restarting, failed, exited, stopped
  unsigned restarts = 0;
  std::string last_exit;
  clock_type::time_point start_at{};
  std::int64_t started_unix = 0;
};

std::string exit_text(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by ") + sigabbrev_np(WTERMSIG(status));
  return "ended";
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool spawn(proc& p, const std::string& log_dir) {
  const std::string log = log_dir + "/" + p.node->name + ".log";
  const pid_t pid = ::fork();
  if (pid < 0) {
    p.last_exit = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    ::setpgid(0, 0);  // the terminal's Ctrl-C reaches the supervisor only: it stops the nodes in order
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    const int null = ::open("/dev/null", O_RDONLY);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (null < 0 || out < 0) ::_exit(126);
    ::dup2(null, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    std::vector<char*> args;
    for (auto& a : p.argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "confab launch: cannot run %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  p.pid = pid;
  p.state = "running";
  p.started_unix = unix_now();
  return true;
}

bool accepts(const std::string& ip, std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

void write_state(const cluster_spec& c, const std::vector<proc>& ps, const std::string& phase, std::int64_t since) {
  nlohmann::ordered_json j = {{"cluster_file", fs::absolute(c.file).string()},
                              {"supervisor_pid", ::getpid()},
                              {"phase", phase},
                              {"since", since},
                              {"network", c.netns ? "netns" : "loopback"},
                              {"hub_netns", c.netns ? hub_of(c) : ""},
                              {"nodes", nlohmann::json::array()}};
  for (auto& p : ps) {
    const auto& n = *p.node;
    j["nodes"].push_back(nlohmann::ordered_json{
        {"name", n.name}, {"role", n.role}, {"address", n.ip + ":" + std::to_string(c.port)},
        {"metrics", c.metrics_port ? n.ip + ":" + std::to_string(c.metrics_port) : ""}, {"netns", n.netns},
        {"pid", p.pid}, {"state", p.state}, {"restarts", p.restarts}, {"started", p.started_unix}, {"last_exit", p.last_exit}});
  }
  const auto tmp = c.run_dir + "/launch.json.tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << j.dump(1) << "\n";
  }
  fs::rename(tmp, c.run_dir + "/launch.json");
}

std::vector<std::string> node_argv(const cluster_spec& c, const std::string& exe, const cluster_node& n, unsigned ordinal) {
  std::vector<std::string> a;
  if (!n.netns.empty()) a = {"ip", "netns", "exec", n.netns};
  const auto at = n.ip + ":" + std::to_string(c.port);
  a.insert(a.end(), {exe, n.role, "--config", c.run_dir + "/node.toml", "--listen", at, "--backend", c.backend});
  if (n.role == "seed") a.insert(a.end(), {"--ordinal", std::to_string(ordinal)});
  if (c.metrics_port) a.insert(a.end(), {"--metrics", n.ip + ":" + std::to_string(c.metrics_port)});
  return a;
}

int signal_fd() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &s, nullptr);
  return ::signalfd(-1, &s, SFD_CLOEXEC | SFD_NONBLOCK);
}

}  // namespace

int run_launch_up(const launch_options& o) {
  auto spec = load_cluster(o.cluster_file);
  if (!spec) {
    std::fprintf(stderr, "confab launch: %s\n", spec.error().text.c_str());
    return 2;
  }
  auto& c = *spec;
  std::error_code ec;
  fs::create_directories(c.run_dir + "/logs", ec);
  if (ec) {
    std::fprintf(stderr, "confab launch: cannot make %s: %s\n", c.run_dir.c_str(), ec.message().c_str());
    return 2;
  }
  auto lock = lock_node_files(c.run_dir + "/launch");
  if (!lock) {
    std::fprintf(stderr, "confab launch: %s\n", lock.error().text.c_str());
    return 1;
  }
  {
    std::ofstream node(c.run_dir + "/node.toml", std::ios::trunc), seeds(c.run_dir + "/seeds.txt", std::ios::trunc);
    node << c.node_toml;
    seeds << "# written by confab launch: seed k is entry k (confab seed --ordinal k)\n";
    for (auto& n : c.nodes)
      if (n.role == "seed") seeds << n.ip << ":" << c.port << "\n";
  }
  // Every node reads this file: refuse it here, naming the cluster file,
  // before anything starts.
  auto refuse = [&](std::string text) {
    const auto generated = c.run_dir + "/node.toml: ";
    if (text.rfind(generated, 0) == 0) text = text.substr(generated.size());
    std::fprintf(stderr, "confab launch: %s: %s\n", c.file.c_str(), text.c_str());
    return 2;
  };
  if (auto s = load_seed_settings(c.run_dir + "/node.toml"); !s) return refuse(s.error().text);
  if (auto p = load_peer_settings(c.run_dir + "/node.toml"); !p) return refuse(p.error().text);
  if (c.netns && ::geteuid() != 0) {
    std::fprintf(stderr, "confab launch: network = \"netns\" needs root (ip netns)\n");
    return 2;
  }
  const int sfd = signal_fd();
  if (c.netns && !make_namespaces(c)) {
    remove_namespaces(c);
    return 1;
  }
  const std::string exe = o.confab.empty() ? self_exe() : o.confab;
  std::vector<proc> ps(c.nodes.size());
  unsigned seed_ordinal = 0;
  for (std::size_t i = 0; i < c.nodes.size(); ++i) {
    ps[i].node = &c.nodes[i];
    ps[i].argv = node_argv(c, exe, c.nodes[i], c.nodes[i].role == "seed" ? seed_ordinal++ : 0);
  }
  const auto since = unix_now();
  const auto t0 = clock_type::now();
  auto elapsed = [&] { return std::chrono::duration<double>(clock_type::now() - t0).count(); };
  std::fprintf(stderr, "confab launch: %u seeds and %u peers on %s, run dir %s\n", c.seeds, c.peers,
               c.netns ? ("network namespaces, " + c.subnet + ".0.0/16").c_str() : "loopback", c.run_dir.c_str());

  bool stopping = false;
  const auto deadline = o.for_seconds ? t0 + std::chrono::seconds(o.for_seconds) : clock_type::time_point::max();
  auto next_progress = t0 + std::chrono::seconds(o.progress_seconds);
  bool changed = true;
  std::size_t next_peer = c.seeds;  // peers start once the seeds accept connections, start_rate per 100 ms
  bool seeds_ready = false, peers_announced = false;
  const auto seeds_wait_until = t0 + std::chrono::seconds(30);
  for (std::size_t i = 0; i < c.seeds; ++i) {
    if (spawn(ps[i], c.run_dir + "/logs"))
      std::fprintf(stderr, "confab launch: %s %s:%u started (pid %d)\n", c.nodes[i].name.c_str(), c.nodes[i].ip.c_str(), c.port, ps[i].pid);
  }
  auto reap = [&] {
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      for (auto& p : ps) {
        if (p.pid != pid) continue;
        p.pid = -1;
        p.last_exit = exit_text(status);
        changed = true;
        const bool failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        if (stopping) {
          p.state = "stopped";
          break;
        }
        const bool again = c.restart == restart_policy::always || (c.restart == restart_policy::on_failure && failed);
        if (again && p.restarts < c.restart_max) {
          const auto delay = std::min<std::uint64_t>(10000, std::uint64_t{c.restart_delay_ms} << std::min(p.restarts, 20u));
          p.state = "restarting";
          p.start_at = clock_type::now() + std::chrono::milliseconds(delay);
          std::fprintf(stderr, "confab launch: %.1f s: %s %s; restart %u/%u in %llu ms (log %s/logs/%s.log)\n", elapsed(),
                       p.node->name.c_str(), p.last_exit.c_str(), p.restarts + 1, c.restart_max,
                       static_cast<unsigned long long>(delay), c.run_dir.c_str(), p.node->name.c_str());
        } else {
          p.state = failed ? "failed" : "exited";
          std::fprintf(stderr, "confab launch: %.1f s: %s %s; %s (log %s/logs/%s.log)\n", elapsed(), p.node->name.c_str(),
                       p.last_exit.c_str(), again ? "restarted too often, left down" : "not restarted (restart policy)",
                       c.run_dir.c_str(), p.node->name.c_str());
        }
        break;
      }
    }
  };
  auto stop_group = [&](const char* role) {
    for (auto& p : ps)
      if (p.node->role == role && p.pid > 0) ::kill(p.pid, SIGTERM);
    const auto until = clock_type::now() + std::chrono::milliseconds(c.stop_timeout_ms);
    for (;;) {
      reap();
      const bool any = std::any_of(ps.begin(), ps.end(), [&](const proc& p) { return p.node->role == role && p.pid > 0; });
      if (!any) break;
      if (clock_type::now() >= until) {
        for (auto& p : ps)
          if (p.node->role == role && p.pid > 0) {
            std::fprintf(stderr, "confab launch: %s did not stop within %u ms: killed\n", p.node->name.c_str(), c.stop_timeout_ms);
            ::kill(p.pid, SIGKILL);
          }
        while (std::any_of(ps.begin(), ps.end(), [&](const proc& p) { return p.node->role == role && p.pid > 0; })) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
          reap();
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    for (auto& p : ps)
      if (p.node->role == role && (p.state == "restarting" || p.state == "waiting")) p.state = "stopped";
  };

  while (!stopping) {
    pollfd pf{.fd = sfd, .events = POLLIN, .revents = 0};
    ::poll(&pf, 1, 100);
    signalfd_siginfo si{};
    while (::read(sfd, &si, sizeof si) == sizeof si) {
      if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
        std::fprintf(stderr, "confab launch: %s received, stopping\n", sigabbrev_np(static_cast<int>(si.ssi_signo)));
        stopping = true;
      }
    }
    reap();
    if (stopping) break;
    const auto now = clock_type::now();
    if (now >= deadline) {
      std::fprintf(stderr, "confab launch: %u s are up, stopping\n", o.for_seconds);
      stopping = true;
      break;
    }
    if (!seeds_ready) {
      seeds_ready = std::all_of(ps.begin(), ps.begin() + c.seeds, [&](const proc& p) {
        return p.state != "running" || accepts(p.node->ip, c.port);
      });
      if (!seeds_ready && now >= seeds_wait_until) {
        std::fprintf(stderr, "confab launch: the seeds do not accept connections after 30 s; starting the peers anyway\n");
        seeds_ready = true;
      }
    }
    if (seeds_ready) {
      for (unsigned k = 0; k < c.start_rate && next_peer < ps.size(); ++k, ++next_peer)
        if (spawn(ps[next_peer], c.run_dir + "/logs")) changed = true;
      if (next_peer == ps.size() && !peers_announced) {
        peers_announced = true;
        std::fprintf(stderr, "confab launch: %.1f s: %u peers started\n", elapsed(), c.peers);
      }
    }
    for (auto& p : ps) {
      if (p.state != "restarting" || now < p.start_at) continue;
      ++p.restarts;
      if (spawn(p, c.run_dir + "/logs")) {
        std::fprintf(stderr, "confab launch: %.1f s: %s restarted (pid %d)\n", elapsed(), p.node->name.c_str(), p.pid);
        changed = true;
      }
    }
    if (changed) {
      write_state(c, ps, "running", since);
      changed = false;
    }
    if (now >= next_progress) {
      next_progress = now + std::chrono::seconds(o.progress_seconds);
      std::size_t running = 0, restarts = 0, failed = 0;
      for (auto& p : ps) {
        running += p.state == "running";
        restarts += p.restarts;
        failed += p.state == "failed" || p.state == "exited";
      }
      std::fprintf(stderr, "confab launch: %.0f s: %zu/%zu running, %zu restarts, %zu down\n", elapsed(), running, ps.size(),
                   restarts, failed);
    }
  }
  write_state(c, ps, "stopping", since);
  const bool any_down =
      std::any_of(ps.begin(), ps.end(), [](const proc& p) { return p.state == "failed" || p.state == "exited"; });
  // Peers first: they leave through the seeds, which must still be there.
  stop_group("peer");
  stop_group("seed");
  write_state(c, ps, "stopped", since);
  if (c.netns) remove_namespaces(c);
  std::size_t restarts = 0;
  for (auto& p : ps) restarts += p.restarts;
  std::fprintf(stderr, "confab launch: stopped after %.1f s; %zu restarts; %s\n", elapsed(), restarts,
               any_down ? "some nodes were down at the stop (exit 1)" : "every node ran until the stop");
  return any_down ? 1 : 0;
}

namespace {

std::optional<nlohmann::json> read_state(const cluster_spec& c) {
  std::ifstream f(c.run_dir + "/launch.json");
  if (!f) return std::nullopt;
  auto j = nlohmann::json::parse(f, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

// Running, and not a zombie waiting for its parent to reap it.
bool process_running(int pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  return paren == std::string::npos || paren + 2 >= text.size() || text[paren + 2] != 'Z';
}

bool supervisor_alive(const nlohmann::json& st) {
  const int pid = st.value("supervisor_pid", 0);
  if (!process_running(pid)) return false;
  std::ifstream cmd("/proc/" + std::to_string(pid) + "/cmdline");
  std::string line((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
  return line.find("launch") != std::string::npos;
}

}  // namespace

int run_launch_status(const launch_options& o) {
  auto spec = load_cluster(o.cluster_file);
  if (!spec) {
    std::fprintf(stderr, "confab launch status: %s\n", spec.error().text.c_str());
    return 2;
  }
  auto& c = *spec;
  auto st = read_state(c);
  if (!st) {
    std::fprintf(stderr, "confab launch status: no launch in %s (no launch.json)\n", c.run_dir.c_str());
    return 1;
  }
  const bool alive = supervisor_alive(*st) && st->value("phase", "") == "running";
  // The PL, from any seed, through `confab members` (inside the hub when
  // the nodes live in namespaces).
  std::map<std::string, std::string> member_state;
  nlohmann::json pl_summary;
  if (alive) {
    std::vector<std::string> argv;
    if (c.netns) argv = {"ip", "netns", "exec", hub_of(c)};
    argv.insert(argv.end(), {o.confab.empty() ? self_exe() : o.confab, "members", "--seeds", c.run_dir + "/seeds.txt", "--json",
                             "--timeout-ms", "3000"});
    std::string out;
    (void)run_quiet(argv, &out);
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) continue;
      if (j.contains("member")) member_state[j["member"].get<std::string>()] = j.value("state", "");
      else if (j.contains("pl_size")) pl_summary = j;
    }
  }
  std::size_t running = 0, in_pl = 0, peers = 0;
  const auto now = unix_now();
  nlohmann::ordered_json rows = nlohmann::json::array();
  for (auto& n : (*st)["nodes"]) {
    const int pid = n.value("pid", -1);
    const bool up = alive && process_running(pid) && n.value("state", "") == "running";
    running += up;
    const std::string addr = n.value("address", "");
    const bool peer = n.value("role", "") == "peer";
    std::string pl = "-";
    if (peer) {
      ++peers;
      auto it = member_state.find(addr);
      pl = it == member_state.end() ? "no" : it->second;
      in_pl += it != member_state.end() && it->second == "alive";
    }
    nlohmann::ordered_json row = {{"name", n.value("name", "")}, {"role", n.value("role", "")}, {"address", addr},
                                  {"pid", pid}, {"state", up ? "running" : n.value("state", "")},
                                  {"restarts", n.value("restarts", 0)},
                                  {"uptime_s", up ? now - n.value("started", now) : 0}, {"pl", pl},
                                  {"metrics", n.value("metrics", "")}, {"last_exit", n.value("last_exit", "")}};
    rows.push_back(row);
  }
  const bool healthy = alive && running == rows.size() && in_pl == peers && !pl_summary.is_null();
  nlohmann::ordered_json summary = {{"cluster_file", st->value("cluster_file", "")},
                                    {"supervisor", alive ? "running" : "not running"},
                                    {"supervisor_pid", st->value("supervisor_pid", 0)},
                                    {"nodes", rows.size()},
                                    {"running", running},
                                    {"peers_in_pl", in_pl},
                                    {"peers", peers},
                                    {"pl_size", pl_summary.is_null() ? nlohmann::json() : pl_summary["pl_size"]},
                                    {"leader", pl_summary.is_null() ? nlohmann::json() : pl_summary["leader"]},
                                    {"term", pl_summary.is_null() ? nlohmann::json() : pl_summary["term"]},
                                    {"healthy", healthy}};
  if (o.json) {
    for (auto& r : rows) std::printf("%s\n", r.dump().c_str());
    std::printf("%s\n", summary.dump().c_str());
  } else {
    std::printf("%-10s %-5s %-22s %8s %-10s %8s %8s %-10s %s\n", "NAME", "ROLE", "ADDRESS", "PID", "STATE", "RESTARTS", "UPTIME",
                "PL", "LAST EXIT");
    for (auto& r : rows)
      std::printf("%-10s %-5s %-22s %8d %-10s %8d %7llds %-10s %s\n", r["name"].get<std::string>().c_str(),
                  r["role"].get<std::string>().c_str(), r["address"].get<std::string>().c_str(), r["pid"].get<int>(),
                  r["state"].get<std::string>().c_str(), r["restarts"].get<int>(),
                  static_cast<long long>(r["uptime_s"].get<std::int64_t>()), r["pl"].get<std::string>().c_str(),
                  r["last_exit"].get<std::string>().c_str());
    std::printf("supervisor %s (pid %d); %zu/%zu nodes running; %zu/%zu peers alive in the PL", alive ? "running" : "not running",
                st->value("supervisor_pid", 0), running, rows.size(), in_pl, peers);
    if (!pl_summary.is_null())
      std::printf(" (PL %s, leader %s, term %s)", pl_summary["pl_size"].dump().c_str(),
                  pl_summary.value("leader", "").c_str(), pl_summary["term"].dump().c_str());
    else if (alive)
      std::printf(" (no seed answered)");
    std::printf("\n");
  }
  return healthy ? 0 : 1;
}

int run_launch_stop(const launch_options& o) {
  auto spec = load_cluster(o.cluster_file);
  if (!spec) {
    std::fprintf(stderr, "confab launch stop: %s\n", spec.error().text.c_str());
    return 2;
  }
  auto st = read_state(*spec);
  if (!st || !supervisor_alive(*st)) {
    std::fprintf(stderr, "confab launch stop: no launch running in %s\n", spec->run_dir.c_str());
    return 1;
  }
  const int pid = st->value("supervisor_pid", 0);
  ::kill(pid, SIGTERM);
  const auto until = clock_type::now() + std::chrono::milliseconds(2 * spec->stop_timeout_ms + 10000);
  while (process_running(pid) && clock_type::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (process_running(pid)) {
    std::fprintf(stderr, "confab launch stop: the supervisor (pid %d) is still running\n", pid);
    return 1;
  }
  std::fprintf(stderr, "confab launch stop: stopped (pid %d)\n", pid);
  return 0;
}

}  // namespace confab::tools
