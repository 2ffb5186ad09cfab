// `confab launch k8s`: the cluster file rendered as Kubernetes objects.
// The objects are built as JSON values (nlohmann) and written as block YAML
// by one small emitter; docs/launch.md says what each object is for.
#include <cstdio>
#include <fstream>
#include <regex>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/confab/launch.hpp"

namespace confab::tools {

namespace {

using json = nlohmann::ordered_json;

bool scalar(const json& j) { return !j.is_object() && !j.is_array(); }

std::string scalar_text(const json& j) {
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    // Plain where YAML cannot misread it; double-quoted (JSON escapes are
    // valid YAML) otherwise.
    static const std::regex plain("^[A-Za-z/][A-Za-z0-9._/-]*$");
    static const std::regex reserved("^(true|false|yes|no|on|off|null|y|n|True|False|Yes|No|On|Off|Null|NULL|TRUE|FALSE)$");
    if (std::regex_match(s, plain) && !std::regex_match(s, reserved)) return s;
    return j.dump();
  }
  return j.dump();
}

void emit(std::string& out, const json& j, int indent);

void emit_value_after_key(std::string& out, const json& v, int indent) {
  if (v.is_string() && v.get_ref<const std::string&>().find('\n') != std::string::npos) {
    // A file's text: a literal block, kept exactly (|+ keeps the final newlines).
    const auto& s = v.get_ref<const std::string&>();
    out += " |";
    out += s.ends_with("\n") ? "+\n" : "-\n";
    std::size_t at = 0;
    while (at < s.size()) {
      const auto nl = s.find('\n', at);
      const auto line = s.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
      out += line.empty() ? "" : std::string(static_cast<std::size_t>(indent), ' ') + line;
      out += "\n";
      if (nl == std::string::npos) break;
      at = nl + 1;
    }
  } else if (scalar(v)) {
    out += " " + scalar_text(v) + "\n";
  } else if (v.empty()) {
    out += v.is_object() ? " {}\n" : " []\n";
  } else {
    out += "\n";
    emit(out, v, v.is_array() ? indent - 2 : indent);
  }
}

void emit(std::string& out, const json& j, int indent) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      out += pad + scalar_text(json(it.key())) + ":";
      emit_value_after_key(out, it.value(), indent + 2);
    }
  } else if (j.is_array()) {
    for (const auto& item : j) {
      if (scalar(item) || item.empty()) {
        out += pad + "- " + (scalar(item) ? scalar_text(item) : item.is_object() ? "{}" : "[]") + "\n";
        continue;
      }
      std::string inner;
      emit(inner, item, indent + 2);
      inner.replace(0, static_cast<std::size_t>(indent + 2), pad + "- ");
      out += inner;
    }
  }
}

json labels(const std::string& component) {
  return {{"app.kubernetes.io/name", "confab"}, {"app.kubernetes.io/component", component}};
}

json headless_service(const std::string& name, const std::string& ns, const std::string& component, int port, int metrics) {
  json ports = json::array({{{"name", "confab"}, {"port", port}, {"targetPort", port}}});
  if (metrics) ports.push_back({{"name", "metrics"}, {"port", metrics}, {"targetPort", metrics}});
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", {{"name", name}, {"namespace", ns}, {"labels", labels(component)}}},
          {"spec",
           {{"clusterIP", "None"},
            // Seeds must find each other before any is ready: DNS names
            // exist as soon as the pods have addresses.
            {"publishNotReadyAddresses", true},
            {"selector", labels(component)},
            {"ports", ports}}}};
}

json pod_disruption_budget(const std::string& name, const std::string& ns, const std::string& component, const json& rule) {
  json spec = rule;
  spec["selector"] = {{"matchLabels", labels(component)}};
  return {{"apiVersion", "policy/v1"},
          {"kind", "PodDisruptionBudget"},
          {"metadata", {{"name", name}, {"namespace", ns}, {"labels", labels(component)}}},
          {"spec", spec}};
}

}  // namespace

int run_launch_k8s(const launch_k8s_options& o) {
  auto spec = load_cluster(o.cluster_file);
  if (!spec) {
    std::fprintf(stderr, "confab launch k8s: %s\n", spec.error().text.c_str());
    return 2;
  }
  const auto& c = *spec;
  static const std::regex dns_label("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$");
  if (!std::regex_match(o.k8s_namespace, dns_label)) {
    std::fprintf(stderr, "confab launch k8s: --namespace '%s' is not a DNS label (a-z, 0-9, '-', at most 63)\n",
                 o.k8s_namespace.c_str());
    return 2;
  }
  if (o.image.empty() || o.image.find_first_of(" \t\n") != std::string::npos) {
    std::fprintf(stderr, "confab launch k8s: --image '%s' is not an image reference\n", o.image.c_str());
    return 2;
  }
  if (c.netns) std::fprintf(stderr, "confab launch k8s: launch.network = \"netns\" is for one machine; pods have their own network\n");
  const int port = c.port, metrics = c.metrics_port;
  const std::string& ns = o.k8s_namespace;
  // Seed k is seeds-k.seeds.NS.svc.DOMAIN: the StatefulSet's stable names,
  // in ordinal order, so `--ordinal auto` (the host name's suffix) picks
  // the pod's own entry.
  std::string seeds_txt = "# seed k is the pod seeds-k (confab seed --ordinal auto: the host name's suffix)\n";
  for (unsigned k = 0; k < c.seeds; ++k)
    seeds_txt += "seeds-" + std::to_string(k) + ".seeds." + ns + ".svc." + o.cluster_domain + ":" + std::to_string(port) + "\n";
  std::string node = node_toml(c, "seeds.txt", "/var/lib/confab", c.key_file.empty() ? "" : "/etc/confab-key/cluster.key");
  if (!c.resolve_wait_set) {
    // The pods start together: a seed waits for the others' names.
    const auto first_table = node.find("\n[");
    node.insert(first_table == std::string::npos ? node.size() : first_table + 1, "resolve_wait_ms = 300000\n");
  }
  json config_map = {{"apiVersion", "v1"},
                     {"kind", "ConfigMap"},
                     {"metadata", {{"name", "confab-config"}, {"namespace", ns}, {"labels", labels("config")}}},
                     {"data", {{"node.toml", node}, {"seeds.txt", seeds_txt}}}};

  auto container = [&](const std::string& role, json command) {
    json ports = json::array({{{"name", "confab"}, {"containerPort", port}}});
    if (metrics) {
      command.push_back("--metrics");
      command.push_back("0.0.0.0:" + std::to_string(metrics));
      ports.push_back({{"name", "metrics"}, {"containerPort", metrics}});
    }
    json mounts = json::array({{{"name", "config"}, {"mountPath", "/etc/confab"}, {"readOnly", true}},
                               {{"name", "data"}, {"mountPath", "/var/lib/confab"}}});
    if (!c.key_file.empty()) mounts.push_back({{"name", "cluster-key"}, {"mountPath", "/etc/confab-key"}, {"readOnly", true}});
    json k = {{"name", role},
              {"image", o.image},
              {"command", command},
              {"ports", ports},
              // Ready once it accepts connections; alive while it answers
              // /metrics (rendered on the node's own thread, so a stuck
              // reactor fails it).
              {"readinessProbe", {{"tcpSocket", {{"port", port}}}, {"periodSeconds", 5}}},
              {"resources",
               {{"requests", {{"cpu", role == "seed" ? "100m" : "50m"}, {"memory", "32Mi"}}},
                {"limits", {{"memory", role == "seed" ? "256Mi" : "128Mi"}}}}},
              {"securityContext",
               {{"allowPrivilegeEscalation", false}, {"readOnlyRootFilesystem", true}, {"capabilities", {{"drop", {"ALL"}}}}}},
              {"volumeMounts", mounts}};
    if (metrics)
      k["livenessProbe"] = {{"httpGet", {{"path", "/metrics"}, {"port", metrics}}},
                            {"initialDelaySeconds", 10},
                            {"periodSeconds", 10},
                            {"failureThreshold", 3}};
    else
      k["livenessProbe"] = {{"tcpSocket", {{"port", port}}}, {"initialDelaySeconds", 10}, {"periodSeconds", 10}};
    return k;
  };
  auto stateful_set = [&](const std::string& name, const std::string& role, unsigned replicas, json k, json volumes,
                          json claims) {
    volumes.push_back({{"name", "config"}, {"configMap", {{"name", "confab-config"}}}});
    if (!c.key_file.empty()) volumes.push_back({{"name", "cluster-key"}, {"secret", {{"secretName", "confab-cluster-key"}}}});
    json pod_meta = {{"labels", labels(role)}};
    if (metrics)
      pod_meta["annotations"] = {{"prometheus.io/scrape", "true"}, {"prometheus.io/port", std::to_string(metrics)},
                                 {"prometheus.io/path", "/metrics"}};
    json s = {{"apiVersion", "apps/v1"},
              {"kind", "StatefulSet"},
              {"metadata", {{"name", name}, {"namespace", ns}, {"labels", labels(role)}}},
              {"spec",
               {{"serviceName", name},
                {"replicas", replicas},
                {"podManagementPolicy", "Parallel"},
                {"selector", {{"matchLabels", labels(role)}}},
                {"template",
                 {{"metadata", pod_meta},
                  {"spec",
                   {// A peer's leave waits at most 3 s; a seed drains at once.
                    {"terminationGracePeriodSeconds", 15},
                    {"securityContext", {{"runAsNonRoot", true}, {"runAsUser", 65532}, {"fsGroup", 65532}}},
                    {"containers", json::array({k})},
                    {"volumes", volumes}}}}}}}};
    if (!claims.empty()) s["spec"]["volumeClaimTemplates"] = claims;
    return s;
  };

  json seed_command = {"confab", "seed", "--config", "/etc/confab/node.toml", "--ordinal", "auto"};
  json seeds_set = stateful_set(
      "seeds", "seed", c.seeds, container("seed", seed_command), json::array(),
      json::array({{{"metadata", {{"name", "data"}}},
                    {"spec", {{"accessModes", {"ReadWriteOnce"}}, {"resources", {{"requests", {{"storage", o.storage}}}}}}}}}));
  json peer_command = {"confab", "peer", "--config", "/etc/confab/node.toml", "--listen", "0.0.0.0:" + std::to_string(port),
                       "--advertise", "$(POD_IP):" + std::to_string(port)};
  json peer_container = container("peer", peer_command);
  peer_container["env"] = json::array({{{"name", "POD_IP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}}});
  json peers_set = stateful_set("peers", "peer", c.peers, peer_container,
                                json::array({{{"name", "data"}, {"emptyDir", json::object()}}}), json::array());

  std::vector<json> objects = {
      config_map,
      headless_service("seeds", ns, "seed", port, metrics),
      seeds_set,
      // Seeds keep a majority through voluntary disruptions (drains, upgrades).
      pod_disruption_budget("seeds", ns, "seed", {{"minAvailable", static_cast<int>(c.seeds / 2 + 1)}}),
      headless_service("peers", ns, "peer", port, metrics),
      peers_set,
      pod_disruption_budget("peers", ns, "peer", {{"maxUnavailable", std::max(1, static_cast<int>(c.peers / 10))}}),
  };
  std::string yaml = "# confab launch k8s " + o.cluster_file + ": " + std::to_string(c.seeds) + " seeds, " +
                     std::to_string(c.peers) + " peers, namespace " + ns + "\n";
  if (!c.key_file.empty())
    yaml += "# needs the Secret confab-cluster-key (key cluster.key):\n#   kubectl -n " + ns +
            " create secret generic confab-cluster-key --from-file=cluster.key=" + c.key_file + "\n";
  for (const auto& obj : objects) {
    yaml += "---\n";
    emit(yaml, obj, 0);
  }
  if (o.out.empty() || o.out == "-") {
    std::fwrite(yaml.data(), 1, yaml.size(), stdout);
  } else {
    std::ofstream f(o.out, std::ios::trunc);
    f << yaml;
    if (!f) {
      std::fprintf(stderr, "confab launch k8s: cannot write %s\n", o.out.c_str());
      return 1;
    }
  }
  std::fprintf(stderr, "confab launch k8s: %zu objects (ConfigMap, Service, StatefulSet and PodDisruptionBudget for seeds "
               "and peers): %u seeds, %u peers in namespace %s\n", objects.size(), c.seeds, c.peers, ns.c_str());
  return 0;
}

}  // namespace confab::tools
