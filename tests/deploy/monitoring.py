# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
"""
deploy/monitoring/: what its alerts and dashboard name, and whether a live
scrape of reflexd and reflex-controller exports it.

Used by check_manifests.py (the static checks) and, with --scrape, by
tests/integration/test_monitoring.sh against the running programs:

  python3 tests/deploy/monitoring.py --scrape AGENT.prom CONTROLLER.prom

prints one line per metric or label an alert or a panel names that neither
scrape exports, and exits 1 if there is any.
"""
import json
import os
import re
import sys

import yaml

ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MONITORING = os.path.join(ROOT, "deploy", "monitoring")
RULES = os.path.join(MONITORING, "prometheusrule.yaml")
DASHBOARD = os.path.join(MONITORING, "reflex-dashboard.json")

# Labels Prometheus (target labels, podmonitor.yaml's relabeling) and
# histograms add; not the exporter's to export.
TARGET_LABELS = {"job", "instance", "namespace", "pod", "container", "endpoint", "node"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# PromQL words that look like names.
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                "offset", "le"}


def rule_exprs():
    """[(alert name, expr)] of deploy/monitoring/prometheusrule.yaml."""
    with open(RULES, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    return [(r["alert"], r["expr"]) for g in doc["spec"]["groups"] for r in g["rules"]]


def dashboard():
    with open(DASHBOARD, encoding="utf-8") as f:
        return json.load(f)


def panel_exprs(d=None):
    """[(panel title, expr)] of every target of every panel (rows' panels included)."""
    d = d or dashboard()
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                out.append((p.get("title", "?"), t.get("expr", "")))
            walk(p.get("panels", []))

    walk(d.get("panels", []))
    for v in d.get("templating", {}).get("list", []):
        q = v.get("query")
        if isinstance(q, dict) and q.get("query"):
            out.append((f"variable {v['name']}", q["query"]))
    return out


def all_exprs():
    return [("alert " + n, e) for n, e in rule_exprs()] + [("panel " + t, e) for t, e in panel_exprs()]


def family(name):
    """The metric family a sample name belongs to (histogram series -> the histogram)."""
    for s in HISTOGRAM_SUFFIXES:
        if name.endswith(s):
            return name[: -len(s)], True
    return name, False


def names_in(expr):
    """reflex_* metric names in EXPR."""
    return sorted(set(re.findall(r"\breflex_[a-z0-9_]+\b", expr)))


def labels_in(expr):
    """Label names EXPR matches on or groups by (not the values: those are strings)."""
    labels = set()
    no_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    for block in re.findall(r"\{([^}]*)\}", no_strings):
        labels |= set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", block))
    for block in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", no_strings):
        labels |= {x.strip() for x in block.split(",") if x.strip()}
    return labels - PROMQL_WORDS


def parse_exposition(text):
    """{family: set of label names seen} of a Prometheus text exposition; families from # TYPE."""
    families = {}
    for line in text.splitlines():
        m = re.match(r"# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)", line)
        if m:
            families.setdefault(m.group(1), set())
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s", line)
        if not m:
            continue
        fam, _ = family(m.group(1))
        if fam not in families:
            fam = m.group(1)
        got = families.setdefault(fam, set())
        if m.group(3):
            got |= set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3)))
    return families


def missing(exported):
    """What the alerts and panels name that EXPORTED ({family: labels}) lacks: [str]."""
    out = []
    for where, expr in all_exprs():
        fams = []
        for name in names_in(expr):
            fam, hist = family(name)
            if fam not in exported:
                out.append(f"{where}: {name} is not exported by reflexd or reflex-controller")
                continue
            fams.append((fam, hist))
        if not fams:
            continue
        known = set(TARGET_LABELS)
        for fam, hist in fams:
            known |= exported[fam]
            if hist:
                known.add("le")
        for label in sorted(labels_in(expr) - known):
            out.append(f"{where}: label {label!r} is on none of {', '.join(f for f, _ in fams)}")
    return out


def main(argv):
    if len(argv) < 3 or argv[1] != "--scrape":
        print(__doc__.strip(), file=sys.stderr)
        return 2
    exported = {}
    for path in argv[2:]:
        with open(path, encoding="utf-8") as f:
            for fam, labels in parse_exposition(f.read()).items():
                exported.setdefault(fam, set()).update(labels)
    problems = missing(exported)
    for p in problems:
        print(p)
    names = sorted({n for _, e in all_exprs() for n in names_in(e)})
    print(f"{len(names)} metric names in {len(all_exprs())} expressions; {len(problems)} not exported")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
