# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
# reflex-controller and its peers for tests (sourced after agent.sh): the
# local Kubernetes API (kube_api.py), the local Graylog (gelf_server.py), the
# controller's config, start, stop, metrics and audit records.
# Uses CTL (the binary), TOKEN, POD_RULE, POD_REASON (its audit_reason), ISO_RULE (none:
# the default reason) from the sourcing file.

api_start() {
	: >"$RX_TMP/api.log"
	# A stale port file from an earlier start would be read before the new server truncates it.
	rm -f "$RX_TMP/api.port"
	python3 "$RX_ROOT/tests/integration/kube_api.py" --log "$RX_TMP/api.log" --token k8s-one --seconds 900 \
		>"$RX_TMP/api.port" 2>"$RX_TMP/api.err" &
	echo $! >"$RX_TMP/api.pid"
	rx_wait_for test -s "$RX_TMP/api.port" || rx_fail "API server did not start: $(cat "$RX_TMP/api.err")"
	API="http://127.0.0.1:$(head -1 "$RX_TMP/api.port")"
	echo -n k8s-one >"$RX_TMP/k8s-token"
}
api_control() { curl -sf -X "$1" "$API/_control/$2" ${3:+--data-binary "$3"} >/dev/null; }
api_pod() { pod "$@" | curl -sf -X POST "$API/_control/pods" --data-binary @- >/dev/null; }
api_owner() { owner "$@" | curl -sf -X POST "$API/_control/objects" --data-binary @- >/dev/null; }
# api_requests METHOD PATH-SUBSTRING: how many such requests the API saw.
api_requests() {
	curl -sf "$API/_control/requests" |
		python3 -c 'import json,sys; m,p=sys.argv[1:3]; print(sum(1 for r in json.load(sys.stdin) if r["method"]==m and p in r["path"]))' "$1" "$2"
}
api_last_body() {
	curl -sf "$API/_control/requests" |
		python3 -c 'import json,sys; m,p=sys.argv[1:3]; print(json.dumps([r for r in json.load(sys.stdin) if r["method"]==m and p in r["path"]][-1]["body"], sort_keys=True, separators=(",",":")))' "$1" "$2"
}

gelf_start() {
	rm -f "$RX_TMP/gelf.port"
	python3 "$RX_ROOT/tests/integration/gelf_server.py" --http-port 0 --udp-port 0 --out "$RX_TMP/gelf.jsonl" \
		--down-file "$RX_TMP/graylog-down" >"$RX_TMP/gelf.port" 2>"$RX_TMP/gelf.err" &
	echo $! >"$RX_TMP/gelf.pid"
	rx_wait_for grep -q listening "$RX_TMP/gelf.port" || rx_fail "GELF server did not start: $(cat "$RX_TMP/gelf.err")"
	GELF_HTTP=$(sed -n 's/.*http=\([0-9]*\).*/\1/p' "$RX_TMP/gelf.port")
	GELF_UDP=$(sed -n 's/.*udp=\([0-9]*\).*/\1/p' "$RX_TMP/gelf.port")
}
gelf_count() { [ -f "$RX_TMP/gelf.jsonl" ] && grep -c "$1" "$RX_TMP/gelf.jsonl" || echo 0; }

# ctl_config [dryrun] [extra controller lines]
ctl_config() {
	cat >"$RX_TMP/ctl.yaml" <<YAML
dryrun: ${1:-false}
allowed_namespaces: ["*"]
denied_namespaces: [kube-system]
protected_owners: [DaemonSet, StatefulSet]
rules:
  - name: $POD_RULE
    action: kill_pod
    audit_reason: "${POD_REASON:-}"
  - name: $ISO_RULE
    action: isolate_namespace
  - name: $RX_EXEC_RULE
    action: kill_process
agent:
  unknown_owner: refuse
controller:
  listen_address: 127.0.0.1:${CTL_PORT:-19480}
  token_file: $RX_TMP/ctl-token
  kubernetes_api: $API
  kubernetes_token_file: $RX_TMP/k8s-token
  kubernetes_ca_file: ""
  gelf_http_url: "${GELF_HTTP:+http://127.0.0.1:$GELF_HTTP/gelf}"
  gelf_udp_address: "${GELF_UDP_ON:+127.0.0.1:$GELF_UDP}"
  audit_spool_dir: $RX_TMP/ctl-spool
  page_webhook_url: $API/hooks/page
  page_falcosidekick_url: $API/hooks/sidekick
  dedupe_window_s: 60
${2:-}
YAML
	echo -n "$TOKEN" >"$RX_TMP/ctl-token"
}

ctl_start() {
	mkdir -p "$RX_TMP/ctl"
	"$CTL" --config "$RX_TMP/ctl.yaml" "$@" >>"$RX_TMP/ctl/stdout" 2>>"$RX_TMP/ctl/stderr" &
	echo $! >"$RX_TMP/ctl/pid"
	rx_wait_for curl -sf "http://127.0.0.1:${CTL_PORT:-19480}/readyz" -o /dev/null ||
		rx_fail "controller not ready: $(tail -5 "$RX_TMP/ctl/stderr")"
}
ctl_stop() {
	local pid rc=0
	pid=$(cat "$RX_TMP/ctl/pid" 2>/dev/null) || return 0
	rm -f "$RX_TMP/ctl/pid"
	kill "$pid" 2>/dev/null || return 0
	wait "$pid" 2>/dev/null || rc=$?
	return "$rc"
}
ctl_metric() {
	curl -sf "http://127.0.0.1:${CTL_PORT:-19480}/metrics" | awk -v k="$1" '$1 == k { print $2 }'
}
# ctl_audit KEY=VALUE...: audit records on the controller's stdout matching all.
ctl_audit() { rx_jsonl_count "$RX_TMP/ctl/stdout" "$@"; }
ctl_audit_wait() { rx_wait_for bash -c "[ \$(ctl_audit $(printf '%q ' "$@")) -ge 1 ]"; }
export -f ctl_audit
