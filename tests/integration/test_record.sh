# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
# The record of every action: written when the action happens (not after the
# correlation window), stamped with the action's time, and every kernel kill
# on it — across a SIGTERM mid-burst and a ring buffer that overflowed.

source "$(dirname "${BASH_SOURCE[0]}")/agent.sh"
source "$(dirname "${BASH_SOURCE[0]}")/falco.sh"

DROPPER=$RX_BUILD/helpers/dropper

teardown() {
	rx_agent_stop || rx_fail "reflexd did not exit cleanly"
	rx_cleanup_all
}

# ts_ns FIELD=VALUE...: the first matching record's timestamp, event_time and latency_us (ns ns us).
record_times() {
	python3 - "$RX_TMP/agent/stdout" "$@" <<'PY'
import datetime, json, sys
want = dict(a.split("=", 1) for a in sys.argv[2:])
def ns(s):
    d = datetime.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return int(d.timestamp()) * 10**9 + int(s[20:26]) * 1000
for line in open(sys.argv[1]):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if all(str(r.get(k)).lower() == v.lower() for k, v in want.items()):
        print(ns(r["timestamp"]), ns(r["event_time"]), r.get("latency_us"))
        break
PY
}

# With a Falco socket and the default 5 s correlation window, the kill's
# line is on stdout at once, stamped with the time of the kill.
t_record_at_once_with_the_default_window() {
	trap teardown EXIT
	local mode args rc t0 t1 ts ev lat
	for mode in kernel pidfd; do
		args=""
		[ "$mode" = pidfd ] && args=--no-kernel-enforce
		rx_agent_stop || rx_fail "reflexd did not exit cleanly"
		RX_CORRELATION_MS=5000 rx_agent_config "$RX_TMP/agent.yaml" kill_process
		# shellcheck disable=SC2086 # empty or one flag
		rx_agent_start "$RX_TMP/agent.yaml" $args
		rx_ctr_create "ra-$mode" shop "ra-$mode-pod"
		rx_wait_for rx_agent_tracks "ra-$mode" || rx_fail "agent never saw ra-$mode"
		rx_ctr_drop "ra-$mode" "$DROPPER" /tmp/dropped
		rc=0
		t0=$(date +%s%N)
		rx_ctr_exec "ra-$mode" /tmp/dropped /tmp/m sleep || rc=$?
		t1=$(date +%s%N)
		[ "$rc" -eq 137 ] || rx_fail "$mode: exit $rc, want 137"
		RX_WAIT_MS=1000 rx_audit_wait outcome=killed kill_mode="$mode" namespace=shop ||
			{ rx_audit_show; rx_fail "$mode: no kill record within 1 s of the kill (held for the window?)"; }
		# reason: the rule's audit_reason verbatim; what reflex found goes to detail.
		rx_audit_has outcome=killed kill_mode="$mode" reason="dropped binary executed in a container" ||
			{ rx_audit_show; rx_fail "$mode: reason is not the configured audit_reason"; }
		read -r ts ev lat < <(record_times outcome=killed kill_mode="$mode")
		[ -n "$ev" ] || rx_fail "$mode: no event_time"
		# The action happened between the exec's start and its exit as the shell saw it.
		[ "$ts" -ge "$((t0 - 1000000))" ] && [ "$ts" -le "$((t1 + 1000000))" ] ||
			rx_fail "$mode: timestamp $ts outside the kill [$t0, $t1]"
		# timestamp = event_time + latency_us (event -> kill), to 10 ms.
		local d=$((ts - ev - lat * 1000))
		[ "${d#-}" -le 10000000 ] || rx_fail "$mode: timestamp is $((d / 1000)) us away from the kill"
		rx_ctr_destroy "ra-$mode"
	done
}

# run_burst NAME N: the dropped binary N times in a loop inside the container;
# each exit status goes to /tmp/rc. Prints the loop's host pid.
run_burst() {
	rx_ctr_exec_bg "$1" /bin/sh -c "i=0; while [ \$i -lt $2 ]; do /tmp/dropped /tmp/m; echo \$? >>/tmp/rc; i=\$((i+1)); done; echo done >>/tmp/rc"
}

burst_killed() { grep -c '^137$' "$(rx_ctr_upper "$1")/tmp/rc" 2>/dev/null || true; }
burst_lines() { wc -l <"$(rx_ctr_upper "$1")/tmp/rc" 2>/dev/null || echo 0; }
burst_done() { grep -q '^done$' "$(rx_ctr_upper "$1")/tmp/rc" 2>/dev/null; }

# SIGTERM in the middle of a burst of kernel kills: every kill the kernel
# made before the programs were detached has its record.
t_sigterm_mid_burst_records_every_kernel_kill() {
	trap teardown EXIT
	rx_agent_config "$RX_TMP/agent.yaml" kill_process
	rx_agent_start "$RX_TMP/agent.yaml"
	rx_ctr_create sb1 shop sb1-pod
	rx_wait_for rx_agent_tracks sb1 || rx_fail "agent never saw sb1"
	rx_ctr_drop sb1 "$DROPPER" /tmp/dropped
	run_burst sb1 3000 >/dev/null
	rx_wait_for bash -c "[ \$(grep -c '^137\$' $(rx_ctr_upper sb1)/tmp/rc 2>/dev/null) -ge 100 ]" ||
		rx_fail "burst did not start"
	rx_agent_stop || rx_fail "reflexd did not exit 0 on SIGTERM"
	RX_WAIT_MS=120000 rx_wait_for burst_done sb1 || rx_fail "burst did not finish ($(burst_lines sb1) runs)"
	local killed recorded lost
	killed=$(burst_killed sb1)
	# stdout: this agent's lines only (the audit log file is the whole run's).
	recorded=$(rx_audit_count rule="$RX_EXEC_RULE" action=kill_process outcome=killed kill_mode=kernel)
	lost=$(rx_audit_count action=kernel outcome=killed)
	echo "burst: $(burst_lines sb1) runs, $killed killed in the kernel, $recorded kill records, $lost lost-event records"
	[ "$killed" -ge 100 ] || rx_fail "only $killed kills"
	[ "$killed" -lt 3000 ] || rx_fail "SIGTERM came after the burst: nothing tested"
	[ "$((recorded + lost))" -eq "$killed" ] || rx_fail "$killed kernel kills, $((recorded + lost)) on the record"
}

losses_counted() {
	local v
	v=$(rx_metric 'reflex_kernel_actions_event_lost_total{kind="exec_killed"}')
	[ "${v:-0}" -ge 1 ]
}

# The agent stopped while the kernel kills more than the ring buffer holds:
# the kills whose events were lost are each on the record, counted in /metrics.
t_ring_buffer_loss_is_recorded() {
	trap teardown EXIT
	rx_agent_config "$RX_TMP/agent.yaml" kill_process
	rx_agent_start "$RX_TMP/agent.yaml"
	rx_ctr_create rl1 shop rl1-pod
	rx_wait_for rx_agent_tracks rl1 || rx_fail "agent never saw rl1"
	rx_ctr_drop rl1 "$DROPPER" /tmp/dropped
	local agent
	agent=$(cat "$RX_TMP/agent/pid")
	kill -STOP "$agent"
	# 4 MiB ring buffer, 856 bytes an exec event: about 4 900 fit.
	run_burst rl1 6000 >/dev/null
	RX_WAIT_MS=240000 rx_wait_for burst_done rl1 || { kill -CONT "$agent"; rx_fail "burst did not finish ($(burst_lines rl1) runs)"; }
	kill -CONT "$agent"
	local killed
	killed=$(burst_killed rl1)
	[ "$killed" -eq 6000 ] || rx_fail "$killed of 6000 runs killed"
	rx_wait_for losses_counted ||
		rx_fail "no loss counted: $(rx_metric reflex_ringbuf_drops_total) drops"
	local lost
	lost=$(rx_metric 'reflex_kernel_actions_event_lost_total{kind="exec_killed"}')
	RX_WAIT_MS=30000 rx_wait_for bash -c "[ \$(rx_jsonl_count $RX_TMP/agent/stdout rule='$RX_EXEC_RULE' action=kill_process outcome=killed kill_mode=kernel) -eq $((killed - lost)) ]" ||
		rx_fail "$((killed - lost)) delivered kills, $(rx_audit_count rule="$RX_EXEC_RULE" action=kill_process outcome=killed kill_mode=kernel) records"
	[ "$(rx_audit_count action=kernel outcome=killed kill_mode=kernel source=kernel rule="$RX_EXEC_RULE")" -eq "$lost" ] ||
		rx_fail "$lost lost events, $(rx_audit_count action=kernel outcome=killed) lost-event records"
	grep -q 'ring buffer full' "$RX_TMP/agent/stdout" || rx_fail "the lost-event record does not say why"
	echo "ring buffer: $killed kills, $lost events lost, each recorded"
}

# chain_check FILE WRITER: every line of FILE is WRITER's, seq rising by one
# from 1, prev_sha256 the SHA-256 of the line before; prints the line count.
chain_check() {
	python3 - "$1" "$2" <<'PY'
import hashlib, json, sys
path, writer = sys.argv[1:3]
lines = open(path, "rb").read().split(b"\n")
assert lines[-1] == b"", "the file does not end with a newline"
prev = None
for i, raw in enumerate(lines[:-1], 1):
    r = json.loads(raw)
    assert r.get("writer") == writer, f"line {i}: writer {r.get('writer')!r}"
    assert r.get("seq") == i, f"line {i}: seq {r.get('seq')}"
    want = hashlib.sha256(prev).hexdigest() if prev is not None else None
    assert r.get("prev_sha256") == want, f"line {i}: prev_sha256 {r.get('prev_sha256')} != {want}"
    prev = raw
print(len(lines) - 1)
PY
}

# The audit lines of one node form one chain (writer, seq, prev_sha256) that
# a restart continues, and the config record says what was loaded.
t_audit_chain_across_restart() {
	trap teardown EXIT
	local n1 n2 line
	rm -f "$RX_TMP/agent/audit.log"
	rx_agent_config "$RX_TMP/agent.yaml" kill_process
	rx_agent_start "$RX_TMP/agent.yaml"
	rx_ctr_create ch1 shop ch1-pod
	rx_wait_for rx_agent_tracks ch1 || rx_fail "agent never saw ch1"
	rx_ctr_drop ch1 "$DROPPER" /tmp/dropped
	rx_ctr_exec ch1 /tmp/dropped /tmp/m sleep && rx_fail "the dropped binary ran"
	rx_audit_wait outcome=killed || rx_fail "no kill record"
	rx_agent_stop || rx_fail "reflexd did not exit cleanly"
	n1=$(chain_check "$RX_TMP/agent/audit.log" it-node) || rx_fail "chain broken before the restart"
	rx_agent_start "$RX_TMP/agent.yaml"
	rx_wait_for rx_agent_tracks ch1 || rx_fail "agent never saw ch1 after the restart"
	rx_ctr_exec ch1 /tmp/dropped /tmp/m sleep && rx_fail "the dropped binary ran after the restart"
	rx_audit_wait outcome=killed || rx_fail "no kill record after the restart"
	rx_agent_stop || rx_fail "reflexd did not exit cleanly"
	n2=$(chain_check "$RX_TMP/agent/audit.log" it-node) || rx_fail "chain broken across the restart"
	[ "$n2" -gt "$n1" ] || rx_fail "no new lines after the restart ($n1, $n2)"
	# The file's lines are the stdout lines, byte for byte (what goes on to Graylog is what is hashed).
	while IFS= read -r line; do
		grep -qxF -- "$line" "$RX_TMP/agent/audit.log" || rx_fail "a stdout line is not in the file: $line"
	done < <(grep '^{' "$RX_TMP/agent/stdout")
	# The config record: the file's hash, every rule and its mode, the overrides.
	python3 - "$RX_TMP/agent/audit.log" "$RX_TMP/agent.yaml" <<'PY' || rx_fail "config record"
import hashlib, json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
cfg = [r for r in recs if r["action"] == "config"]
assert len(cfg) == 2, f"{len(cfg)} config records"
want = hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest()
for r in cfg:
    assert r["config_sha256"] == want, r["config_sha256"]
    assert any(x["name"] == "Drop and execute new binary in container" and x["action"] == "kill_process"
               and x["dry_run"] is False for x in r["rules"]), r["rules"]
    assert isinstance(r["overrides"], list)
kills = [r for r in recs if r["outcome"] == "killed"]
assert kills and all(r["writer"] == "it-node" for r in kills)
PY
	echo "chain: $n2 lines over two runs"
}

rx_test record_at_once_with_the_default_window t_record_at_once_with_the_default_window
rx_test sigterm_mid_burst_records_every_kernel_kill t_sigterm_mid_burst_records_every_kernel_kill
rx_test ring_buffer_loss_is_recorded t_ring_buffer_loss_is_recorded
rx_test audit_chain_across_restart t_audit_chain_across_restart
