# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
# Pod owners from the Kubernetes API, end to end: a local API server speaking
# the real list and watch shapes (kube_api.py), real reflexd, real containers.
# A protected owner (DaemonSet, static/mirror pod) and an unknown owner are
# never killed, in the kernel or from user space; a known Deployment pod is.

source "$(dirname "${BASH_SOURCE[0]}")/agent.sh"
source "$(dirname "${BASH_SOURCE[0]}")/falco.sh"

DROPPER=$RX_BUILD/helpers/dropper
SHELL_RULE="Shell spawned in production database container"

# pod_json NS NAME OWNER_KIND CONTAINER_ID: a Pod on node it-node as the API
# serves it; OWNER_KIND ReplicaSet (with pod-template-hash), DaemonSet,
# StatefulSet, Node (mirror pod) or none.
pod_json() {
	python3 - "$@" <<'PY'
import json, sys, uuid
ns, name, kind, cid = sys.argv[1:5]
meta = {"name": name, "namespace": ns, "uid": str(uuid.uuid4()), "labels": {"app": name}}
if kind == "ReplicaSet":
    meta["labels"]["pod-template-hash"] = "7d9f4b"
if kind != "none":
    meta["ownerReferences"] = [{"apiVersion": "v1" if kind == "Node" else "apps/v1", "kind": kind,
                                "name": name + "-owner", "uid": str(uuid.uuid4()), "controller": True,
                                "blockOwnerDeletion": True}]
if kind == "Node":
    meta["annotations"] = {"kubernetes.io/config.mirror": "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}
pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
       "spec": {"nodeName": "it-node", "containers": [{"name": "app", "image": "busybox:1.36"}]},
       "status": {"phase": "Running", "containerStatuses": [
           {"name": "app", "containerID": "containerd://" + cid, "image": "docker.io/library/busybox:1.36",
            "ready": True}]}}
print(json.dumps(pod))
PY
}

api_start() {
	: >"$RX_TMP/api.log"
	# A stale port file from an earlier start would be read before the new server truncates it.
	rm -f "$RX_TMP/api.port"
	python3 "$RX_ROOT/tests/integration/kube_api.py" --log "$RX_TMP/api.log" --token "$1" --seconds 600 \
		"${@:2}" >"$RX_TMP/api.port" 2>"$RX_TMP/api.err" &
	echo $! >"$RX_TMP/api.pid"
	rx_wait_for test -s "$RX_TMP/api.port" || rx_fail "API server did not start: $(cat "$RX_TMP/api.err")"
	API="http://127.0.0.1:$(head -1 "$RX_TMP/api.port")"
}

api_control() { curl -sf -X "$1" "$API/_control/$2" ${3:+--data-binary "$3"} >/dev/null; }

teardown() {
	rx_agent_stop || rx_fail "reflexd did not exit cleanly"
	[ -f "$RX_TMP/api.pid" ] && kill "$(cat "$RX_TMP/api.pid")" 2>/dev/null
	rx_cleanup_all
}

# start NAME... : containers first (their ids go into the API's pods), then the API, then the agent.
agent_with_api() {
	echo -n "token-one" >"$RX_TMP/k8s-token"
	api_start token-one --pods "$RX_TMP/pods.json"
	RX_UNKNOWN_OWNER=refuse RX_EXTRA_RULES="  - name: $SHELL_RULE
    action: kill_process" rx_agent_config "$RX_TMP/agent.yaml" kill_process false "" \
		"  kubernetes_api: $API
  kubernetes_token_file: $RX_TMP/k8s-token
  kubernetes_ca_file: \"\""
	rx_agent_start "$RX_TMP/agent.yaml"
	rx_metric_wait reflex_kubernetes_synced 1 || rx_fail "pod list never synced: $(grep kubernetes "$RX_TMP/agent/stderr" | tail -3)"
}

ctr() {
	rx_ctr_create "$1" "$2" "$1-pod"
	rx_ctr_drop "$1" "$DROPPER" /tmp/dropped
}

marker() { [ -e "$(rx_ctr_upper "$1")/tmp/$2" ]; }

# A request with the valid token answered 200 after a 401 in the API's log.
success_after_401() {
	awk '/auth=invalid code=401/ { seen = 1; next } seen && /auth=valid code=200/ { ok = 1 } END { exit !ok }' "$RX_TMP/api.log"
}

t_owners_decide_what_may_be_killed() {
	trap teardown EXIT
	ctr dep1 shop
	ctr ds1 shop
	ctr mir1 shop
	ctr unk1 shop
	{
		echo "["
		pod_json shop dep1-pod ReplicaSet "$(rx_ctr_id dep1)"
		echo ","
		pod_json shop ds1-pod DaemonSet "$(rx_ctr_id ds1)"
		echo ","
		pod_json shop mir1-pod Node "$(rx_ctr_id mir1)"
		echo "]"
	} >"$RX_TMP/pods.json"
	agent_with_api
	for c in dep1 ds1 mir1 unk1; do rx_wait_for rx_agent_tracks "$c" || rx_fail "agent never saw $c"; done
	rx_metric_is reflex_kubernetes_pods 3 || rx_fail "pods known: $(rx_metric reflex_kubernetes_pods), want 3"
	grep -q 'GET /api/v1/pods?fieldSelector=spec.nodeName%3Dit-node ' "$RX_TMP/api.log" ||
		rx_fail "list request not node-scoped: $(head -3 "$RX_TMP/api.log")"
	grep -q 'watch=1.*allowWatchBookmarks=true\|allowWatchBookmarks=true.*watch=1' "$RX_TMP/api.log" ||
		rx_fail "no watch with bookmarks: $(cat "$RX_TMP/api.log")"

	local rc=0
	# Deployment (ReplicaSet with pod-template-hash): owner known, not protected: killed in the kernel.
	rx_ctr_exec dep1 /tmp/dropped /tmp/m sleep || rc=$?
	[ "$rc" -eq 137 ] || rx_fail "Deployment pod: exit $rc, want 137"
	marker dep1 m && rx_fail "Deployment pod: the dropped binary ran (kernel not armed from the owner)"
	rx_audit_wait namespace=shop pod=dep1-pod outcome=killed kill_mode=kernel || { rx_audit_show; rx_fail "no kernel kill for the Deployment pod"; }

	# DaemonSet, mirror pod, unknown owner: never killed.
	local pd pm pu
	pd=$(rx_ctr_exec_bg ds1 /tmp/dropped /tmp/m sleep)
	pm=$(rx_ctr_exec_bg mir1 /tmp/dropped /tmp/m sleep)
	pu=$(rx_ctr_exec_bg unk1 /tmp/dropped /tmp/m sleep)
	rx_audit_wait pod=ds1-pod outcome=refused || { rx_audit_show; rx_fail "DaemonSet pod not refused"; }
	rx_audit_wait pod=mir1-pod outcome=refused || { rx_audit_show; rx_fail "mirror pod not refused"; }
	rx_audit_wait pod=unk1-pod outcome=refused || { rx_audit_show; rx_fail "unknown owner not refused"; }
	grep -q 'owner DaemonSet is protected' "$RX_TMP/agent/stdout" || rx_fail "DaemonSet refusal does not say why"
	grep -q 'owner Node is protected' "$RX_TMP/agent/stdout" || rx_fail "mirror pod refusal does not say why"
	grep -q 'unknown_owner is refuse' "$RX_TMP/agent/stdout" || rx_fail "unknown-owner refusal does not say why"
	sleep 0.3
	kill -0 "$pd" && kill -0 "$pm" && kill -0 "$pu" || rx_fail "a protected or unknown-owner process was killed"
	marker ds1 m && marker mir1 m && marker unk1 m || rx_fail "a protected process never ran"

	# A Falco-only kill is refused the same way.
	rx_falco_alert "$SHELL_RULE" "$(rx_ctr_id12 ds1)" /tmp/dropped "$pd" | rx_falco_send
	rx_audit_wait rule="$SHELL_RULE" pod=ds1-pod outcome=refused || { rx_audit_show; rx_fail "Falco kill in a DaemonSet pod not refused"; }
	kill -0 "$pd" || rx_fail "Falco alert killed a DaemonSet pod's process"

	# The unknown pod appears in the API (watch ADDED): owner now known, kernel armed for it.
	local before
	before=$(grep -c 'kernel verdicts re-applied' "$RX_TMP/agent/stderr" || true)
	pod_json shop unk1-pod ReplicaSet "$(rx_ctr_id unk1)" >"$RX_TMP/unk1.json"
	api_control POST pods "@$RX_TMP/unk1.json" || rx_fail "control: add pod"
	rx_metric_wait reflex_kubernetes_pods 4 || rx_fail "watch did not deliver the new pod"
	rx_wait_for bash -c "[ \$(grep -c 'kernel verdicts re-applied' $RX_TMP/agent/stderr) -gt $before ]" ||
		rx_fail "verdicts not re-applied after the pod change"
	rc=0
	rx_ctr_exec unk1 /tmp/dropped /tmp/m2 || rc=$?
	[ "$rc" -eq 137 ] || rx_fail "unk1 after its owner became known: exit $rc, want 137"
	marker unk1 m2 && rx_fail "unk1: the dropped binary ran: kernel not armed from the new owner"
	true
}

t_token_rotation_and_410_relist() {
	trap teardown EXIT
	ctr tr1 shop
	pod_json shop tr1-pod DaemonSet "$(rx_ctr_id tr1)" >"$RX_TMP/pods.json"
	agent_with_api
	local lists
	lists=$(rx_metric reflex_kubernetes_lists_total)
	# The API server expires the watch: 410, the agent lists again.
	api_control POST expire || rx_fail "control: expire"
	rx_wait_for bash -c "[ \$(curl -sf http://127.0.0.1:${RX_AGENT_PORT:-19464}/metrics | awk '\$1==\"reflex_kubernetes_lists_total\"{print \$2}') -gt $lists ]" ||
		rx_fail "no relist after 410"
	grep -q '410' "$RX_TMP/agent/stderr" || rx_fail "410 relist not logged"
	# The token rotates: the old one gets 401; the file holds the new one by then.
	api_control POST token "{\"token\": \"token-two\", \"write_file_on_401\": \"$RX_TMP/k8s-token\"}" || rx_fail "control: token"
	api_control POST close || rx_fail "control: close"
	rx_wait_for grep -q 'auth=invalid code=401' "$RX_TMP/api.log" || rx_fail "old token never refused"
	rx_wait_for success_after_401 ||
		rx_fail "no success after the token rotated: $(tail -5 "$RX_TMP/api.log")"
	# Still current: a pod added now is seen.
	pod_json shop tr2-pod StatefulSet "$(printf 'ab%.0s' {1..32})" >"$RX_TMP/p2.json"
	api_control POST pods "@$RX_TMP/p2.json"
	rx_metric_wait reflex_kubernetes_pods 2 || rx_fail "watch not current after token rotation"
	rx_metric_is reflex_kubernetes_synced 1 || rx_fail "not synced"
	# And the owner still protects.
	local rc=0
	rx_ctr_exec tr1 /tmp/dropped /tmp/m || rc=$?
	[ "$rc" -eq 0 ] || rx_fail "DaemonSet pod's exec killed (exit $rc)"
}

rx_test owners_decide_what_may_be_killed t_owners_decide_what_may_be_killed
rx_test token_rotation_and_410_relist t_token_rotation_and_410_relist
