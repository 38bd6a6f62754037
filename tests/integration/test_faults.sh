# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
# Faults on the node: the report spool's disk full, a container that forks
# as fast as it can while it is killed, a controller that answers slowly. (Controller down, slow and
# killed -9, Graylog down, API 401/5xx/410, agent killed -9 and many Falco
# writers at once are in test_controller, test_kube_owners and
# test_falco_feed.)

source "$(dirname "${BASH_SOURCE[0]}")/agent.sh"

DROPPER=$RX_BUILD/helpers/dropper

teardown() {
	[ -z "${SLOW_CTL:-}" ] || kill "$SLOW_CTL" 2>/dev/null || true
	rx_agent_stop || rx_fail "reflexd did not exit cleanly"
	rx_cleanup_all
	if mountpoint -q "$RX_TMP/full"; then umount "$RX_TMP/full"; fi
}

marker() { echo "$(rx_ctr_upper "$1")/tmp/$2"; }

# The spool's filesystem full and the controller down: the kill still
# happens and is audited, the lost report is itself audited and counted,
# loudly, and once there is room again the next report is spooled.
t_spool_disk_full_is_loud_and_harms_nothing() {
	trap teardown EXIT
	mkdir -p "$RX_TMP/full"
	mount -t tmpfs -o size=64k tmpfs "$RX_TMP/full"
	# Nothing listens there: every report stays in the spool.
	rx_agent_config "$RX_TMP/agent.yaml" kill_process false "" "  controller_url: http://127.0.0.1:9
  controller_token_file: $RX_TMP/token
  report_spool_dir: $RX_TMP/full/spool"
	echo -n t0ken >"$RX_TMP/token"
	rx_agent_start "$RX_TMP/agent.yaml"
	rx_ctr_create df1 shop df1-pod
	rx_wait_for rx_agent_tracks df1 || rx_fail "agent never saw df1"
	rx_ctr_drop df1 "$DROPPER" /tmp/dropped
	dd if=/dev/zero of="$RX_TMP/full/filler" bs=4k 2>/dev/null || true
	local rc=0 base="http://127.0.0.1:${RX_AGENT_PORT:-19464}"
	rx_ctr_exec df1 /tmp/dropped /tmp/m1 sleep || rc=$?
	[ "$rc" -eq 137 ] || rx_fail "dropped binary exit $rc, want 137: a full disk must not stop the kill"
	rx_audit_wait outcome=killed exe_path=/tmp/dropped || { rx_audit_show; rx_fail "kill not audited"; }
	rx_audit_wait action=report outcome=lost || { rx_audit_show; rx_fail "the lost report is not audited"; }
	grep -q 'could not be spooled.*No space left on device' "$RX_TMP/agent/stderr" ||
		rx_fail "no loud error naming ENOSPC: $(tail -3 "$RX_TMP/agent/stderr")"
	[ "$(curl -sf "$base/metrics" | awk '$1 == "reflex_reports_lost_total" { print $2 }')" -ge 1 ] ||
		rx_fail "reflex_reports_lost_total not counted"
	curl -sf "$base/healthz" >/dev/null || rx_fail "agent unhealthy after ENOSPC"
	kill -0 "$(cat "$RX_TMP/agent/pid")" || rx_fail "agent died"
	# Room again: the next report is spooled (and waits for the controller).
	rm -f "$RX_TMP/full/filler"
	rc=0
	rx_ctr_exec df1 /tmp/dropped /tmp/m2 sleep || rc=$?
	[ "$rc" -eq 137 ] || rx_fail "second run exit $rc"
	rx_wait_for bash -c "ls $RX_TMP/full/spool/*.rec >/dev/null 2>&1" || rx_fail "report not spooled once there was room"
}

# A container that forks continuously (each child forks on) is killed with
# kill_container: cgroup.kill leaves nothing alive, and nothing comes back.
t_forking_container_is_emptied() {
	trap teardown EXIT
	rx_agent_config "$RX_TMP/agent.yaml" kill_container
	rx_agent_start "$RX_TMP/agent.yaml" --no-kernel-enforce
	rx_ctr_create fk1 shop fk1-pod
	rx_wait_for rx_agent_tracks fk1 || rx_fail "agent never saw fk1"
	rx_ctr_drop fk1 "$DROPPER" /tmp/dropped
	local i cg
	cg=$(rx_ctr_cgroup fk1)
	for i in 1 2 3 4; do
		rx_ctr_exec_bg fk1 /bin/sh -c 'while :; do /bin/sh -c "sleep 60 &" ; done' >/dev/null
	done
	rx_wait_for bash -c "[ \$(wc -l < $cg/cgroup.procs) -ge 20 ]" || rx_fail "the fork storm did not start"
	echo "before the kill: $(wc -l <"$cg/cgroup.procs") processes in the container"
	rx_ctr_exec fk1 /tmp/dropped /tmp/m1 sleep || true
	rx_audit_wait outcome=killed kill_mode=cgroup.kill action=kill_container ||
		{ rx_audit_show; rx_fail "no cgroup.kill audit line"; }
	# Empty, or already removed by runc once its init died.
	rx_wait_for bash -c "[ ! -e $cg/cgroup.events ] || grep -q 'populated 0' $cg/cgroup.events" ||
		rx_fail "container still populated: $(wc -l <"$cg/cgroup.procs")"
	sleep 1
	[ ! -s "$cg/cgroup.procs" ] 2>/dev/null || rx_fail "processes came back: $(wc -l <"$cg/cgroup.procs")"
	# No process of the container anywhere else either (nothing escaped the cgroup).
	local id left=0 p
	id=$(rx_ctr_id fk1)
	for p in /proc/[0-9]*; do
		grep -qs "$id" "$p/cgroup" && left=$((left + 1))
	done
	[ "$left" -eq 0 ] || rx_fail "$left processes of the container still alive"
	rx_audit_has outcome=killed latency_us=None && rx_fail "container kill without latency"
	true
}

# A controller that answers every report only after 2 s: kills are not
# delayed by it (reports go through the spool and their own thread), and
# every report still arrives.
t_slow_controller_never_delays_a_kill() {
	trap teardown EXIT
	python3 - "$RX_TMP/slow.port" "$RX_TMP/slow.log" <<'PY' &
import http.server, sys, time
port_file, log = sys.argv[1:3]
class Slow(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(2)
        with open(log, "a") as f:
            f.write("%s %s %d\n" % (self.path, self.headers.get("Content-Encoding"), len(body)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
open(port_file + ".tmp", "w").write(str(srv.server_address[1]))
__import__("os").rename(port_file + ".tmp", port_file)
srv.timeout = 1
end = time.time() + 300
while time.time() < end:
    srv.handle_request()
PY
	SLOW_CTL=$!
	rx_wait_for test -s "$RX_TMP/slow.port" || rx_fail "slow controller did not start"
	echo -n t0ken >"$RX_TMP/token"
	rx_agent_config "$RX_TMP/agent.yaml" kill_process false "" "  controller_url: http://127.0.0.1:$(cat "$RX_TMP/slow.port")
  controller_token_file: $RX_TMP/token
  report_spool_dir: $RX_TMP/spool"
	rx_agent_start "$RX_TMP/agent.yaml"
	rx_ctr_create sl1 shop sl1-pod
	rx_wait_for rx_agent_tracks sl1 || rx_fail "agent never saw sl1"
	rx_ctr_drop sl1 "$DROPPER" /tmp/dropped
	local i rc t0 t1
	for i in 1 2 3 4 5; do
		rc=0
		t0=$(date +%s%N)
		rx_ctr_exec sl1 /tmp/dropped "/tmp/m$i" sleep || rc=$?
		t1=$(date +%s%N)
		[ "$rc" -eq 137 ] || rx_fail "run $i: exit $rc, want 137"
		[ $(((t1 - t0) / 1000000)) -lt 1500 ] || rx_fail "run $i took $(((t1 - t0) / 1000000)) ms: the slow controller held it"
	done
	[ "$(rx_audit_count outcome=killed namespace=shop)" -eq 5 ] || rx_fail "not 5 kill records"
	RX_WAIT_MS=40000 rx_wait_for bash -c "[ \$(wc -l < $RX_TMP/slow.log 2>/dev/null || echo 0) -ge 5 ]" ||
		rx_fail "$(wc -l <"$RX_TMP/slow.log" 2>/dev/null || echo 0) of 5 reports arrived"
	grep -q '^/alert gzip ' "$RX_TMP/slow.log" || rx_fail "reports not gzip POSTs to /alert: $(head -1 "$RX_TMP/slow.log")"
	rx_wait_for bash -c "! ls $RX_TMP/spool/*.rec >/dev/null 2>&1" || rx_fail "spool not emptied"
	kill "$SLOW_CTL" 2>/dev/null || true
}

rx_test spool_disk_full_is_loud_and_harms_nothing t_spool_disk_full_is_loud_and_harms_nothing
rx_test forking_container_is_emptied t_forking_container_is_emptied
rx_test slow_controller_never_delays_a_kill t_slow_controller_never_delays_a_kill
