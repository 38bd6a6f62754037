#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
"""
Checks that deploy/ agrees with itself and with the code: every manifest and
Helm values file parses; the kustomizations list every manifest; the
embedded config is rules/config.yaml (bar the deploy/ keys) and passes
`build/reflex config check`, key by key against user/lib/config.c; the Falco
socket, the controller port, the probe ports and paths, the token and the
Service URL are the same everywhere they appear; every path the config names
is mounted; and RBAC grants exactly the Kubernetes API calls user/*/*.c makes.

python3 with PyYAML; kubectl (its built-in kustomize) for the build checks,
which are reported NOT RUN without it. Prints "ok - ..." or "FAIL - ...: why"
per check, then "N passed, N failed"; exits non-zero on any failure.
"""
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
import urllib.parse

ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
SIDECAR = os.path.join(DEPLOY, "falco-sidecar")
USER = os.path.join(ROOT, "user")  # user/lib/ and one folder per program


def user_sources():
    """Every user/<dir>/*.c, sorted by path."""
    return sorted(os.path.join(USER, d, f) for d in os.listdir(USER) if os.path.isdir(os.path.join(USER, d))
                  for f in os.listdir(os.path.join(USER, d)) if f.endswith(".c"))


def user_file(name):
    """The path of user/<dir>/NAME, whichever folder holds it."""
    found = [os.path.join(USER, d, name) for d in sorted(os.listdir(USER)) if os.path.isfile(os.path.join(USER, d, name))]
    if len(found) != 1:
        raise Fail(f"user/*/{name}: found {len(found)}")
    return found[0]
REFLEX = os.environ.get("REFLEX_BIN", os.path.join(ROOT, "build", "reflex"))
STUB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "falco-chart-stub.yaml")

# Helm values files and other non-manifest YAML in deploy/.
VALUES_FILES = {"falco-values.yaml", "falcosidekick-values.yaml", "falco-sidecar-values.yaml"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
# Keys deploy/configmap.yaml sets differently from rules/config.yaml, and
# what deploy/falco-sidecar/configmap.yaml changes on top of it.
DEPLOY_KEYS = {"agent": {"controller_url", "controller_token_file"}, "controller": {"token_file"}}
SIDECAR_KEYS = {"agent": {"falco_socket", "falco_http_address"}, "controller": set()}
# Falco priorities, most severe first.
PRIORITIES = ["emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug"]

passed = failed = not_run = 0


class Fail(Exception):
    pass


class NotRun(Exception):
    pass


def check(name):
    """Runs the decorated function now, as one counted check."""

    def run(fn):
        global passed, failed, not_run
        try:
            fn()
        except NotRun as e:
            not_run += 1
            print(f"NOT RUN - {name}: {e}")
        except Fail as e:
            failed += 1
            print(f"FAIL - {name}: {e}")
        except Exception as e:  # a bug here, or a file shaped unlike anything expected
            failed += 1
            print(f"FAIL - {name}: {type(e).__name__}: {e}")
            traceback.print_exc(limit=3, file=sys.stdout)
        else:
            passed += 1
            print(f"ok - {name}")
        return fn

    return run


def expect(cond, why):
    if not cond:
        raise Fail(why)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def rel(path):
    return os.path.relpath(path, ROOT)


try:
    import yaml
except ImportError:
    print("FAIL - PyYAML: python3 cannot import yaml (install python3-yaml); no check can run")
    print("0 passed, 1 failed")
    sys.exit(1)


def load_all(path):
    return [d for d in yaml.safe_load_all(read(path)) if d is not None]


def yaml_files(directory):
    return sorted(f for f in os.listdir(directory) if f.endswith((".yaml", ".yml")))


# ---- load everything -------------------------------------------------------

docs_by_file = {}  # path -> [doc]
parse_errors = []
for d in (DEPLOY, SIDECAR):
    for f in yaml_files(d):
        p = os.path.join(d, f)
        try:
            docs_by_file[p] = load_all(p)
        except yaml.YAMLError as e:
            parse_errors.append(f"{rel(p)}: {e}")


def is_manifest(doc):
    return isinstance(doc, dict) and "apiVersion" in doc and "kind" in doc and doc.get("kind") != "Kustomization"


def manifests_in(directory):
    """{file name: [object]} of the Kubernetes manifests (not values, not kustomizations)."""
    out = {}
    for p, docs in docs_by_file.items():
        if os.path.dirname(p) != directory or os.path.basename(p) in VALUES_FILES:
            continue
        objs = [d for d in docs if is_manifest(d)]
        if objs:
            out[os.path.basename(p)] = objs
    return out


MAIN = manifests_in(DEPLOY)
SIDE = manifests_in(SIDECAR)
objects = [o for objs in MAIN.values() for o in objs]


def find(kind, name, pool=None):
    hits = [o for o in (pool if pool is not None else objects) if o["kind"] == kind and o["metadata"]["name"] == name]
    if len(hits) != 1:
        raise Fail(f"expected one {kind} {name}, found {len(hits)}")
    return hits[0]


def only(kind, pool=None):
    hits = [o for o in (pool if pool is not None else objects) if o["kind"] == kind]
    if len(hits) != 1:
        raise Fail(f"expected one {kind}, found {len(hits)}")
    return hits[0]


def values(name):
    return docs_by_file[os.path.join(DEPLOY if name != "falco-sidecar-values.yaml" else SIDECAR, name)][0]


def configmap_config(cm):
    return yaml.safe_load(cm["data"]["config.yaml"])


def pod_spec(workload):
    return workload["spec"]["template"]["spec"]


def container(spec, name):
    hits = [c for c in spec.get("containers", []) if c["name"] == name]
    if len(hits) != 1:
        raise Fail(f"expected one container {name}, found {len(hits)}")
    return hits[0]


def volume(spec, name):
    hits = [v for v in spec.get("volumes", []) if v["name"] == name]
    if len(hits) != 1:
        raise Fail(f"expected one volume {name}, found {len(hits)}")
    return hits[0]


def mount_for(spec, ctr, path):
    """(volumeMount, volume) whose mountPath contains PATH (the deepest), or Fail."""
    best = None
    for m in ctr.get("volumeMounts", []):
        mp = m["mountPath"].rstrip("/") or "/"
        if path == mp or path.startswith(mp + "/"):
            if best is None or len(mp) > len(best[0]["mountPath"]):
                best = (m, volume(spec, m["name"]))
    if best is None:
        raise Fail(f"{path} is not under any volumeMount of container {ctr['name']}")
    return best


def file_in_configmap(spec, ctr, path, configmaps):
    """PATH must be a key of the ConfigMap mounted (without subPath) over its directory."""
    m, v = mount_for(spec, ctr, path)
    expect("configMap" in v, f"{path}: volume {v['name']} is not a ConfigMap")
    expect("subPath" not in m, f"{path}: mounted with subPath (a ConfigMap update would never reach it)")
    key = os.path.relpath(path, m["mountPath"])
    cm = find("ConfigMap", v["configMap"]["name"], configmaps)
    expect(key in cm.get("data", {}), f"{path}: ConfigMap {cm['metadata']['name']} has no key {key}")
    return cm


def file_in_secret(spec, ctr, path, secrets):
    m, v = mount_for(spec, ctr, path)
    expect("secret" in v, f"{path}: volume {v['name']} is not a Secret")
    expect("subPath" not in m, f"{path}: mounted with subPath (a rotated Secret would never reach it)")
    key = os.path.relpath(path, m["mountPath"])
    sec = find("Secret", v["secret"]["secretName"], secrets)
    keys = set(sec.get("stringData", {})) | set(sec.get("data", {}))
    expect(key in keys, f"{path}: Secret {sec['metadata']['name']} has no key {key}")
    return sec


def dir_on_host(spec, ctr, path, writable=True):
    m, v = mount_for(spec, ctr, path)
    expect("hostPath" in v, f"{path}: volume {v['name']} is not a hostPath (it would not survive the pod)")
    if writable:
        expect(not m.get("readOnly"), f"{path}: mounted read-only")
    return m, v


def config_arg(ctr):
    cmd = list(ctr.get("command", [])) + list(ctr.get("args", []))
    for i, a in enumerate(cmd):
        if a in ("--config", "-c") and i + 1 < len(cmd):
            return cmd[i + 1]
        if a.startswith("--config="):
            return a.split("=", 1)[1]
    return "/etc/reflex/config.yaml"  # DEFAULT_CONFIG in user/reflexd/reflexd.c and user/controller/reflex-controller.c


def port_number(ctr, port):
    if isinstance(port, int):
        return port
    hits = [p["containerPort"] for p in ctr.get("ports", []) if p.get("name") == port]
    if len(hits) != 1:
        raise Fail(f"container {ctr['name']} has no port named {port}")
    return hits[0]


def host_port(address):
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def token_value(sec):
    if "stringData" in sec and "token" in sec["stringData"]:
        return sec["stringData"]["token"]
    import base64

    return base64.b64decode(sec["data"]["token"]).decode()


def c_literal_groups(text):
    """Adjacent C string literals joined, with their offset: [(offset, value)]."""
    out = []
    for m in re.finditer(r'"(?:[^"\\\n]|\\.)*"(?:\s*"(?:[^"\\\n]|\\.)*")*', text):
        parts = re.findall(r'"((?:[^"\\\n]|\\.)*)"', m.group(0))
        out.append((m.start(), "".join(parts).replace("%%", "%")))
    return out


def strip_comments(text):
    """C source without comments, same length (offsets stay valid)."""

    def blank(m):
        return re.sub(r"[^\n]", " ", m.group(0))

    return re.sub(r'/\*.*?\*/|//[^\n]*|"(?:[^"\\\n]|\\.)*"', lambda m: m.group(0) if m.group(0).startswith('"') else blank(m), text, flags=re.S)


def served_paths(c_file):
    return set(re.findall(r'strcmp\(\s*url\s*,\s*"(/[^"]*)"\s*\)', strip_comments(read(c_file))))


print(f"deploy/ checks ({rel(DEPLOY)}, against {rel(USER)} and {rel(REFLEX)})")

# ---- files and kustomizations ----------------------------------------------


@check("every YAML file under deploy/ parses")
def _():
    expect(not parse_errors, "; ".join(parse_errors))
    expect(MAIN, "no manifests found in deploy/")


@check("every manifest object is named and namespaced in the reflex Namespace (deploy/)")
def _():
    ns = only("Namespace")["metadata"]["name"]
    for f, objs in MAIN.items():
        for o in objs:
            expect(o.get("metadata", {}).get("name"), f"{f}: a {o['kind']} without metadata.name")
            if o["kind"] in CLUSTER_SCOPED:
                expect("namespace" not in o["metadata"], f"{f}: {o['kind']} {o['metadata']['name']} is cluster-scoped")
            else:
                expect(o["metadata"].get("namespace") == ns,
                       f"{f}: {o['kind']} {o['metadata']['name']} is in namespace {o['metadata'].get('namespace')!r}, not {ns!r}")


def kustomization(directory):
    return docs_by_file[os.path.join(directory, "kustomization.yaml")][0]


def listed_files(k):
    files = list(k.get("resources", []))
    for p in k.get("patches", []) + k.get("patchesStrategicMerge", []):
        files.append(p["path"] if isinstance(p, dict) else p)
    return [f for f in files if isinstance(f, str)]


@check("deploy/kustomization.yaml lists every manifest in deploy/, and nothing missing")
def _():
    k = kustomization(DEPLOY)
    listed = set(k.get("resources", []))
    expect(listed == set(MAIN),
           f"manifests not listed: {sorted(set(MAIN) - listed)}; listed but not manifests here: {sorted(listed - set(MAIN))}")


@check("deploy/falco-sidecar/kustomization.yaml lists every manifest there (falco-chart.yaml is Helm's)")
def _():
    k = kustomization(SIDECAR)
    listed = set(listed_files(k))
    want = set(SIDE) | {"falco-chart.yaml"}
    expect(listed == want, f"not listed: {sorted(want - listed)}; listed but absent: {sorted(listed - want)}")
    expect(not os.path.exists(os.path.join(SIDECAR, "falco-chart.yaml")),
           "falco-chart.yaml is written by post-render into a copy; a stale one here would be applied")


def kubectl_kustomize(directory):
    if not shutil.which("kubectl"):
        raise NotRun("kubectl not found (its built-in kustomize builds the kustomizations); the file-level checks above still ran")
    r = subprocess.run(["kubectl", "kustomize", directory], capture_output=True, text=True)
    expect(r.returncode == 0, f"kubectl kustomize {directory}: {r.stderr.strip()}")
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def ids(objs):
    return sorted((o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objs)


@check("kubectl kustomize deploy/ builds every object of the manifests")
def _():
    built = kubectl_kustomize(DEPLOY)
    expect(ids(built) == ids(objects), f"built {ids(built)}, manifests have {ids(objects)}")


@check("sidecar mode, cluster side: an overlay of deploy/ without the DaemonSet builds (README)")
def _():
    if not shutil.which("kubectl"):
        raise NotRun("kubectl not found")
    with tempfile.TemporaryDirectory() as tmp:
        os.symlink(DEPLOY, os.path.join(tmp, "deploy"))
        os.mkdir(os.path.join(tmp, "overlay"))
        readme = read(os.path.join(DEPLOY, "README.md"))
        m = re.search(r"```yaml\n(# reflex-sidecar/kustomization\.yaml[^\n]*\n.*?)```", readme, re.S)
        expect(m, "deploy/README.md has no ```yaml block starting '# reflex-sidecar/kustomization.yaml'")
        with open(os.path.join(tmp, "overlay", "kustomization.yaml"), "w") as f:
            f.write(m.group(1))
        built = kubectl_kustomize(os.path.join(tmp, "overlay"))
    want = [o for o in objects if o["kind"] != "DaemonSet"]
    expect(ids(built) == ids(want), f"built {ids(built)}, want {ids(want)}")


sidecar_built = {}


@check("sidecar mode, Falco side: post-render adds reflexd to the chart's Falco pod (stub chart)")
def _():
    if not shutil.which("kubectl"):
        raise NotRun("kubectl not found")
    r = subprocess.run([os.path.join(SIDECAR, "post-render")], stdin=open(STUB), capture_output=True, text=True)
    expect(r.returncode == 0, f"post-render: {r.stderr.strip()}")
    built = [d for d in yaml.safe_load_all(r.stdout) if d]
    stub = load_all(STUB)
    want = ids(stub + [o for objs in SIDE.values() for o in objs if o["kind"] != "DaemonSet"])
    expect(ids(built) == want, f"built {ids(built)}, want {want}")
    ds = find("DaemonSet", "falco", built)
    spec = pod_spec(ds)
    expect(sorted(c["name"] for c in spec["containers"]) == ["falco", "reflexd"],
           f"containers {[c['name'] for c in spec['containers']]}")
    expect(ds["spec"]["template"]["metadata"].get("annotations", {}).get("kubectl.kubernetes.io/default-container") == "falco",
           "no kubectl.kubernetes.io/default-container: falco (kubectl logs would show reflexd)")
    expect(container(spec, "falco") == container(pod_spec(find("DaemonSet", "falco", stub)), "falco"),
           "the patch changed Falco's own container")
    expect(spec.get("hostPID") is True, "hostPID is not true")
    names = [v["name"] for v in spec["volumes"]]
    expect(len(names) == len(set(names)), f"duplicate volume names: {names}")
    for m in container(spec, "reflexd")["volumeMounts"]:
        volume(spec, m["name"])
    sidecar_built["ds"] = ds


# ---- the config --------------------------------------------------------------

cm = None
cfg = None
shipped = None


@check("deploy/configmap.yaml's config.yaml is rules/config.yaml except the deploy/ keys")
def _():
    global cm, cfg, shipped
    cm = find("ConfigMap", "reflex-config")
    cfg = configmap_config(cm)
    shipped = yaml.safe_load(read(os.path.join(ROOT, "rules", "config.yaml")))
    diffs = []
    for k in sorted(set(cfg) | set(shipped)):
        if k in DEPLOY_KEYS:
            a, b = cfg.get(k) or {}, shipped.get(k) or {}
            for sub in sorted(set(a) | set(b)):
                if sub in DEPLOY_KEYS[k]:
                    expect(sub in a, f"{k}.{sub} is not set in the ConfigMap")
                    continue
                if a.get(sub, "<absent>") != b.get(sub, "<absent>"):
                    diffs.append(f"{k}.{sub}: ConfigMap {a.get(sub, '<absent>')!r} vs rules/config.yaml {b.get(sub, '<absent>')!r}")
        elif cfg.get(k, "<absent>") != shipped.get(k, "<absent>"):
            diffs.append(f"{k}: ConfigMap {cfg.get(k, '<absent>')!r} vs rules/config.yaml {shipped.get(k, '<absent>')!r}")
    expect(not diffs, "; ".join(diffs))


@check("the ConfigMaps ship no miner_pools.txt: Falco's lists are built into reflexd")
def _():
    expect("miner_pools.txt" not in cm["data"], "deploy/configmap.yaml still ships miner_pools.txt")
    expect(cfg["agent"].get("pool_lists_builtin") is True and not cfg["agent"].get("pool_lists"),
           "the deploy config should watch the built-in lists and no file")


def field_table(name):
    src = read(user_file("config.c"))
    m = re.search(r"static const struct agent_field " + name + r"\[\] = \{(.*?)\n\};", src, re.S)
    expect(m, f"no {name}[] table in user/lib/config.c")
    return set(re.findall(r'\{\s*"([a-z_0-9]+)"\s*,', m.group(1)))


@check("every agent: and controller: key in the ConfigMaps is in user/lib/config.c's agent_fields/controller_fields")
def _():
    tables = {"agent": field_table("agent_fields"), "controller": field_table("controller_fields")}
    for where, c in (("deploy/configmap.yaml", cfg), ("deploy/falco-sidecar/configmap.yaml", configmap_config(find("ConfigMap", "reflex-config", SIDE["configmap.yaml"])))):
        for section, known in tables.items():
            unknown = sorted(set(c.get(section) or {}) - known)
            expect(not unknown, f"{where}: {section}: keys not in user/lib/config.c: {unknown}")


def config_check(text, label):
    if not os.access(REFLEX, os.X_OK):
        raise Fail(f"{rel(REFLEX)} not found or not executable: run make first")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="reflex-deploy-") as f:
        f.write(text)
        f.flush()
        r = subprocess.run([REFLEX, "config", "check", f.name], capture_output=True, text=True)
    out = (r.stdout + r.stderr).strip().replace(f.name, label)
    expect(r.returncode == 0, f"reflex config check: exit {r.returncode}: {out}")
    expect(f"{label}: valid" in out, f"reflex config check printed no 'valid': {out}")


@check("build/reflex config check accepts deploy/configmap.yaml's config.yaml")
def _():
    config_check(cm["data"]["config.yaml"], "configmap.yaml:config.yaml")


@check("build/reflex config check accepts deploy/falco-sidecar/configmap.yaml's config.yaml")
def _():
    config_check(find("ConfigMap", "reflex-config", SIDE["configmap.yaml"])["data"]["config.yaml"],
                 "falco-sidecar/configmap.yaml:config.yaml")


@check("the sidecar config is deploy/'s except agent.falco_socket and agent.falco_http_address")
def _():
    side_cm = find("ConfigMap", "reflex-config", SIDE["configmap.yaml"])
    side = configmap_config(side_cm)
    expect("miner_pools.txt" not in side_cm["data"], "falco-sidecar/configmap.yaml still ships miner_pools.txt")
    diffs = []
    for k in sorted(set(cfg) | set(side)):
        a, b = cfg.get(k), side.get(k)
        if k in SIDECAR_KEYS:
            for sub in sorted(set(a or {}) | set(b or {})):
                if sub not in SIDECAR_KEYS[k] and (a or {}).get(sub, "<absent>") != (b or {}).get(sub, "<absent>"):
                    diffs.append(f"{k}.{sub}")
        elif a != b:
            diffs.append(k)
    expect(not diffs, f"differ: {diffs}")
    expect(side["agent"]["falco_socket"] == "", "falco_socket should be \"\" (no socket in sidecar mode)")
    h, _ = host_port(side["agent"]["falco_http_address"])
    expect(ipaddress.ip_address(h).is_loopback, "falco_http_address is not loopback")
    url = urllib.parse.urlsplit(values("falco-sidecar-values.yaml")["falco"]["http_output"]["url"])
    expect(f"{url.hostname}:{url.port}" == side["agent"]["falco_http_address"],
           f"falco-sidecar-values.yaml http_output.url {url.geturl()} is not agent.falco_http_address")


@check("reflex's and Falco's namespaces are in denied_namespaces (reflex never acts on them)")
def _():
    denied = set(cfg.get("denied_namespaces") or [])
    for ns in (only("Namespace")["metadata"]["name"], "falco"):
        expect(ns in denied, f"{ns} is not in denied_namespaces")


# ---- the Falco socket --------------------------------------------------------

falco = values("falco-values.yaml")


@check("Falco's program_output writes JSON to agent.falco_socket, keep_alive")
def _():
    f = falco["falco"]
    expect(f.get("json_output") is True, "falco.json_output is not true")
    po = f.get("program_output") or {}
    expect(po.get("enabled") is True and po.get("keep_alive") is True, f"program_output {po}")
    socks = re.findall(r"UNIX-CONNECT:([^\s;|&,]+)", po.get("program", ""))
    expect(socks, f"no socat UNIX-CONNECT:PATH in program {po.get('program')!r}")
    expect(set(socks) == {cfg["agent"]["falco_socket"]},
           f"program connects to {socks}, agent.falco_socket is {cfg['agent']['falco_socket']!r}")
    expect(re.search(r"\bsocat -u - UNIX-CONNECT:", po["program"]), "not `socat -u - UNIX-CONNECT:...`")


@check("the socket directory is one hostPath, at the same path, in reflexd and in Falco")
def _():
    sock_dir = os.path.dirname(cfg["agent"]["falco_socket"])
    ds = only("DaemonSet")
    spec = pod_spec(ds)
    m, v = dir_on_host(spec, container(spec, "reflexd"), cfg["agent"]["falco_socket"])
    expect(m["mountPath"] == sock_dir and v["hostPath"]["path"] == sock_dir,
           f"reflexd mounts host {v['hostPath']['path']} at {m['mountPath']}, the socket is in {sock_dir}")
    expect(v["hostPath"].get("type") == "DirectoryOrCreate", "reflexd's socket hostPath is not DirectoryOrCreate")
    fm = [x for x in falco["mounts"]["volumeMounts"] if x["mountPath"] == sock_dir]
    expect(len(fm) == 1, f"falco-values.yaml mounts nothing at {sock_dir}")
    fv = [x for x in falco["mounts"]["volumes"] if x["name"] == fm[0]["name"]]
    expect(len(fv) == 1 and fv[0].get("hostPath", {}).get("path") == sock_dir,
           f"falco-values.yaml's volume {fm[0]['name']} is not hostPath {sock_dir}")


@check("append_output adds proc.pid to syscall alerts (Falco's extra_fields)")
def _():
    entries = falco["falco"].get("append_output") or []
    for e in entries:
        expect("extra_output_fields" not in e, "extra_output_fields is not a Falco key (its schema has extra_fields)")
    hits = [e for e in entries if (e.get("match") or {}).get("source") == "syscall"
            and any(x == "proc.pid" or (isinstance(x, dict) and "proc.pid" in x.values()) for x in e.get("extra_fields", []))]
    expect(hits, f"no append_output entry with match.source syscall and proc.pid in extra_fields: {entries}")


@check("the Falco image of falco-values.yaml is the one falco-image/Dockerfile builds (socat)")
def _():
    df = read(os.path.join(DEPLOY, "falco-image", "Dockerfile"))
    ver = re.search(r"^ARG FALCO_VERSION=(\S+)", df, re.M)
    expect(ver, "falco-image/Dockerfile has no ARG FALCO_VERSION=")
    expect(re.search(r"apk add [^\n]*\bsocat\b", df), "falco-image/Dockerfile does not install socat")
    img = falco["image"]
    expect(str(img.get("tag")) == ver.group(1), f"falco-values.yaml image tag {img.get('tag')!r} != FALCO_VERSION {ver.group(1)}")
    expect("falcosecurity/falco" not in img.get("repository", ""),
           "the stock Falco image has no socat: program_output would fail and SIGPIPE Falco")


# ---- ports, probes and URLs --------------------------------------------------


@check("controller port: listen_address == containerPort == Service targetPort == probe ports")
def _():
    _, port = host_port(cfg["controller"]["listen_address"])
    dep = find("Deployment", "reflex-controller")
    spec = pod_spec(dep)
    ctr = container(spec, "reflex-controller")
    expect(any(p["containerPort"] == port for p in ctr.get("ports", [])), f"no containerPort {port}")
    svc = find("Service", "reflex-controller")
    for sp in svc["spec"]["ports"]:
        expect(port_number(ctr, sp.get("targetPort", sp["port"])) == port, f"Service targetPort {sp.get('targetPort')} is not {port}")
    for probe in ("readinessProbe", "livenessProbe"):
        expect(probe in ctr, f"no {probe}")
        expect(port_number(ctr, ctr[probe]["httpGet"]["port"]) == port, f"{probe} port is not {port}")


@check("controller probe paths are /readyz and /healthz, served by user/controller/server.c")
def _():
    ctr = container(pod_spec(find("Deployment", "reflex-controller")), "reflex-controller")
    served = served_paths(user_file("server.c"))
    expect(ctr["readinessProbe"]["httpGet"]["path"] == "/readyz", "readinessProbe is not /readyz")
    expect(ctr["livenessProbe"]["httpGet"]["path"] == "/healthz", "livenessProbe is not /healthz")
    for probe in ("readinessProbe", "livenessProbe"):
        path = ctr[probe]["httpGet"]["path"]
        expect(path in served, f"{probe} {path}: user/controller/server.c serves {sorted(served)}")


def check_agent_probes(spec, ctr, agent_cfg, httpd_served):
    host, port = host_port(agent_cfg["metrics_address"])
    loopback = ipaddress.ip_address(host).is_loopback
    probes = [p for p in ("readinessProbe", "livenessProbe") if p in ctr]
    for p in probes:
        hg = ctr[p].get("httpGet")
        if hg is None:
            continue
        expect(hg["path"] in httpd_served, f"{p} {hg['path']}: user/lib/httpd.c serves {sorted(httpd_served)}")
        expect(port_number(ctr, hg["port"]) == port, f"{p} port {hg['port']} is not metrics_address's {port}")
        if loopback:
            expect(spec.get("hostNetwork") is True,
                   f"metrics_address {agent_cfg['metrics_address']} is loopback: the kubelet reaches it only with hostNetwork")
            expect(hg.get("host") == host, f"{p}: metrics_address is loopback, the probe must set host: {host}")
        else:
            expect("host" not in hg, f"{p}: host set, but metrics_address listens on {host}")
    return probes


@check("reflexd probes: /readyz and /healthz on agent.metrics_address, reachable by the kubelet")
def _():
    spec = pod_spec(only("DaemonSet"))
    ctr = container(spec, "reflexd")
    probes = check_agent_probes(spec, ctr, cfg["agent"], served_paths(user_file("httpd.c")))
    expect(set(probes) == {"readinessProbe", "livenessProbe"}, f"probes: {probes}")
    expect(ctr["readinessProbe"]["httpGet"]["path"] == "/readyz", "readinessProbe is not /readyz")
    expect(ctr["livenessProbe"]["httpGet"]["path"] == "/healthz", "livenessProbe is not /healthz")
    _, port = host_port(cfg["agent"]["metrics_address"])
    expect(any(p["containerPort"] == port for p in ctr.get("ports", [])), f"no containerPort {port} declared")


@check("sidecar reflexd: loopback metrics probed from inside (reflex status), no kubelet HTTP probe")
def _():
    patch = SIDE["daemonset-patch.yaml"][0]
    spec = pod_spec(patch)
    ctr = container(spec, "reflexd")
    side = configmap_config(find("ConfigMap", "reflex-config", SIDE["configmap.yaml"]))
    expect(spec.get("hostNetwork") is not True, "sidecar mode must not switch Falco's pod to hostNetwork")
    check_agent_probes(spec, ctr, side["agent"], served_paths(user_file("httpd.c")))
    cmd = ctr["livenessProbe"]["exec"]["command"]
    expect(cmd[:2] == ["reflex", "status"] and side["agent"]["metrics_address"] in cmd,
           f"liveness {cmd} does not ask metrics_address {side['agent']['metrics_address']}")
    expect("readinessProbe" not in ctr, "a sidecar readiness probe would gate Falco's readiness")


@check("agent.controller_url is the controller Service; falcosidekick posts to its /alert")
def _():
    svc = find("Service", "reflex-controller")
    u = urllib.parse.urlsplit(cfg["agent"]["controller_url"])
    want_host = f"{svc['metadata']['name']}.{svc['metadata']['namespace']}.svc"
    expect(u.scheme == "http", f"scheme {u.scheme}: the controller serves plain HTTP")
    expect(u.hostname in (want_host, want_host + ".cluster.local"), f"host {u.hostname}, Service is {want_host}")
    expect(u.port in [p["port"] for p in svc["spec"]["ports"]], f"port {u.port} is not a Service port")
    expect(u.path in ("", "/"), f"path {u.path!r}: the agent appends /alert itself")
    hook = values("falcosidekick-values.yaml")["config"]["webhook"]
    expect(hook["address"] == cfg["agent"]["controller_url"].rstrip("/") + "/alert",
           f"falcosidekick webhook {hook['address']} is not {cfg['agent']['controller_url']}/alert")
    expect(hook.get("method", "POST") == "POST", "falcosidekick webhook method is not POST")
    spec = pod_spec(only("DaemonSet"))
    if spec.get("hostNetwork"):
        expect(spec.get("dnsPolicy") == "ClusterFirstWithHostNet",
               "hostNetwork pod without dnsPolicy ClusterFirstWithHostNet cannot resolve the Service name")


# ---- mounts ------------------------------------------------------------------


def check_agent_paths(spec, ctr, agent_cfg, configmaps, secrets, socket=True):
    cm_ = file_in_configmap(spec, ctr, config_arg(ctr), configmaps)
    if agent_cfg.get("pool_lists"):
        expect(file_in_configmap(spec, ctr, agent_cfg["pool_lists"], configmaps) is cm_,
               "pool_lists is not in the config's ConfigMap")
    if agent_cfg.get("controller_url"):
        expect(agent_cfg.get("controller_token_file"), "controller_url without controller_token_file")
        file_in_secret(spec, ctr, agent_cfg["controller_token_file"], secrets)
    dir_on_host(spec, ctr, agent_cfg["report_spool_dir"])
    if agent_cfg.get("audit_log"):
        dir_on_host(spec, ctr, os.path.dirname(agent_cfg["audit_log"]))
    if socket and agent_cfg.get("falco_socket"):
        dir_on_host(spec, ctr, os.path.dirname(agent_cfg["falco_socket"]))
    for root in agent_cfg["containerd_roots"][:1] + [agent_cfg["crio_root"]]:
        m, v = dir_on_host(spec, ctr, root, writable=False)
        expect(m.get("readOnly") is True, f"{root} is not read-only")
        expect(m.get("mountPropagation") == "HostToContainer",
               f"{root}: without mountPropagation HostToContainer the pod pins dead containers' mounts")
    for path, ro in (("/sys/fs/bpf", False), ("/sys/kernel/btf", True), ("/sys/fs/cgroup", False)):
        m, v = mount_for(spec, ctr, path)
        expect(m["mountPath"] == path and v.get("hostPath", {}).get("path") == path, f"{path} is not the host's")
        if ro:
            expect(m.get("readOnly") is True, f"{path} is not read-only")
    expect(spec.get("automountServiceAccountToken", True) is not False,
           "no service-account token: kubernetes_api auto cannot list pods")


@check("every path reflexd's config names is mounted (ConfigMap, Secret, hostPaths), runtime dirs read-only")
def _():
    spec = pod_spec(only("DaemonSet"))
    check_agent_paths(spec, container(spec, "reflexd"), cfg["agent"], objects, objects)
    for name, path in (("spool", "/var/lib/reflex"), ("audit-log", "/var/log/reflex"), ("falco-socket", "/run/reflex")):
        expect(volume(spec, name)["hostPath"] == {"path": path, "type": "DirectoryOrCreate"},
               f"volume {name} is not hostPath {path} DirectoryOrCreate")


@check("every path the sidecar's config names is mounted in Falco's pod")
def _():
    spec = pod_spec(sidecar_built["ds"]) if "ds" in sidecar_built else pod_spec(SIDE["daemonset-patch.yaml"][0])
    side_objs = [o for objs in SIDE.values() for o in objs]
    side = configmap_config(find("ConfigMap", "reflex-config", SIDE["configmap.yaml"]))
    check_agent_paths(spec, container(spec, "reflexd"), side["agent"], side_objs, side_objs, socket=False)


@check("every path the controller's config names is mounted; the spool emptyDir outsizes its bound")
def _():
    spec = pod_spec(find("Deployment", "reflex-controller"))
    ctr = container(spec, "reflex-controller")
    file_in_configmap(spec, ctr, config_arg(ctr), objects)
    file_in_secret(spec, ctr, cfg["controller"]["token_file"], objects)
    m, v = mount_for(spec, ctr, cfg["controller"]["audit_spool_dir"])
    expect("emptyDir" in v, "audit_spool_dir is not on an emptyDir")
    limit = v["emptyDir"].get("sizeLimit")
    expect(limit, "the spool emptyDir has no sizeLimit")
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}
    n = re.fullmatch(r"(\d+)(Ki|Mi|Gi)", str(limit))
    expect(n, f"sizeLimit {limit}: expected NKi/NMi/NGi")
    expect(int(n.group(1)) * units[n.group(2)] > int(cfg["controller"]["audit_spool_max_bytes"]),
           f"sizeLimit {limit} is not above audit_spool_max_bytes {cfg['controller']['audit_spool_max_bytes']}")
    expect(spec["securityContext"].get("fsGroup") is not None, "no fsGroup: a non-root controller cannot read the Secret")


# ---- pod settings ------------------------------------------------------------


@check("reflexd pod: privileged, hostPID, NODE_NAME from spec.nodeName, system-node-critical, every node, resources")
def _():
    ds = only("DaemonSet")
    spec = pod_spec(ds)
    ctr = container(spec, "reflexd")
    expect(spec.get("hostPID") is True, "hostPID is not true")
    expect(ctr.get("securityContext", {}).get("privileged") is True,
           "not privileged (BPF; and only privileged containers keep the host's cgroup namespace)")
    env = [e for e in ctr.get("env", []) if e["name"] == "NODE_NAME"]
    expect(len(env) == 1 and env[0].get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName",
           "NODE_NAME is not from fieldRef spec.nodeName")
    expect(spec.get("priorityClassName") == "system-node-critical", "priorityClassName is not system-node-critical")
    expect({"operator": "Exists"} in spec.get("tolerations", []), "no blanket toleration (operator: Exists)")
    res = ctr.get("resources", {})
    for kind in ("requests", "limits"):
        expect({"cpu", "memory"} <= set(res.get(kind, {})), f"resources.{kind} lacks cpu or memory")
    expect(ctr["image"].startswith("ghcr.io/reflex/reflexd:"), f"image {ctr['image']}")


@check("sidecar reflexd: privileged in a hostPID pod, NODE_NAME, resources")
def _():
    spec = pod_spec(SIDE["daemonset-patch.yaml"][0])
    ctr = container(spec, "reflexd")
    expect(spec.get("hostPID") is True, "hostPID is not true")
    expect(ctr.get("securityContext", {}).get("privileged") is True, "not privileged")
    env = [e for e in ctr.get("env", []) if e["name"] == "NODE_NAME"]
    expect(len(env) == 1 and env[0]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName", "NODE_NAME")
    for kind in ("requests", "limits"):
        expect({"cpu", "memory"} <= set(ctr.get("resources", {}).get(kind, {})), f"resources.{kind}")
    main = container(pod_spec(only("DaemonSet")), "reflexd")
    expect(ctr["image"] == main["image"] and ctr["command"] == main["command"], "image or command differs from daemonset.yaml")


@check("controller: 2 replicas, restricted securityContext, resources, PDB minAvailable 1, Service selects it")
def _():
    dep = find("Deployment", "reflex-controller")
    spec = pod_spec(dep)
    ctr = container(spec, "reflex-controller")
    expect(dep["spec"]["replicas"] == 2, "replicas is not 2")
    psc, sc = spec.get("securityContext", {}), ctr.get("securityContext", {})
    expect(psc.get("runAsNonRoot") is True or sc.get("runAsNonRoot") is True, "runAsNonRoot")
    expect(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
    expect(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation")
    expect(sc.get("capabilities", {}).get("drop") == ["ALL"], "capabilities drop ALL")
    expect((sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type") == "RuntimeDefault", "seccomp RuntimeDefault")
    for kind in ("requests", "limits"):
        expect({"cpu", "memory"} <= set(ctr.get("resources", {}).get(kind, {})), f"resources.{kind}")
    labels = dep["spec"]["template"]["metadata"]["labels"]
    expect(all(labels.get(k) == v for k, v in dep["spec"]["selector"]["matchLabels"].items()), "selector does not match the template")
    pdb = find("PodDisruptionBudget", "reflex-controller")
    expect(pdb["spec"].get("minAvailable") == 1, "PDB minAvailable is not 1")
    expect(pdb["spec"]["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"], "PDB selects other pods")
    svc = find("Service", "reflex-controller")
    expect(all(labels.get(k) == v for k, v in svc["spec"]["selector"].items()), "Service selects other pods")


# ---- the token ---------------------------------------------------------------


@check("one X-Falco-Token: secret.yaml == falco-sidecar/secret.yaml == falcosidekick customHeaders; generated or fail-closed")
def _():
    tok = token_value(find("Secret", "reflex-token"))
    side = token_value(find("Secret", "reflex-token", SIDE["secret.yaml"]))
    expect(tok == side, "deploy/secret.yaml and deploy/falco-sidecar/secret.yaml differ")
    headers = values("falcosidekick-values.yaml")["config"]["webhook"]["customHeaders"]
    parsed = {}
    for item in headers.split(","):  # as falcosidekick parses WEBHOOK_CUSTOMHEADERS
        kv = item.split(":")
        if len(kv) == 2:
            parsed[kv[0]] = kv[1]
    expect(parsed.get("X-Falco-Token") == tok,
           f"falcosidekick would send X-Falco-Token {parsed.get('X-Falco-Token')!r} (from {headers!r}), the Secret holds {tok!r}")
    generated = re.fullmatch(r"[0-9a-f]{64}", tok) is not None
    fails_closed = any(ord(ch) < 0x21 or ord(ch) > 0x7e for ch in tok)  # refused by token_read (user/lib/token.c)
    expect(generated or fails_closed,
           f"the token is neither `openssl rand -hex 32` output nor a placeholder the controller refuses: {tok!r}")
    expect(values("falcosidekick-values.yaml")["config"]["webhook"].get("minimumpriority") == "critical",
           "falcosidekick webhook minimumpriority is not critical")


# ---- RBAC against the code ---------------------------------------------------

VERB_OF = {"DELETE": ("delete", "deletecollection"), "POST": ("create", "create"), "PUT": ("update", "update"),
           "PATCH": ("patch", "patch")}


def api_call(method, template):
    """(group, resource, verb) of METHOD on an API path template."""
    path, _, query = template.partition("?")
    core = re.fullmatch(r"(?:%s)?/api/v1/(?:namespaces/%s/)?([a-z]+)(/%s)?", path)
    grouped = re.fullmatch(r"(?:%s)?/apis/([a-z0-9.\-]+)/v[0-9a-z]+/(?:namespaces/%s/)?([a-z]+)(/%s)?", path)
    if core:
        group, resource, named = "", core.group(1), core.group(2)
    elif grouped:
        group, resource, named = grouped.groups()
    else:
        raise Fail(f"API path template not understood: {template!r}")
    if method == "GET":
        verb = "get" if named else ("watch" if re.search(r"(^|&)watch=(1|true)", query) else "list")
    else:
        verb = VERB_OF[method][0 if named else 1]
    return (group, resource, verb)


def function_bounds(text, pos):
    start = text.rfind("\n{", 0, pos)
    end = text.find("\n}", pos)
    expect(start >= 0 and end >= 0, "call outside a function?")
    return start, end


def api_calls_of(c_file):
    """{(group, resource, verb)} of the Kubernetes API calls in C_FILE, and the API literals they explain."""
    text = strip_comments(read(c_file))
    calls, explained = set(), set()
    literals = c_literal_groups(text)
    # kubeapi_request(API, "METHOD", VAR, ...): VAR set by [ctl_]say(VAR, sizeof(VAR), "TEMPLATE", ...) in the same
    # function, or by owner_path(..., VAR, sizeof(VAR)) from its table of owner kinds.
    for m in re.finditer(r'kubeapi_request\(\s*[^,]+,\s*"([A-Z]+)"\s*,\s*(\w+)\s*,', text):
        method, var = m.groups()
        s, e = function_bounds(text, m.start())
        body = text[s:e]
        templates = re.finditer(r"\b(?:ctl_say|say|snprintf)\(\s*" + var + r"\s*,\s*sizeof\(\s*" + var + r'\s*\)\s*,\s*"([^"]*)"', body)
        found = False
        for t in templates:
            calls.add(api_call(method, t.group(1)))
            explained.add(t.group(1))
            found = True
        if re.search(r"\bowner_path\([^;]*\b" + var + r"\s*,\s*sizeof\(\s*" + var + r"\s*\)", body):
            table = re.search(r"\bowner_path\(.*?\n\}", text, re.S).group(0)
            entries = re.findall(r'\{\s*"([A-Za-z]+)"\s*,\s*"(/apis?/[^"]+)"\s*,\s*"([a-z]+)"\s*\}', table)
            fmt = re.search(r'\b(?:ctl_)?say\(\s*buf\s*,\s*size\s*,\s*"([^"]+)"', table).group(1)
            expect(fmt == "%s/namespaces/%s/%s/%s", f"owner_path formats {fmt!r}; teach the test")
            for _kind, group_path, plural in entries:
                calls.add(api_call(method, f"{group_path}/namespaces/%s/{plural}/%s"))
                explained.add(group_path)
            found = found or bool(entries)
        expect(found, f"{rel(c_file)}: kubeapi_request {method} {var}: no path template found")
    # libcurl with a URL from asprintf(&url, "...") and no method set: GET.
    for m in re.finditer(r"asprintf\(\s*&url\s*,", text):
        lit = [v for off, v in literals if off > m.end()][0]
        if "/api" in lit:
            expect(not re.search(r"CURLOPT_(CUSTOMREQUEST|POST|POSTFIELDS|UPLOAD|PUT)\b", text),
                   f"{rel(c_file)} sets a request method; teach the test which URL it applies to")
            calls.add(api_call("GET", lit))
            explained.add(lit)
    unexplained = sorted({v for _, v in literals if re.search(r"/apis?/", v)} - explained)
    expect(not unexplained, f"{rel(c_file)}: API paths the test cannot attribute to a call: {unexplained}")
    return calls


def callers_of(c_file):
    """The user/*/*.c files (basenames) that call C_FILE's functions, as its header names them."""
    stem = os.path.splitext(os.path.basename(c_file))[0]
    header = os.path.splitext(c_file)[0] + ".h"
    prefix = {"pod_watch": "kube"}.get(stem, stem)  # pod_watch.h keeps its kube_ API names
    funcs = set(re.findall(r"\b(" + prefix + r"_\w+)\s*\(", read(header))) if os.path.exists(header) else set()
    callers = set()
    for path in user_sources():
        f = os.path.basename(path)
        if f != os.path.basename(c_file):
            src = strip_comments(read(path))
            if any(re.search(r"\b" + fn + r"\s*\(", src) for fn in funcs):
                callers.add(f)
    return callers


def component_of(c_file):
    """agent or controller: which program's entry points call into C_FILE, directly or through its other files."""
    entries = {"agent.c": "agent", "reflexd.c": "agent", "reflex-controller.c": "controller"}
    folder = os.path.dirname(c_file)
    who, seen, todo, callers = set(), set(), [c_file], set()
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        for caller in callers_of(f):
            callers.add(caller)
            if caller in entries:
                who.add(entries[caller])
            elif os.path.exists(os.path.join(folder, caller)):
                todo.append(os.path.join(folder, caller))  # a module of the same program: who calls it?
    expect(len(who) == 1, f"{rel(c_file)} is called from {sorted(callers)}: cannot tell whose RBAC it needs")
    return who.pop()


def granted(role_name, pool=None):
    role = find("ClusterRole", role_name, pool)
    out = set()
    for r in role["rules"]:
        expect("nonResourceURLs" not in r and "resourceNames" not in r, f"{role_name}: unexpected rule {r}")
        for g in r["apiGroups"]:
            for res in r["resources"]:
                for v in r["verbs"]:
                    expect("*" not in (g, res, v), f"{role_name}: wildcard in {r}")
                    out.add((g, res, v))
    return out


def bound_role(sa, ns):
    roles = []
    for o in objects + [o for objs in SIDE.values() for o in objs]:
        if o["kind"] == "ClusterRoleBinding" and any(
                s.get("kind") == "ServiceAccount" and s.get("name") == sa and s.get("namespace") == ns for s in o["subjects"]):
            roles.append(o["roleRef"]["name"])
    return roles


needed = {"agent": set(), "controller": set()}


@check("every Kubernetes API call in user/*/*.c is attributed to reflexd or reflex-controller")
def _():
    api_files = []
    for path in user_sources():
        if any(re.search(r"/apis?/", v) for _, v in c_literal_groups(strip_comments(read(path)))):
            api_files.append(path)
    expect(api_files, "no API paths found in user/*/*.c")
    for f in api_files:
        needed[component_of(f)] |= api_calls_of(f)
    expect(needed["agent"] and needed["controller"], f"calls found: {needed}")


def rbac_check(component, sa):
    ns = only("Namespace")["metadata"]["name"]
    find("ServiceAccount", sa)
    roles = bound_role(sa, ns)
    expect(len(roles) == 1, f"ServiceAccount {ns}/{sa} is bound to {roles}")
    have = granted(roles[0])
    missing, extra = sorted(needed[component] - have), sorted(have - needed[component])
    expect(not missing and not extra,
           f"ClusterRole {roles[0]}: missing {missing} (the code calls them), extra {extra} (nothing calls them)")


@check("RBAC: reflex-agent grants exactly the calls of user/reflexd/pod_watch.c (pods list, watch)")
def _():
    rbac_check("agent", "reflex-agent")
    expect(pod_spec(only("DaemonSet"))["serviceAccountName"] == "reflex-agent", "reflexd does not run as reflex-agent")


@check("RBAC: reflex-controller grants exactly the calls of user/controller/actions.c")
def _():
    rbac_check("controller", "reflex-controller")
    expect(pod_spec(find("Deployment", "reflex-controller"))["serviceAccountName"] == "reflex-controller",
           "the controller does not run as reflex-controller")


@check("RBAC: in sidecar mode Falco's ServiceAccount gets the agent's ClusterRole, nothing else")
def _():
    expect(bound_role("falco", "falco") == ["reflex-agent"], f"falco/falco is bound to {bound_role('falco', 'falco')}")
    expect(not [o for objs in SIDE.values() for o in objs if o["kind"] in ("ClusterRole", "Role")],
           "falco-sidecar/ defines a role: the ClusterRole belongs to deploy/rbac.yaml")


# ---- Falco rules -------------------------------------------------------------


@check("Falco custom rules: autoresponse tags match the config's acting rules; controller rules reach falcosidekick")
def _():
    rules = []
    for name, text in (falco.get("customRules") or {}).items():
        rules += yaml.safe_load(text) or []
    expect(rules, "falco-values.yaml has no customRules")
    acting = {r["name"]: r["action"] for r in cfg["rules"] if r["action"] != "alert"}
    by_name = {r["rule"]: r for r in rules if "rule" in r}
    for name, r in by_name.items():
        tags = r.get("tags") or []
        if "autoresponse" in tags:
            expect(name in acting, f"{name!r} is tagged autoresponse but the config has no acting rule for it")
        if name in acting:
            expect("autoresponse" in tags, f"{name!r} has action {acting[name]} but no autoresponse tag")
        if "override" in r:
            expect(r["override"] == {"tags": "append"}, f"{name!r}: override {r['override']}")
    minimum = values("falcosidekick-values.yaml")["config"]["webhook"]["minimumpriority"]
    for name, action in acting.items():
        if action in ("kill_pod", "isolate_namespace") and name in by_name and "priority" in by_name[name]:
            prio = by_name[name]["priority"].lower()
            expect(PRIORITIES.index(prio) <= PRIORITIES.index(minimum),
                   f"{name!r} ({action}) is {prio}: falcosidekick forwards only {minimum} and above to the controller")
            out = by_name[name].get("output", "")
            for field in ("container.id", "proc.exepath", "k8s.ns.name", "k8s.pod.name"):
                expect("%" + field in out, f"{name!r}: output lacks %{field} (the controller and correlation need it)")


@check("falco-values.yaml feeds reflex only through the outputs it reads (program_output, http_output; no gRPC, removed in Falco 0.44)")
def _():
    def merged(base, top):
        out = dict(base)
        for k, v in top.items():
            out[k] = merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        return out

    # The sidecar's values go on top of falco-values.yaml (helm -f ... -f ...).
    for name, f in (("falco-values.yaml", values("falco-values.yaml").get("falco", {})),
                    ("falco-values.yaml + falco-sidecar-values.yaml",
                     merged(values("falco-values.yaml"), values("falco-sidecar-values.yaml")).get("falco", {}))):
        for key in ("grpc", "grpc_output"):
            expect(not (f.get(key) or {}).get("enabled"), f"{name}: falco.{key} is enabled (Falco 0.44 has no gRPC output; reflex never read it)")
        expect(f.get("json_output") is True, f"{name}: json_output is not true (reflex parses JSON alerts)")
        enabled = {k for k in ("program_output", "http_output", "file_output") if (f.get(k) or {}).get("enabled")}
        expect(enabled and enabled <= {"program_output", "http_output"},
               f"{name}: outputs enabled {sorted(enabled)}; reflex reads program_output and http_output")


# ---- deploy/monitoring: scrape targets, alerts, dashboard ------------------

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import monitoring  # noqa: E402

MON = monitoring.MONITORING


@check("deploy/monitoring builds as a component of deploy/: PodMonitors, PrometheusRule, a dashboard ConfigMap for Grafana's sidecar")
def _():
    if not shutil.which("kubectl"):
        raise NotRun("kubectl not found")
    k = load_all(os.path.join(MON, "kustomization.yaml"))[0]
    expect(k.get("kind") == "Component", f"deploy/monitoring/kustomization.yaml is a {k.get('kind')}, not a Component")
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(DEPLOY, os.path.join(tmp, "deploy"))
        os.mkdir(os.path.join(tmp, "overlay"))
        with open(os.path.join(tmp, "overlay", "kustomization.yaml"), "w") as f:
            f.write("resources: [../deploy]\ncomponents: [../deploy/monitoring]\n")
        built = kubectl_kustomize(os.path.join(tmp, "overlay"))
    added = [o for o in built if (o["kind"], o["metadata"]["name"]) not in
             {(x["kind"], x["metadata"]["name"]) for x in objects}]
    expect(sorted((o["kind"], o["metadata"]["name"]) for o in added) ==
           [("ConfigMap", "reflex-grafana-dashboard"), ("PodMonitor", "reflex-controller"), ("PodMonitor", "reflexd"),
            ("PrometheusRule", "reflex")], f"the component added {ids(added)}")
    cm = find("ConfigMap", "reflex-grafana-dashboard", added)
    expect(cm["metadata"].get("labels", {}).get("grafana_dashboard") == "1",
           "the dashboard ConfigMap lacks the label grafana_dashboard: \"1\" the Grafana sidecar looks for")
    expect(json.loads(cm["data"]["reflex-dashboard.json"]) == monitoring.dashboard(),
           "the ConfigMap's dashboard is not deploy/monitoring/reflex-dashboard.json")
    for o in added:
        expect(o["metadata"].get("namespace") == "reflex", f"{o['kind']} {o['metadata']['name']} is not in namespace reflex")


@check("deploy/monitoring: each PodMonitor selects its workload's pods, on a port they declare, with job from app.kubernetes.io/name")
def _():
    mons = [o for o in load_all(os.path.join(MON, "podmonitor.yaml")) if o["kind"] == "PodMonitor"]
    workloads = {"reflexd": only("DaemonSet"), "reflex-controller": only("Deployment")}
    expect(sorted(m["metadata"]["name"] for m in mons) == sorted(workloads), f"PodMonitors {[m['metadata']['name'] for m in mons]}")
    for m in mons:
        w = workloads[m["metadata"]["name"]]
        labels = w["spec"]["template"]["metadata"]["labels"]
        sel = m["spec"]["selector"]["matchLabels"]
        expect(all(labels.get(k) == v for k, v in sel.items()), f"{m['metadata']['name']}: selector {sel} misses pod labels {labels}")
        expect(m["spec"].get("jobLabel") == "app.kubernetes.io/name" and labels.get("app.kubernetes.io/name") == m["metadata"]["name"],
               f"{m['metadata']['name']}: job would not be {m['metadata']['name']!r} (the alerts select job)")
        ports = {p.get("name") for c in pod_spec(w)["containers"] for p in c.get("ports", [])}
        for ep in m["spec"]["podMetricsEndpoints"]:
            expect(ep["port"] in ports, f"{m['metadata']['name']}: port {ep['port']!r} is not declared (ports: {sorted(ports)})")
            expect(ep.get("path") == "/metrics", f"{m['metadata']['name']}: path {ep.get('path')}")


def promtool():
    if not shutil.which("promtool"):
        raise Fail("promtool not found (tools/install-deps installs Debian's prometheus package, which has it)")
    return shutil.which("promtool")


@check("deploy/monitoring: promtool check rules, and promtool test rules (tests/deploy/alerts_test.yaml) fire each alert")
def _():
    tool = promtool()
    with open(monitoring.RULES, encoding="utf-8") as f:
        spec = yaml.safe_load(f)["spec"]
    with tempfile.TemporaryDirectory() as tmp:
        rules = os.path.join(tmp, "reflex-rules.yaml")
        with open(rules, "w") as f:
            yaml.safe_dump(spec, f)
        r = subprocess.run([tool, "check", "rules", rules], capture_output=True, text=True)
        expect(r.returncode == 0, f"promtool check rules: {r.stdout.strip()} {r.stderr.strip()}")
        shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)), "alerts_test.yaml"), tmp)
        r = subprocess.run([tool, "test", "rules", "alerts_test.yaml"], cwd=tmp, capture_output=True, text=True)
        expect(r.returncode == 0, f"promtool test rules: {r.stdout.strip()} {r.stderr.strip()}")
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "alerts_test.yaml"), encoding="utf-8") as f:
        tested = set(re.findall(r"alertname:\s*(\w+)", f.read()))
    untested = sorted({n for n, _ in monitoring.rule_exprs()} - tested)
    expect(not untested, f"alerts without a promtool test: {untested}")


@check("deploy/monitoring: the dashboard has what Grafana's provisioning needs")
def _():
    d = monitoring.dashboard()
    expect(re.fullmatch(r"[A-Za-z0-9_-]{1,40}", d.get("uid", "")), f"uid {d.get('uid')!r}: 1-40 of [A-Za-z0-9_-], stable")
    expect(d.get("title") and isinstance(d.get("schemaVersion"), int), "title and an integer schemaVersion")
    expect("__inputs" not in d and d.get("id") is None, "an import-only export (__inputs, or a fixed id) does not provision")
    variables = {v["name"]: v for v in d.get("templating", {}).get("list", [])}
    expect(variables.get("datasource", {}).get("type") == "datasource" and variables["datasource"].get("query") == "prometheus",
           "no 'datasource' variable of type datasource (prometheus): panels would point at a datasource uid that does not exist")
    ids_seen = set()

    def walk(panels):
        for p in panels:
            expect(p.get("id") not in ids_seen, f"panel id {p.get('id')} twice")
            ids_seen.add(p.get("id"))
            g = p.get("gridPos", {})
            expect(all(isinstance(g.get(k), int) for k in "hwxy") and g["x"] + g["w"] <= 24,
                   f"panel {p.get('title')!r}: gridPos {g}")
            expect(p.get("type") and p.get("title"), f"panel {p.get('id')}: type and title")
            if p["type"] != "row":
                expect(p.get("datasource", {}).get("uid") == "${datasource}", f"panel {p['title']!r}: datasource is not ${{datasource}}")
                refs = [t.get("refId") for t in p.get("targets", [])]
                expect(refs and len(refs) == len(set(refs)), f"panel {p['title']!r}: targets need distinct refIds")
                for t in p["targets"]:
                    expect(t.get("expr"), f"panel {p['title']!r}: a target without expr")
            walk(p.get("panels", []))

    walk(d.get("panels", []))


@check("deploy/monitoring: every alert and panel selects a job and names metrics the code exports")
def _():
    sources = "\n".join(read(p) for p in user_sources())
    for where, expr in monitoring.all_exprs():
        names = monitoring.names_in(expr)
        expect(names or where.startswith("alert ReflexAgentMissing") or "up{" in expr, f"{where}: names no reflex metric")
        expect("job=" in expr or where.startswith("variable") or where.startswith("alert ReflexAgentMissing"),
               f"{where}: no job selector (another exporter's series could match)")
        for n in names:
            fam, _ = monitoring.family(n)
            expect(re.search(r"\b" + fam + r"\b", sources), f"{where}: {fam} appears nowhere in user/ (renamed or never exported?)")


# Checks reported NOT RUN above (no kubectl) are counted as skipped.
print(f"{passed} passed, {failed} failed" + (f", {not_run} skipped" if not_run else ""))
sys.exit(1 if failed else 0)
