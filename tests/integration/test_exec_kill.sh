# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
# Dropped-binary detection and kill, end to end: real reflexd, real BPF,
# real overlayfs, real runc containers. Each case also checks what must NOT die.

source "$(dirname "${BASH_SOURCE[0]}")/agent.sh"

DROPPER=$RX_BUILD/helpers/dropper

# Common set-up: an agent with CONFIG args, one container NAME in NAMESPACE,
# the dropper dropped at /tmp/dropped inside it.
setup_agent_and_container() {
	local name=$1 namespace=$2 action=$3 dryrun=${4:-false} extra=${5:-}
	shift 5 || shift $#
	rx_agent_config "$RX_TMP/agent.yaml" "$action" "$dryrun" "$extra"
	rx_agent_start "$RX_TMP/agent.yaml" "$@"
	rx_ctr_create "$name" "$namespace" "$name-pod"
	rx_wait_for rx_agent_tracks "$name" || rx_fail "agent never saw container $name"
	rx_ctr_drop "$name" "$DROPPER" /tmp/dropped
}

teardown() {
	rx_agent_stop || rx_fail "reflexd did not exit cleanly"
	rx_cleanup_all
}

marker() { echo "$(rx_ctr_upper "$1")/tmp/$2"; }

t_kernel_kill_before_first_instruction() {
	trap teardown EXIT
	setup_agent_and_container k1 shop kill_process false ""
	local rc=0
	rx_ctr_exec k1 /tmp/dropped /tmp/m1 sleep || rc=$?
	[ "$rc" -eq 137 ] || rx_fail "dropped binary exit status $rc, want 137 (SIGKILL)"
	[ ! -e "$(marker k1 m1)" ] || rx_fail "marker written: the dropped binary ran an instruction"
	rx_audit_wait outcome=killed kill_mode=kernel namespace=shop pod=k1-pod exe_path=/tmp/dropped \
		rule="$RX_EXEC_RULE" source=kernel dry_run=false || { rx_audit_show; rx_fail "no kernel-kill audit line"; }
	rx_ctr_alive k1 || rx_fail "container init died: only the dropped process may die"
	# The image's own binaries still run.
	rx_ctr_exec k1 /bin/sh -c 'echo lower-ok > /tmp/lower-ok' || rx_fail "lower-layer exec failed"
	[ -e "$(marker k1 lower-ok)" ] || rx_fail "lower-layer exec did not run"
	[ "$(rx_audit_count exe_path=/bin/sh)" -eq 0 ] || rx_fail "lower-layer exec was audited"
}

t_pidfd_kill_without_kernel_enforcement() {
	trap teardown EXIT
	setup_agent_and_container p1 shop kill_process false "" --no-kernel-enforce
	local rc=0
	rx_ctr_exec p1 /tmp/dropped /tmp/m1 sleep || rc=$?
	[ "$rc" -eq 137 ] || rx_fail "dropped binary exit status $rc, want 137"
	rx_audit_wait outcome=killed kill_mode=pidfd namespace=shop exe_path=/tmp/dropped || { rx_audit_show; rx_fail "no pidfd audit line"; }
	rx_audit_has outcome=killed kill_mode=pidfd latency_us=None && rx_fail "pidfd kill without latency"
	rx_ctr_alive p1 || rx_fail "container init died with kill_process"
}

t_kill_container_empties_the_cgroup() {
	trap teardown EXIT
	setup_agent_and_container c1 shop kill_container false "" --no-kernel-enforce
	rx_ctr_exec_bg c1 /bin/sleep 300 >/dev/null
	rx_ctr_exec c1 /tmp/dropped /tmp/m1 sleep || true
	rx_audit_wait outcome=killed kill_mode=cgroup.kill action=kill_container || { rx_audit_show; rx_fail "no cgroup.kill audit line"; }
	rx_wait_for bash -c "! grep -q 'populated 1' $(rx_ctr_cgroup c1)/cgroup.events" || rx_fail "container still populated"
}

t_kernel_kill_then_kill_container() {
	trap teardown EXIT
	setup_agent_and_container c2 shop kill_container false ""
	local rc=0
	rx_ctr_exec c2 /tmp/dropped /tmp/m1 sleep || rc=$?
	[ "$rc" -eq 137 ] || rx_fail "exit status $rc, want 137"
	[ ! -e "$(marker c2 m1)" ] || rx_fail "marker written before the kernel kill"
	rx_audit_wait outcome=killed kill_mode=kernel+cgroup.kill || { rx_audit_show; rx_fail "no kernel+cgroup.kill line"; }
	rx_wait_for bash -c "! grep -q 'populated 1' $(rx_ctr_cgroup c2)/cgroup.events" || rx_fail "container still populated"
}

t_cgroup_v1_freezer_fallback() {
	trap teardown EXIT
	setup_agent_and_container f1 shop kill_container false "" --no-kernel-enforce --force-cgroup-v1-kill
	rx_ctr_exec_bg f1 /bin/sleep 300 >/dev/null
	rx_ctr_exec f1 /tmp/dropped /tmp/m1 sleep || true
	rx_audit_wait outcome=killed kill_mode=cgroup-v1-freezer || { rx_audit_show; rx_fail "no freezer audit line"; }
	rx_wait_for bash -c "! grep -q 'populated 1' $(rx_ctr_cgroup f1)/cgroup.events" || rx_fail "container still populated"
	local freezer="/sys/fs/cgroup/freezer/$(rx_ctr_cgroup_path f1)"
	[ ! -d "$freezer" ] || grep -q THAWED "$freezer/freezer.state" || rx_fail "freezer left frozen"
}

t_dry_run_leaves_it_running() {
	trap teardown EXIT
	setup_agent_and_container d1 shop kill_process true ""
	local pid
	pid=$(rx_ctr_exec_bg d1 /tmp/dropped /tmp/m1 sleep)
	rx_audit_wait outcome=dry_run dry_run=true exe_path=/tmp/dropped || { rx_audit_show; rx_fail "no dry-run line"; }
	grep -q DRY_RUN "$RX_TMP/agent/stdout" || rx_fail "dry-run line lacks DRY_RUN"
	sleep 0.3
	kill -0 "$pid" || rx_fail "dry-run killed the process"
	[ -e "$(marker d1 m1)" ] || rx_fail "dropped binary did not run under dry-run"
}

t_copied_up_lower_binary_counts_as_upper() {
	trap teardown EXIT
	setup_agent_and_container u1 shop kill_process false ""
	# chmod copies /bin/busybox up into the upper layer, as Falco counts it.
	rx_ctr_exec u1 /bin/chmod 755 /bin/busybox || rx_fail "chmod failed"
	[ -e "$(rx_ctr_upper u1)/bin/busybox" ] || rx_fail "no copy-up happened"
	local rc=0
	rx_ctr_exec u1 /bin/busybox true || rc=$?
	[ "$rc" -eq 137 ] || rx_fail "copied-up busybox exit $rc, want 137"
	rx_audit_wait outcome=killed exe_path=/bin/busybox || { rx_audit_show; rx_fail "copied-up exec not audited"; }
}

t_script_in_upper_layer_is_judged_by_interpreter() {
	trap teardown EXIT
	setup_agent_and_container s1 shop kill_process false ""
	printf '#!/bin/sh\necho ran > /tmp/script-ran\n' >"$RX_TMP/s.sh"
	rx_ctr_drop s1 "$RX_TMP/s.sh" /tmp/s.sh
	rx_ctr_exec s1 /tmp/s.sh || rx_fail "script was killed or failed"
	[ -e "$(marker s1 script-ran)" ] || rx_fail "script did not run"
	# Fence: a dropped binary afterwards is audited; the script never was.
	rx_ctr_exec s1 /tmp/dropped /tmp/m1 || true
	rx_audit_wait exe_path=/tmp/dropped || rx_fail "fence event missing"
	[ "$(rx_audit_count exe_path=/tmp/s.sh)" -eq 0 ] || rx_fail "script itself was flagged"
	[ "$(rx_audit_count exe_path=/bin/busybox)" -eq 0 ] || rx_fail "the lower interpreter was flagged"
}

t_memfd_exec_is_flagged_and_killed() {
	trap teardown EXIT
	# The dropper lives in the image (lower layer) and re-executes itself from a memfd.
	RX_LOWER_EXTRA=$DROPPER setup_agent_and_container mf shop kill_process false ""
	local rc=0
	rx_ctr_exec mf /bin/dropper /tmp/m0 memfd /tmp/m1 || rc=$?
	[ -e "$(marker mf m0)" ] || rx_fail "the lower-layer loader did not run"
	[ ! -e "$(marker mf m1)" ] || rx_fail "memfd-executed code ran an instruction"
	rx_audit_wait outcome=killed kill_mode=kernel rule="$RX_FILELESS_RULE" || { rx_audit_show; rx_fail "memfd exec not killed"; }
}

t_host_process_is_never_killed() {
	trap teardown EXIT
	setup_agent_and_container h1 shop kill_process false ""
	# The same dropped file, run by a host process in its own mount namespace
	# (as systemd services with PrivateTmp are): outside any container cgroup.
	local rc=0
	unshare -m "$(rx_ctr_rootfs h1)/tmp/dropped" "$RX_TMP/host-marker" || rc=$?
	[ "$rc" -eq 0 ] || rx_fail "host process exit $rc: it was killed"
	[ -e "$RX_TMP/host-marker" ] || rx_fail "host process did not run"
	rx_audit_wait outcome=refused container_id=None || { rx_audit_show; rx_fail "host exec not audited as refused"; }
	grep -q 'host process' "$RX_TMP/agent/stdout" || rx_fail "refusal does not say host process"
}

t_denied_namespace_is_never_killed() {
	trap teardown EXIT
	setup_agent_and_container n1 kube-system kill_process false ""
	local pid
	pid=$(rx_ctr_exec_bg n1 /tmp/dropped /tmp/m1 sleep)
	rx_audit_wait outcome=refused namespace=kube-system || { rx_audit_show; rx_fail "no refusal"; }
	sleep 0.3
	kill -0 "$pid" || rx_fail "process in a denied namespace was killed"
	[ -e "$(marker n1 m1)" ] || rx_fail "kernel killed in a denied namespace"
}

t_exception_is_never_killed() {
	trap teardown EXIT
	local exc="exceptions:
  - rule: $RX_EXEC_RULE
    namespace: backup
    exe_path: /tmp/drop*"
	setup_agent_and_container e1 backup kill_process false "$exc"
	local pid
	pid=$(rx_ctr_exec_bg e1 /tmp/dropped /tmp/m1 sleep)
	rx_audit_wait outcome=excepted namespace=backup || { rx_audit_show; rx_fail "no exception line"; }
	sleep 0.3
	kill -0 "$pid" || rx_fail "excepted process was killed"
	[ -e "$(marker e1 m1)" ] || rx_fail "kernel killed an excepted exec"
	# The exception is scoped to the exe path: another dropped path still dies.
	rx_ctr_drop e1 "$DROPPER" /tmp/other
	local rc=0
	rx_ctr_exec e1 /tmp/other /tmp/m2 sleep || rc=$?
	[ "$rc" -eq 137 ] || rx_fail "unexcepted path exit $rc, want 137"
}

t_raw_tp_fallback_still_kills_in_kernel() {
	trap teardown EXIT
	setup_agent_and_container r1 shop kill_process false "" --force-raw-tp
	grep -q 'raw_tp/sched_process_exec' <<<"$("$RX_BUILD/reflex" status --address "127.0.0.1:${RX_AGENT_PORT:-19464}")" ||
		rx_fail "status does not show the raw_tp hook"
	local rc=0
	rx_ctr_exec r1 /tmp/dropped /tmp/m1 sleep || rc=$?
	[ "$rc" -eq 137 ] || rx_fail "exit $rc, want 137"
	[ ! -e "$(marker r1 m1)" ] || rx_fail "marker written under raw_tp"
}

t_endpoints_and_clean_shutdown() {
	trap 'rx_cleanup_all' EXIT
	rx_agent_config "$RX_TMP/agent.yaml" kill_process
	rx_agent_start "$RX_TMP/agent.yaml"
	local base="http://127.0.0.1:${RX_AGENT_PORT:-19464}"
	curl -sf "$base/healthz" | grep -q ok || rx_fail "/healthz"
	# Read whole, then match: grep -q stopping early would SIGPIPE the writer under pipefail.
	grep -q "^reflex_hook_active{hook=\"tp_btf/sched_process_exec\",detail=.*} 1" <<<"$(curl -sf "$base/metrics")" ||
		rx_fail "/metrics does not show the active hook"
	grep -q 'tp_btf/sched_process_exec' <<<"$("$RX_BUILD/reflex" status --address "${base#http://}")" || rx_fail "reflex status"
	local before after
	# Count, not grep -q: an early grep exit would SIGPIPE bpftool under pipefail.
	before=$(bpftool prog show | grep -c 'name exec_btf' || true)
	[ "$before" -ge 1 ] || rx_fail "program not loaded while running"
	rx_agent_stop || rx_fail "reflexd exit status non-zero on SIGTERM"
	# The kernel frees an unloaded program after an RCU grace period: wait for it.
	rx_wait_for bash -c "[ \$(bpftool prog show | grep -c 'name exec_btf') -lt $before ]" || {
		after=$(bpftool prog show | grep -c 'name exec_btf' || true)
		rx_fail "program still loaded after SIGTERM ($before before, $after after)"
	}
	[ "$(ls /sys/fs/bpf | grep -c reflex || true)" -eq 0 ] || rx_fail "something left pinned"
}

t_bad_config_fails_loudly() {
	printf 'dryrun: maybe\nrules: []\n' >"$RX_TMP/bad.yaml"
	local out rc=0
	out=$("$RX_BUILD/reflexd" --config "$RX_TMP/bad.yaml" 2>&1) || rc=$?
	[ "$rc" -ne 0 ] || rx_fail "reflexd started with a bad config"
	echo "$out" | grep -q "bad.yaml:1" || rx_fail "error does not name file and line: $out"
	"$RX_BUILD/reflex" config check "$RX_ROOT/rules/config.yaml" >/dev/null || rx_fail "shipped config invalid"
	! "$RX_BUILD/reflex" config check "$RX_TMP/bad.yaml" 2>/dev/null || rx_fail "config check accepted a bad file"
}

# lsm/bprm_check_security where the kernel runs BPF LSM, else the kill at exec:
# whichever is active must act, the inactive one must say why, and
# RX_EXPECT_EXEC_DENY=1|0 (set by tools/kernel-vm per boot) pins which.
t_exec_refused_before_start_or_killed_at_exec() {
	trap teardown EXIT
	RX_AGENT_ARGS="" setup_agent_and_container l1 shop kill_process false ""
	local line state rc=0 out
	line=$(curl -sf "http://127.0.0.1:${RX_AGENT_PORT:-19464}/metrics" |
		grep '^reflex_hook_active{hook="lsm/bprm_check_security' || true)
	[ -n "$line" ] || rx_fail "/metrics does not list the exec refusal hook"
	state=${line##* }
	case ${RX_EXPECT_EXEC_DENY:-} in
	1 | 0) [ "$state" = "$RX_EXPECT_EXEC_DENY" ] || rx_fail "exec refusal active=$state, want $RX_EXPECT_EXEC_DENY: $line" ;;
	esac
	if [ "$state" = 1 ]; then
		echo "exec refusal active: checking EPERM before the first instruction" >&2
		out=$(rx_ctr_exec l1 /tmp/dropped /tmp/m1 sleep 2>&1) || rc=$?
		[ "$rc" -ne 0 ] && [ "$rc" -ne 137 ] || rx_fail "dropped exec status $rc, want a refused exec: $out"
		[ ! -e "$(marker l1 m1)" ] || rx_fail "marker written: the refused binary ran"
		rx_audit_wait outcome=denied kill_mode=lsm namespace=shop exe_path=/tmp/dropped source=kernel \
			rule="$RX_EXEC_RULE" || { rx_audit_show; rx_fail "no lsm denial audit line"; }
		# The caller is not killed: a shell that is refused sees EPERM and goes on.
		rx_ctr_exec l1 /bin/sh -c '/tmp/dropped /tmp/m2 sleep; echo "status $?" > /tmp/after' ||
			rx_fail "the refused caller did not go on"
		grep -q '^status 126$' "$(marker l1 after)" || rx_fail "shell saw $(cat "$(marker l1 after)" 2>&1), want 126"
		[ ! -e "$(marker l1 m2)" ] || rx_fail "marker written on the second try"
		rx_ctr_alive l1 || rx_fail "container init died"
		rx_ctr_exec l1 /bin/sh -c 'echo lower-ok > /tmp/lower-ok' || rx_fail "lower-layer exec refused"
		# Scripts are judged by their interpreter, as at sched_process_exec.
		rx_ctr_exec l1 /bin/sh -c 'printf "#!/bin/sh\necho script-ok > /tmp/script-ok\n" > /tmp/s.sh && chmod +x /tmp/s.sh && /tmp/s.sh' ||
			rx_fail "an upper-layer script with a lower-layer interpreter was refused"
		[ -e "$(marker l1 script-ok)" ] || rx_fail "script did not run"
		# Host execs of the same file are never refused.
		unshare -m "$(rx_ctr_rootfs l1)/tmp/dropped" "$RX_TMP/host-marker" || rx_fail "host exec refused or killed"
		[ -e "$RX_TMP/host-marker" ] || rx_fail "host process did not run"
		# Nor in a denied namespace: the refusal follows the same verdicts as the kill.
		rx_ctr_create l1ks kube-system l1ks-pod
		rx_wait_for rx_agent_tracks l1ks || rx_fail "agent never saw l1ks"
		rx_ctr_drop l1ks "$DROPPER" /tmp/dropped
		rx_ctr_exec l1ks /tmp/dropped /tmp/m1 || rx_fail "dropped binary refused in kube-system"
		[ -e "$(marker l1ks m1)" ] || rx_fail "dropped binary did not run in kube-system"
		rx_audit_wait outcome=refused namespace=kube-system || { rx_audit_show; rx_fail "no refusal record for kube-system"; }
	else
		echo "exec refusal inactive here (${line#*detail=}): checking the kill at exec" >&2
		echo "$line" | grep -q 'detail="[^"]' || rx_fail "inactive exec refusal gives no reason: $line"
		rx_ctr_exec l1 /tmp/dropped /tmp/m1 sleep || rc=$?
		[ "$rc" -eq 137 ] || rx_fail "dropped binary exit status $rc, want 137 (SIGKILL)"
		[ ! -e "$(marker l1 m1)" ] || rx_fail "marker written: the dropped binary ran an instruction"
		rx_audit_wait outcome=killed kill_mode=kernel exe_path=/tmp/dropped || { rx_audit_show; rx_fail "no kernel-kill audit line"; }
	fi
	[ "$(rx_audit_count exe_path=/bin/sh)" -eq 0 ] || rx_fail "lower-layer exec was audited"
}

t_exec_refusal_and_kill_container() {
	trap teardown EXIT
	RX_AGENT_ARGS="" setup_agent_and_container l2 shop kill_container false ""
	rx_ctr_exec_bg l2 /bin/sleep 300 >/dev/null
	rx_ctr_exec l2 /tmp/dropped /tmp/m1 sleep || true
	[ ! -e "$(marker l2 m1)" ] || rx_fail "marker written"
	rx_audit_wait outcome=killed action=kill_container || { rx_audit_show; rx_fail "no kill_container line"; }
	rx_audit_has outcome=killed kill_mode=lsm+cgroup.kill || rx_audit_has outcome=killed kill_mode=kernel+cgroup.kill ||
		{ rx_audit_show; rx_fail "kill mode is neither lsm+cgroup.kill nor kernel+cgroup.kill"; }
	rx_wait_for bash -c "! grep -q 'populated 1' $(rx_ctr_cgroup l2)/cgroup.events" || rx_fail "container still populated"
}

# Least privilege: once loaded, every reflexd thread holds exactly the kept
# set (cap_dac_read_search, cap_kill, cap_sys_ptrace, cap_bpf), bounding
# set included, and still kills.
t_capabilities_dropped_after_load() {
	trap teardown EXIT
	setup_agent_and_container cap1 shop kill_process false "" --no-kernel-enforce
	local pid want=0000008000080024 task field n=0
	pid=$(cat "$RX_TMP/agent/pid")
	for task in /proc/"$pid"/task/*; do
		for field in CapEff CapPrm CapBnd; do
			grep -q "^$field:[[:space:]]*$want\$" "$task/status" ||
				rx_fail "thread ${task##*/}: $(grep "^$field:" "$task/status"), want $want"
		done
		for field in CapInh CapAmb; do
			grep -q "^$field:[[:space:]]*0000000000000000\$" "$task/status" ||
				rx_fail "thread ${task##*/}: $(grep "^$field:" "$task/status"), want none"
		done
		n=$((n + 1))
	done
	[ "$n" -ge 3 ] || rx_fail "only $n threads checked: the workers had not started"
	local m
	m=$(curl -sf "http://127.0.0.1:${RX_AGENT_PORT:-19464}/metrics")
	grep -q '^reflex_hook_active{hook="capabilities dropped",.*} 1' <<<"$m" || rx_fail "/metrics does not show the drop"
	# What is kept is enough: a pidfd kill of a container process still lands.
	local rc=0
	rx_ctr_exec cap1 /tmp/dropped /tmp/m1 sleep || rc=$?
	[ "$rc" -eq 137 ] || rx_fail "dropped binary exit status $rc, want 137"
	rx_audit_wait outcome=killed kill_mode=pidfd exe_path=/tmp/dropped || { rx_audit_show; rx_fail "no pidfd kill"; }
	# ... and lands in the latency histogram, with its +Inf bucket equal to the count.
	m=$(curl -sf "http://127.0.0.1:${RX_AGENT_PORT:-19464}/metrics")
	grep -q '^reflex_action_latency_seconds_count{source="kernel",kill_mode="pidfd"} 1$' <<<"$m" ||
		rx_fail "no histogram sample for the pidfd kill: $(grep latency_seconds_count <<<"$m")"
	grep -q '^reflex_action_latency_seconds_bucket{source="kernel",kill_mode="pidfd",le="+Inf"} 1$' <<<"$m" ||
		rx_fail "histogram +Inf bucket wrong"
}

# Command-line overrides are re-applied on every reload: --dry-run on a
# "dryrun: false" file stays in force after the file changes on disk.
t_dry_run_flag_survives_reload() {
	trap teardown EXIT
	setup_agent_and_container dr1 shop kill_process false "" --dry-run --unknown-owner allow
	rx_wait_for rx_audit_has action=config outcome=loaded dry_run=true ||
		{ rx_audit_show; rx_fail "no config record at start"; }
	echo "# touched by the test" >>"$RX_TMP/agent.yaml"
	rx_wait_for grep -q 'reload: .* loaded .*overrides in force: --dry-run --unknown-owner allow' \
		"$RX_TMP/agent/stderr" || rx_fail "no reload, or its log line does not name the overrides"
	[ "$(rx_audit_count action=config outcome=loaded dry_run=true)" -eq 2 ] ||
		{ rx_audit_show; rx_fail "want a config record at start and one at the reload, both dry-run"; }
	python3 - "$RX_TMP/agent/stdout" <<'PY' || { rx_audit_show; rx_fail "config record lacks rules, modes or overrides"; }
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
last = [r for r in recs if r.get("action") == "config"][-1]
d = last["detail"]
assert "'Drop and execute new binary in container' kill_process dry-run" in d, d
assert "command-line overrides: --dry-run --unknown-owner allow" in d, d
PY
	local pid
	pid=$(rx_ctr_exec_bg dr1 /tmp/dropped /tmp/m1 sleep)
	rx_audit_wait outcome=dry_run dry_run=true exe_path=/tmp/dropped rule="$RX_EXEC_RULE" ||
		{ rx_audit_show; rx_fail "no dry-run record after the reload"; }
	rx_wait_for test -e "$(marker dr1 m1)" || rx_fail "the dropped binary never ran: killed after the reload"
	kill -0 "$pid" || rx_fail "--dry-run lost at reload: the dropped binary was killed"
	[ "$(rx_audit_count outcome=killed)" -eq 0 ] || { rx_audit_show; rx_fail "something was killed under --dry-run"; }
}

# A reload whose attribution rebuild fails leaves no verdict of the old policy
# in the kernel: the agent watches its own cgroup2 mount, the test unmounts it
# (a real failure: the root is no longer a cgroup2 filesystem), the reload
# fails, the kernel stops killing and user space decides (pidfd kill); once
# the mount is back the retried rebuild arms the kernel again.
t_failed_rebuild_clears_kernel_verdicts() {
	local cg=$RX_TMP/cg2
	mkdir -p "$cg"
	mount -t cgroup2 none "$cg" || rx_fail "cannot mount a second cgroup2 view"
	trap 'umount -l "$RX_TMP/cg2" 2>/dev/null; teardown' EXIT
	setup_agent_and_container rb1 shop kill_process false "" --cgroup-root "$cg"
	local rc=0 pid
	rx_ctr_exec rb1 /tmp/dropped /tmp/m1 sleep || rc=$?
	[ "$rc" -eq 137 ] || rx_fail "before: exit $rc, want 137 (kernel kill)"
	rx_audit_wait outcome=killed kill_mode=kernel exe_path=/tmp/dropped || { rx_audit_show; rx_fail "no kernel kill before"; }
	umount -l "$cg"
	pid=$(cat "$RX_TMP/agent/pid")
	kill -HUP "$pid"
	rx_wait_for grep -q 'attribution rebuild failed: every kernel verdict cleared' "$RX_TMP/agent/stderr" ||
		{ tail -20 "$RX_TMP/agent/stderr" >&2; rx_fail "the failed rebuild did not say it cleared the verdicts"; }
	grep -q '^reflex_kernel_verdicts_cleared_total 1$' <<<"$(curl -sf "http://127.0.0.1:${RX_AGENT_PORT:-19464}/metrics")" ||
		rx_fail "metric reflex_kernel_verdicts_cleared_total is not 1"
	# The kernel no longer kills: user space decides and kills (pidfd).
	rx_ctr_drop rb1 "$DROPPER" /tmp/dropped2
	rx_ctr_exec rb1 /tmp/dropped2 /tmp/m2 sleep || true
	rx_audit_wait outcome=killed exe_path=/tmp/dropped2 || { rx_audit_show; rx_fail "no record of the second dropped binary"; }
	[ "$(rx_audit_count exe_path=/tmp/dropped2 kill_mode=kernel)" -eq 0 ] ||
		{ rx_audit_show; rx_fail "kernel still killed at exec after the failed rebuild: an old verdict stayed armed"; }
	rx_audit_has outcome=killed kill_mode=pidfd exe_path=/tmp/dropped2 ||
		{ rx_audit_show; rx_fail "user space did not decide and kill after the failed rebuild"; }
	# Back: the rebuild is retried on the rescan tick and arms the kernel again.
	mount -t cgroup2 none "$cg" || rx_fail "remount"
	RX_WAIT_MS=15000 rx_wait_for grep -q 'attribution rebuilt: kernel verdicts armed again' "$RX_TMP/agent/stderr" ||
		rx_fail "the rebuild was not retried"
	rx_ctr_drop rb1 "$DROPPER" /tmp/dropped3
	rc=0
	rx_ctr_exec rb1 /tmp/dropped3 /tmp/m3 sleep || rc=$?
	[ "$rc" -eq 137 ] && [ ! -e "$(marker rb1 m3)" ] || rx_fail "after the rebuild: exit $rc, want a kernel kill"
	rx_audit_wait outcome=killed kill_mode=kernel exe_path=/tmp/dropped3 || { rx_audit_show; rx_fail "no kernel kill after"; }
}

# One exec, one rule: a dropped binary started with a Stratum URL is judged
# under the Stratum rule alone (events.h precedence), in the kernel and in the
# audit. The exec rule's exception spares the same binary without the URL.
t_stratum_argv_in_dropped_binary_one_rule() {
	trap teardown EXIT
	local exc="exceptions:
  - rule: $RX_EXEC_RULE
    namespace: shop
    exe_path: /tmp/drop*"
	setup_agent_and_container sr1 shop kill_process false "$exc"
	local pid rc=0
	pid=$(rx_ctr_exec_bg sr1 /tmp/dropped /tmp/m1 sleep)
	rx_audit_wait outcome=excepted rule="$RX_EXEC_RULE" exe_path=/tmp/dropped || { rx_audit_show; rx_fail "exception not applied"; }
	rx_wait_for test -e "$(marker sr1 m1)" || rx_fail "excepted binary did not run"
	kill -0 "$pid" || rx_fail "excepted binary was killed"
	rx_ctr_exec sr1 /tmp/dropped /tmp/m2 sleep stratum+tcp://pool.example.com:3333 || rc=$?
	[ "$rc" -eq 137 ] || rx_fail "dropped miner exit status $rc, want 137 (killed under the Stratum rule)"
	rx_audit_wait outcome=killed rule="$RX_STRATUM_RULE" exe_path=/tmp/dropped ||
		{ rx_audit_show; rx_fail "the kill is not audited under the Stratum rule"; }
	# Where the verdict was armed in time, the kernel's kill is the one audited (never a second one).
	if [ ! -e "$(marker sr1 m2)" ]; then
		rx_audit_has outcome=killed kill_mode=kernel rule="$RX_STRATUM_RULE" ||
			{ rx_audit_show; rx_fail "killed before its first instruction, but not audited as the kernel's kill"; }
	fi
	[ "$(rx_audit_count rule="$RX_EXEC_RULE")" -eq 1 ] ||
		{ rx_audit_show; rx_fail "the miner's exec was (also) audited under the exec rule"; }
	! grep -q 'verdict map out of step' "$RX_TMP/agent/stderr" || rx_fail "kernel and user space judged different rules"
}

# A kind the caller can add (a Stratum URL in argv) never shields a dropped
# binary behind a weaker rule: with the Stratum rule alert-only, the exec is
# killed under the exec rule, in the kernel and, without it, from user space.
t_stratum_url_never_shields_a_dropped_binary() {
	trap teardown EXIT
	local mode rc
	for mode in kernel pidfd; do
		rx_agent_stop || rx_fail "reflexd did not exit cleanly"
		rx_cleanup_all
		if [ "$mode" = kernel ]; then
			RX_POOL_ACTION=alert setup_agent_and_container "su-$mode" shop kill_process
		else
			RX_POOL_ACTION=alert setup_agent_and_container "su-$mode" shop kill_process false "" --no-kernel-enforce
		fi
		rc=0
		rx_ctr_exec "su-$mode" /tmp/dropped /tmp/m1 sleep stratum+tcp://pool.example.com:3333 || rc=$?
		[ "$rc" -eq 137 ] || { rx_audit_show; rx_fail "$mode: the Stratum URL shielded the dropped binary (exit $rc)"; }
		rx_audit_wait outcome=killed rule="$RX_EXEC_RULE" kill_mode="$mode" exe_path=/tmp/dropped ||
			{ rx_audit_show; rx_fail "$mode: not killed and audited under the exec rule"; }
		[ "$(rx_audit_count rule="$RX_STRATUM_RULE")" -eq 0 ] || { rx_audit_show; rx_fail "$mode: also audited under the Stratum rule"; }
	done
}

rx_test kernel_kill_before_first_instruction t_kernel_kill_before_first_instruction
rx_test pidfd_kill_without_kernel_enforcement t_pidfd_kill_without_kernel_enforcement
rx_test kill_container_empties_the_cgroup t_kill_container_empties_the_cgroup
rx_test kernel_kill_then_kill_container t_kernel_kill_then_kill_container
rx_test cgroup_v1_freezer_fallback t_cgroup_v1_freezer_fallback
rx_test dry_run_leaves_it_running t_dry_run_leaves_it_running
rx_test copied_up_lower_binary_counts_as_upper t_copied_up_lower_binary_counts_as_upper
rx_test script_in_upper_layer_is_judged_by_interpreter t_script_in_upper_layer_is_judged_by_interpreter
rx_test memfd_exec_is_flagged_and_killed t_memfd_exec_is_flagged_and_killed
rx_test host_process_is_never_killed t_host_process_is_never_killed
rx_test denied_namespace_is_never_killed t_denied_namespace_is_never_killed
rx_test exception_is_never_killed t_exception_is_never_killed
rx_test raw_tp_fallback_still_kills_in_kernel t_raw_tp_fallback_still_kills_in_kernel
rx_test endpoints_and_clean_shutdown t_endpoints_and_clean_shutdown
rx_test bad_config_fails_loudly t_bad_config_fails_loudly
rx_test exec_refused_before_start_or_killed_at_exec t_exec_refused_before_start_or_killed_at_exec
rx_test exec_refusal_and_kill_container t_exec_refusal_and_kill_container
rx_test capabilities_dropped_after_load t_capabilities_dropped_after_load
rx_test dry_run_flag_survives_reload t_dry_run_flag_survives_reload
rx_test failed_rebuild_clears_kernel_verdicts t_failed_rebuild_clears_kernel_verdicts
rx_test stratum_argv_in_dropped_binary_one_rule t_stratum_argv_in_dropped_binary_one_rule
rx_test stratum_url_never_shields_a_dropped_binary t_stratum_url_never_shields_a_dropped_binary
