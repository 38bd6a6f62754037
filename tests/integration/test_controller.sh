# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
# reflex-controller end to end: the real binary against a local Kubernetes API
# (kube_api.py: pods, owners, DELETE with preconditions, NetworkPolicy create,
# 401 rotation, injected 5xx) and a local Graylog (gelf_server.py: HTTP and UDP
# GELF, down/up); and the agent's durable reports reaching it across a
# controller outage and a kill -9 of the agent.

source "$(dirname "${BASH_SOURCE[0]}")/agent.sh"
source "$(dirname "${BASH_SOURCE[0]}")/falco.sh"
source "$(dirname "${BASH_SOURCE[0]}")/controller.sh"

CTL=$RX_BUILD/reflex-controller
DROPPER=$RX_BUILD/helpers/dropper
POD_RULE="Terminal shell in container"
ISO_RULE="Detect crypto miners using the Stratum protocol"
POD_REASON="Crypto miner process detected by Falco; automated termination"
ISO_DEFAULT_REASON="reflex: isolate_namespace by rule (no audit_reason configured)"
TOKEN=ctl-s3cret

# pod NS NAME OWNER_KIND OWNER_NAME [mirror]: a pod as the API serves it
# (uid $POD_UID when set, else a fresh one).
pod() {
	python3 - "$@" <<'PY'
import json, os, sys, uuid
ns, name, kind, owner = sys.argv[1:5]
meta = {"name": name, "namespace": ns, "uid": os.environ.get("POD_UID") or str(uuid.uuid4())}
if kind != "none":
    meta["ownerReferences"] = [{"apiVersion": "v1" if kind == "Node" else "apps/v1" if kind != "Job" else "batch/v1",
                                "kind": kind, "name": owner, "uid": str(uuid.uuid4()), "controller": True}]
if len(sys.argv) > 5:
    meta["annotations"] = {"kubernetes.io/config.mirror": "abc"}
print(json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                  "spec": {"nodeName": "it-node", "containers": [{"name": "app", "image": "busybox"}]}}))
PY
}

# owner KIND NS NAME [OWNER_KIND OWNER_NAME]
owner() {
	python3 - "$@" <<'PY'
import json, sys, uuid
kind, ns, name = sys.argv[1:4]
meta = {"name": name, "namespace": ns, "uid": str(uuid.uuid4())}
if len(sys.argv) > 5:
    meta["ownerReferences"] = [{"apiVersion": "batch/v1" if sys.argv[4] == "CronJob" else "apps/v1",
                                "kind": sys.argv[4], "name": sys.argv[5], "uid": str(uuid.uuid4()), "controller": True}]
print(json.dumps({"apiVersion": "batch/v1" if kind in ("Job", "CronJob") else "apps/v1", "kind": kind, "metadata": meta}))
PY
}


# alert RULE NS POD [UUID [POD_UID]]: a falcosidekick webhook body (k8s.pod.uid
# as Falco prints it when append_output adds it).
alert() {
	python3 - "$@" <<'PY'
import json, sys, time, uuid
rule, ns, pod = sys.argv[1:4]
u = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else str(uuid.uuid4())
pod_uid = sys.argv[5] if len(sys.argv) > 5 else None
t = time.time_ns()
print(json.dumps({"uuid": u, "output": "Critical %s (k8s_ns=%s k8s_pod_name=%s \u003cshell\u003e)" % (rule, ns, pod),
                  "priority": "Critical", "rule": rule,
                  "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 10**9)) + ".%09dZ" % (t % 10**9),
                  "output_fields": {"container.id": "0e4b6a9c3f12", "evt.time": t, "k8s.ns.name": ns,
                                    "k8s.pod.name": pod, "proc.exepath": "/bin/sh", "proc.pid": 4242,
                                    **({"k8s.pod.uid": pod_uid} if pod_uid else {})},
                  "source": "syscall", "tags": ["container", "shell"], "hostname": "it-node"}))
PY
}
# report RULE NS POD OUTCOME ACTION [DRY_RUN [EVENT_ID]]: an agent report (reporter_format's shape:
# the Falco alert plus the node's "reflex" object) saying what the node did.
report() {
	python3 - "$@" <<'PY'
import json, sys, time, uuid
rule, ns, pod, outcome, action = sys.argv[1:6]
dry = len(sys.argv) > 6 and sys.argv[6] == "true"
eid = sys.argv[7] if len(sys.argv) > 7 else str(uuid.uuid4())
t = time.time_ns()
when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 10**9)) + ".%09dZ" % (t % 10**9)
print(json.dumps({"output": "%s: Critical reflex %s %s (%s) in %s/%s pid 4242 exe /tmp/xmrig" % (when, action, outcome, rule, ns, pod),
                  "priority": "Critical", "rule": rule, "time": when,
                  "output_fields": {"evt.time": t, "container.id": "3f2a9c1d5b7e" + "0" * 52, "k8s.ns.name": ns,
                                    "k8s.pod.name": pod, "k8s.pod.uid": None, "proc.exepath": "/tmp/xmrig",
                                    "proc.pid": 4242, "proc.name": "xmrig", "container.image": None},
                  "source": "syscall", "tags": ["reflex"], "hostname": "it-node",
                  "reflex": {"node": "it-node", "event_id": eid, "action": action, "outcome": outcome,
                             "kill_mode": "cgroup.kill" if outcome == "killed" else None,
                             "latency_us": 900 if outcome == "killed" else None, "source": "kernel",
                             "dry_run": dry, "reason": "node says %s" % outcome, "operator": "reflex-agent",
                             "pod_uid": None}}))
PY
}

# post BODY-FILE [curl args]: prints the HTTP status.
post() {
	curl -s -o "$RX_TMP/post.out" -w '%{http_code}' -X POST "http://127.0.0.1:${CTL_PORT:-19480}/alert" \
		-H 'Content-Type: application/json; charset=utf-8' -H 'User-Agent: Falcosidekick' \
		--data-binary "@$1" "${@:2}"
}
post_ok() { post "$1" -H "X-Falco-Token: $TOKEN" "${@:2}"; }

teardown() {
	local rc=0 p
	ctl_stop || rc=$?
	[ "$rc" -eq 0 ] || rx_fail "reflex-controller exited with status $rc at SIGTERM: $(tail -3 "$RX_TMP/ctl/stderr")"
	rx_agent_stop || rx_fail "reflexd did not exit cleanly"
	for p in api gelf; do
		if [ -f "$RX_TMP/$p.pid" ]; then kill "$(cat "$RX_TMP/$p.pid")" 2>/dev/null || true; fi
	done
	# RX_TMP is shared by the tests of this file: the next one starts clean.
	rm -rf "$RX_TMP/ctl" "$RX_TMP/ctl-spool" "$RX_TMP/agent-spool" "$RX_TMP/gelf.jsonl" "$RX_TMP/gelf.jsonl.invalid" \
		"$RX_TMP/graylog-down" "$RX_TMP/api.pid" "$RX_TMP/gelf.pid"
	rx_cleanup_all
}

t_kill_pod_deletes_exactly_once() {
	trap teardown EXIT
	api_start
	api_owner Deployment shop web
	api_owner ReplicaSet shop web-7d9f4b Deployment web
	api_pod shop web-7d9f4b-x1 ReplicaSet web-7d9f4b
	ctl_config
	ctl_start
	alert "$POD_RULE" shop web-7d9f4b-x1 11111111-2222-4333-8444-555555555555 >"$RX_TMP/a1.json"
	[ "$(post_ok "$RX_TMP/a1.json")" = 200 ] || rx_fail "alert not accepted: $(cat "$RX_TMP/post.out")"
	ctl_audit_wait action=kill_pod outcome=deleted pod=web-7d9f4b-x1 namespace=shop || rx_fail "no audit record of the delete"
	# The exact calls: the pod, its owners up to the Deployment, one DELETE with the uid precondition.
	[ "$(api_requests GET /pods/web-7d9f4b-x1)" = 1 ] || rx_fail "pod not read once"
	[ "$(api_requests GET /replicasets/web-7d9f4b)" = 1 ] || rx_fail "ReplicaSet not walked"
	[ "$(api_requests GET /deployments/web)" = 1 ] || rx_fail "Deployment not walked"
	[ "$(api_requests DELETE /pods/web-7d9f4b-x1)" = 1 ] || rx_fail "not exactly one DELETE"
	local uid body
	uid=$(curl -sf "$API/_control/requests" | python3 -c 'import json,sys; print([r for r in json.load(sys.stdin) if r["method"]=="GET" and "/pods/" in r["path"]][0] and "")')
	body=$(api_last_body DELETE /pods/web-7d9f4b-x1)
	python3 - "$body" <<'PY' || rx_fail "DELETE body wrong: $body"
import json, sys
b = json.loads(sys.argv[1])
assert b["kind"] == "DeleteOptions" and b["apiVersion"] == "v1" and b["gracePeriodSeconds"] == 0, b
assert len(b["preconditions"]["uid"]) == 36, b
PY
	# reason: the rule's audit_reason, verbatim; what reflex found and did: the detail.
	[ "$(ctl_audit pod=web-7d9f4b-x1 outcome=deleted reason="$POD_REASON" falco_priority=CRITICAL)" = 1 ] ||
		rx_fail "reason is not the configured audit_reason: $(grep web-7d9f4b-x1 "$RX_TMP/ctl/stdout")"
	python3 - "$RX_TMP/ctl/stdout" <<'PY' || rx_fail "owner chain and the delete not in the detail"
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if '"deleted"' in l][0]
assert "Pod web-7d9f4b-x1 <- ReplicaSet web-7d9f4b <- Deployment web" in r["detail"], r
assert "deleted, gracePeriodSeconds 0" in r["detail"] and "Deployment" not in r["reason"], r
PY
	# Redelivery (same uuid) and a second alert for the same incident: no second DELETE.
	[ "$(post_ok "$RX_TMP/a1.json")" = 200 ] && grep -q duplicate "$RX_TMP/post.out" || rx_fail "redelivery not a duplicate"
	alert "$POD_RULE" shop web-7d9f4b-x1 >"$RX_TMP/a2.json"
	[ "$(post_ok "$RX_TMP/a2.json")" = 200 ] || rx_fail "second alert not accepted"
	ctl_audit_wait action=kill_pod outcome=duplicate || rx_fail "second alert not recorded as duplicate"
	[ "$(api_requests DELETE /pods/)" = 1 ] || rx_fail "a duplicate deleted again"
	[ "$(ctl_audit action=kill_pod)" = 2 ] || rx_fail "want 2 records (deleted, duplicate), got $(ctl_audit action=kill_pod)"
	[ "$(ctl_metric 'reflex_controller_alerts_total{result="duplicate"}')" = 1 ] || rx_fail "duplicate not counted"
	# Gone already: 404 on the pod.
	alert "$POD_RULE" shop ghost-pod >"$RX_TMP/a3.json"
	post_ok "$RX_TMP/a3.json" >/dev/null
	ctl_audit_wait pod=ghost-pod outcome=gone || rx_fail "a missing pod not recorded as gone"
	[ "$(api_requests DELETE /pods/ghost-pod)" = 0 ] || rx_fail "deleted a pod the API does not have"
	: "$uid"
}

# Two controller replicas share nothing: one incident delivered to both (the
# sidekick alert to one, the redelivery to the other) after the owner has
# recreated the pod under the same name must not delete the new pod.
t_two_replicas_never_delete_a_newer_pod() {
	trap 'kill "$(cat "$RX_TMP/ctl2.pid" 2>/dev/null)" 2>/dev/null || true; teardown' EXIT
	api_start
	api_pod shop db-web-0 none none
	local uid1 uid2
	uid1=$(curl -sf -H 'Authorization: Bearer k8s-one' "$API/api/v1/namespaces/shop/pods/db-web-0" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["uid"])')
	ctl_config
	ctl_start
	sed -e "s|listen_address: .*|listen_address: 127.0.0.1:19481|" -e "s|audit_spool_dir: .*|audit_spool_dir: $RX_TMP/ctl2-spool|" \
		"$RX_TMP/ctl.yaml" >"$RX_TMP/ctl2.yaml"
	"$CTL" --config "$RX_TMP/ctl2.yaml" >"$RX_TMP/ctl2.out" 2>"$RX_TMP/ctl2.err" &
	echo $! >"$RX_TMP/ctl2.pid"
	rx_wait_for curl -sf http://127.0.0.1:19481/readyz -o /dev/null || rx_fail "second replica not ready"
	alert "$POD_RULE" shop db-web-0 aaaaaaaa-2222-4333-8444-555555555555 "$uid1" >"$RX_TMP/a.json"
	[ "$(post_ok "$RX_TMP/a.json")" = 200 ] || rx_fail "replica 1 refused"
	ctl_audit_wait pod=db-web-0 outcome=deleted || rx_fail "replica 1 did not delete"
	# The owner recreates the pod: same name, new uid.
	api_pod shop db-web-0 none none
	uid2=$(curl -sf -H 'Authorization: Bearer k8s-one' "$API/api/v1/namespaces/shop/pods/db-web-0" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["uid"])')
	[ "$uid1" != "$uid2" ] || rx_fail "the stand-in kept the uid"
	CTL_PORT=19481 post_ok "$RX_TMP/a.json" >/dev/null
	rx_wait_for grep -q '"outcome":"refused"' "$RX_TMP/ctl2.out" || rx_fail "replica 2 did not refuse: $(cat "$RX_TMP/ctl2.out")"
	grep -q "a newer pod, not touched" "$RX_TMP/ctl2.out" || rx_fail "refusal does not say why"
	[ "$(api_requests DELETE /pods/db-web-0)" = 1 ] || rx_fail "the newer pod got a DELETE"
	curl -sf -H 'Authorization: Bearer k8s-one' "$API/api/v1/namespaces/shop/pods/db-web-0" >/dev/null ||
		rx_fail "the newer pod is gone"
	kill "$(cat "$RX_TMP/ctl2.pid")"
}

t_safeguards_refuse_and_dry_run_calls_nothing() {
	trap teardown EXIT
	api_start
	api_owner DaemonSet shop agent
	api_pod shop agent-x1 DaemonSet agent
	api_owner StatefulSet shop db
	api_pod shop db-0 StatefulSet db
	api_pod shop etcd-node1 Node node1 mirror
	api_owner CronJob shop backup
	api_owner Job shop backup-29391780 CronJob backup
	api_pod shop backup-29391780-mz8qd Job backup-29391780
	api_pod kube-system dns-1 none none
	ctl_config
	ctl_start
	local p
	for p in agent-x1 db-0 etcd-node1; do
		alert "$POD_RULE" shop "$p" >"$RX_TMP/a.json"
		[ "$(post_ok "$RX_TMP/a.json")" = 200 ] || rx_fail "alert for $p not accepted"
		ctl_audit_wait pod="$p" outcome=refused || rx_fail "$p not refused"
	done
	alert "$POD_RULE" kube-system dns-1 >"$RX_TMP/a.json"
	post_ok "$RX_TMP/a.json" >/dev/null
	ctl_audit_wait pod=dns-1 outcome=refused || rx_fail "denied namespace not refused"
	[ "$(api_requests DELETE /pods/)" = 0 ] || rx_fail "a protected pod was deleted"
	grep -q 'DaemonSet' "$RX_TMP/ctl/stdout" && grep -q 'Node' "$RX_TMP/ctl/stdout" || rx_fail "refusals do not say why"
	# A Job pod walks Job -> CronJob (not protected here): deleted.
	alert "$POD_RULE" shop backup-29391780-mz8qd >"$RX_TMP/a.json"
	post_ok "$RX_TMP/a.json" >/dev/null
	ctl_audit_wait pod=backup-29391780-mz8qd outcome=deleted || rx_fail "Job pod not deleted"
	grep -q 'CronJob backup' "$RX_TMP/ctl/stdout" || rx_fail "Job -> CronJob not walked"
	ctl_stop || rx_fail "controller exit status $?"

	# Dry-run: the decision is recorded (DRY_RUN) and nothing is called but GETs.
	api_owner ReplicaSet shop web-1 Deployment web
	api_owner Deployment shop web
	api_pod shop web-1-a ReplicaSet web-1
	ctl_config true
	ctl_start
	alert "$POD_RULE" shop web-1-a >"$RX_TMP/a.json"
	post_ok "$RX_TMP/a.json" >/dev/null
	alert "$ISO_RULE" shop web-1-a >"$RX_TMP/b.json"
	post_ok "$RX_TMP/b.json" >/dev/null
	ctl_audit_wait pod=web-1-a outcome=dry_run action=kill_pod dry_run=true || rx_fail "no dry-run record"
	ctl_audit_wait pod=web-1-a outcome=dry_run action=isolate_namespace || rx_fail "no isolation dry-run record"
	grep -q 'DRY_RUN' "$RX_TMP/ctl/stdout" || rx_fail "dry-run record lacks DRY_RUN"
	ctl_audit_wait pod=web-1-a outcome=dry_run action=kill_pod reason="DRY_RUN: $POD_REASON" ||
		rx_fail "dry-run reason is not DRY_RUN: + the audit_reason"
	ctl_audit_wait pod=web-1-a outcome=dry_run action=isolate_namespace reason="DRY_RUN: $ISO_DEFAULT_REASON" ||
		rx_fail "a rule without audit_reason does not get the default reason"
	[ "$(api_requests DELETE /pods/)" = 1 ] || rx_fail "dry-run deleted something"
	[ "$(api_requests POST /networkpolicies)" = 0 ] || rx_fail "dry-run isolated a namespace"
}

t_isolate_namespace_once_and_pages() {
	trap teardown EXIT
	api_start
	api_pod prod api-1 none none
	api_pod staging api-2 none none
	api_pod qa api-3 none none
	ctl_config
	ctl_start
	alert "$ISO_RULE" prod api-1 >"$RX_TMP/a.json"
	[ "$(post_ok "$RX_TMP/a.json")" = 200 ] || rx_fail "not accepted"
	ctl_audit_wait action=isolate_namespace namespace=prod outcome=isolated || rx_fail "prod not isolated"
	local body
	body=$(api_last_body POST /namespaces/prod/networkpolicies)
	python3 - "$body" <<'PY' || rx_fail "NetworkPolicy wrong: $body"
import json, sys
b = json.loads(sys.argv[1])
assert b["kind"] == "NetworkPolicy" and b["apiVersion"] == "networking.k8s.io/v1", b
assert b["metadata"]["name"] == "falco-emergency-isolation" and b["metadata"]["namespace"] == "prod", b
assert b["spec"] == {"podSelector": {}, "policyTypes": ["Egress"]}, b
PY
	# The page goes out through its spool: delivered (and audited) to both targets.
	ctl_audit_wait action=page outcome=delivered source=webhook namespace=prod || rx_fail "on-call not paged (webhook)"
	ctl_audit_wait action=page outcome=delivered source=falcosidekick namespace=prod ||
		rx_fail "on-call not paged (falcosidekick)"
	[ "$(api_requests POST /hooks/page)" = 1 ] || rx_fail "paged $(api_requests POST /hooks/page) times, want 1"
	# Same namespace again: one action only.
	alert "$ISO_RULE" prod api-1 >"$RX_TMP/a.json"
	post_ok "$RX_TMP/a.json" >/dev/null
	ctl_audit_wait action=isolate_namespace namespace=prod outcome=duplicate || rx_fail "second isolation not a duplicate"
	[ "$(api_requests POST /namespaces/prod/networkpolicies)" = 1 ] || rx_fail "isolated twice"
	# Already isolated (409 AlreadyExists) is success; another 409 is a failure.
	curl -sf -X POST "$API/apis/networking.k8s.io/v1/namespaces/staging/networkpolicies" -H 'Authorization: Bearer k8s-one' \
		--data-binary '{"metadata":{"name":"falco-emergency-isolation"}}' >/dev/null
	alert "$ISO_RULE" staging api-2 >"$RX_TMP/a.json"
	post_ok "$RX_TMP/a.json" >/dev/null
	ctl_audit_wait namespace=staging outcome=isolated || rx_fail "AlreadyExists not taken as isolated"
	grep -q 'already isolated' "$RX_TMP/ctl/stdout" || rx_fail "AlreadyExists not said"
	api_control POST np_conflict
	alert "$ISO_RULE" qa api-3 >"$RX_TMP/a.json"
	post_ok "$RX_TMP/a.json" >/dev/null
	ctl_audit_wait namespace=qa outcome=failed || rx_fail "a 409 Conflict was not a failure"
}

t_bad_requests_are_refused() {
	trap teardown EXIT
	api_start
	# The hostile corpus's oversized files are over 64 KiB.
	ctl_config false "  max_body_bytes: 65536"
	ctl_start
	alert "$POD_RULE" shop web >"$RX_TMP/a.json"
	[ "$(post "$RX_TMP/a.json")" = 401 ] || rx_fail "no token accepted"
	[ "$(post "$RX_TMP/a.json" -H 'X-Falco-Token: ctl-s3creT')" = 401 ] || rx_fail "wrong token accepted"
	[ "$(post "$RX_TMP/a.json" -H 'X-Falco-Token: ctl-s3cret-and-more')" = 401 ] || rx_fail "longer token accepted"
	python3 -c 'print("{\"rule\":\"" + "A" * 1100000 + "\"}")' >"$RX_TMP/big.json"
	[ "$(post_ok "$RX_TMP/big.json")" = 413 ] || rx_fail "oversized body not 413"
	printf '{"rule": "R", "output_fields": ' >"$RX_TMP/trunc.json"
	[ "$(post_ok "$RX_TMP/trunc.json")" = 400 ] || rx_fail "truncated body not 400"
	grep -q syntax "$RX_TMP/post.out" || rx_fail "400 without a reason"
	local f code
	for f in "$RX_ROOT"/tests/fixtures/falco-hostile/*; do
		case $f in *.md) continue ;; esac
		code=$(post_ok "$f")
		case $code in 400 | 413) ;; *) rx_fail "HTTP $code for $(basename "$f")" ;; esac
	done
	# gzip bodies are taken; a gzip bomb is bounded.
	gzip -c "$RX_TMP/a.json" >"$RX_TMP/a.json.gz"
	[ "$(post_ok "$RX_TMP/a.json.gz" -H 'Content-Encoding: gzip')" = 200 ] || rx_fail "gzip body refused: $(cat "$RX_TMP/post.out")"
	head -c 50000000 /dev/zero | gzip -c >"$RX_TMP/bomb.gz"
	[ "$(post_ok "$RX_TMP/bomb.gz" -H 'Content-Encoding: gzip')" = 413 ] || rx_fail "gzip bomb not 413"
	curl -sf "http://127.0.0.1:${CTL_PORT:-19480}/healthz" >/dev/null || rx_fail "/healthz"
	[ "$(ctl_metric 'reflex_controller_alerts_total{result="unauthorized"}')" = 3 ] || rx_fail "unauthorized not counted"
	kill -0 "$(cat "$RX_TMP/ctl/pid")" || rx_fail "controller died"
}

t_api_401_and_5xx() {
	trap teardown EXIT
	api_start
	api_pod shop w-1 none none
	api_pod shop w-2 none none
	ctl_config
	ctl_start
	# The token rotates: 401, re-read, success.
	api_control POST token "{\"token\": \"k8s-two\", \"write_file_on_401\": \"$RX_TMP/k8s-token\"}"
	alert "$POD_RULE" shop w-1 >"$RX_TMP/a.json"
	post_ok "$RX_TMP/a.json" >/dev/null
	ctl_audit_wait pod=w-1 outcome=deleted || rx_fail "no delete after the token rotated: $(tail -3 "$RX_TMP/ctl/stderr")"
	[ "$(ctl_metric reflex_controller_api_auth_retries_total)" -ge 1 ] || rx_fail "401 retry not counted"
	# The API fails (500): a sidekick alert (never retried) is audited as failed.
	api_control POST fail '{"count": 1, "code": 500}'
	alert "$POD_RULE" shop w-2 >"$RX_TMP/a.json"
	post_ok "$RX_TMP/a.json" >/dev/null
	ctl_audit_wait pod=w-2 outcome=failed || rx_fail "API 500 not audited as failed"
	[ "$(ctl_metric reflex_controller_api_errors_total)" -ge 1 ] || rx_fail "API error not counted"
}

t_graylog_down_then_up_loses_nothing() {
	trap teardown EXIT
	api_start
	gelf_start
	GELF_UDP_ON=1 ctl_config
	: >"$RX_TMP/graylog-down"
	ctl_start
	local i
	for i in 1 2 3 4 5; do
		api_pod shop g-$i none none
		alert "$POD_RULE" shop g-$i >"$RX_TMP/a.json"
		post_ok "$RX_TMP/a.json" >/dev/null
	done
	rx_wait_for bash -c "[ \$(ctl_audit outcome=deleted) -eq 5 ]" || rx_fail "not 5 deletes"
	sleep 1
	[ "$(gelf_count g-)" = 0 ] || rx_fail "records reached a Graylog that is down"
	[ "$(ctl_metric reflex_controller_audit_pending)" = 5 ] || rx_fail "5 records not pending: $(ctl_metric reflex_controller_audit_pending)"
	# The controller restarts meanwhile: the spool survives.
	ctl_stop || rx_fail "controller exit status $?"
	ctl_start
	rm -f "$RX_TMP/graylog-down"
	# Each record over HTTP and UDP: 5 each, none twice.
	RX_WAIT_MS=40000 rx_wait_for bash -c "[ \$(grep -c '\"_pod\": *\"g-' $RX_TMP/gelf.jsonl 2>/dev/null || echo 0) -ge 10 ]" ||
		rx_fail "records not delivered after Graylog came back: $(gelf_count g-)"
	sleep 1
	python3 - "$RX_TMP/gelf.jsonl" <<'PY' || rx_fail "a record arrived twice, or is missing"
import collections, json, sys
c = collections.Counter()
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("_pod", "").startswith("g-"):
        assert m["version"] == "1.1" and m["_stream"] == "falco-automated-response", m
        c[m["_pod"]] += 1
assert sorted(c) == ["g-%d" % i for i in range(1, 6)] and set(c.values()) == {2}, c
PY
	[ ! -s "$RX_TMP/gelf.jsonl.invalid" ] || rx_fail "invalid GELF sent: $(head -2 "$RX_TMP/gelf.jsonl.invalid")"
}

# The agent's reports: the controller down, the agent kill -9'd with a full spool.
t_agent_reports_arrive_once() {
	trap teardown EXIT
	api_start
	ctl_config
	rx_agent_config "$RX_TMP/agent.yaml" kill_process false "" "  controller_url: http://127.0.0.1:${CTL_PORT:-19480}
  controller_token_file: $RX_TMP/ctl-token
  report_spool_dir: $RX_TMP/agent-spool"
	echo -n "$TOKEN" >"$RX_TMP/ctl-token"
	rx_agent_start "$RX_TMP/agent.yaml"
	rx_ctr_create rp1 shop rp1-pod
	rx_ctr_drop rp1 "$DROPPER" /tmp/dropped
	local i rc
	for i in 1 2 3; do
		rc=0
		rx_ctr_exec rp1 /tmp/dropped /tmp/m$i || rc=$?
		[ "$rc" -eq 137 ] || rx_fail "exec $i not killed ($rc)"
	done
	rx_wait_for bash -c "[ \$(ls $RX_TMP/agent-spool/*.rec 2>/dev/null | wc -l) -eq 3 ]" || rx_fail "3 reports not spooled"
	# kill -9 with the spool full, restart: nothing lost.
	kill -9 "$(cat "$RX_TMP/agent/pid")"
	sleep 0.5
	rx_agent_start "$RX_TMP/agent.yaml"
	ctl_start
	RX_WAIT_MS=30000 rx_wait_for bash -c "[ \$(ctl_audit rule='$RX_EXEC_RULE' outcome=killed) -ge 3 ]" ||
		rx_fail "reports did not arrive: $(ctl_audit rule="$RX_EXEC_RULE")"
	sleep 2
	[ "$(ctl_audit rule="$RX_EXEC_RULE")" = 3 ] || rx_fail "want 3 records, got $(ctl_audit rule="$RX_EXEC_RULE")"
	ctl_audit_wait rule="$RX_EXEC_RULE" operator=reflex-agent node=it-node source=kernel namespace=shop pod=rp1-pod ||
		rx_fail "node fields missing in the controller's record"
	rx_wait_for bash -c "! ls $RX_TMP/agent-spool/*.rec >/dev/null 2>&1" || rx_fail "spool not emptied after delivery"
	# While the controller is up, a new kill arrives at once.
	rc=0
	rx_ctr_exec rp1 /tmp/dropped /tmp/m4 || rc=$?
	rx_wait_for bash -c "[ \$(ctl_audit rule='$RX_EXEC_RULE') -eq 4 ]" || rx_fail "live report not delivered"
}

# kill -9 of the agent right after a kill, with a Falco socket and the
# default 5 s correlation window: the kill's record and its report are
# written when the kill happens, so neither is lost.
t_agent_kill9_right_after_a_kill_loses_nothing() {
	trap teardown EXIT
	api_start
	ctl_config
	RX_CORRELATION_MS=5000 rx_agent_config "$RX_TMP/agent.yaml" kill_process false "" "  controller_url: http://127.0.0.1:${CTL_PORT:-19480}
  controller_token_file: $RX_TMP/ctl-token
  report_spool_dir: $RX_TMP/agent-spool"
	echo -n "$TOKEN" >"$RX_TMP/ctl-token"
	rx_agent_start "$RX_TMP/agent.yaml" --no-kernel-enforce
	rx_ctr_create k9 shop k9-pod
	rx_wait_for rx_agent_tracks k9 || rx_fail "agent never saw k9"
	rx_ctr_drop k9 "$DROPPER" /tmp/dropped
	local rc=0
	rx_ctr_exec k9 /tmp/dropped /tmp/m sleep || rc=$?
	[ "$rc" -eq 137 ] || rx_fail "exec not killed ($rc)"
	kill -9 "$(cat "$RX_TMP/agent/pid")"
	rx_wait_for rx__not kill -0 "$(cat "$RX_TMP/agent/pid")" || rx_fail "agent survived kill -9"
	[ "$(rx_jsonl_count "$RX_TMP/agent/audit.log" rule="$RX_EXEC_RULE" outcome=killed kill_mode=pidfd)" -eq 1 ] ||
		{ cat "$RX_TMP/agent/audit.log" >&2; rx_fail "the kill's record was lost with the agent"; }
	rx_agent_start "$RX_TMP/agent.yaml" --no-kernel-enforce
	ctl_start
	RX_WAIT_MS=30000 rx_wait_for bash -c "[ \$(ctl_audit rule='$RX_EXEC_RULE' outcome=killed) -ge 1 ]" ||
		rx_fail "the kill's report never reached the controller: $(ctl_audit rule="$RX_EXEC_RULE")"
}

# api_pod_uid NS NAME OWNER_KIND OWNER_NAME UID: a pod whose uid is the runtime's (the node reports it).
api_pod_uid() {
	pod "$1" "$2" "$3" "$4" |
		python3 -c 'import json,sys; p=json.load(sys.stdin); p["metadata"]["uid"]=sys.argv[1]; print(json.dumps(p))' "$5" |
		curl -sf -X POST "$API/_control/pods" --data-binary @- >/dev/null
}

# End to end, as seen on a node: reflexd with a kill_pod rule and
# rate_limit_containers: 1 reporting to reflex-controller; two pods of one
# Deployment run a dropped binary. The node kills the first and disarms the
# rule for the second: the controller deletes the first pod only, and audits
# the second as refused with the node's outcome.
t_node_disarmed_pod_is_never_deleted() {
	trap teardown EXIT
	api_start
	api_owner Deployment shop nd
	api_owner ReplicaSet shop nd-7f Deployment nd
	rx_ctr_create nd1 shop nd-7f-a
	rx_ctr_create nd2 shop nd-7f-b
	api_pod_uid shop nd-7f-a ReplicaSet nd-7f "$(cat "$(rx__ctr_dir nd1)/uid")"
	api_pod_uid shop nd-7f-b ReplicaSet nd-7f "$(cat "$(rx__ctr_dir nd2)/uid")"
	ctl_config
	python3 - "$RX_TMP/ctl.yaml" "$RX_EXEC_RULE" <<'PY'
import sys
path, rule = sys.argv[1:3]
text = open(path).read()
old = "  - name: %s\n    action: kill_process\n" % rule
assert old in text, text
open(path, "w").write(text.replace(old, "  - name: %s\n    action: kill_pod\n    audit_reason: dropped binary executed in a container\n" % rule))
PY
	ctl_start
	rx_agent_config "$RX_TMP/agent.yaml" kill_pod false "" "  controller_url: http://127.0.0.1:${CTL_PORT:-19480}
  controller_token_file: $RX_TMP/ctl-token
  report_spool_dir: $RX_TMP/agent-spool
  rate_limit_containers: 1"
	rx_agent_start "$RX_TMP/agent.yaml"
	rx_wait_for rx_agent_tracks nd1 || rx_fail "agent never saw nd1"
	rx_wait_for rx_agent_tracks nd2 || rx_fail "agent never saw nd2"
	rx_ctr_drop nd1 "$DROPPER" /tmp/dropped
	rx_ctr_drop nd2 "$DROPPER" /tmp/dropped
	local rc=0
	rx_ctr_exec nd1 /tmp/dropped /tmp/m || rc=$?
	[ "$rc" -eq 137 ] || rx_fail "first pod's binary not killed ($rc)"
	rc=0
	rx_ctr_exec nd2 /tmp/dropped /tmp/m || rc=$?
	rx_audit_wait pod=nd-7f-b outcome=disarmed || { rx_audit_show; rx_fail "the node did not disarm for the second pod"; }
	ctl_audit_wait pod=nd-7f-a outcome=deleted || rx_fail "the killed pod was not deleted: $(cat "$RX_TMP/ctl/stdout")"
	ctl_audit_wait pod=nd-7f-b outcome=refused || rx_fail "the disarmed report was not refused: $(cat "$RX_TMP/ctl/stdout")"
	[ "$(api_requests DELETE /pods/nd-7f-b)" = 0 ] || rx_fail "the controller deleted the pod the node disarmed for"
	[ "$(api_requests DELETE /pods/nd-7f-a)" = 1 ] || rx_fail "the killed pod not deleted exactly once"
	grep '"nd-7f-b"' "$RX_TMP/ctl/stdout" | grep -q disarmed || rx_fail "the refusal does not give the node's outcome"
}

# kill -9 of the controller at random points while alerts are in flight, then
# the sender's redelivery (falcosidekick and the agent retry what was not
# answered 200): every pod deleted, none twice (the delete carries the pod
# uid, and a pod already gone is "gone", not a second kill).
t_controller_kill9_mid_flight_acts_once() {
	trap teardown EXIT
	api_start
	api_owner Deployment shop web
	api_owner ReplicaSet shop web-5c Deployment web
	local n=12 i round posts
	for i in $(seq 1 "$n"); do
		api_pod shop "web-5c-p$i" ReplicaSet web-5c
		alert "$POD_RULE" shop "web-5c-p$i" "$(printf 'aaaaaaaa-0000-4000-8000-%012d' "$i")" >"$RX_TMP/k$i.json"
	done
	# 12 distinct pods of one rule: past the default runaway limit (5), which is not under test here.
	ctl_config false "  rate_limit_pods: 100"
	for round in 1 2 3; do
		ctl_start
		posts=()
		for i in $(seq 1 "$n"); do
			post_ok "$RX_TMP/k$i.json" -m 5 >/dev/null &
			posts+=($!)
		done
		# A random point: 0 to 150 ms into the burst.
		sleep "0.$(printf '%03d' $((RANDOM % 150)))"
		kill -9 "$(cat "$RX_TMP/ctl/pid")"
		wait "${posts[@]}" || true
		rm -f "$RX_TMP/ctl/pid"
		echo "round $round: $(api_requests DELETE /pods/web-5c-) DELETEs so far"
	done
	# The last life: everything is redelivered once more and answered.
	ctl_start
	for i in $(seq 1 "$n"); do
		[ "$(post_ok "$RX_TMP/k$i.json")" = 200 ] || rx_fail "redelivery $i not accepted: $(cat "$RX_TMP/post.out")"
	done
	curl -sf "$API/_control/requests" | python3 -c '
import collections, json, sys
n = int(sys.argv[1])
ok = collections.Counter(r["path"].rsplit("/", 1)[1] for r in json.load(sys.stdin)
                         if r["method"] == "DELETE" and "/pods/web-5c-" in r["path"] and r["code"] == 200)
missing = [f"web-5c-p{i}" for i in range(1, n + 1) if ok[f"web-5c-p{i}"] == 0]
twice = {p: c for p, c in ok.items() if c > 1}
assert not missing and not twice, f"not deleted: {missing}; deleted twice: {twice}"
' "$n" || rx_fail "pods not deleted exactly once across kill -9"
	for i in $(seq 1 "$n"); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer k8s-one" "$API/api/v1/namespaces/shop/pods/web-5c-p$i")" = 404 ] ||
			rx_fail "pod web-5c-p$i still exists"
	done
}

# The node's outcome binds the controller: a report of a kill_pod /
# isolate_namespace rule that the node did not carry out (disarmed by its
# rate limit, refused by a safeguard or the identity check, dry-run,
# excepted, failed, exited, run as another action) is audited "refused"
# and calls nothing at the API; "killed" (and, for isolation, the node's
# "alert" under isolate_namespace) still acts. The scenario: a kill_pod rule
# with rate_limit_containers: 1, two pods of a Deployment; the node kills
# the first and disarms on the second; only the first pod may be deleted.
t_node_declined_reports_never_act() {
	trap teardown EXIT
	api_start
	api_owner Deployment shop web
	api_owner ReplicaSet shop web-6b Deployment web
	local p
	for p in ok dis ref dry exc fail exit mis; do
		api_pod shop "web-6b-$p" ReplicaSet web-6b
	done
	api_pod prod api-1 none none
	api_pod staging api-2 none none
	ctl_config
	ctl_start
	report "$POD_RULE" shop web-6b-ok killed kill_pod >"$RX_TMP/r.json"
	[ "$(post_ok "$RX_TMP/r.json")" = 200 ] || rx_fail "report not accepted: $(cat "$RX_TMP/post.out")"
	ctl_audit_wait pod=web-6b-ok outcome=deleted || rx_fail "a report of a kill did not delete the pod"
	for p in dis:disarmed ref:refused exc:excepted fail:failed exit:exited; do
		report "$POD_RULE" shop "web-6b-${p%%:*}" "${p#*:}" kill_pod >"$RX_TMP/r.json"
		[ "$(post_ok "$RX_TMP/r.json")" = 200 ] || rx_fail "report ${p#*:} not accepted"
	done
	report "$POD_RULE" shop web-6b-dry dry_run kill_pod true >"$RX_TMP/r.json"
	post_ok "$RX_TMP/r.json" >/dev/null
	# The node's config runs the rule as kill_process: its kill is not consent to delete a pod.
	report "$POD_RULE" shop web-6b-mis killed kill_process >"$RX_TMP/r.json"
	post_ok "$RX_TMP/r.json" >/dev/null
	for p in dis ref exc fail exit mis; do
		ctl_audit_wait pod="web-6b-$p" outcome=refused action=kill_pod reason="$POD_REASON" dry_run=false ||
			rx_fail "web-6b-$p not audited refused: $(grep "web-6b-$p" "$RX_TMP/ctl/stdout")"
	done
	ctl_audit_wait pod=web-6b-dry outcome=refused action=kill_pod reason="DRY_RUN: $POD_REASON" dry_run=true ||
		rx_fail "the dry-run report not audited refused with DRY_RUN: $(grep web-6b-dry "$RX_TMP/ctl/stdout")"
	python3 - "$RX_TMP/ctl/stdout" <<'PY' || rx_fail "refusals do not say the node's outcome and reason"
import json, sys
recs = {r["pod"]: r for r in map(json.loads, open(sys.argv[1])) if r.get("pod", "").startswith("web-6b-")}
for pod, o in [("dis", "disarmed"), ("ref", "refused"), ("exc", "excepted"), ("fail", "failed"),
               ("exit", "exited"), ("dry", "dry_run")]:
    d = recs["web-6b-" + pod]["detail"]
    assert d.startswith("the node did not act (outcome %s" % o) and "the controller does not delete the pod" in d, d
    assert "node it-node: %s: node says %s" % (o, o) in d, d
assert "action kill_process" in recs["web-6b-mis"]["detail"], recs["web-6b-mis"]
PY
	# Not one call for a declined pod: no owner walk, no DELETE.
	for p in dis ref dry exc fail exit mis; do
		[ "$(api_requests GET "/pods/web-6b-$p")" = 0 ] || rx_fail "the API was asked about web-6b-$p"
	done
	[ "$(api_requests DELETE /pods/)" = 1 ] || rx_fail "declined reports led to DELETEs: $(api_requests DELETE /pods/)"
	[ "$(api_requests DELETE /pods/web-6b-ok)" = 1 ] || rx_fail "the killed pod was not the one deleted"
	# Isolation: a dry-run node report isolates nothing; the node's go-ahead (alert under isolate_namespace) does.
	report "$ISO_RULE" prod api-1 dry_run isolate_namespace true >"$RX_TMP/r.json"
	post_ok "$RX_TMP/r.json" >/dev/null
	ctl_audit_wait namespace=prod action=isolate_namespace outcome=refused dry_run=true ||
		rx_fail "dry-run isolation report not refused"
	report "$ISO_RULE" staging api-2 alert isolate_namespace >"$RX_TMP/r.json"
	post_ok "$RX_TMP/r.json" >/dev/null
	ctl_audit_wait namespace=staging action=isolate_namespace outcome=isolated || rx_fail "node go-ahead did not isolate"
	[ "$(api_requests POST /namespaces/prod/networkpolicies)" = 0 ] || rx_fail "a dry-run report isolated prod"
	[ "$(ctl_metric 'reflex_controller_actions_total{action="kill_pod",outcome="refused"}')" = 7 ] ||
		rx_fail "refusals not counted: $(ctl_metric 'reflex_controller_actions_total{action="kill_pod",outcome="refused"}')"
}

# The controller's own runaway disarm (ratelimit.c, as on the node): past
# rate_limit_pods distinct pods deleted for one rule in the window, the rule
# is alert-only (audited "disarmed", in /metrics) until a reload re-arms it.
t_controller_rate_limit_disarms_and_reload_rearms() {
	trap teardown EXIT
	api_start
	local i disarmed_line='reflex_controller_rule_disarmed{rule="Terminal shell in container",limit="pods"} 1'
	for i in 1 2 3 4 5; do
		api_pod shop "rl-$i" none none
	done
	api_pod prod iso-1 none none
	ctl_config false "  rate_limit_pods: 2"
	ctl_start
	for i in 1 2; do
		alert "$POD_RULE" shop "rl-$i" >"$RX_TMP/a.json"
		post_ok "$RX_TMP/a.json" >/dev/null
		ctl_audit_wait pod="rl-$i" outcome=deleted || rx_fail "rl-$i not deleted under the limit"
	done
	curl -sf "http://127.0.0.1:${CTL_PORT:-19480}/metrics" | grep -qF 'reflex_controller_rule_disarmed{' &&
		rx_fail "a rule disarmed under the limit"
	for i in 3 4; do
		alert "$POD_RULE" shop "rl-$i" >"$RX_TMP/a.json"
		[ "$(post_ok "$RX_TMP/a.json")" = 200 ] || rx_fail "alert rl-$i not accepted"
		ctl_audit_wait pod="rl-$i" outcome=disarmed action=kill_pod reason="$POD_REASON" ||
			rx_fail "rl-$i not audited disarmed: $(grep "rl-$i" "$RX_TMP/ctl/stdout")"
		[ "$(api_requests DELETE "/pods/rl-$i")" = 0 ] || rx_fail "a disarmed rule deleted rl-$i"
	done
	grep '"rl-3"' "$RX_TMP/ctl/stdout" | grep -q 'more than 2 distinct pods deleted within 60 s (controller.rate_limit_pods)' ||
		rx_fail "the disarm does not say why: $(grep rl-3 "$RX_TMP/ctl/stdout")"
	curl -sf "http://127.0.0.1:${CTL_PORT:-19480}/metrics" | grep -qxF "$disarmed_line" || rx_fail "disarm not in /metrics"
	[ "$(ctl_metric 'reflex_controller_actions_total{action="kill_pod",outcome="disarmed"}')" = 2 ] || rx_fail "disarms not counted"
	# Another rule is not disarmed by this one.
	alert "$ISO_RULE" prod iso-1 >"$RX_TMP/a.json"
	post_ok "$RX_TMP/a.json" >/dev/null
	ctl_audit_wait namespace=prod outcome=isolated || rx_fail "the isolation rule was disarmed with the pod rule"
	# A reload re-arms.
	kill -HUP "$(cat "$RX_TMP/ctl/pid")"
	rx_wait_for bash -c "! curl -sf http://127.0.0.1:${CTL_PORT:-19480}/metrics | grep -qF 'reflex_controller_rule_disarmed{'" ||
		rx_fail "reload did not re-arm"
	grep -q 'armed again' "$RX_TMP/ctl/stderr" || rx_fail "re-arming not logged"
	alert "$POD_RULE" shop rl-5 >"$RX_TMP/a.json"
	post_ok "$RX_TMP/a.json" >/dev/null
	ctl_audit_wait pod=rl-5 outcome=deleted || rx_fail "not deleted after the reload re-armed the rule"
}

# The record says what the operator wrote: reason = the rule's audit_reason
# (or the action's fixed default), on stdout and in the GELF message Graylog
# gets; what reflex found and did is the detail and GELF full_message.
t_reason_is_audit_reason_on_stdout_and_graylog() {
	trap teardown EXIT
	api_start
	gelf_start
	api_owner Deployment shop web
	api_owner ReplicaSet shop web-9 Deployment web
	api_pod shop web-9-a ReplicaSet web-9
	api_pod prod api-9 none none
	ctl_config
	ctl_start
	alert "$POD_RULE" shop web-9-a >"$RX_TMP/a.json"
	post_ok "$RX_TMP/a.json" >/dev/null
	alert "$ISO_RULE" prod api-9 >"$RX_TMP/b.json"
	post_ok "$RX_TMP/b.json" >/dev/null
	ctl_audit_wait pod=web-9-a outcome=deleted reason="$POD_REASON" falco_priority=CRITICAL ||
		rx_fail "stdout record: $(grep web-9-a "$RX_TMP/ctl/stdout")"
	ctl_audit_wait namespace=prod outcome=isolated reason="$ISO_DEFAULT_REASON" || rx_fail "default reason missing"
	RX_WAIT_MS=20000 rx_wait_for bash -c "[ \$(grep -c '\"_outcome\": *\"\\(deleted\\|isolated\\)\"' $RX_TMP/gelf.jsonl 2>/dev/null || echo 0) -ge 2 ]" ||
		rx_fail "records did not reach Graylog"
	python3 - "$RX_TMP/ctl/stdout" "$RX_TMP/gelf.jsonl" "$RX_TMP/a.json" "$POD_REASON" "$ISO_DEFAULT_REASON" <<'PY' || rx_fail "reason/detail wrong"
import json, sys
out, gelf, alert, pod_reason, iso_reason = sys.argv[1:6]
recs = [json.loads(l) for l in open(out)]
rec = [r for r in recs if r.get("pod") == "web-9-a"][0]
assert rec["reason"] == pod_reason, rec
assert "owners: Pod web-9-a <- ReplicaSet web-9 <- Deployment web" in rec["detail"], rec
assert "pod shop/web-9-a (uid" in rec["detail"] and "deleted, gracePeriodSeconds 0" in rec["detail"], rec
a = json.load(open(alert))
assert rec["event_time"] == a["time"][:26] + "Z", (rec["event_time"], a["time"])
assert rec["falco_priority"] == "CRITICAL" and a["priority"] == "Critical", rec
msgs = [json.loads(l) for l in open(gelf)]
m = [m for m in msgs if m.get("_pod") == "web-9-a"][0]
assert m["_reason"] == pod_reason, m
assert m["full_message"] == rec["detail"] and m["_detail"] == rec["detail"], m
assert m["_falco_priority"] == "CRITICAL" and m["_event_time"] == rec["event_time"], m
iso = [m for m in msgs if m.get("_namespace") == "prod" and m.get("_action") == "isolate_namespace"][0]
assert iso["_reason"] == iso_reason and "NetworkPolicy falco-emergency-isolation" in iso["full_message"], iso
PY
	[ ! -s "$RX_TMP/gelf.jsonl.invalid" ] || rx_fail "invalid GELF sent: $(head -2 "$RX_TMP/gelf.jsonl.invalid")"
}

# A dropped binary named with a byte that is not UTF-8, under a kill_pod rule:
# the node kills it, the report reaches the controller (it used to fail to
# spool: jansson refuses the raw byte, "Cannot allocate memory") and the
# controller deletes the pod. The byte travels as the text \xff.
t_kill_pod_report_of_a_non_utf8_name() {
	trap teardown EXIT
	api_start
	api_owner Deployment shop hx
	api_owner ReplicaSet shop hx-5c Deployment hx
	ctl_config
	# The exec rule deletes the pod here.
	sed -i "/name: $RX_EXEC_RULE/{n;s/action: .*/action: kill_pod/}" "$RX_TMP/ctl.yaml"
	grep -A1 "name: $RX_EXEC_RULE" "$RX_TMP/ctl.yaml" | grep -q 'action: kill_pod' || rx_fail "controller config not edited"
	ctl_start
	rx_agent_config "$RX_TMP/agent.yaml" kill_pod false "" "  controller_url: http://127.0.0.1:${CTL_PORT:-19480}
  controller_token_file: $RX_TMP/ctl-token
  report_spool_dir: $RX_TMP/agent-spool"
	rx_agent_start "$RX_TMP/agent.yaml"
	rx_ctr_create hx1 shop hx-5c-p1
	POD_UID=$(rx_ctr_uid hx1) api_pod shop hx-5c-p1 ReplicaSet hx-5c
	local name=$'/tmp/x\377' rc=0
	rx_ctr_drop hx1 "$DROPPER" "$name"
	# runc passes argv through JSON (the byte would become U+FFFD): the
	# container's shell finds the file by a glob.
	rx_ctr_exec hx1 /bin/sh -c 'exec /tmp/x? /tmp/marker' || rc=$?
	[ "$rc" -eq 137 ] || rx_fail "the dropped binary was not killed ($rc)"
	rx_audit_wait rule="$RX_EXEC_RULE" action=kill_pod outcome=killed 'exe_path=/tmp/x\xff' ||
		rx_fail "no kill record on the node: $(cat "$RX_TMP/agent/stdout")"
	ctl_audit_wait rule="$RX_EXEC_RULE" action=kill_pod outcome=deleted namespace=shop pod=hx-5c-p1 ||
		rx_fail "the controller did not delete the pod: $(cat "$RX_TMP/ctl/stdout"; grep -i report "$RX_TMP/agent/stderr")"
	[ "$(ctl_audit 'exe_path=/tmp/x\xff' action=kill_pod)" -ge 1 ] ||
		rx_fail "exe path not carried as /tmp/x\\xff: $(cat "$RX_TMP/ctl/stdout")"
	[ "$(api_requests DELETE /pods/hx-5c-p1)" = 1 ] || rx_fail "not exactly one DELETE of the pod"
	! grep -q 'could not be spooled' "$RX_TMP/agent/stderr" || rx_fail "a report was lost: $(grep 'could not be spooled' "$RX_TMP/agent/stderr")"
	[ "$(rx_audit_count action=report outcome=lost)" = 0 ] || rx_fail "the agent audited a lost report"
}

# A sender's event id of multibyte characters, longer than the controller
# keeps: cut at a character boundary, never inside one, so the
# NetworkPolicy and the page built from it are still valid JSON (a split
# character made both fail as "out of memory").
t_isolate_with_a_long_multibyte_event_id() {
	trap teardown EXIT
	api_start
	api_pod prod api-1 none none
	ctl_config
	ctl_start
	# "falco-" + 200 two-byte characters: the 160-byte buffer cuts inside one.
	local id
	id=$(python3 -c 'print("\u00e9" * 200)')
	alert "$ISO_RULE" prod api-1 "$id" >"$RX_TMP/a.json"
	[ "$(post_ok "$RX_TMP/a.json")" = 200 ] || rx_fail "not accepted: $(cat "$RX_TMP/post.out")"
	ctl_audit_wait action=isolate_namespace namespace=prod outcome=isolated ||
		rx_fail "prod not isolated: $(cat "$RX_TMP/ctl/stdout")"
	local body
	body=$(api_last_body POST /namespaces/prod/networkpolicies)
	python3 - "$body" <<'PY' || rx_fail "NetworkPolicy wrong: $body"
import json, sys
b = json.loads(sys.argv[1])
eid = b["metadata"]["annotations"]["reflex.io/event-id"]
assert eid.startswith("falco-\u00e9") and set(eid[6:]) == {"\u00e9"}, eid
assert len(eid.encode()) < 160, len(eid.encode())
PY
	# The page goes out through its spool: delivered (and audited) to both targets.
	ctl_audit_wait action=page outcome=delivered source=webhook namespace=prod || rx_fail "on-call not paged (webhook)"
	ctl_audit_wait action=page outcome=delivered source=falcosidekick namespace=prod ||
		rx_fail "on-call not paged (falcosidekick)"
	[ "$(api_requests POST /hooks/page)" = 1 ] || rx_fail "paged $(api_requests POST /hooks/page) times, want 1"
}

# event_of REASON NAME: the stored Event of that reason about object NAME, as JSON (empty: none yet).
event_of() {
	curl -sf "$API/_control/events" | python3 -c '
import json, sys
reason, name = sys.argv[1:3]
e = [x for x in json.load(sys.stdin) if x["reason"] == reason and x["regarding"]["name"] == name]
print(json.dumps(e[0]) if e else "")' "$1" "$2"
}
has_event() { [ -n "$(event_of "$@")" ]; }
series_counted() { [ "$(event_count ReflexDeletedPod web-7d9f4b-x1)" = 2 ]; }
event_failure_counted() { [ "$(ctl_metric 'reflex_controller_events_total{result="failed"}')" = 1 ]; }
event_count() { event_of "$1" "$2" | python3 -c 'import json,sys; print((json.load(sys.stdin).get("series") or {}).get("count", 1))'; }

# Every decision as a Kubernetes Event (events.k8s.io/v1) on the pod or the
# namespace, with a note an on-call person reads; a repeat of the incident
# counts on the same Event; a refused Event write never holds up the action.
t_kubernetes_events_for_decisions() {
	trap teardown EXIT
	api_start
	api_owner Deployment shop web
	api_owner ReplicaSet shop web-7d9f4b Deployment web
	api_pod shop web-7d9f4b-x1 ReplicaSet web-7d9f4b
	api_pod shop web-7d9f4b-x2 ReplicaSet web-7d9f4b
	api_pod prod api-1 none none
	ctl_config
	ctl_start
	alert "$POD_RULE" shop web-7d9f4b-x1 >"$RX_TMP/a1.json"
	[ "$(post_ok "$RX_TMP/a1.json")" = 200 ] || rx_fail "alert not accepted"
	ctl_audit_wait action=kill_pod outcome=deleted pod=web-7d9f4b-x1 || rx_fail "not deleted"
	rx_wait_for has_event ReflexDeletedPod web-7d9f4b-x1 || rx_fail "no Event: $(curl -sf "$API/_control/events")"
	python3 - "$(event_of ReflexDeletedPod web-7d9f4b-x1)" "$RX_TMP/ctl/stdout" "$POD_RULE" <<'PY' || rx_fail "Event body"
import json, sys
e = json.loads(sys.argv[1])
rec = [json.loads(l) for l in open(sys.argv[2]) if '"outcome":"deleted"' in l][0]
assert e["apiVersion"] == "events.k8s.io/v1" and e["kind"] == "Event", e
assert e["type"] == "Warning" and e["action"] == "Delete" and e["reportingController"] == "reflex-controller", e
assert e["reportingInstance"] == rec["writer"], (e["reportingInstance"], rec["writer"])
assert e["regarding"]["kind"] == "Pod" and e["regarding"]["namespace"] == "shop", e
assert e["metadata"]["namespace"] == "shop" and e["metadata"]["name"].startswith("web-7d9f4b-x1."), e
assert e["metadata"]["annotations"]["reflex/event-id"] == rec["event_id"], e
assert e["note"].startswith("deleted pod shop/web-7d9f4b-x1: " + sys.argv[3] + "; "), e["note"]
PY
	# The same incident again: the Event's series counts it (one PATCH), no second Event.
	alert "$POD_RULE" shop web-7d9f4b-x1 >"$RX_TMP/a2.json"
	post_ok "$RX_TMP/a2.json" >/dev/null
	ctl_audit_wait action=kill_pod outcome=duplicate pod=web-7d9f4b-x1 || rx_fail "no duplicate record"
	rx_wait_for series_counted ||
		rx_fail "series not counted: $(event_of ReflexDeletedPod web-7d9f4b-x1)"
	[ "$(api_requests POST /events)" = 1 ] || rx_fail "$(api_requests POST /events) Events created, want 1"
	[ "$(api_requests PATCH /events/)" = 1 ] || rx_fail "the repeat did not patch the Event"
	# 403 on Events (RBAC not applied yet): the deletion and its record happen all the same.
	api_control POST events_fail '{"count": 1, "code": 403}'
	alert "$POD_RULE" shop web-7d9f4b-x2 >"$RX_TMP/a3.json"
	post_ok "$RX_TMP/a3.json" >/dev/null
	ctl_audit_wait action=kill_pod outcome=deleted pod=web-7d9f4b-x2 || rx_fail "a refused Event held up the deletion"
	rx_wait_for event_failure_counted ||
		rx_fail "the refused Event is not counted"
	# A dry-run decision is a Normal Event; the isolation's is on the Namespace.
	alert "$ISO_RULE" prod api-1 >"$RX_TMP/a4.json"
	post_ok "$RX_TMP/a4.json" >/dev/null
	ctl_audit_wait action=isolate_namespace outcome=isolated namespace=prod || rx_fail "not isolated"
	rx_wait_for has_event ReflexIsolatedNamespace prod || rx_fail "no isolation Event"
	event_of ReflexIsolatedNamespace prod | grep -q '"kind": "Namespace"' || rx_fail "the isolation Event is not on the Namespace"
	grep -q 'reflex_controller_events_total{result="created"} 2' <(curl -sf "http://127.0.0.1:${CTL_PORT:-19480}/metrics") ||
		rx_fail "created Events not counted"
}

# The page through falcosidekick: a Falco Critical event, retried through its
# spool while falcosidekick fails, audited delivered (and retried once).
t_page_through_falcosidekick_retried() {
	trap teardown EXIT
	api_start
	api_pod prod api-1 none none
	api_control POST sidekick_fail '{"count": 2}'
	ctl_config
	ctl_start
	alert "$ISO_RULE" prod api-1 >"$RX_TMP/a.json"
	post_ok "$RX_TMP/a.json" >/dev/null
	ctl_audit_wait action=isolate_namespace outcome=isolated namespace=prod || rx_fail "not isolated"
	RX_WAIT_MS=30000 ctl_audit_wait action=page outcome=delivered source=falcosidekick namespace=prod ||
		rx_fail "the falcosidekick page was never delivered: $(grep '"page"' "$RX_TMP/ctl/stdout")"
	[ "$(ctl_audit action=page outcome=retried source=falcosidekick)" = 1 ] || rx_fail "the retry is not audited once"
	[ "$(api_requests POST /hooks/sidekick)" = 3 ] || rx_fail "$(api_requests POST /hooks/sidekick) attempts, want 3"
	python3 - "$(api_last_body POST /hooks/sidekick)" "$ISO_RULE" <<'PY' || rx_fail "the falcosidekick payload"
import json, sys
b = json.loads(sys.argv[1])
assert b["priority"] == "Critical" and b["rule"] == "reflex: namespace isolated", b
assert b["output_fields"]["k8s.ns.name"] == "prod" and b["output_fields"]["reflex.rule"] == sys.argv[2], b
assert b["output_fields"]["reflex.event_id"] and b["source"] == "reflex", b
PY
}

# reflex audit annotate's endpoint: the incident register entry in the same
# stream as the action; malformed input refused; no token, no record.
t_annotate_endpoint() {
	trap teardown EXIT
	api_start
	ctl_config
	ctl_start
	local url="http://127.0.0.1:${CTL_PORT:-19480}/annotate" code
	code=$(curl -s -o "$RX_TMP/ann.out" -w '%{http_code}' -X POST "$url" -H "X-Falco-Token: $TOKEN" \
		--data-binary '{"event_id":"it-node-4242-1795345445341475999","incident_id":"INC-2041","note":"checkout page down 3 min","by":"alice"}')
	[ "$code" = 201 ] || rx_fail "annotate: $code $(cat "$RX_TMP/ann.out")"
	ctl_audit_wait action=annotate outcome=recorded event_id=it-node-4242-1795345445341475999 incident_id=INC-2041 operator=alice ||
		rx_fail "no annotate record"
	grep -q '"note":"checkout page down 3 min"' "$RX_TMP/ann.out" || rx_fail "the answer is not the record"
	for body in '{"event_id":"bad id!","incident_id":"INC-1"}' '{"event_id":"e1"}' '{"event_id":"e1","incident_id":"a\u0001b"}' 'not json'; do
		code=$(curl -s -o "$RX_TMP/ann.out" -w '%{http_code}' -X POST "$url" -H "X-Falco-Token: $TOKEN" --data-binary "$body")
		[ "$code" = 400 ] || rx_fail "annotate accepted $body ($code)"
	done
	code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url" --data-binary '{"event_id":"e1","incident_id":"INC-1"}')
	[ "$code" = 401 ] || rx_fail "annotate without the token: $code"
	[ "$(ctl_audit action=annotate)" = 1 ] || rx_fail "refused annotations were recorded"
}

# The controller's lines form one chain across a restart (state beside the spool).
t_controller_audit_chain() {
	trap teardown EXIT
	api_start
	ctl_config
	ctl_start
	local url="http://127.0.0.1:${CTL_PORT:-19480}/annotate"
	curl -sf -o /dev/null -X POST "$url" -H "X-Falco-Token: $TOKEN" --data-binary '{"event_id":"e-1","incident_id":"INC-1"}'
	ctl_audit_wait action=annotate event_id=e-1 || rx_fail "no first record"
	ctl_stop || rx_fail "controller did not stop cleanly"
	ctl_start
	curl -sf -o /dev/null -X POST "$url" -H "X-Falco-Token: $TOKEN" --data-binary '{"event_id":"e-2","incident_id":"INC-2"}'
	ctl_audit_wait action=annotate event_id=e-2 || rx_fail "no second record"
	python3 - "$RX_TMP/ctl/stdout" <<'PY' || rx_fail "the controller's chain is broken"
import hashlib, json, sys
lines = [l.rstrip("\n").encode() for l in open(sys.argv[1]) if l.startswith("{")]
assert len(lines) >= 2, lines
prev = None
for i, raw in enumerate(lines):
    r = json.loads(raw)
    assert r["seq"] == i + 1, (i, r["seq"])
    want = hashlib.sha256(prev).hexdigest() if prev is not None else None
    assert r["prev_sha256"] == want, (i, r["prev_sha256"], want)
    assert r["writer"] == json.loads(lines[0])["writer"]
    prev = raw
PY
}

rx_test kill_pod_deletes_exactly_once t_kill_pod_deletes_exactly_once
rx_test two_replicas_never_delete_a_newer_pod t_two_replicas_never_delete_a_newer_pod
rx_test safeguards_refuse_and_dry_run_calls_nothing t_safeguards_refuse_and_dry_run_calls_nothing
rx_test isolate_namespace_once_and_pages t_isolate_namespace_once_and_pages
rx_test isolate_with_a_long_multibyte_event_id t_isolate_with_a_long_multibyte_event_id
rx_test bad_requests_are_refused t_bad_requests_are_refused
rx_test api_401_and_5xx t_api_401_and_5xx
rx_test graylog_down_then_up_loses_nothing t_graylog_down_then_up_loses_nothing
rx_test agent_reports_arrive_once t_agent_reports_arrive_once
rx_test agent_kill9_right_after_a_kill_loses_nothing t_agent_kill9_right_after_a_kill_loses_nothing
rx_test kill_pod_report_of_a_non_utf8_name t_kill_pod_report_of_a_non_utf8_name
rx_test controller_kill9_mid_flight_acts_once t_controller_kill9_mid_flight_acts_once
rx_test node_declined_reports_never_act t_node_declined_reports_never_act
rx_test node_disarmed_pod_is_never_deleted t_node_disarmed_pod_is_never_deleted
rx_test controller_rate_limit_disarms_and_reload_rearms t_controller_rate_limit_disarms_and_reload_rearms
rx_test reason_is_audit_reason_on_stdout_and_graylog t_reason_is_audit_reason_on_stdout_and_graylog
rx_test kubernetes_events_for_decisions t_kubernetes_events_for_decisions
rx_test page_through_falcosidekick_retried t_page_through_falcosidekick_retried
rx_test annotate_endpoint t_annotate_endpoint
rx_test controller_audit_chain t_controller_audit_chain
