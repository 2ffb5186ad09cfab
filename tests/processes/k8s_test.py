#!/usr/bin/env python3
"""`confab launch k8s`: the rendered objects checked against the Kubernetes
schemas offline, a broken one refused, and the rendered containers run as
the pods would.

- Render 3 seeds and 2 peers for namespace `demo`; `tools/k8s/check.mjs`
  (npm kubernetes-models) finds all 7 objects valid.
- Broken renderings are refused with exit 1 naming the object and the
  path: replicas that is not an integer, a pod without containers; text
  that is not YAML is exit 2. A bad --namespace is exit 2 from confab.
- The pods, on this machine: one network namespace per pod (the test
  makes them, and a hub with a bridge), each with the ConfigMap's files and
  an /etc/hosts holding the names the headless Service would publish, and
  its host name set to the pod's name. Each runs its StatefulSet container's
  command as rendered (only `data_dir`, a volume in the pod, and the
  ConfigMap's mount point are paths of this test). The seeds' names appear
  in /etc/hosts only a second after the seeds start, as DNS records appear
  while a StatefulSet's pods come up: `resolve_wait_ms` rides it out.
  Checks: each seed took the identity of its own name (`--ordinal auto`),
  the seeds elect a leader, and both peers register with the address
  `$(POD_IP)` gave them.

Needs root and `ip`; exits 77 (skipped) without node_modules in tools/k8s
or without namespaces, saying which.
Usage: k8s_test.py PATH/TO/confab PATH/TO/tools/k8s"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seeds_cluster import check, finish, stop_processes  # noqa: E402

TAG = f"ck{os.getpid() % 100000}"
PODS = ["seeds-0", "seeds-1", "seeds-2", "peers-0", "peers-1"]
IPS = {"seeds-0": "10.91.0.1", "seeds-1": "10.91.0.2", "seeds-2": "10.91.0.3", "peers-0": "10.91.1.1",
       "peers-1": "10.91.1.2"}


def ns_of(pod):
    return TAG + pod.replace("-", "")


def sh(*args):
    p = subprocess.run(list(args), capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {p.stderr.strip()}")


def make_pods():
    hub = TAG + "hub"
    sh("ip", "netns", "add", hub)
    sh("ip", "-n", hub, "link", "add", "br0", "type", "bridge")
    sh("ip", "-n", hub, "link", "set", "br0", "up")
    for i, pod in enumerate(PODS):
        ns = ns_of(pod)
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", hub, "link", "add", f"v{i}", "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "-n", hub, "link", "set", f"v{i}", "master", "br0", "up")
        sh("ip", "-n", ns, "addr", "add", IPS[pod] + "/16", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        os.makedirs(f"/etc/netns/{ns}", exist_ok=True)


def remove_pods():
    for pod in PODS:
        subprocess.run(["ip", "netns", "del", ns_of(pod)], capture_output=True)
        shutil.rmtree(f"/etc/netns/{ns_of(pod)}", ignore_errors=True)
    subprocess.run(["ip", "netns", "del", TAG + "hub"], capture_output=True)


def write_hosts(names):
    for pod in PODS:
        with open(f"/etc/netns/{ns_of(pod)}/hosts", "w") as f:
            f.write("127.0.0.1 localhost\n")
            f.write(f"{IPS[pod]} {pod}\n")
            for n in names:
                f.write(f"{IPS[n]} {n}.seeds.demo.svc.cluster.local\n")


def main():
    confab, k8s_dir = sys.argv[1], sys.argv[2]
    if not os.path.isdir(os.path.join(k8s_dir, "node_modules")):
        print(f"SKIP: {k8s_dir}/node_modules is missing (scripts/setup.sh installs it): the schema check did not run")
        return 77
    d = tempfile.mkdtemp(prefix="confab-k8s-")
    cluster = os.path.join(d, "cluster.toml")
    with open(cluster, "w") as f:
        f.write("[launch]\nseeds = 3\npeers = 2\nport = 7001\nmetrics_port = 9100\n\n[peer]\nregister_retry_ms = 500\n")
    out = os.path.join(d, "k8s.yaml")
    r = subprocess.run([confab, "launch", "k8s", cluster, "--namespace", "demo", "--image", "registry.example/confab:1",
                        "--out", out], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and os.path.getsize(out) > 0, f"launch k8s renders (rc {r.returncode}: {r.stderr.strip()})")
    checker = os.path.join(k8s_dir, "check.mjs")
    v = subprocess.run(["node", checker, out], capture_output=True, text=True, timeout=120)
    check(v.returncode == 0 and "7 objects checked, 0 invalid" in v.stdout,
          f"all 7 rendered objects valid against the Kubernetes schemas (rc {v.returncode}: {v.stdout.strip().splitlines()[-1:]})")
    text = open(out).read()
    for name, broken, needle in [
        ("replicas not an integer", text.replace("replicas: 3", "replicas: three", 1), "replicas must be integer"),
        ("a pod without containers", text.replace("      containers:", "      containerz:", 1), "containers"),
    ]:
        path = os.path.join(d, "broken.yaml")
        with open(path, "w") as f:
            f.write(broken)
        v = subprocess.run(["node", checker, path], capture_output=True, text=True, timeout=120)
        check(v.returncode == 1 and "INVALID" in v.stdout and "StatefulSet seeds" in v.stdout and needle in v.stdout,
              f"broken manifest ({name}) refused: exit 1 naming StatefulSet seeds and {needle!r} (rc {v.returncode})")
    with open(os.path.join(d, "notyaml.yaml"), "w") as f:
        f.write("kind: [unclosed\n")
    v = subprocess.run(["node", checker, os.path.join(d, "notyaml.yaml")], capture_output=True, text=True, timeout=120)
    check(v.returncode == 2, f"text that is not YAML: exit 2 (rc {v.returncode})")
    r = subprocess.run([confab, "launch", "k8s", cluster, "--namespace", "Bad_NS"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 2 and "--namespace" in r.stderr, f"a namespace that is no DNS label: exit 2 (rc {r.returncode})")

    if os.geteuid() != 0 or shutil.which("ip") is None:
        check(False, "the pods need root and ip for network namespaces; the rendered containers were NOT run")
        return finish()
    objects = json.loads(subprocess.run(["node", checker, "--print-json", out], capture_output=True, text=True,
                                        timeout=60, check=True).stdout)
    config = next(o for o in objects if o["kind"] == "ConfigMap")
    sets = {o["metadata"]["name"]: o for o in objects if o["kind"] == "StatefulSet"}
    etc = os.path.join(d, "etc-confab")
    os.makedirs(etc)
    data = os.path.join(d, "data")
    for name, body in config["data"].items():
        with open(os.path.join(etc, name), "w") as f:
            f.write(body.replace("/var/lib/confab", data) if name == "node.toml" else body)
    procs = []
    try:
        make_pods()
        write_hosts([])  # the seeds' names are not published yet
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
        for pod in PODS:
            spec = sets["seeds" if pod.startswith("seeds") else "peers"]["spec"]["template"]["spec"]["containers"][0]
            command = [confab if a == "confab" else a.replace("/etc/confab/", etc + "/") for a in spec["command"]]
            pod_env = dict(env)
            for e in spec.get("env", []):
                if e["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP":
                    pod_env[e["name"]] = IPS[pod]
            # Kubernetes expands $(VAR) in a container's command from its env.
            command = [a.replace("$(POD_IP)", pod_env.get("POD_IP", "$(POD_IP)")) for a in command]
            err = open(os.path.join(d, f"{pod}.log"), "w")
            procs.append(subprocess.Popen(
                ["ip", "netns", "exec", ns_of(pod), "unshare", "--uts", "sh", "-c", f'hostname {pod} && exec "$@"', "sh"]
                + command, stdout=err, stderr=err, env=pod_env))
        time.sleep(1.0)
        write_hosts(["seeds-0", "seeds-1", "seeds-2"])  # the headless Service's records appear
        ok = None
        until = time.monotonic() + 30
        while time.monotonic() < until:
            m = subprocess.run(["ip", "netns", "exec", ns_of("peers-0"), confab, "members", "--seeds",
                                os.path.join(etc, "seeds.txt"), "--json", "--timeout-ms", "1000"],
                               capture_output=True, text=True, timeout=30)
            lines = [json.loads(l) for l in m.stdout.splitlines() if l.startswith("{")]
            members = sorted(l["member"] for l in lines if "member" in l)
            summary = lines[-1] if lines else {}
            if summary.get("leader") and members == ["10.91.1.1:7001", "10.91.1.2:7001"]:
                ok = summary
                break
            time.sleep(0.5)
        check(ok is not None, f"the seeds elect a leader and both peers register as $(POD_IP):7001 ({ok})")
        for k in range(3):
            log = open(os.path.join(d, f"seeds-{k}.log")).read()
            check(f"10.91.0.{k + 1}:7001 serving" in log,
                  f"seeds-{k} took the identity of its own name (--ordinal auto from the host name)")
        waited = sum("asking again" in open(os.path.join(d, f"seeds-{k}.log")).read() for k in range(3))
        check(waited >= 1, f"names not yet published were asked again (resolve_wait_ms) by {waited} of 3 seeds")
    finally:
        stop_processes(procs)
        remove_pods()
    for pod in PODS:
        print(f"--- {pod}.log (tail)\n" + open(os.path.join(d, f"{pod}.log")).read()[-400:])
    return finish()


if __name__ == "__main__":
    sys.exit(main())
