# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
# Soak: for RX_SOAK_SECONDS (default 60) a container runs ordinary execs and
# connects without pause while, one after another, dropped binaries run,
# pool connects are made and Falco alerts name live processes. Every
# malicious one must be handled exactly once, reflexd's memory and file
# descriptors stay flat, and every audit record reaches the controller.

source "$(dirname "${BASH_SOURCE[0]}")/agent.sh"
source "$(dirname "${BASH_SOURCE[0]}")/falco.sh"
source "$(dirname "${BASH_SOURCE[0]}")/controller.sh"

CTL=$RX_BUILD/reflex-controller
DROPPER=$RX_BUILD/helpers/dropper
TOKEN=soak-s3cret
POD_RULE="Terminal shell in container"
ISO_RULE="Detect crypto miners using the Stratum protocol"
SHELL_RULE="Run shell untrusted"

teardown() {
	local p
	for p in ${SOAK_BG:-}; do kill "$p" 2>/dev/null || true; done
	ctl_stop || true
	rx_agent_stop || rx_fail "reflexd did not exit cleanly"
	[ -f "$RX_TMP/api.pid" ] && kill "$(cat "$RX_TMP/api.pid")" 2>/dev/null
	rx_cleanup_all
}

# status_kb PID FIELD: VmRSS and the like, in kB.
status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }

t_soak_every_malicious_once_memory_flat() {
	trap teardown EXIT
	local seconds=${RX_SOAK_SECONDS:-60}
	api_start
	ctl_config
	ctl_start
	RX_EXTRA_RULES="  - name: $SHELL_RULE
    action: kill_process" rx_agent_config "$RX_TMP/agent.yaml" kill_process false "" "  controller_url: http://127.0.0.1:${CTL_PORT:-19480}
  controller_token_file: $RX_TMP/ctl-token
  report_spool_dir: $RX_TMP/agent-spool
  pool_cidrs: [127.0.0.77/32]
  pool_exclude_private: false
  rate_limit_containers: 100000
  rate_limit_executables: 100000"
	rx_agent_start "$RX_TMP/agent.yaml"
	RX_LOWER_EXTRA="$DROPPER $RX_BUILD/helpers/netprobe" rx_ctr_create so1 shop so1-pod
	rx_wait_for rx_agent_tracks so1 || rx_fail "agent never saw so1"
	rx_ctr_drop so1 "$DROPPER" /tmp/dropped
	local agent id12 base="http://127.0.0.1:${RX_AGENT_PORT:-19464}"
	agent=$(cat "$RX_TMP/agent/pid")
	id12=$(rx_ctr_id12 so1)

	# The ordinary load, both cores: execs of image binaries and loopback connects.
	SOAK_BG="$(rx_ctr_exec_bg so1 /bin/sh -c 'while :; do /bin/true; done')"
	SOAK_BG="$SOAK_BG $(rx_ctr_exec_bg so1 /bin/sh -c 'while :; do /bin/netprobe tcp 127.0.0.1 9 x; done')"
	sleep 3
	local rss0 fd0 hwm0 n_exec=0 n_pool=0 n_falco=0 i=0 rc victim end
	rss0=$(status_kb "$agent" VmRSS)
	fd0=$(fds "$agent")
	hwm0=$(status_kb "$agent" VmHWM)
	end=$((SECONDS + seconds))
	while [ "$SECONDS" -lt "$end" ]; do
		i=$((i + 1))
		case $((i % 3)) in
		0)
			rc=0
			rx_ctr_exec so1 /tmp/dropped "/tmp/m$i" sleep || rc=$?
			[ "$rc" -eq 137 ] || rx_fail "dropped run $i: exit $rc, want 137"
			n_exec=$((n_exec + 1))
			;;
		1)
			rc=0
			rx_ctr_exec so1 /bin/netprobe tcp 127.0.0.77 3333 x >/dev/null 2>&1 || rc=$?
			[ "$rc" -eq 137 ] || [ "$rc" -eq 13 ] || rx_fail "pool connect $i: exit $rc, not denied or killed"
			n_pool=$((n_pool + 1))
			;;
		2)
			victim=$(rx_ctr_exec_bg so1 /bin/dropper "/tmp/v$i" sleep)
			rx_falco_alert "$SHELL_RULE" "$id12" /bin/dropper "$victim" | rx_falco_send
			rx_wait_for rx__not kill -0 "$victim" || rx_fail "Falco alert $i: pid $victim alive"
			n_falco=$((n_falco + 1))
			;;
		esac
	done
	local seen rss1 fd1 hwm1
	seen=$(curl -sf "$base/metrics" | awk '$1 == "reflex_kernel_exec_seen_total" { print $2 }')
	for p in $SOAK_BG; do kill "$p" 2>/dev/null || true; done
	SOAK_BG=
	sleep 1
	rss1=$(status_kb "$agent" VmRSS)
	fd1=$(fds "$agent")
	hwm1=$(status_kb "$agent" VmHWM)
	echo "soak: ${seconds}s, $seen execs seen by the kernel program; malicious: $n_exec dropped runs, $n_pool pool connects, $n_falco Falco alerts; reflexd RSS ${rss0} -> ${rss1} kB (peak ${hwm0} -> ${hwm1} kB), fds $fd0 -> $fd1"

	# Exactly once each: as many kill records per rule as malicious acts, no event twice.
	local got w
	for w in $(seq 1 200); do
		[ "$(rx_audit_count rule="$SHELL_RULE" outcome=killed namespace=shop)" -ge "$n_falco" ] && break
		sleep 0.1
	done
	got=$(rx_audit_count rule="$RX_EXEC_RULE" outcome=killed namespace=shop)
	[ "$got" -eq "$n_exec" ] || rx_fail "dropped runs: $got kill records for $n_exec runs"
	got=$(rx_audit_count rule="$RX_POOL_RULE" outcome=killed namespace=shop)
	[ "$got" -eq "$n_pool" ] || rx_fail "pool connects: $got kill records for $n_pool connects"
	got=$(rx_audit_count rule="$SHELL_RULE" outcome=killed namespace=shop)
	[ "$got" -eq "$n_falco" ] || rx_fail "Falco alerts: $got kill records for $n_falco alerts"
	python3 - "$RX_TMP/agent/stdout" <<'PY' || rx_fail "an event was audited twice"
import collections, json, sys
ids = collections.Counter()
for line in open(sys.argv[1]):
    try:
        ids[json.loads(line).get("event_id")] += 1
    except ValueError:
        pass
twice = {k: v for k, v in ids.items() if v > 1}
sys.exit(1 if twice else 0)
PY
	local total=$((n_exec + n_pool + n_falco))
	[ "$(rx_audit_count namespace=shop)" -eq "$total" ] || rx_fail "records for the container: $(rx_audit_count namespace=shop), want $total"
	[ "$(rx_audit_count action=report outcome=lost)" -eq 0 ] || rx_fail "reports lost"
	# Every record delivered to the controller, once.
	RX_WAIT_MS=30000 rx_wait_for bash -c "[ \$(ctl_audit operator=reflex-agent namespace=shop) -ge $total ]" ||
		rx_fail "controller has $(ctl_audit operator=reflex-agent namespace=shop) of $total records"
	sleep 1
	[ "$(ctl_audit operator=reflex-agent namespace=shop)" -eq "$total" ] ||
		rx_fail "controller has $(ctl_audit operator=reflex-agent namespace=shop) records, want $total"
	# Flat: no fd leak, and memory that does not grow with the number of events.
	[ "$fd1" -le $((fd0 + 2)) ] || rx_fail "fds grew from $fd0 to $fd1"
	[ "$rss1" -le $((rss0 + 4096)) ] || rx_fail "RSS grew from $rss0 to $rss1 kB"
	[ "$(rx_metric reflex_ringbuf_drops_total)" = 0 ] || rx_fail "ring buffer drops: $(rx_metric reflex_ringbuf_drops_total)"
	[ "$n_exec" -ge 5 ] && [ "$n_pool" -ge 5 ] && [ "$n_falco" -ge 5 ] || rx_fail "too few malicious acts to judge"
}

rx_test soak_every_malicious_once_memory_flat t_soak_every_malicious_once_memory_flat
