# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
# Helpers that run the real reflexd against real containers (sourced after lib.sh).

RX_ROOT=${RX_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
RX_BUILD=${RX_BUILD:-$RX_ROOT/build}
RX_EXEC_RULE="Drop and execute new binary in container"
RX_FILELESS_RULE="Fileless execution via memfd_create"
RX_POOL_RULE="Detect outbound connections to common miner pool ports"
RX_STRATUM_RULE="Detect crypto miners using the Stratum protocol"

# rx_agent_config FILE ACTION [DRYRUN] [EXTRA_YAML] [AGENT_YAML]: a config whose
# exec rules take ACTION (pool and stratum rules: $RX_POOL_ACTION, default
# ACTION); EXTRA_YAML is appended at top level (e.g. exceptions), AGENT_YAML
# inside agent: (indented two spaces). The Falco socket is $RX_FALCO_SOCKET
# (default in the agent dir), the HTTP intake $RX_FALCO_HTTP (default off), the
# correlation window $RX_CORRELATION_MS (300 ms: records are written when it
# closes, so tests that do not correlate stay quick). Extra rules go in
# $RX_EXTRA_RULES (YAML list items).
rx_agent_config() {
	local file=$1 action=$2 dryrun=${3:-false} extra=${4:-} agent_extra=${5:-}
	cat >"$file" <<YAML
dryrun: $dryrun
allowed_namespaces: ["*"]
denied_namespaces: [kube-system, falco, monitoring, cert-manager]
protected_owners: [DaemonSet, StatefulSet]
rules:
  - name: $RX_EXEC_RULE
    action: $action
    audit_reason: dropped binary executed in a container
  - name: $RX_FILELESS_RULE
    action: $action
    audit_reason: fileless binary executed in a container
  - name: $RX_POOL_RULE
    action: ${RX_POOL_ACTION:-$action}
    audit_reason: connection to a crypto-mining pool
  - name: $RX_STRATUM_RULE
    action: ${RX_POOL_ACTION:-$action}
    audit_reason: crypto miner started with a stratum URL
${RX_EXTRA_RULES:-}
$extra
agent:
  node_name: it-node
  containerd_roots: [${RX_CONTAINERD_ROOT:-$RX_TMP/containerd}]
  crio_root: $RX_TMP/crio
  audit_log: $RX_TMP/agent/audit.log
  metrics_address: "127.0.0.1:${RX_AGENT_PORT:-19464}"
  unknown_owner: ${RX_UNKNOWN_OWNER:-allow}
  kill_timeout_ms: 2000
  log_level: debug
  pool_lists: $RX_ROOT/rules/miner_pools.txt
  falco_socket: ${RX_FALCO_SOCKET:-$RX_TMP/agent/falco.sock}
  falco_http_address: "${RX_FALCO_HTTP:-}"
  correlation_window_ms: ${RX_CORRELATION_MS:-300}
$agent_extra
YAML
}

# rx_agent_start CONFIG [reflexd args...]: starts reflexd in the background,
# waits until /readyz answers 200. Logs in $RX_TMP/agent/{stdout,stderr}.
rx_agent_start() {
	local config=$1
	shift
	mkdir -p "$RX_TMP/agent"
	: >"$RX_TMP/agent/stdout"
	if [ -n "${RX_AGENT_RESOLV:-}" ]; then
		# Its own mount namespace, so only reflexd sees the test DNS server.
		unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$RX_AGENT_RESOLV" \
			"$RX_BUILD/reflexd" --config "$config" ${RX_AGENT_ARGS:-} "$@" >"$RX_TMP/agent/stdout" 2>"$RX_TMP/agent/stderr" &
	else
		# shellcheck disable=SC2086 # RX_AGENT_ARGS: words on purpose (e.g. --no-exec-deny)
		"$RX_BUILD/reflexd" --config "$config" ${RX_AGENT_ARGS:-} "$@" >"$RX_TMP/agent/stdout" 2>"$RX_TMP/agent/stderr" &
	fi
	echo $! >"$RX_TMP/agent/pid"
	if ! RX_WAIT_MS=15000 rx_wait_for curl -sf "http://127.0.0.1:${RX_AGENT_PORT:-19464}/readyz" -o /dev/null; then
		echo "reflexd did not become ready; its stderr:" >&2
		tail -n 30 "$RX_TMP/agent/stderr" >&2
		if grep -q 'YAML syntax' "$RX_TMP/agent/stderr"; then
			echo "the config it read ($config), numbered:" >&2
			cat -n "$config" >&2
		fi
		return 1
	fi
}

# rx_agent_stop: SIGTERM, wait for a clean exit; non-zero if it did not exit 0.
rx_agent_stop() {
	local pid rc=0
	[ -f "$RX_TMP/agent/pid" ] || return 0
	pid=$(cat "$RX_TMP/agent/pid")
	rm -f "$RX_TMP/agent/pid"
	kill -TERM "$pid" 2>/dev/null || return 0
	wait "$pid" || rc=$?
	return "$rc"
}

# rx_agent_tracks NAME: the agent has seen the container's cgroup (debug log).
rx_agent_tracks() {
	grep -q "container $(rx_ctr_id "$1") cgroup .* appeared" "$RX_TMP/agent/stderr"
}

# rx__audit_first NAME FIELD=VALUE...: the first audit line (stdout) with all
# the fields (compared as text, case-insensitive); prints its NAME field
# (nothing when NAME is ""); status 1 when no line matches.
rx__audit_first() {
	python3 - "$RX_TMP/agent/stdout" "$@" <<'PY'
import json, sys
name = sys.argv[2]
want = dict(a.split("=", 1) for a in sys.argv[3:])
for line in open(sys.argv[1]):
    try:
        rec = json.loads(line)
    except ValueError:
        continue
    if all(str(rec.get(k)).lower() == v.lower() for k, v in want.items()):
        if name:
            print(rec.get(name))
        sys.exit(0)
sys.exit(1)
PY
}

# rx_audit_has FIELD=VALUE...: some audit line (stdout) has all the fields.
rx_audit_has() { rx__audit_first "" "$@"; }

# rx_audit_field NAME FIELD=VALUE...: prints NAME of the first audit line with all the fields.
rx_audit_field() { rx__audit_first "$@" || true; }

# rx_audit_wait FIELD=VALUE...: waits for such a line.
rx_audit_wait() {
	rx_wait_for rx_audit_has "$@"
}

# rx_audit_count FIELD=VALUE...: prints how many lines match.
rx_audit_count() { rx_jsonl_count "$RX_TMP/agent/stdout" "$@"; }

# rx_jsonl_count FILE KEY=VALUE...: JSON lines of FILE with all the fields
# (compared as text, case-insensitive; VALUE null: the field is null or absent).
rx_jsonl_count() {
	python3 - "$@" <<'PY'
import json, sys
want = [a.split("=", 1) for a in sys.argv[2:]]
n = 0
for line in open(sys.argv[1]):
    try:
        rec = json.loads(line)
    except ValueError:
        continue
    if all(rec.get(k) is None if v == "null" else str(rec.get(k)).lower() == v.lower() for k, v in want):
        n += 1
print(n)
PY
}
export -f rx_jsonl_count

# rx_audit_show: the audit lines, for failure messages.
rx_audit_show() {
	cat "$RX_TMP/agent/stdout" >&2
}
