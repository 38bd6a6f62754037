# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
# shellcheck shell=bash
# shellcheck disable=SC2317,SC2329 # test functions are called through rx_test
#
# Self-test of lib.sh: the harness every other integration test stands on.
# Real runc containers on a real overlayfs; no reflexd involved. If these fail,
# no other integration result means anything.

DROPPER=$RX_BUILD/helpers/dropper

# in_cgroup2 PID CGPATH: the process's cgroup v2 ("0::") line is CGPATH.
in_cgroup2() {
	[ "$(sed -n 's/^0:://p' "/proc/$1/cgroup")" = "$2" ]
}

# not_alive NAME: the container's cgroup has no process left.
not_alive() { ! rx_ctr_alive "$1"; }

# meta_annotation NAME KEY: prints an annotation of the containerd config.json copy.
meta_annotation() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["annotations"][sys.argv[2]])' \
		"$(rx_ctr_meta "$1")/config.json" "$2"
}

# check_container NAME NAMESPACE POD CGPATH_REGEX: what every container must be.
check_container() {
	local name=$1 namespace=$2 pod=$3 want_re=$4 pid cgpath cg out root
	pid=$(rx_ctr_pid "$name")
	cgpath=$(rx_ctr_cgroup_path "$name")
	cg=$(rx_ctr_cgroup "$name")
	[[ $cgpath =~ $want_re ]] || rx_fail "cgroupsPath $cgpath does not match $want_re"
	[ "$cg" = "$(rx_cgroup2_root)$cgpath" ] || rx_fail "rx_ctr_cgroup $cg is not under the cgroup2 root"
	kill -0 "$pid" || rx_fail "init pid $pid is not running"
	in_cgroup2 "$pid" "$cgpath" || rx_fail "init is in $(grep '^0::' "/proc/$pid/cgroup"), want 0::$cgpath"
	grep -qx "$pid" "$cg/cgroup.procs" || rx_fail "init pid not in $cg/cgroup.procs"
	rx_assert rx_ctr_alive "$name"
	# runc's fs driver puts it in the same path of every v1 hierarchy too.
	for root in $(rx__cgroup_v1_mounts); do
		[ -d "$root$cgpath" ] || rx_fail "no v1 cgroup dir $root$cgpath"
	done

	# The containerd view the agent reads: config.json copy with the annotations, init.pid.
	[ "$(cat "$(rx_ctr_meta "$name")/init.pid")" = "$pid" ] || rx_fail "containerd init.pid is not $pid"
	[[ $(rx_ctr_meta "$name") == */io.containerd.runtime.v2.task/k8s.io/$(rx_ctr_id "$name") ]] ||
		rx_fail "metadata dir $(rx_ctr_meta "$name") is not containerd-shaped"
	[ "$(meta_annotation "$name" io.kubernetes.cri.sandbox-namespace)" = "$namespace" ] || rx_fail "sandbox-namespace"
	[ "$(meta_annotation "$name" io.kubernetes.cri.sandbox-name)" = "$pod" ] || rx_fail "sandbox-name"
	[ "$(meta_annotation "$name" io.kubernetes.cri.sandbox-uid)" = "$(rx_ctr_uid "$name")" ] || rx_fail "sandbox-uid"
	[ "$(meta_annotation "$name" io.kubernetes.cri.container-name)" = "$name" ] || rx_fail "container-name"
	[ "$(meta_annotation "$name" io.kubernetes.cri.container-type)" = container ] || rx_fail "container-type"

	# The rootfs is a real overlay whose lower layer is the busybox image.
	grep -q "^overlay $(rx_ctr_rootfs "$name") overlay " /proc/mounts || rx_fail "rootfs is not an overlay mount"
	out=$(rx_ctr_exec "$name" sh -c 'echo hi')
	[ "$out" = hi ] || rx_fail "exec sh -c 'echo hi' printed '$out'"
	[ "$(rx_ctr_exec "$name" cat /proc/1/cmdline | tr '\0' ' ')" = "/bin/sleep 3600 " ] ||
		rx_fail "pid 1 in the container is not /bin/sleep 3600"
	[ "$(rx_ctr_exec "$name" sh -c 'cat /proc/self/cgroup' | sed -n 's/^0:://p')" != "" ] || rx_fail "exec has no cgroup2 line"
	[ ! -e "$(rx_ctr_upper "$name")/bin/busybox" ] || rx_fail "busybox is in the upper layer before any write"
}

# drop_and_run NAME: the dropper, dropped through the overlay, runs and leaves its marker in upper/.
drop_and_run() {
	local name=$1 upper
	upper=$(rx_ctr_upper "$name")
	rx_ctr_drop "$name" "$DROPPER" /tmp/dropped
	[ -f "$upper/tmp/dropped" ] || rx_fail "dropped file is not in the upper dir"
	[ ! -e "$(rx_ctr_lower "$name")/tmp/dropped" ] || rx_fail "dropped file went to the lower dir"
	[ -x "$(rx_ctr_rootfs "$name")/tmp/dropped" ] || rx_fail "dropped file is not executable"
	rx_assert rx_ctr_exec "$name" /tmp/dropped /tmp/m1
	[ "$(cat "$upper/tmp/m1")" = ran ] || rx_fail "marker /tmp/m1 missing or wrong in $upper/tmp"
}

t_cgroupfs_container() {
	trap rx_cleanup_all EXIT
	rx_ctr_create web shop web-1
	check_container web shop web-1 '^/kubepods/besteffort/pod[0-9a-f-]{36}/[0-9a-f]{64}$'
	[ "$(rx_ctr_cgroup_path web)" = "/kubepods/besteffort/pod$(rx_ctr_uid web)/$(rx_ctr_id web)" ] ||
		rx_fail "cgroupfs path does not embed uid and id"
	drop_and_run web
}

t_systemd_container() {
	trap rx_cleanup_all EXIT
	rx_ctr_create api payments api-7d9f4b-xkp2m systemd
	local uid
	uid=$(rx_ctr_uid api)
	check_container api payments api-7d9f4b-xkp2m \
		'^/kubepods\.slice/kubepods-besteffort\.slice/kubepods-besteffort-pod[0-9a-f_]{36}\.slice/cri-containerd-[0-9a-f]{64}\.scope$'
	[ "$(rx_ctr_cgroup_path api)" = "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uid//-/_}.slice/cri-containerd-$(rx_ctr_id api).scope" ] ||
		rx_fail "systemd path does not embed uid (with _) and id"
	drop_and_run api
}

t_exec_status_and_background() {
	trap rx_cleanup_all EXIT
	rx_ctr_create ex shop ex-1
	local rc=0 pid upper
	rx_ctr_exec ex sh -c 'exit 7' || rc=$?
	[ "$rc" -eq 7 ] || rx_fail "exit status $rc, want 7"
	rc=0
	rx_ctr_exec ex sh -c 'kill -9 $$' || rc=$?
	[ "$rc" -eq 137 ] || rx_fail "SIGKILLed exec status $rc, want 137"
	rc=0
	rx_ctr_exec ex /no/such/binary 2>/dev/null || rc=$?
	[ "$rc" -ne 0 ] || rx_fail "exec of a missing binary succeeded"

	# A long-lived dropped process: a host pid in the container's cgroup.
	rx_ctr_drop ex "$DROPPER" /tmp/dropped
	pid=$(rx_ctr_exec_bg ex /tmp/dropped /tmp/bg sleep)
	[[ $pid =~ ^[0-9]+$ ]] || rx_fail "exec_bg printed '$pid', not a pid"
	kill -0 "$pid" || rx_fail "background pid $pid is not running"
	in_cgroup2 "$pid" "$(rx_ctr_cgroup_path ex)" || rx_fail "background process is not in the container cgroup"
	[ "$(readlink "/proc/$pid/exe")" = "/tmp/dropped" ] || rx_fail "exe is $(readlink "/proc/$pid/exe")"
	upper=$(rx_ctr_upper ex)
	rx_wait_for test -s "$upper/tmp/bg" || rx_fail "background dropper left no marker"
	sleep 0.2
	kill -0 "$pid" || rx_fail "dropper 'sleep' mode did not keep running"
}

t_dropper_memfd_mode() {
	trap rx_cleanup_all EXIT
	# The dropper as part of the image (lower layer), re-executing itself from a memfd.
	RX_LOWER_EXTRA=$DROPPER rx_ctr_create mf shop mf-1
	[ -x "$(rx_ctr_lower mf)/bin/dropper" ] || rx_fail "RX_LOWER_EXTRA did not put the dropper in the image"
	rx_assert rx_ctr_exec mf /bin/dropper /tmp/m0 memfd /tmp/m1
	[ "$(cat "$(rx_ctr_upper mf)/tmp/m0")" = ran ] || rx_fail "loader marker missing"
	[ "$(cat "$(rx_ctr_upper mf)/tmp/m1")" = ran ] || rx_fail "memfd-executed marker missing"
	local pid
	pid=$(rx_ctr_exec_bg mf /bin/dropper /tmp/m2 memfd /tmp/m3 sleep)
	rx_wait_for test -s "$(rx_ctr_upper mf)/tmp/m3" || rx_fail "memfd sleeper left no marker"
	[[ $(readlink "/proc/$pid/exe") == /memfd:dropper* ]] || rx_fail "exe is $(readlink "/proc/$pid/exe"), not a memfd"
	# Usage errors: no marker argument at all.
	local rc=0
	rx_ctr_exec mf /bin/dropper || rc=$?
	[ "$rc" -eq 2 ] || rx_fail "dropper without arguments exit $rc, want 2"
}

t_cgroup_kill_empties_container() {
	trap rx_cleanup_all EXIT
	rx_ctr_create ck shop ck-1
	local cg pid
	cg=$(rx_ctr_cgroup ck)
	pid=$(rx_ctr_exec_bg ck sleep 300)
	rx_assert rx_ctr_alive ck
	echo 1 >"$cg/cgroup.kill"
	rx_wait_for bash -c "! kill -0 $pid 2>/dev/null" || rx_fail "exec'd process survived cgroup.kill"
	rx_wait_for not_alive ck || rx_fail "container still populated after cgroup.kill"
	# runc deletes the cgroup once it has reaped the init: gone counts as empty.
	[ ! -e "$cg/cgroup.procs" ] || [ -z "$(cat "$cg/cgroup.procs" 2>/dev/null)" ] || rx_fail "cgroup.procs not empty"
}

# nothing_left ID CGPATH UID DIR META: no mount, cgroup dir, runc state,
# metadata or work dir remains of a destroyed container.
nothing_left() {
	local id=$1 cgpath=$2 uid=$3 dir=$4 meta=$5 root
	! grep -qF "$dir" /proc/mounts || rx_fail "mount left: $(grep -F "$dir" /proc/mounts)"
	for root in "$(rx_cgroup2_root)" $(rx__cgroup_v1_mounts); do
		[ ! -e "$root$cgpath" ] || rx_fail "cgroup dir left: $root$cgpath"
		[ ! -e "$(dirname "$root$cgpath")" ] || rx_fail "pod cgroup dir left: $(dirname "$root$cgpath")"
	done
	! find "$(rx_cgroup2_root)" -name "*${uid//-/_}*" -o -name "*$uid*" | grep -q . || rx_fail "a cgroup dir naming the pod uid is left"
	[ ! -e "$RX_TMP/runc/$id" ] || rx_fail "runc state dir left"
	! runc --root "$RX_TMP/runc" list -q | grep -qx "$id" || rx_fail "runc still lists $id"
	[ ! -e "$meta" ] || rx_fail "containerd metadata left: $meta"
	[ ! -e "$dir" ] || rx_fail "work dir left: $dir"
}

t_destroy_leaves_nothing() {
	trap rx_cleanup_all EXIT
	local driver name id cgpath uid dir meta pid
	for driver in cgroupfs systemd; do
		name=gone-$driver
		rx_ctr_create "$name" shop "$name-1" "$driver"
		rx_ctr_drop "$name" "$DROPPER" /tmp/dropped
		pid=$(rx_ctr_exec_bg "$name" /tmp/dropped /tmp/m sleep)
		id=$(rx_ctr_id "$name")
		cgpath=$(rx_ctr_cgroup_path "$name")
		uid=$(rx_ctr_uid "$name")
		dir=$(rx__ctr_dir "$name")
		meta=$(rx_ctr_meta "$name")
		rx_assert rx_ctr_destroy "$name"
		nothing_left "$id" "$cgpath" "$uid" "$dir" "$meta"
		rx_wait_for bash -c "! kill -0 $pid 2>/dev/null" || rx_fail "exec'd process survived destroy"
		# Idempotent: a second destroy (e.g. from an EXIT trap) is harmless.
		rx_assert rx_ctr_destroy "$name"
		! grep -qxF "$name" "$RX_TMP/containers" || rx_fail "$name still registered"
	done
}

t_destroy_after_outside_kill() {
	trap rx_cleanup_all EXIT
	# The container was killed behind runc's back (as reflexd's cgroup.kill does).
	rx_ctr_create ok shop ok-1
	local id cgpath uid dir meta
	id=$(rx_ctr_id ok) cgpath=$(rx_ctr_cgroup_path ok) uid=$(rx_ctr_uid ok)
	dir=$(rx__ctr_dir ok) meta=$(rx_ctr_meta ok)
	echo 1 >"$(rx_ctr_cgroup ok)/cgroup.kill"
	rx_wait_for not_alive ok || rx_fail "cgroup.kill did not empty it"
	rx_assert rx_ctr_destroy ok
	nothing_left "$id" "$cgpath" "$uid" "$dir" "$meta"
}

t_cleanup_all_destroys_everything() {
	trap rx_cleanup_all EXIT
	rx_ctr_create a1 shop a1-1
	rx_ctr_create a2 shop a2-1 systemd
	local d1 d2
	d1=$(rx__ctr_dir a1) d2=$(rx__ctr_dir a2)
	# A name is unique while it lives.
	! rx_ctr_create a1 shop a1-1 2>/dev/null || rx_fail "a second container named a1 was created"
	rx_ctr_alive a1 || rx_fail "the failed duplicate create destroyed a1"
	rx_assert rx_cleanup_all
	[ ! -e "$d1" ] || rx_fail "work dir left after rx_cleanup_all: $d1"
	[ ! -e "$d2" ] || rx_fail "work dir left after rx_cleanup_all: $d2"
	[ ! -s "$RX_TMP/containers" ] || rx_fail "registry not empty: $(cat "$RX_TMP/containers")"
	! grep -qE "$d1|$d2" /proc/mounts || rx_fail "mounts left after rx_cleanup_all"
	rx_assert rx_cleanup_all
}

t_wait_for() {
	local start elapsed
	start=${EPOCHREALTIME//[.,]/}
	! RX_WAIT_MS=200 rx_wait_for false || rx_fail "rx_wait_for false succeeded"
	elapsed=$(((${EPOCHREALTIME//[.,]/} - start) / 1000))
	[ "$elapsed" -ge 200 ] || rx_fail "gave up after ${elapsed} ms, before RX_WAIT_MS=200"
	[ "$elapsed" -lt 1500 ] || rx_fail "gave up after ${elapsed} ms, long after RX_WAIT_MS=200"
	(sleep 0.1 && touch "$RX_TMP/appeared") &
	rx_wait_for test -e "$RX_TMP/appeared" || rx_fail "rx_wait_for missed a file that appeared"
	rm -f "$RX_TMP/appeared"
}

t_host_facts() {
	rx_assert rx_require_root_tools
	local root
	root=$(rx_cgroup2_root)
	[ "$(stat -f -c %T "$root")" = cgroup2fs ] || rx_fail "rx_cgroup2_root $root is not a cgroup2 mount"
	[ -e "$root/cgroup.subtree_control" ] || rx_fail "no cgroup.subtree_control at $root"
	[ -x "$DROPPER" ] || rx_fail "no $DROPPER"
}

# The reporter itself, run nested with its own results file.
nested_pass() { true; }
nested_rx_fail() {
	rx_fail "the reason"
	echo "not reached"
}
nested_plain_failure() {
	false
	echo "not reached"
}
nested_assert() { rx_assert test 1 -eq 2; }
nested_assert_not() { rx_assert_not true; }
nested_timeout() {
	trap 'touch "$RX_TMP/nested-teardown-ran"' EXIT
	sleep 30
}

t_reporter() {
	local out results=$RX_TMP/nested-results start
	rm -f "$results" "$RX_TMP/nested-teardown-ran"
	out=$(RX_RESULTS=$results RX_LOG_LINES=0 RX_HARNESS_DEFS_ONLY=1 RX_ONLY='' bash -c '
		source "$RX_ROOT/tests/integration/lib.sh"
		source "$1"
		rx_test nested_ok nested_pass
		rx_test nested_failed nested_rx_fail
		rx_test nested_plain nested_plain_failure
		rx_test nested_assert nested_assert
		rx_test nested_assert_not nested_assert_not
		RX_ONLY=nomatch rx_test nested_filtered nested_pass
		RX_TEST_TIMEOUT=2 rx_test nested_timeout nested_timeout
		rx_summary' _ "${BASH_SOURCE[0]}" 2>&1) && rx_fail "rx_summary returned 0 with failures"
	echo "$out"
	grep -qx "PASS nested_ok" <<<"$out" || rx_fail "no PASS line"
	grep -q "^FAIL nested_failed: the reason (tests/integration/test_harness.sh:[0-9]*)$" <<<"$out" ||
		rx_fail "rx_fail reason or location not reported"
	grep -q "^FAIL nested_plain: command failed (status 1): false (tests/integration/test_harness.sh:[0-9]*)$" <<<"$out" ||
		rx_fail "a failing plain command is not reported with its line"
	grep -q "^FAIL nested_assert: assertion failed (status 1): test 1 -eq 2 " <<<"$out" || rx_fail "rx_assert"
	grep -q "^FAIL nested_assert_not: assertion failed (succeeded, should not): true " <<<"$out" || rx_fail "rx_assert_not"
	grep -q "^FAIL nested_timeout: timed out after 2s" <<<"$out" || rx_fail "timeout not reported"
	[ -e "$RX_TMP/nested-teardown-ran" ] || rx_fail "a timed-out test's EXIT trap did not run"
	! grep -q "not reached\|nested_filtered" <<<"$out" || rx_fail "a test went on after failing, or RX_ONLY ignored"
	grep -qx "1 passed, 5 failed" <<<"$out" || rx_fail "summary line wrong"
	[ "$(wc -l <"$results")" -eq 6 ] || rx_fail "results file has $(wc -l <"$results") lines, want 6"
	rm -f "$results" "$RX_TMP/nested-teardown-ran"
}

# t_reporter sources this file again for the nested_* functions only.
[ -z "${RX_HARNESS_DEFS_ONLY:-}" ] || return 0

rx_test harness_host_facts t_host_facts
rx_test harness_wait_for t_wait_for
rx_test harness_reporter t_reporter
rx_test harness_cgroupfs_container t_cgroupfs_container
rx_test harness_systemd_container t_systemd_container
rx_test harness_exec_status_and_background t_exec_status_and_background
rx_test harness_dropper_memfd_mode t_dropper_memfd_mode
rx_test harness_cgroup_kill_empties_container t_cgroup_kill_empties_container
rx_test harness_destroy_leaves_nothing t_destroy_leaves_nothing
rx_test harness_destroy_after_outside_kill t_destroy_after_outside_kill
rx_test harness_cleanup_all_destroys_everything t_cleanup_all_destroys_everything
