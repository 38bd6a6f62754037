# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
# shellcheck shell=bash
# shellcheck disable=SC2317,SC2329 # test functions are called through rx_test
#
# `reflex triage` end to end: the real build/reflex against a local
# VictoriaLogs (victorialogs_server.py: the LogsQL query API, JSON lines)
# loaded with Falco events as the Falco -> falcosidekick -> Loki-push path
# stores them; plus reflex's audit log and a file of Falco alerts. No
# containers: triage only reads what the cluster already recorded.

REFLEX=$RX_BUILD/reflex
BASELINE=$RX_ROOT/rules/baseline.yaml
FIXTURE_ALERTS=$RX_ROOT/../shared/fixtures/falco/alerts.ndjson
EXEC_RULE="Drop and execute new binary in container"
API_RULE="Contact K8S API Server From Container"
MINER_RULE="Detect crypto miners using the Stratum protocol"
SHELL_RULE="Terminal shell in container"

# events_file FILE: Falco events as VictoriaLogs stores sidekick's Loki pushes:
# stream labels rule, priority, source, hostname, tags, k8s_ns_name,
# k8s_pod_name; the output text as _msg; some with extra labels
# (proc.exepath -> proc_exepath, ...). Times are relative to the server's now.
events_file() {
	python3 - "$1" <<'PY'
import json, sys

def drop(t, ns, pod, exe, parent, gparent, cmd, cid, repo, tag, extra=False):
    proc = exe.rsplit("/", 1)[1][:15]
    msg = ("Critical Executing binary not part of base image (proc_exe=%s proc_sname=%s gparent=%s "
           "evt_type=execve user=root user_uid=0 user_loginuid=-1 process=%s proc_exepath=%s parent=%s "
           "command=%s terminal=0 exe_flags=EXE_WRITABLE|EXE_UPPER_LAYER container_id=%s container_image=%s "
           "container_image_tag=%s container_name=main k8s_ns=%s k8s_pod_name=%s)"
           % (exe, parent, gparent, proc, exe, parent, cmd, cid, repo, tag, ns, pod))
    r = {"_time": t, "_msg": "03:00:04.112233445: " + msg, "rule": "Drop and execute new binary in container",
         "priority": "Critical", "source": "syscall", "hostname": "hop-node-2",
         "tags": "PCI_DSS_11.5.1,TA0003,container,maturity_stable,mitre_persistence,process",
         "k8s_ns_name": ns, "k8s_pod_name": pod}
    if extra:
        r.update({"proc_exepath": exe, "container_id": cid, "container_image_repository": repo,
                  "container_image_tag": tag})
    return r

events = [
    drop("now-10m", "headscale", "headscale-backup-29391780-mz8qd", "/usr/bin/sqlite3", "sh", "backup.sh",
         "sqlite3 /data/db.sqlite .backup /backup/db.sqlite", "5c1e0d9a7b21", "docker.io/library/alpine", "3.20"),
    drop("now-70m", "headscale", "headscale-backup-29391720-k7d2p", "/usr/bin/sqlite3", "sh", "backup.sh",
         "sqlite3 /data/db.sqlite .backup /backup/db.sqlite", "77ab01cd23ef", "docker.io/library/alpine", "3.20",
         extra=True),
    # A day and more ago: outside --since 24h.
    drop("now-30h", "headscale", "headscale-backup-29391000-aaaaa", "/usr/bin/sqlite3", "sh", "backup.sh",
         "sqlite3 /data/db.sqlite .backup /backup/db.sqlite", "11ab01cd23ef", "docker.io/library/alpine", "3.20"),
    drop("now-3m", "production", "payments-api-7d9f4b-xkp2m", "/tmp/.x/kworkerds", "sh", "entrypoint.sh",
         "kworkerds --quiet", "9a7f3c2e1d0b", "registry.golem.example/payments-api", "1.14.2", extra=True),
    drop("now-50m", "ci", "build-runner-5f7d8c9b6-q2w3e", "/usr/sbin/update-ca-certificates", "sh", "apk",
         "update-ca-certificates --fresh", "3e4f5a6b7c8d", "docker.io/library/alpine", "3.20"),
    drop("now-20m", "ml", "trainer-7b8c9d6f5-zx9vw", "/usr/bin/python3.12", "sh", "start.sh",
         "python3 /usr/bin/pip install requests", "4d5e6f708192", "docker.io/library/alpine", "3.20"),
    drop("now-45m", "production", "orders-api-5d6e7f8a9-b2c3d", "/usr/local/bin/helper", "node", "entrypoint.sh",
         "helper --sync", "aa11bb22cc33", "registry.golem.example/orders-api", "2.3.0"),
]
for t in ("now-30m", "now-31m"):
    events.append({
        "_time": t, "rule": "Contact K8S API Server From Container", "priority": "Notice", "source": "syscall",
        "hostname": "hop-node-1", "tags": "T1565,container,k8s,maturity_stable,mitre_discovery,network",
        "k8s_ns_name": "flux-system", "k8s_pod_name": "kustomize-controller-6bc5d5b96-ncmnt",
        # Collected from the node's log files as well: never the event's namespace.
        "kubernetes.namespace_name": "falco",
        "_msg": "10:31:07.123456789: Notice Unexpected connection to K8s API Server from container "
                "(connection=10.42.0.15:48812->10.43.0.1:443 lport=48812 rport=443 fd_type=ipv4 fd_proto=tcp "
                "evt_type=connect user=<NA> user_uid=65534 user_loginuid=-1 process=kustomize-contr "
                "proc_exepath=/usr/local/bin/kustomize-controller parent=<NA> command=kustomize-controller "
                "--events-addr=http://notification-controller.flux-system.svc.cluster.local./ "
                "--watch-all-namespaces=true terminal=0 container_id=8c2d4e6f8a0b "
                "container_image=ghcr.io/fluxcd/kustomize-controller container_image_tag=v1.4.0 "
                "container_name=manager k8s_ns=flux-system k8s_pod_name=kustomize-controller-6bc5d5b96-ncmnt)"})
events.append({
    "_time": "now-2m", "rule": "Detect crypto miners using the Stratum protocol", "priority": "Critical",
    "source": "syscall", "hostname": "hop-node-1", "tags": "T1496,container,host,maturity_sandbox,mitre_impact,process",
    "k8s_ns_name": "production", "k8s_pod_name": "payments-api-7d9f4b-xkp2m",
    "_msg": "03:22:17.399000111: Critical Possible miner running (evt_type=execve user=app user_uid=10001 "
            "user_loginuid=-1 process=kworkerds proc_exepath=/tmp/.x/kworkerds parent=sh "
            "command=kworkerds -o stratum+tcp://pool.supportxmr.com:3333 -u 44AFFq5kSiGB -p x terminal=0 "
            "exe_flags=EXE_WRITABLE|EXE_UPPER_LAYER container_id=9a7f3c2e1d0b "
            "container_image=registry.golem.example/payments-api container_image_tag=1.14.2 container_name=api "
            "k8s_ns=production k8s_pod_name=payments-api-7d9f4b-xkp2m)"})
events.append({
    "_time": "now-40m", "rule": "Terminal shell in container", "priority": "Notice", "source": "syscall",
    "hostname": "hop-node-3", "tags": "T1059,container,maturity_stable,mitre_execution,shell",
    "k8s_ns_name": "shop", "k8s_pod_name": "web-6c9f8d7b5-2xk4j",
    "_msg": "14:02:11.000123456: Notice A shell was spawned in a container with an attached terminal "
            "(evt_type=execve user=root user_uid=0 user_loginuid=-1 process=bash proc_exepath=/bin/bash "
            "parent=runc command=bash terminal=34816 exe_flags=EXE_WRITABLE|EXE_LOWER_LAYER "
            "container_id=0e4b6a9c3f12 container_image=registry.golem.example/web container_image_tag=4.1.0 "
            "container_name=web k8s_ns=shop k8s_pod_name=web-6c9f8d7b5-2xk4j)"})
# Something else in the same store: not a Falco event, filtered out by source.
events.append({"_time": "now-5m", "_msg": "GET /healthz 200", "kubernetes.namespace_name": "shop", "app": "web"})
with open(sys.argv[1], "w") as f:
    for e in events:
        f.write(json.dumps(e) + "\n")
PY
}

vl_start() {
	events_file "$RX_TMP/vl-events.jsonl"
	rm -f "$RX_TMP/vl.port" "$RX_TMP/vl-queries.jsonl"
	python3 "$RX_ROOT/tests/integration/victorialogs_server.py" --events "$RX_TMP/vl-events.jsonl" \
		--log "$RX_TMP/vl-queries.jsonl" --seconds 600 >"$RX_TMP/vl.port" 2>"$RX_TMP/vl.err" &
	echo $! >"$RX_TMP/vl.pid"
	rx_wait_for test -s "$RX_TMP/vl.port" || rx_fail "VictoriaLogs stand-in did not start: $(cat "$RX_TMP/vl.err")"
	VL="http://127.0.0.1:$(head -1 "$RX_TMP/vl.port")"
}
vl_mode() { curl -sf -X POST "$VL/_control/mode" --data-binary "$1" >/dev/null; }
vl_add() { curl -sf -X POST "$VL/_control/events" --data-binary "$1" >/dev/null; }
# vl_last_query: the LogsQL of the newest query the server received.
vl_last_query() {
	python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["query"])' \
		"$RX_TMP/vl-queries.jsonl"
}

teardown() {
	if [ -f "$RX_TMP/vl.pid" ]; then
		kill "$(cat "$RX_TMP/vl.pid")" 2>/dev/null || true
		wait "$(cat "$RX_TMP/vl.pid")" 2>/dev/null || true
	fi
	rm -f "$RX_TMP/vl.pid" "$RX_TMP/vl.port" "$RX_TMP/vl-queries.jsonl" "$RX_TMP"/triage-*
}

# triage ARGS...: runs reflex triage; stdout in $RX_TMP/triage-out, stderr in
# $RX_TMP/triage-err, the exit status in $RC (never fails the test by itself).
triage() {
	RC=0
	"$REFLEX" triage "$@" >"$RX_TMP/triage-out" 2>"$RX_TMP/triage-err" || RC=$?
	echo "reflex triage $* -> $RC" >&2
}
out_has() { grep -qF -- "$1" "$RX_TMP/triage-out" || rx__fail_at 1 "output lacks '$1': $(head -c 3000 "$RX_TMP/triage-out")"; }
err_has() { grep -qF -- "$1" "$RX_TMP/triage-err" || rx__fail_at 1 "stderr lacks '$1': $(cat "$RX_TMP/triage-err")"; }
# jq_py EXPR: evaluates a Python expression over the JSON output (bound to d).
jq_py() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$RX_TMP/triage-out" "$1"; }
want() {
	local got
	got=$(jq_py "$1")
	[ "$got" = "$2" ] || rx__fail_at 1 "$1 is '$got', want '$2'"
}

t_events_grouped_newest_first() {
	trap teardown EXIT
	vl_start
	triage events --victorialogs "$VL"
	[ "$RC" -eq 0 ] || rx_fail "events failed: $(cat "$RX_TMP/triage-err")"
	out_has "query: _time:24h source:=syscall | sort by (_time desc)"
	out_has "10 events in 9 groups (rule, namespace, pod, exe), newest first:"
	[ "$(vl_last_query)" = "_time:24h source:=syscall | sort by (_time desc)" ] || rx_fail "server saw $(vl_last_query)"
	grep -q '"limit": "10000"' "$RX_TMP/vl-queries.jsonl" || rx_fail "no limit=10000 sent"
	! grep -q kubernetes.namespace_name "$RX_TMP/vl-queries.jsonl" || rx_fail "a query filtered by kubernetes.namespace_name"

	triage events --victorialogs "$VL" --json
	[ "$RC" -eq 0 ] || rx_fail "events --json failed: $(cat "$RX_TMP/triage-err")"
	want 'd["events"]' 10
	want 'len(d["groups"])' 9
	# Newest first, across rules; the CronJob's two runs are two pods, two groups.
	want '[g["exe_path"] for g in d["groups"]][:4]' \
		"['/tmp/.x/kworkerds', '/tmp/.x/kworkerds', '/usr/bin/sqlite3', '/usr/bin/python3.12']"
	want '[g["rule"] for g in d["groups"]][:2]' "['$MINER_RULE', '$EXEC_RULE']"
	want '[g["newest"] <= p["newest"] for g, p in zip(d["groups"][1:], d["groups"])] == [True] * 8' True
	want '[(g["namespace"], g["count"]) for g in d["groups"] if g["rule"] == "'"$API_RULE"'"]' "[('flux-system', 2)]"
	# The namespace is Falco's k8s.ns.name, never the collector's kubernetes.namespace_name.
	want '[g["pod"] for g in d["groups"] if g["namespace"] == "flux-system"]' "['kustomize-controller-6bc5d5b96-ncmnt']"
	# Fields from the output text when the labels do not carry them.
	want '[(g["image"], g["parent"], g["grandparent"], g["cmdline"]) for g in d["groups"] if g["pod"] == "headscale-backup-29391780-mz8qd"]' \
		"[('docker.io/library/alpine:3.20', 'sh', 'backup.sh', 'sqlite3 /data/db.sqlite .backup /backup/db.sqlite')]"
	want '[g["cmdline"] for g in d["groups"] if g["namespace"] == "flux-system"]' \
		"['kustomize-controller --events-addr=http://notification-controller.flux-system.svc.cluster.local./ --watch-all-namespaces=true']"

	# Filters go into the query as exact matches; the 30h-old run stays out of 24h, not out of 48h.
	triage events --victorialogs "$VL" --rule "$EXEC_RULE" --namespace headscale --json
	[ "$RC" -eq 0 ] || rx_fail "filtered events failed: $(cat "$RX_TMP/triage-err")"
	[ "$(vl_last_query)" = "_time:24h source:=syscall rule:=\"$EXEC_RULE\" k8s_ns_name:=\"headscale\" | sort by (_time desc)" ] ||
		rx_fail "server saw $(vl_last_query)"
	want 'd["events"]' 2
	want '[g["pod"] for g in d["groups"]]' "['headscale-backup-29391780-mz8qd', 'headscale-backup-29391720-k7d2p']"
	REFLEX_VICTORIALOGS_URL=$VL triage events --rule "$EXEC_RULE" --namespace headscale --since 48h --json
	[ "$RC" -eq 0 ] || rx_fail "events from the environment's URL failed: $(cat "$RX_TMP/triage-err")"
	want 'd["events"]' 3
	want 'd["query"].startswith("_time:48h ")' True
}

t_classify_against_the_baseline() {
	trap teardown EXIT
	vl_start
	triage classify --victorialogs "$VL" --baseline "$BASELINE" --json
	[ "$RC" -eq 0 ] || rx_fail "classify failed: $(cat "$RX_TMP/triage-err")"
	cls() { jq_py "[(g['classification'], g['pattern']) for g in d['groups'] if g['pod'] == '$1' and g['rule'] == '$2'][0]"; }
	# pod | rule | classification and pattern | what it is
	local pod rule want what
	while IFS='|' read -r pod rule want what; do
		[ "$(cls "$pod" "$rule")" = "$want" ] || rx_fail "$what: $(cls "$pod" "$rule")"
	done <<EOF
headscale-backup-29391780-mz8qd|$EXEC_RULE|('benign-true-positive', 'headscale-backup-sqlite3')|sqlite3 backup
kustomize-controller-6bc5d5b96-ncmnt|$API_RULE|('benign-true-positive', 'gitops-reconciler-api-access')|flux
build-runner-5f7d8c9b6-q2w3e|$EXEC_RULE|('benign-true-positive', 'package-manager-runtime-install')|apk trigger
trainer-7b8c9d6f5-zx9vw|$EXEC_RULE|('benign-true-positive', 'package-manager-install-command')|pip install
payments-api-7d9f4b-xkp2m|$MINER_RULE|('real', 'crypto-miner-rules')|miner
payments-api-7d9f4b-xkp2m|$EXEC_RULE|('real', 'exe-in-scratch-or-hidden-path')|dropped miner
web-6c9f8d7b5-2xk4j|$SHELL_RULE|('unknown', None)|shell
orders-api-5d6e7f8a9-b2c3d|$EXEC_RULE|('unknown', None)|helper
EOF
	# Why, for the unknown one: each pattern of the rule and the condition that failed.
	want "[g['reason'] for g in d['groups'] if g['pod'] == 'orders-api-5d6e7f8a9-b2c3d'][0].split('; unknown')[0]" \
		"no baseline pattern matched ('package-manager-runtime-install': parent 'node' (grandparent 'entrypoint.sh') matches none of apk, apt-get, apt, dpkg, pip, pip3 and 1 more; 'package-manager-install-command': exe '/usr/local/bin/helper' matches none of /sbin/apk, /usr/bin/apt-get, /usr/bin/apt, /usr/bin/python3*, /usr/local/bin/python3*, /usr/bin/pip* and 3 more; 'headscale-backup-sqlite3': namespace 'production' matches none of headscale)"
	want 'd["summary"]' "{'benign-true-positive': 5, 'unknown': 2, 'real': 2}"
	want 'd["escalate"]' 4
	want "all(g['escalate'] == (g['classification'] != 'benign-true-positive') for g in d['groups'])" True

	triage classify --victorialogs "$VL" --baseline "$BASELINE"
	[ "$RC" -eq 0 ] || rx_fail "classify (text) failed"
	out_has "unknown is treated as real: escalate to a security review"
	out_has "summary: 2 real, 2 unknown, 5 benign-true-positive groups; escalate 4 to a security review"
}

t_fix_emits_scoped_exceptions() {
	trap teardown EXIT
	vl_start
	triage fix --victorialogs "$VL" --baseline "$BASELINE" --rule "$EXEC_RULE" --namespace headscale --json
	[ "$RC" -eq 0 ] || rx_fail "fix failed: $(cat "$RX_TMP/triage-err")"
	jq_py 'd["falco_rules_yaml"]' >"$RX_TMP/triage-falco.yaml"
	cat >"$RX_TMP/triage-want.yaml" <<'YAML'
# Falco rules override from `reflex triage fix`: the narrowest exceptions for
# benign true positives, scoped to namespace + exe path (+ image repository).
# Load it after falco_rules.yaml, e.g. as /etc/falco/rules.d/reflex-triage.yaml.
# Prefer baking the binary into a digest-pinned image; never disable the rule.
- required_engine_version: 0.31.0

- rule: "Drop and execute new binary in container"
  exceptions:
    # baseline pattern 'headscale-backup-sqlite3'
    - name: reflex_headscale_usr_bin_sqlite3
      fields: [k8s.ns.name, proc.exepath, container.image.repository]
      comps: [=, =, =]
      values:
        - ["headscale", "/usr/bin/sqlite3", "docker.io/library/alpine"]
  override:
    exceptions: append

YAML
	diff -u "$RX_TMP/triage-want.yaml" "$RX_TMP/triage-falco.yaml" || rx_fail "Falco override differs (diff above)"
	want 'd["groups"][0]["fix"]["preferred"]' image-bake
	want 'd["groups"][0]["fix"]["image_bake"]["package"]' sqlite
	want 'd["groups"][0]["fix"]["image_bake"]["dockerfile"]' "RUN apk add --no-cache sqlite"
	want '"pin the result by digest" in d["groups"][0]["fix"]["image_bake"]["text"]' True
	want 'd["groups"][0]["fix"]["exception"]["scope"]' \
		"namespace headscale, exe /usr/bin/sqlite3, image docker.io/library/alpine"

	# Every benign group of the window: the reflex exceptions load in a real config.
	triage fix --victorialogs "$VL" --baseline "$BASELINE" --json
	[ "$RC" -eq 0 ] || rx_fail "fix (all) failed: $(cat "$RX_TMP/triage-err")"
	{
		printf 'allowed_namespaces: ["*"]\nrules:\n'
		printf '  - name: %s\n    action: kill_process\n' "$EXEC_RULE" "$API_RULE"
		jq_py 'd["reflex_config_yaml"]'
	} >"$RX_TMP/triage-config.yaml"
	"$REFLEX" config check "$RX_TMP/triage-config.yaml" >"$RX_TMP/triage-check" 2>&1 ||
		rx_fail "reflex config check rejects the generated exceptions: $(cat "$RX_TMP/triage-check")"
	# Five benign groups, four scopes: the CronJob's two runs share one exception.
	grep -q "exceptions: 4" "$RX_TMP/triage-check" || rx_fail "want 4 exceptions: $(cat "$RX_TMP/triage-check")"
	# Real and unknown get no fix; nothing anywhere disables or mutes a rule.
	want "sorted(set(g['fix']['preferred'] for g in d['groups'] if g['escalate']))" "['none']"
	want "all(g['fix']['refused'] for g in d['groups'] if g['escalate'])" True
	want "[g['fix']['preferred'] for g in d['groups'] if g['rule'] == '$API_RULE']" "['exception']"
	want "[g['fix']['image_bake']['dockerfile'] for g in d['groups'] if g['pod'] == 'trainer-7b8c9d6f5-zx9vw']" \
		"['RUN pip install --no-cache-dir requests']"
	! grep -qiE 'enabled|condition:' "$RX_TMP/triage-out" || rx_fail "a fix touches enabled: or condition:"

	triage fix --victorialogs "$VL" --baseline "$BASELINE" --rule "$EXEC_RULE" --namespace headscale
	[ "$RC" -eq 0 ] || rx_fail "fix (text) failed"
	out_has "fix 1 (preferred), image bake: bake sqlite (provides /usr/bin/sqlite3)"
	out_has "RUN apk add --no-cache sqlite"
	out_has "fix 2, scoped exception: namespace headscale, exe /usr/bin/sqlite3, image docker.io/library/alpine"
}

t_verify_empty_and_not() {
	trap teardown EXIT
	vl_start
	# The last sqlite3 run was 10 minutes ago: nothing in the last 5m.
	triage verify --victorialogs "$VL" --rule "$EXEC_RULE" --namespace headscale
	[ "$RC" -eq 0 ] || rx_fail "verify with no events: status $RC, $(cat "$RX_TMP/triage-out" "$RX_TMP/triage-err")"
	out_has "last 5m: no events: the fix holds"
	[ "$(vl_last_query)" = "_time:5m source:=syscall rule:=\"$EXEC_RULE\" k8s_ns_name:=\"headscale\" | sort by (_time desc)" ] ||
		rx_fail "verify sent $(vl_last_query)"
	triage verify --victorialogs "$VL" --rule "$EXEC_RULE" --namespace headscale --since 15m
	[ "$RC" -eq 3 ] || rx_fail "verify --since 15m: status $RC, want 3"
	out_has "1 event remains"
	out_has "pod headscale-backup-29391780-mz8qd, exe /usr/bin/sqlite3): still firing"

	# A new run fires again: verify says so, with the exit status to match.
	vl_add '{"_time":"now-1m","rule":"Drop and execute new binary in container","priority":"Critical","source":"syscall","k8s_ns_name":"headscale","k8s_pod_name":"headscale-backup-29391840-p0q9r","proc_exepath":"/usr/bin/sqlite3","_msg":"Critical Executing binary not part of base image (proc_exepath=/usr/bin/sqlite3 k8s_ns=headscale)"}'
	triage verify --victorialogs "$VL" --rule "$EXEC_RULE" --namespace headscale --json
	[ "$RC" -eq 3 ] || rx_fail "verify after a new event: status $RC, want 3"
	want 'd["remaining"]' 1
	want 'd["empty"]' False
	want 'd["newest"]["pod"]' headscale-backup-29391840-p0q9r
	# Another namespace with the same rule is not this scope.
	triage verify --victorialogs "$VL" --rule "$EXEC_RULE" --namespace headscale-dev --json
	[ "$RC" -eq 0 ] || rx_fail "verify in another namespace: status $RC"
	want 'd["empty"]' True
}

t_report_chains_the_runbook() {
	trap teardown EXIT
	vl_start
	triage report --victorialogs "$VL" --baseline "$BASELINE" --rule "$EXEC_RULE" --namespace headscale
	[ "$RC" -eq 0 ] || rx_fail "report: status $RC, $(cat "$RX_TMP/triage-err")"
	out_has "reflex triage report: rule '$EXEC_RULE', namespace headscale"
	out_has "2 events in the last 24h; classification benign-true-positive"
	out_has "pod         headscale-backup-29391780-mz8qd, headscale-backup-29391720-k7d2p"
	out_has "exe         /usr/bin/sqlite3 (parent sh, grandparent backup.sh)"
	out_has "class       benign-true-positive"
	out_has "why         baseline pattern 'headscale-backup-sqlite3' matched"
	out_has "fix         image bake (preferred): bake sqlite (provides /usr/bin/sqlite3)"
	out_has "fallback    scoped exception: namespace headscale, exe /usr/bin/sqlite3, image docker.io/library/alpine"
	out_has "Gotcha: headscale-backup in headscale installs /usr/bin/sqlite3 at run time"
	out_has "last 5m: no events: the fix holds"
	out_has "--- [1] Falco rules override ---"
	out_has "--- [1] reflex config exception ---"
	[ "$(grep -c '^    Gotcha: ' "$RX_TMP/triage-out")" = 1 ] || rx_fail "want one gotcha line"

	triage report --victorialogs "$VL" --baseline "$BASELINE" --rule "$MINER_RULE" --namespace production --json
	[ "$RC" -eq 3 ] || rx_fail "report on a live miner: status $RC, want 3 (still firing)"
	want 'd["classification"]' real
	want 'd["escalate"]' True
	want 'd["findings"][0]["fix"]["preferred"]' none
	want 'd["findings"][0]["gotcha"].startswith("Gotcha: ")' True
	want 'd["verify"]["remaining"]' 1
	want '(d["findings"][0]["event"]["pod"], d["findings"][0]["exe_path"])' \
		"('payments-api-7d9f4b-xkp2m', '/tmp/.x/kworkerds')"

	triage report --victorialogs "$VL" --baseline "$BASELINE" --rule "$EXEC_RULE" --namespace nowhere
	[ "$RC" -eq 1 ] || rx_fail "report with no events: status $RC, want 1"
	err_has "no events for rule '$EXEC_RULE' in namespace nowhere in the last 24h"
}

t_bad_answers_and_timeouts() {
	local start elapsed
	trap teardown EXIT
	vl_start
	one_line() { [ "$(wc -l <"$RX_TMP/triage-err")" = 1 ] || rx__fail_at 1 "not one line: $(cat "$RX_TMP/triage-err")"; }

	vl_mode 500
	triage events --victorialogs "$VL"
	[ "$RC" -eq 1 ] || rx_fail "500: status $RC"
	err_has "answered HTTP 500: cannot execute query: storage is read-only"
	one_line

	vl_mode 400
	triage verify --victorialogs "$VL" --rule "$EXEC_RULE" --namespace headscale
	[ "$RC" -eq 1 ] || rx_fail "400: status $RC (a failed query must never read as 'no events')"
	err_has "answered HTTP 400: cannot parse query"

	vl_mode garbage
	triage events --victorialogs "$VL"
	[ "$RC" -eq 1 ] || rx_fail "garbage: status $RC"
	err_has "answer line 1 is not a JSON object"
	err_has "<html><body><h1>Sign in to continue</h1></body></html>"
	one_line

	vl_mode truncated
	triage classify --victorialogs "$VL" --baseline "$BASELINE"
	[ "$RC" -eq 1 ] || rx_fail "truncated: status $RC"
	err_has "answer line 2 is not a JSON object"

	vl_mode hang
	start=${EPOCHREALTIME//[.,]/}
	triage verify --victorialogs "$VL" --rule "$EXEC_RULE" --namespace headscale --timeout 1
	elapsed=$(((${EPOCHREALTIME//[.,]/} - start) / 1000))
	[ "$RC" -eq 1 ] || rx_fail "hang: status $RC"
	err_has "no complete answer within 1.000 s (--timeout)"
	[ "$elapsed" -lt 5000 ] || rx_fail "a 1 s timeout took $elapsed ms"
	one_line

	vl_mode ok
	kill "$(cat "$RX_TMP/vl.pid")"
	wait "$(cat "$RX_TMP/vl.pid")" 2>/dev/null || true
	triage events --victorialogs "$VL"
	[ "$RC" -eq 1 ] || rx_fail "server gone: status $RC"
	err_has "VictoriaLogs $VL/select/logsql/query:"
	one_line
}

t_usage_errors() {
	trap teardown EXIT
	unset REFLEX_VICTORIALOGS_URL
	triage events
	[ "$RC" -eq 2 ] || rx_fail "no source: status $RC"
	err_has "no event source"
	triage verify --victorialogs http://127.0.0.1:1 --rule "$EXEC_RULE"
	[ "$RC" -eq 2 ] || rx_fail "verify without --namespace: status $RC"
	err_has "verify needs --rule and --namespace"
	triage events --victorialogs http://127.0.0.1:1 --since 5x
	[ "$RC" -eq 2 ] || rx_fail "bad --since: status $RC"
	err_has "'5x' is not a duration"
	triage events --victorialogs http://127.0.0.1:1 --alerts "$FIXTURE_ALERTS"
	[ "$RC" -eq 2 ] || rx_fail "two sources: status $RC"
	triage events --victorialogs ftp://example.org
	[ "$RC" -eq 1 ] || rx_fail "ftp URL: status $RC"
	err_has "is not http:// or https://"
	triage frobnicate
	[ "$RC" -eq 2 ] || rx_fail "unknown command: status $RC"
	triage fix --bogus
	[ "$RC" -eq 2 ] || rx_fail "unknown option: status $RC"
	for sub in events classify fix verify report; do
		triage "$sub" --help
		[ "$RC" -eq 0 ] || rx_fail "$sub --help: status $RC"
		out_has "Usage: reflex triage $sub"
	done
	triage classify --alerts "$FIXTURE_ALERTS" --baseline "$RX_TMP/nonexistent.yaml"
	[ "$RC" -eq 1 ] || rx_fail "missing baseline: status $RC"
	err_has "nonexistent.yaml: No such file or directory"
}

t_file_sources() {
	trap teardown EXIT
	# Falco's own alerts (json_output), as recorded.
	triage classify --alerts "$FIXTURE_ALERTS" --baseline "$BASELINE" --json
	[ "$RC" -eq 0 ] || rx_fail "classify --alerts failed: $(cat "$RX_TMP/triage-err")"
	want 'd["events"]' 4
	want 'd["query"]' "every event in the file"
	want "[g['classification'] for g in d['groups'] if g['exe_path'] == '/usr/bin/sqlite3']" "['benign-true-positive']"
	want "sorted(g['classification'] for g in d['groups'])" "['benign-true-positive', 'real', 'real', 'unknown']"

	# reflex's own audit log: the record shape of README "Audit records".
	python3 - "$RX_TMP/triage-audit.log" <<'PY'
import datetime, json, sys
now = datetime.datetime.now(datetime.timezone.utc)
def ts(minutes):
    return (now - datetime.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
recs = [
    {"timestamp": ts(90), "action": "kill_process", "outcome": "killed", "namespace": "shop", "pod": "web-7d9c",
     "rule": "Drop and execute new binary in container", "dry_run": False, "reason": "dropped binary executed",
     "operator": "reflex-agent", "falco_priority": None, "falco_output": None, "node": "it-node",
     "container_id": "ab" * 32, "pid": 4242, "exe_path": "/tmp/xmrig", "source": "kernel", "latency_us": 31,
     "kill_mode": "kernel", "comm": "xmrig", "image": "docker.io/library/busybox:1.36", "event_id": "e1"},
    {"timestamp": ts(3), "action": "kill_process", "outcome": "excepted", "namespace": "headscale",
     "pod": "headscale-backup-29391780-mz8qd", "rule": "Drop and execute new binary in container", "dry_run": False,
     "reason": "excepted", "operator": "reflex-agent", "falco_priority": "Critical", "falco_output": None,
     "node": "it-node", "container_id": "cd" * 32, "pid": 77, "exe_path": "/usr/bin/sqlite3", "source": "both",
     "image": "docker.io/library/alpine:3.20", "event_id": "e2"},
    {"timestamp": ts(2), "action": "report", "outcome": "lost", "namespace": None, "pod": None, "rule": None},
]
with open(sys.argv[1], "w") as f:
    for r in recs:
        f.write(json.dumps(r) + "\n")
PY
	triage events --audit-log "$RX_TMP/triage-audit.log" --json
	[ "$RC" -eq 0 ] || rx_fail "events --audit-log failed: $(cat "$RX_TMP/triage-err")"
	want 'd["events"]' 2
	want 'd["skipped"]' 1
	want '[(g["namespace"], g["exe_path"]) for g in d["groups"]]' "[('headscale', '/usr/bin/sqlite3'), ('shop', '/tmp/xmrig')]"
	triage verify --audit-log "$RX_TMP/triage-audit.log" --rule "$EXEC_RULE" --namespace headscale
	[ "$RC" -eq 3 ] || rx_fail "verify on the audit log: status $RC, want 3"
	triage verify --audit-log "$RX_TMP/triage-audit.log" --rule "$EXEC_RULE" --namespace shop
	[ "$RC" -eq 0 ] || rx_fail "verify on the audit log (90 minutes old): status $RC, want 0"

	printf '{"rule": "x", "output_fields": {}\n' >"$RX_TMP/triage-bad.ndjson"
	triage events --alerts "$RX_TMP/triage-bad.ndjson"
	[ "$RC" -eq 1 ] || rx_fail "bad alert line: status $RC"
	err_has "triage-bad.ndjson:1: "
}

rx_test triage_events_grouped_newest_first t_events_grouped_newest_first
rx_test triage_classify_against_the_baseline t_classify_against_the_baseline
rx_test triage_fix_emits_scoped_exceptions t_fix_emits_scoped_exceptions
rx_test triage_verify_empty_and_not t_verify_empty_and_not
rx_test triage_report_chains_the_runbook t_report_chains_the_runbook
rx_test triage_bad_answers_and_timeouts t_bad_answers_and_timeouts
rx_test triage_usage_errors t_usage_errors
rx_test triage_file_sources t_file_sources
