# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
# shellcheck shell=bash
# shellcheck disable=SC2317,SC2329 # test functions are called through rx_test
#
# deploy/monitoring against the real programs: every metric and label an
# alert (prometheusrule.yaml) or a dashboard panel (reflex-dashboard.json)
# names is exported by a running reflexd and reflex-controller, after each has
# acted (a kernel kill on the node, a decision in the controller), so the
# labelled families have series to check.

source "$(dirname "${BASH_SOURCE[0]}")/agent.sh"
source "$(dirname "${BASH_SOURCE[0]}")/controller.sh"

CTL=$RX_BUILD/reflex-controller
DROPPER=$RX_BUILD/helpers/dropper
POD_RULE="Terminal shell in container"
ISO_RULE="Detect crypto miners using the Stratum protocol"
TOKEN=mon-s3cret

teardown() {
	local rc=0
	ctl_stop || rc=$?
	[ "$rc" -eq 0 ] || rx_fail "reflex-controller exited with status $rc at SIGTERM"
	rx_agent_stop || rx_fail "reflexd did not exit cleanly"
	[ -f "$RX_TMP/api.pid" ] && kill "$(cat "$RX_TMP/api.pid")" 2>/dev/null
	rx_cleanup_all
}

# A falcosidekick body for RULE on NS/POD.
alert_body() {
	python3 - "$@" <<'PY'
import json, sys, time
rule, ns, pod = sys.argv[1:4]
t = time.time_ns()
print(json.dumps({"output": "Critical %s (k8s_ns=%s k8s_pod_name=%s)" % (rule, ns, pod), "priority": "Critical",
                  "rule": rule, "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 10**9)) + ".%09dZ" % (t % 10**9),
                  "output_fields": {"container.id": "0e4b6a9c3f12", "evt.time": t, "k8s.ns.name": ns, "k8s.pod.name": pod,
                                    "proc.exepath": "/bin/sh", "proc.pid": 4242},
                  "source": "syscall", "tags": ["container"], "hostname": "it-node"}))
PY
}

# scrape URL FILE: the exposition, or fail.
scrape() { curl -sf "$1" -o "$2" || rx_fail "GET $1 failed"; }
# has_series FILE REGEX: a sample line (not a comment) matches.
has_series() { grep -v '^#' "$1" | grep -Eq "$2"; }
scrape_has() { scrape "$1" "$2" && has_series "$2" "$3"; }

t_alerts_and_dashboard_name_only_exported_metrics() {
	trap teardown EXIT
	local agent_prom=$RX_TMP/agent.prom ctl_prom=$RX_TMP/ctl.prom out
	api_start
	ctl_config
	ctl_start
	rx_agent_config "$RX_TMP/agent.yaml" kill_process
	rx_agent_start "$RX_TMP/agent.yaml"

	# The node acts: a dropped binary killed in the kernel.
	rx_ctr_create mon shop mon-pod
	rx_wait_for rx_agent_tracks mon || rx_fail "agent never saw the container"
	rx_ctr_drop mon "$DROPPER" /tmp/dropped
	rx_ctr_exec mon /tmp/dropped /tmp/m sleep && rx_fail "the dropped binary ran"
	rx_audit_wait outcome=killed namespace=shop || rx_fail "no kill record"
	# The controller decides: a pod whose owner the API does not know is refused.
	alert_body "$POD_RULE" shop ghost-pod >"$RX_TMP/alert.json"
	curl -sf -o /dev/null -X POST "http://127.0.0.1:${CTL_PORT:-19480}/alert" -H "X-Falco-Token: $TOKEN" \
		-H 'Content-Type: application/json' --data-binary "@$RX_TMP/alert.json" || rx_fail "POST /alert failed"
	ctl_audit_wait rule="$POD_RULE" namespace=shop pod=ghost-pod || rx_fail "no controller record"

	# Wait for the series the labelled panels read, then check every name.
	rx_wait_for scrape_has "http://127.0.0.1:${RX_AGENT_PORT:-19464}/metrics" "$agent_prom" \
		'^reflex_actions_total\{rule="[^"]+",action="kill_process",outcome="killed"\} [1-9]' ||
		rx_fail "reflex_actions_total has no kill: $(grep actions_total "$agent_prom")"
	rx_wait_for scrape_has "http://127.0.0.1:${RX_AGENT_PORT:-19464}/metrics" "$agent_prom" \
		'^reflex_action_latency_seconds_count\{.*kill_mode="kernel".*\} [1-9]' ||
		rx_fail "no kernel kill in reflex_action_latency_seconds: $(grep latency_seconds_count "$agent_prom")"
	rx_wait_for scrape_has "http://127.0.0.1:${CTL_PORT:-19480}/metrics" "$ctl_prom" \
		'^reflex_controller_actions_total\{action="kill_pod",outcome="[a-z_]+"\} [1-9]' ||
		rx_fail "reflex_controller_actions_total has no decision: $(grep actions_total "$ctl_prom")"
	out=$(python3 "$RX_ROOT/tests/deploy/monitoring.py" --scrape "$agent_prom" "$ctl_prom") ||
		rx_fail "alerts or panels name what is not exported: $out"
	echo "$out"

	# The checker itself fails on a name that is not exported (it can fail).
	grep -v '^reflex_ringbuf_drops_total\|^# TYPE reflex_ringbuf_drops_total' "$agent_prom" >"$RX_TMP/agent-less.prom"
	out=$(python3 "$RX_ROOT/tests/deploy/monitoring.py" --scrape "$RX_TMP/agent-less.prom" "$ctl_prom") &&
		rx_fail "the checker passed a scrape without reflex_ringbuf_drops_total"
	grep -q 'reflex_ringbuf_drops_total is not exported' <<<"$out" || rx_fail "the checker did not name the missing metric: $out"
}

rx_test alerts_and_dashboard_name_only_exported_metrics t_alerts_and_dashboard_name_only_exported_metrics
