# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
# The Falco feed end to end: real reflexd, real BPF, real runc containers; alerts
# written the way Falco's program_output (socat) and http_output / falcosidekick
# (HTTP POST) write them. Each kill case also checks what must NOT die.

source "$(dirname "${BASH_SOURCE[0]}")/agent.sh"
source "$(dirname "${BASH_SOURCE[0]}")/falco.sh"

DROPPER=$RX_BUILD/helpers/dropper
FIXTURES=$RX_ROOT/../shared/fixtures/falco
HOSTILE=$RX_ROOT/tests/fixtures/falco-hostile
SHELL_RULE="Shell spawned in production database container"
KILL_CTR_RULE="Reverse shell in container"
SHELL_RULES="  - name: $SHELL_RULE
    action: kill_process
    audit_reason: shell in a database container
  - name: $KILL_CTR_RULE
    action: kill_container
    audit_reason: reverse shell"

teardown() {
	rx_agent_stop || rx_fail "reflexd did not exit cleanly"
	rx_cleanup_all
}

# start_agent ACTION [AGENT_YAML] [reflexd args...]: agent with the Falco-only rules too.
start_agent() {
	local action=$1 agent_yaml=${2:-}
	shift 2 || shift $#
	RX_EXTRA_RULES=$SHELL_RULES rx_agent_config "$RX_TMP/agent.yaml" "$action" false "" "$agent_yaml"
	rx_agent_start "$RX_TMP/agent.yaml" "$@"
}

# container NAME NAMESPACE: a container with /bin/dropper in its image (lower layer).
container() {
	RX_LOWER_EXTRA=$DROPPER rx_ctr_create "$1" "$2" "$1-pod"
	rx_wait_for rx_agent_tracks "$1" || rx_fail "agent never saw container $1"
}

t_replay_fixtures_through_both_intakes() {
	trap teardown EXIT
	RX_FALCO_HTTP=127.0.0.1:19480 start_agent alert
	export RX_FALCO_HTTP=127.0.0.1:19480
	rx_falco_send "$FIXTURES/alerts.ndjson" || rx_fail "socat could not write to the socket"
	[ "$(rx_falco_post "$FIXTURES/sidekick-webhook.json")" = 200 ] || rx_fail "sidekick body not accepted: $(cat "$RX_TMP/post.out")"
	rx_metric_wait reflex_falco_alerts_parsed_total 5 || rx_fail "parsed $(rx_metric reflex_falco_alerts_parsed_total) of 5 alerts"
	[ "$(rx_metric reflex_falco_alerts_rejected_total)" = 0 ] || rx_fail "a fixture alert was rejected"
	# Rules the config names are audited (refused: the containers are not on this node); the shell rule too.
	rx_audit_wait source=falco rule="$RX_POOL_RULE" falco_priority=CRITICAL outcome=refused ||
		{ rx_audit_show; rx_fail "sidekick pool alert not audited"; }
	rx_audit_wait source=falco rule="$SHELL_RULE" outcome=refused pid=48213 ||
		{ rx_audit_show; rx_fail "shell alert for an unknown container not refused"; }
	grep -q 'not found on this node' "$RX_TMP/agent/stdout" || rx_fail "refusal does not say why"
	# The alert's k8s fields are never the record's (nor policy's) namespace: only the runtime's or the API's.
	rx_audit_has rule="$RX_POOL_RULE" source=falco namespace=None exe_path=/tmp/.x/kworkerds ||
		rx_fail "alert fields not carried into the record, or the alert's namespace trusted"
	# falco_output is Falco's text, with the sidekick \u003e unescaped.
	grep -q '10.42.1.17:40312->198.51.100.77:3333' "$RX_TMP/agent/stdout" || rx_fail "falco_output missing or mangled"
	# Bad token: configured token, request without it.
	rx_agent_stop
	echo "s3cret-token" >"$RX_TMP/token"
	RX_FALCO_HTTP=127.0.0.1:19480 start_agent alert "  falco_http_token_file: $RX_TMP/token"
	[ "$(rx_falco_post "$FIXTURES/sidekick-webhook.json")" = 401 ] || rx_fail "POST without token not refused"
	[ "$(rx_falco_post "$FIXTURES/sidekick-webhook.json" -H 'X-Falco-Token: s3cret-tokeX')" = 401 ] || rx_fail "wrong token not refused"
	[ "$(rx_falco_post "$FIXTURES/sidekick-webhook.json" -H 'X-Falco-Token: s3cret-token')" = 200 ] || rx_fail "right token refused"
	rx_metric_wait reflex_falco_http_unauthorized_total 2 || rx_fail "unauthorized POSTs not counted"
	rx_metric_wait reflex_falco_alerts_parsed_total 1 || rx_fail "authorized POST not parsed"
}

t_hostile_inputs_are_rejected_and_counted() {
	trap teardown EXIT
	export RX_FALCO_HTTP=127.0.0.1:19481
	start_agent alert "  falco_max_alert_bytes: 65536"
	local n=0 f code
	[ -d "$HOSTILE" ] || rx_fail "no hostile corpus at $HOSTILE"
	for f in "$HOSTILE"/*; do
		case $f in *.md) continue ;; esac
		# Socket: one hostile input per line-delimited write; HTTP: as a body.
		{ cat "$f"; printf '\n'; } | rx_falco_send || rx_fail "socket write of $f failed"
		code=$(rx_falco_post "$f")
		case $code in 400 | 413) ;; *) rx_fail "HTTP $code for hostile input $(basename "$f")" ;; esac
		n=$((n + 1))
	done
	# An oversized line (2x the limit) and a 30000-deep nesting, generated.
	python3 -c 'print("{\"rule\":\"" + "A" * 131072 + "\"}")' | rx_falco_send
	python3 -c 'print("[" * 30000)' | rx_falco_send
	# A good alert after all of it is still handled: the feed is alive.
	rx_falco_alert "$SHELL_RULE" host /bin/sh | rx_falco_send
	rx_audit_wait rule="$SHELL_RULE" outcome=refused || { rx_audit_show; rx_fail "good alert after hostile input not handled"; }
	local rejected
	rejected=$(rx_metric reflex_falco_alerts_rejected_total)
	# Blank-only files count as nothing; every other input is one rejection per intake.
	[ "$rejected" -ge $((n + 2)) ] || rx_fail "only $rejected rejections for $n hostile files x2 + 2"
	grep -q 'rejected (' "$RX_TMP/agent/stderr" || rx_fail "rejections not logged"
	kill -0 "$(cat "$RX_TMP/agent/pid")" || rx_fail "agent died"
}

t_peer_not_in_uids_is_refused() {
	trap teardown EXIT
	start_agent alert "  falco_peer_uids: [65534]
  falco_socket_mode: \"0666\""
	# root is not in the list: refused, nothing parsed.
	rx_falco_alert "$SHELL_RULE" host /bin/sh | rx_falco_send || true
	rx_metric_wait reflex_falco_peers_refused_total 1 || rx_fail "root writer not refused"
	[ "$(rx_metric reflex_falco_alerts_total)" = 0 ] || rx_fail "a refused writer's alert was taken"
	grep -q 'not in agent.falco_peer_uids' "$RX_TMP/agent/stderr" || rx_fail "refusal not logged"
	# nobody (65534) is allowed.
	rx_falco_alert "$SHELL_RULE" host /bin/sh >"$RX_TMP/a.json"
	# The socket's directory is the test's private one: let nobody through to it.
	chmod 711 "$RX_TMP" "$RX_TMP/agent"
	setpriv --reuid 65534 --regid 65534 --clear-groups socat -u - "UNIX-CONNECT:$(rx_falco_socket)" <"$RX_TMP/a.json" ||
		rx_fail "nobody could not write"
	rx_metric_wait reflex_falco_alerts_parsed_total 1 || rx_fail "allowed writer's alert not parsed"
	[ "$(stat -c %a "$(rx_falco_socket)")" = 666 ] || rx_fail "socket mode not applied"
}

t_writer_disconnecting_mid_line_loses_only_that_line() {
	trap teardown EXIT
	start_agent alert
	rx_falco_alert "$SHELL_RULE" host /bin/sh >"$RX_TMP/a.json"
	# A line cut short, then EOF.
	head -c 100 "$RX_TMP/a.json" | socat -u - "UNIX-CONNECT:$(rx_falco_socket)"
	rx_metric_wait reflex_falco_lines_truncated_total 1 || rx_fail "partial line not counted"
	rx_falco_send "$RX_TMP/a.json"
	rx_metric_wait reflex_falco_alerts_parsed_total 1 || rx_fail "next writer's alert lost"
	[ "$(rx_metric reflex_falco_alerts_rejected_total)" = 0 ] || rx_fail "the partial line was parsed as an alert"
}

t_flood_never_blocks_the_writer() {
	trap teardown EXIT
	start_agent alert "  falco_queue_size: 64"
	local lines=50000
	rx_falco_alert "Some unconfigured rule" host /bin/sh >"$RX_TMP/a.json"
	python3 - "$RX_TMP/a.json" "$lines" >"$RX_TMP/flood.ndjson" <<'PY'
import sys
line = open(sys.argv[1]).read()
sys.stdout.write(line * int(sys.argv[2]))
PY
	# Eight writers at once, as many Falco outputs or restarts might be.
	local pids=() i
	for i in 1 2 3 4 5 6 7 8; do
		timeout 120 socat -u "$RX_TMP/flood.ndjson" "UNIX-CONNECT:$(rx_falco_socket)" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || rx_fail "a writer failed or was blocked for 120 s"
	done
	local total=$((lines * 8))
	rx_metric_wait reflex_falco_alerts_total "$total" || rx_fail "taken $(rx_metric reflex_falco_alerts_total) of $total lines"
	rx_metric_wait reflex_falco_queue_length 0 || rx_fail "queue never drained"
	local parsed dropped
	parsed=$(rx_metric reflex_falco_alerts_parsed_total)
	dropped=$(rx_metric reflex_falco_alerts_dropped_total)
	echo "flood: $total lines, $parsed parsed, $dropped dropped (queue 64)"
	[ $((parsed + dropped)) -eq "$total" ] || rx_fail "parsed $parsed + dropped $dropped != $total: lines unaccounted"
	[ "$dropped" -eq 0 ] || grep -q 'queue full' "$RX_TMP/agent/stderr" || rx_fail "drops not logged"
	[ "$(rx_metric reflex_falco_alerts_unconfigured_total)" = "$parsed" ] || rx_fail "unconfigured rule alerts not counted"
}

t_falco_only_kill_by_pid() {
	trap teardown EXIT
	start_agent alert
	container db1 production
	local victim bystander
	victim=$(rx_ctr_exec_bg db1 /bin/dropper /tmp/v sleep)
	bystander=$(rx_ctr_exec_bg db1 /bin/dropper /tmp/b sleep)
	rx_falco_alert "$SHELL_RULE" "$(rx_ctr_id12 db1)" /bin/dropper "$victim" | rx_falco_send
	rx_audit_wait rule="$SHELL_RULE" outcome=killed kill_mode=pidfd source=falco pid="$victim" namespace=production ||
		{ rx_audit_show; rx_fail "no Falco-only kill by pid"; }
	rx_wait_for rx__not kill -0 "$victim" || rx_fail "victim alive"
	kill -0 "$bystander" || rx_fail "a process the alert did not name was killed"
	rx_ctr_alive db1 || rx_fail "container died: kill_process must kill one process"
	rx_audit_has rule="$SHELL_RULE" latency_us=None && rx_fail "kill without latency"
	true
}

t_falco_only_kill_by_exe_respects_start_time() {
	trap teardown EXIT
	start_agent alert
	container db2 production
	local early1 early2 late t
	early1=$(rx_ctr_exec_bg db2 /bin/dropper /tmp/e1 sleep)
	early2=$(rx_ctr_exec_bg db2 /bin/dropper /tmp/e2 sleep)
	t=$(date +%s%N)
	sleep 0.3 # start times count in 10 ms ticks
	late=$(rx_ctr_exec_bg db2 /bin/dropper /tmp/l sleep)
	# Stock rules print no proc.pid: every process running the exe, started by evt.time.
	rx_falco_alert "$SHELL_RULE" "$(rx_ctr_id12 db2)" /bin/dropper "" "$t" | rx_falco_send
	rx_audit_wait rule="$SHELL_RULE" outcome=killed kill_mode=pidfd || { rx_audit_show; rx_fail "no kill by exe"; }
	grep -q '2 processes running /bin/dropper killed' "$RX_TMP/agent/stdout" || rx_fail "reason does not count 2 targets"
	rx_wait_for rx__not kill -0 "$early1" || rx_fail "early1 alive"
	rx_wait_for rx__not kill -0 "$early2" || rx_fail "early2 alive"
	kill -0 "$late" || rx_fail "a process started after the alert's event was killed"
	rx_ctr_alive db2 || rx_fail "container init (another exe) died"
}

t_each_falco_alert_of_a_new_process_acts() {
	trap teardown EXIT
	RX_CORRELATION_MS=5000 start_agent alert
	container db3 production
	local p1 p2 t1
	p1=$(rx_ctr_exec_bg db3 /bin/dropper /tmp/e1 sleep)
	sleep 0.05
	t1=$(date +%s%N)
	rx_falco_alert "$SHELL_RULE" "$(rx_ctr_id12 db3)" /bin/dropper "" "$t1" >"$RX_TMP/alert1"
	rx_falco_send "$RX_TMP/alert1"
	rx_wait_for rx__not kill -0 "$p1" || rx_fail "first process alive"
	# The same alert again (the HTTP intake and the socket both had it): one incident.
	rx_falco_send "$RX_TMP/alert1"
	# Within the window, the shell is spawned again: Falco's next alert (no pid) acts again.
	p2=$(rx_ctr_exec_bg db3 /bin/dropper /tmp/e2 sleep)
	sleep 0.05
	rx_falco_alert "$SHELL_RULE" "$(rx_ctr_id12 db3)" /bin/dropper | rx_falco_send
	rx_wait_for rx__not kill -0 "$p2" || { rx_audit_show; rx_fail "a second alert within the window spared the new process"; }
	sleep 5.2
	[ "$(rx_audit_count rule="$SHELL_RULE" outcome=killed)" -eq 2 ] || { rx_audit_show; rx_fail "want 2 killed records"; }
	grep -q "joined incident" "$RX_TMP/agent/stderr" || rx_fail "the duplicate delivery did not join"
}

t_falco_kill_container() {
	trap teardown EXIT
	start_agent alert
	container rs1 shop
	rx_ctr_exec_bg rs1 /bin/dropper /tmp/x sleep >/dev/null
	rx_falco_alert "$KILL_CTR_RULE" "$(rx_ctr_id12 rs1)" /bin/dropper | rx_falco_send
	rx_audit_wait rule="$KILL_CTR_RULE" outcome=killed kill_mode=cgroup.kill action=kill_container ||
		{ rx_audit_show; rx_fail "no cgroup.kill for a Falco alert"; }
	rx_wait_for rx__not rx_ctr_alive rs1 || rx_fail "container still populated"
}

t_alert_never_kills_what_it_must_not() {
	trap teardown EXIT
	start_agent alert
	container nk1 production
	container nk2 production
	local p1 p2 host_pid
	p1=$(rx_ctr_exec_bg nk1 /bin/dropper /tmp/a sleep)
	p2=$(rx_ctr_exec_bg nk2 /bin/dropper /tmp/b sleep)
	sleep 300 &
	host_pid=$!
	# 1. No container named: never acted on, whatever the pid.
	rx_falco_alert "$SHELL_RULE" host /bin/dropper "$p1" | rx_falco_send
	rx_falco_alert "$SHELL_RULE" null /bin/dropper "$p1" | rx_falco_send
	# 2. pid of another container's process, named under nk1.
	rx_falco_alert "$SHELL_RULE" "$(rx_ctr_id12 nk1)" /bin/dropper "$p2" | rx_falco_send
	# 3. A host process's pid under a container id.
	rx_falco_alert "$SHELL_RULE" "$(rx_ctr_id12 nk1)" /bin/sleep "$host_pid" | rx_falco_send
	# 4. The agent itself.
	rx_falco_alert "$SHELL_RULE" "$(rx_ctr_id12 nk1)" "$RX_BUILD/reflexd" "$(cat "$RX_TMP/agent/pid")" | rx_falco_send
	# 5. Right container and pid, wrong exe (pid reuse looks like this).
	rx_falco_alert "$SHELL_RULE" "$(rx_ctr_id12 nk1)" /bin/other "$p1" | rx_falco_send
	# 6. Host init.
	rx_falco_alert "$SHELL_RULE" "$(rx_ctr_id12 nk1)" /sbin/init 1 | rx_falco_send
	rx_wait_for bash -c "[ \$(grep -c '\"rule\":\"$SHELL_RULE\"' $RX_TMP/agent/stdout) -ge 7 ]" ||
		{ rx_audit_show; rx_fail "not every alert audited"; }
	[ "$(rx_audit_count rule="$SHELL_RULE" outcome=killed)" -eq 0 ] || { rx_audit_show; rx_fail "something was killed"; }
	kill -0 "$p1" || rx_fail "nk1 process killed"
	kill -0 "$p2" || rx_fail "nk2 process killed"
	kill -0 "$host_pid" || rx_fail "host process killed"
	kill -0 "$(cat "$RX_TMP/agent/pid")" || rx_fail "agent killed"
	kill "$host_pid"
	rx_audit_has rule="$SHELL_RULE" container_id=None outcome=refused source=falco || rx_fail "host alert not refused"
	grep -q 'names no container' "$RX_TMP/agent/stdout" || rx_fail "no-container refusal does not say so"
}

t_forged_k8s_namespace_never_decides() {
	trap teardown EXIT
	# A container whose runtime metadata is gone, with no Kubernetes API: only
	# the alert "knows" its namespace, and that is not trusted.
	RX_LOWER_EXTRA=$DROPPER rx_ctr_create fk0 shop fk0-pod
	rm -rf "$(cat "$(rx__ctr_dir fk0)/meta")"
	start_agent kill_process
	rx_wait_for rx_agent_tracks fk0 || rx_fail "agent never saw fk0"
	# A container in a denied namespace; the alert claims an allowed one.
	container fk1 kube-system
	container fk2 shop
	local p0 p1 p2
	p0=$(rx_ctr_exec_bg fk0 /bin/dropper /tmp/z sleep)
	rx_falco_alert "$SHELL_RULE" "$(rx_ctr_id12 fk0)" /bin/dropper "$p0" "" "" shop fk0-pod | rx_falco_send
	rx_audit_wait rule="$SHELL_RULE" pid="$p0" outcome=refused namespace=None ||
		{ rx_audit_show; rx_fail "acted on the alert's namespace for a container nobody else knows"; }
	kill -0 "$p0" || rx_fail "process killed on the alert's word"
	grep -q 'which is not trusted' "$RX_TMP/agent/stdout" || rx_fail "the refusal does not say why"
	p1=$(rx_ctr_exec_bg fk1 /bin/dropper /tmp/a sleep)
	p2=$(rx_ctr_exec_bg fk2 /bin/dropper /tmp/b sleep)
	rx_falco_alert "$SHELL_RULE" "$(rx_ctr_id12 fk1)" /bin/dropper "$p1" "" "" production web-1 | rx_falco_send
	# And one claiming a denied namespace for a container of an allowed one: the runtime's namespace decides.
	rx_falco_alert "$SHELL_RULE" "$(rx_ctr_id12 fk2)" /bin/dropper "$p2" "" "" kube-system coredns-1 | rx_falco_send
	rx_audit_wait rule="$SHELL_RULE" pid="$p1" outcome=refused namespace=kube-system ||
		{ rx_audit_show; rx_fail "alert in a denied namespace not refused under the runtime's namespace"; }
	kill -0 "$p1" || rx_fail "process in the denied namespace killed on the alert's word"
	rx_audit_wait rule="$SHELL_RULE" pid="$p2" outcome=killed namespace=shop ||
		{ rx_audit_show; rx_fail "alert's namespace overrode the runtime's"; }
	[ "$(rx_audit_count namespace=production)" -eq 0 ] || { rx_audit_show; rx_fail "the alert's namespace reached a record"; }
}

t_correlation_kernel_first() {
	trap teardown EXIT
	RX_CORRELATION_MS=3000 start_agent kill_process
	container cf1 shop
	rx_ctr_drop cf1 "$DROPPER" /tmp/dropped
	local t rc=0
	t=$(date +%s%N)
	rx_ctr_exec cf1 /tmp/dropped /tmp/m sleep || rc=$?
	[ "$rc" -eq 137 ] || rx_fail "exit $rc, want 137"
	# Falco's alert for the same exec arrives later, without proc.pid (stock rule).
	rx_falco_alert "$RX_EXEC_RULE" "$(rx_ctr_id12 cf1)" /tmp/dropped "" "$t" | rx_falco_send
	# The kill is on the record at once; Falco's alert adds a correlated line to it.
	rx_audit_wait rule="$RX_EXEC_RULE" source=both outcome=correlated kill_mode=kernel falco_priority=CRITICAL ||
		{ rx_audit_show; rx_fail "no correlated line"; }
	local id
	id=$(rx_audit_field event_id rule="$RX_EXEC_RULE" outcome=killed source=kernel)
	[ -n "$id" ] || { rx_audit_show; rx_fail "no kill record"; }
	rx_audit_has rule="$RX_EXEC_RULE" outcome=correlated event_id="$id" || rx_fail "correlated line has another event_id"
	[ "$(rx_audit_count rule="$RX_EXEC_RULE" outcome=killed)" -eq 1 ] || { rx_audit_show; rx_fail "one kill recorded twice"; }
	rx_metric_wait reflex_falco_correlated_total 1 || rx_fail "correlation not counted"
	# Outside the window: a second incident (the process is gone: nothing killed twice).
	rx_falco_alert "$RX_EXEC_RULE" "$(rx_ctr_id12 cf1)" /tmp/dropped "" "$((t - 10000000000))" | rx_falco_send
	rx_audit_wait rule="$RX_EXEC_RULE" source=falco || { rx_audit_show; rx_fail "stale alert not recorded on its own"; }
	[ "$(rx_audit_count rule="$RX_EXEC_RULE" source=falco outcome=killed)" -eq 0 ] || rx_fail "stale alert killed something"
	rx_ctr_alive cf1 || rx_fail "container died"
}

t_correlation_alert_and_exec_together() {
	trap teardown EXIT
	# kill_process in the kernel is off (--no-kernel-enforce): whichever of Falco's
	# alert and the kernel's exec event the agent handles first kills through a
	# pidfd, and the other joins it.
	RX_CORRELATION_MS=3000 start_agent kill_process "" --no-kernel-enforce
	container cf2 shop
	rx_ctr_drop cf2 "$DROPPER" /tmp/dropped
	# With the agent paused, Falco's alert (no proc.pid, evt.time 1 s ahead so the
	# process counts as started by then) is queued, then the exec happens: both wait.
	local pid agent
	agent=$(cat "$RX_TMP/agent/pid")
	kill -STOP "$agent"
	rx_falco_alert "$RX_EXEC_RULE" "$(rx_ctr_id12 cf2)" /tmp/dropped "" "$(($(date +%s%N) + 1000000000))" | rx_falco_send
	pid=$(rx_ctr_exec_bg cf2 /tmp/dropped /tmp/m sleep)
	kill -CONT "$agent"
	rx_audit_wait rule="$RX_EXEC_RULE" outcome=killed kill_mode=pidfd pid="$pid" ||
		{ rx_audit_show; rx_fail "no kill record"; }
	rx_audit_wait rule="$RX_EXEC_RULE" source=both outcome=correlated pid="$pid" ||
		{ rx_audit_show; rx_fail "no correlated line"; }
	cat "$RX_TMP/agent/stdout" "$RX_TMP/agent/stderr" | grep -Eq 'kernel detection exec /tmp/dropped|joined incident' ||
		rx_fail "no log line says which event joined which"
	[ "$(rx_audit_count rule="$RX_EXEC_RULE" outcome=killed)" -eq 1 ] || { rx_audit_show; rx_fail "two kill records for one incident"; }
	[ "$(rx_metric 'reflex_kills_total{mode="pidfd"}')" = 1 ] || rx_fail "killed twice (or not once) through pidfd"
	rx_ctr_alive cf2 || rx_fail "container died"
}

t_falco_alert_never_shields_a_later_process() {
	trap teardown EXIT
	# Falco's alert (no proc.pid) finds no process running the exe; a process that
	# runs it afterwards, inside the window, is not covered by that incident: it is
	# detected by the kernel and killed on its own.
	RX_CORRELATION_MS=3000 start_agent kill_process "" --no-kernel-enforce
	container sh1 shop
	rx_ctr_drop sh1 "$DROPPER" /tmp/dropped
	rx_falco_alert "$RX_EXEC_RULE" "$(rx_ctr_id12 sh1)" /tmp/dropped "" | rx_falco_send
	rx_wait_for grep -q "falco: '$RX_EXEC_RULE'" "$RX_TMP/agent/stderr" || rx_fail "alert not handled"
	local pid
	pid=$(rx_ctr_exec_bg sh1 /tmp/dropped /tmp/m sleep)
	rx_wait_for rx__not kill -0 "$pid" 2>/dev/null || { rx_audit_show; rx_fail "the later process $pid was not killed"; }
	grep -q 'but that did not kill it: handled on its own' "$RX_TMP/agent/stderr" ||
		rx_fail "no log line says why the detection did not join"
	rx_audit_wait rule="$RX_EXEC_RULE" source=kernel outcome=killed kill_mode=pidfd pid="$pid" ||
		{ rx_audit_show; rx_fail "no record of the kill"; }
	rx_audit_wait rule="$RX_EXEC_RULE" source=falco || { rx_audit_show; rx_fail "Falco's alert not recorded"; }
	rx_ctr_alive sh1 || rx_fail "container died"
}

t_rate_limit_disarms_and_reload_rearms() {
	trap teardown EXIT
	start_agent alert "  rate_limit_containers: 2"
	container rl1 shop
	container rl2 shop
	container rl3 shop
	local p1 p2 p3
	p1=$(rx_ctr_exec_bg rl1 /bin/dropper /tmp/a sleep)
	p2=$(rx_ctr_exec_bg rl2 /bin/dropper /tmp/a sleep)
	p3=$(rx_ctr_exec_bg rl3 /bin/dropper /tmp/a sleep)
	rx_falco_alert "$SHELL_RULE" "$(rx_ctr_id12 rl1)" /bin/dropper "$p1" | rx_falco_send
	rx_falco_alert "$SHELL_RULE" "$(rx_ctr_id12 rl2)" /bin/dropper "$p2" | rx_falco_send
	rx_falco_alert "$SHELL_RULE" "$(rx_ctr_id12 rl3)" /bin/dropper "$p3" | rx_falco_send
	rx_audit_wait rule="$SHELL_RULE" outcome=disarmed || { rx_audit_show; rx_fail "third container not refused by the rate limit"; }
	[ "$(rx_audit_count rule="$SHELL_RULE" outcome=killed)" -eq 2 ] || rx_fail "want exactly 2 kills before disarming"
	kill -0 "$p3" || rx_fail "the third target was killed past the limit"
	grep -q 'rule disarmed to alert-only' "$RX_TMP/agent/stdout" || rx_fail "record does not say disarmed"
	grep -qF "reflex_rule_disarmed{rule=\"$SHELL_RULE\"} 1" <<<"$(curl -sf "http://127.0.0.1:${RX_AGENT_PORT:-19464}/metrics")" ||
		rx_fail "metrics do not show the disarmed rule"
	grep -qF "$SHELL_RULE" <<<"$("$RX_BUILD/reflex" status --address "127.0.0.1:${RX_AGENT_PORT:-19464}")" ||
		rx_fail "reflex status does not show the disarmed rule"
	# Reload re-arms.
	kill -HUP "$(cat "$RX_TMP/agent/pid")"
	rx_wait_for bash -c "! curl -sf http://127.0.0.1:${RX_AGENT_PORT:-19464}/metrics | grep -q reflex_rule_disarmed{" ||
		rx_fail "reload did not re-arm"
	rx_falco_alert "$SHELL_RULE" "$(rx_ctr_id12 rl3)" /bin/dropper "$p3" | rx_falco_send
	rx_audit_wait rule="$SHELL_RULE" outcome=killed pid="$p3" || { rx_audit_show; rx_fail "re-armed rule did not kill"; }
}

t_safeguards_refuse_falco_kills() {
	trap teardown EXIT
	local exc="exceptions:
  - rule: $SHELL_RULE
    namespace: backup
    exe_path: /bin/drop*"
	RX_EXTRA_RULES="$SHELL_RULES
  - name: Dry rule
    action: kill_process
    dryrun: true" rx_agent_config "$RX_TMP/agent.yaml" alert false "$exc"
	rx_agent_start "$RX_TMP/agent.yaml"
	container sg1 kube-system
	container sg2 backup
	container sg3 shop
	local p1 p2 p3
	p1=$(rx_ctr_exec_bg sg1 /bin/dropper /tmp/a sleep)
	p2=$(rx_ctr_exec_bg sg2 /bin/dropper /tmp/a sleep)
	p3=$(rx_ctr_exec_bg sg3 /bin/dropper /tmp/a sleep)
	rx_falco_alert "$SHELL_RULE" "$(rx_ctr_id12 sg1)" /bin/dropper "$p1" | rx_falco_send
	rx_falco_alert "$SHELL_RULE" "$(rx_ctr_id12 sg2)" /bin/dropper "$p2" | rx_falco_send
	rx_falco_alert "Dry rule" "$(rx_ctr_id12 sg3)" /bin/dropper "$p3" | rx_falco_send
	rx_audit_wait rule="$SHELL_RULE" outcome=refused namespace=kube-system || { rx_audit_show; rx_fail "denied namespace not refused"; }
	rx_audit_wait rule="$SHELL_RULE" outcome=excepted namespace=backup || { rx_audit_show; rx_fail "exception not applied"; }
	rx_audit_wait rule="Dry rule" outcome=dry_run dry_run=true || { rx_audit_show; rx_fail "per-rule dry-run not applied"; }
	sleep 0.3
	kill -0 "$p1" && kill -0 "$p2" && kill -0 "$p3" || rx_fail "a safeguarded process was killed"
}

t_config_reloads_on_file_change() {
	trap teardown EXIT
	start_agent alert
	container rc1 shop
	local p1
	p1=$(rx_ctr_exec_bg rc1 /bin/dropper /tmp/a sleep)
	# Invalid: rejected with the reason; the old config stays (shell rule kills).
	cp "$RX_TMP/agent.yaml" "$RX_TMP/good.yaml"
	printf 'dryrun: maybe\n' >>"$RX_TMP/agent.yaml"
	rx_wait_for grep -q "keeping the running config" "$RX_TMP/agent/stderr" || rx_fail "bad config not rejected loudly"
	grep -q "agent.yaml:.*dryrun" "$RX_TMP/agent/stderr" || rx_fail "rejection does not give the reason"
	# Valid, written the way a ConfigMap update lands (rename over): shell rule to alert.
	sed "s/action: kill_process\$/action: alert/" "$RX_TMP/good.yaml" >"$RX_TMP/new.yaml"
	mv -f "$RX_TMP/new.yaml" "$RX_TMP/agent.yaml"
	rx_wait_for grep -q "changed on disk: reloading" "$RX_TMP/agent/stderr" || rx_fail "file change not noticed"
	rx_wait_for grep -q "reload: .* loaded" "$RX_TMP/agent/stderr" || rx_fail "good config not loaded"
	rx_falco_alert "$SHELL_RULE" "$(rx_ctr_id12 rc1)" /bin/dropper "$p1" | rx_falco_send
	rx_audit_wait rule="$SHELL_RULE" outcome=alert || { rx_audit_show; rx_fail "reloaded rule action not in effect"; }
	kill -0 "$p1" || rx_fail "killed under the reloaded alert-only rule"
}

rx_test replay_fixtures_through_both_intakes t_replay_fixtures_through_both_intakes
rx_test hostile_inputs_are_rejected_and_counted t_hostile_inputs_are_rejected_and_counted
rx_test peer_not_in_uids_is_refused t_peer_not_in_uids_is_refused
rx_test writer_disconnecting_mid_line_loses_only_that_line t_writer_disconnecting_mid_line_loses_only_that_line
rx_test flood_never_blocks_the_writer t_flood_never_blocks_the_writer
rx_test falco_only_kill_by_pid t_falco_only_kill_by_pid
rx_test falco_only_kill_by_exe_respects_start_time t_falco_only_kill_by_exe_respects_start_time
rx_test each_falco_alert_of_a_new_process_acts t_each_falco_alert_of_a_new_process_acts
rx_test falco_kill_container t_falco_kill_container
rx_test alert_never_kills_what_it_must_not t_alert_never_kills_what_it_must_not
rx_test forged_k8s_namespace_never_decides t_forged_k8s_namespace_never_decides
rx_test correlation_kernel_first t_correlation_kernel_first
rx_test correlation_alert_and_exec_together t_correlation_alert_and_exec_together
rx_test falco_alert_never_shields_a_later_process t_falco_alert_never_shields_a_later_process
rx_test rate_limit_disarms_and_reload_rearms t_rate_limit_disarms_and_reload_rearms
rx_test safeguards_refuse_falco_kills t_safeguards_refuse_falco_kills
rx_test config_reloads_on_file_change t_config_reloads_on_file_change
