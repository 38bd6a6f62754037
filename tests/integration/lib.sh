# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
# shellcheck shell=bash
#
# Integration-test library: real containers (runc, a real overlayfs rootfs with
# busybox-static in the lower layer, a cgroup named the way kubelet names it,
# containerd-shaped metadata on disk) and a small test reporter.
#
# Sourced by tests/integration/run into one bash process per test file, and
# also by ad-hoc `bash -c 'source lib.sh; rx_ctr_exec ...'` helpers: all state
# lives in files under $RX_TMP, never only in shell variables, so any shell
# that sees the same RX_TMP sees the same containers.
#
# Library functions do their own error checking (they are often called as
# `rx_x || rx_fail ...`, where bash ignores set -e) and work under set -u.
#
# Layout under $RX_TMP:
#   NAME/           one container: lower/ upper/ work/ bundle/{config.json,rootfs}
#                   and small state files (id uid cgpath cgroup pid ...)
#   runc/           the private runc --root: tests never touch other runc state
#   containerd/     io.containerd.runtime.v2.task/k8s.io/<id>/{config.json,init.pid}
#   containers      names of the containers created (for rx_cleanup_all)
#   cgroup-dirs     cgroup directories this RX_TMP created, in creation order
#                   (shared ancestors such as /kubepods stay while another
#                   run still has containers below them)
#   cgpaths         every container's cgroupsPath (leftover check)
#   tests/          per-test logs, failure reasons, pid files
#   results         PASS/FAIL lines (unless RX_RESULTS says otherwise)

RX_ROOT=${RX_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
RX_BUILD=${RX_BUILD:-$RX_ROOT/build}
RX_TMP=${RX_TMP:-/tmp/reflex-it}
RX_RESULTS=${RX_RESULTS:-$RX_TMP/results}
# Exported so that nested `bash -c 'source lib.sh; ...'` find the same state.
export RX_ROOT RX_BUILD RX_TMP RX_RESULTS

# Names that are RX_TMP's own directories (or agent.sh's), never containers.
RX__RESERVED_NAMES=" runc containerd crio tests agent logs results containers cgroup-dirs cgpaths "

# Applets linked into the image's /bin (all -> /bin/busybox).
RX__APPLETS="sh sleep cat echo ls chmod cp rm true wc false mkdir mv ln touch test
env id ps kill head tail grep sed printf pwd readlink stat uname"

# Capabilities containerd gives a Kubernetes container by default, so that
# processes in the test containers have what real pod processes have.
RX__CAPS="CAP_CHOWN CAP_DAC_OVERRIDE CAP_FSETID CAP_FOWNER CAP_MKNOD CAP_NET_RAW
CAP_SETGID CAP_SETUID CAP_SETFCAP CAP_SETPCAP CAP_NET_BIND_SERVICE CAP_SYS_CHROOT
CAP_KILL CAP_AUDIT_WRITE"

# ---------------------------------------------------------------------------
# Prerequisites and host facts

# rx_require_root_tools: non-zero, naming every missing piece, unless we are
# root with runc, static busybox, python3, overlayfs and a cgroup2 mount. Never skips.
rx_require_root_tools() {
	local missing=() t
	[ "$(id -u)" -eq 0 ] || missing+=("root (running as uid $(id -u))")
	for t in runc python3 mount umount mountpoint od; do
		command -v "$t" >/dev/null 2>&1 || missing+=("command $t")
	done
	if [ ! -x /bin/busybox ]; then
		missing+=("/bin/busybox (package busybox-static)")
	elif command -v readelf >/dev/null 2>&1 && readelf -l /bin/busybox 2>/dev/null | grep -q INTERP; then
		# A dynamic busybox cannot run inside a rootfs that has no libc.
		missing+=("a STATIC /bin/busybox (package busybox-static; /bin/busybox is dynamic)")
	fi
	if ! grep -qw overlay /proc/filesystems; then
		modprobe overlay >/dev/null 2>&1 || true
		grep -qw overlay /proc/filesystems || missing+=("overlay filesystem (modprobe overlay)")
	fi
	[ -n "$(rx_cgroup2_root)" ] || missing+=("a cgroup2 mount in /proc/self/mountinfo")
	if [ ${#missing[@]} -gt 0 ]; then
		printf 'reflex integration tests: missing prerequisites:\n' >&2
		printf '  - %s\n' "${missing[@]}" >&2
		return 1
	fi
}

# rx_cgroup2_root: prints the cgroup2 mount point (first one in mountinfo).
rx_cgroup2_root() {
	# Fields: ... 5=mount point ... "-" fstype source options.
	awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' \
		/proc/self/mountinfo
}

# rx__cgroup_v1_mounts: prints each cgroup v1 hierarchy's mount point.
rx__cgroup_v1_mounts() {
	awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup") print $5; break } }' \
		/proc/self/mountinfo
}

# rx__starttime PID: the process start time (jiffies since boot), empty if gone.
# With the pid it names one process forever: pids are reused, start times not.
rx__starttime() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	# shellcheck disable=SC2086 # split the fields on purpose
	set -- $stat
	echo "${20}"
}

# rx__proc_live PID START: PID is still the process that started at START and
# has not exited (a zombie has: pid 1 may be slow to reap orphans).
rx__proc_live() {
	local start=$2 stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	# shellcheck disable=SC2086 # split the fields on purpose
	set -- $stat
	[ "${20}" = "$start" ] && [ "$1" != Z ] && [ "$1" != X ]
}

# rx__await_exec PIDFILE RUNCPIDFILE: waits (up to RX_START_MS, 10000) until
# runc has written PIDFILE and that process has left runc's own code (exec'd
# the container binary, or already died); non-zero if runc gave up first.
rx__await_exec() {
	local pidf=$1 runcf=$2 limit=${RX_START_MS:-10000} start now pid exe rpid rstart
	start=${EPOCHREALTIME//[.,]/}
	read -r rpid rstart <"$runcf" || return 1
	while :; do
		if [ -s "$pidf" ]; then
			pid=$(cat "$pidf")
			exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 0
			[[ $exe == *runc* ]] || return 0
		elif ! rx__proc_live "$rpid" "$rstart"; then
			[ -s "$pidf" ] && return 0
			return 1
		fi
		now=${EPOCHREALTIME//[.,]/}
		(((now - start) / 1000 < limit)) || return 1
		sleep 0.01
	done
}

# rx__descendants PID: prints "pid starttime" for every descendant of PID.
rx__descendants() {
	local -A kids=()
	local f stat pid ppid queue=("$1") cur rest
	for f in /proc/[0-9]*/stat; do
		stat=$(cat "$f" 2>/dev/null) || continue
		pid=${f#/proc/}
		pid=${pid%/stat}
		rest=${stat##*) }
		ppid=${rest#* }
		ppid=${ppid%% *}
		kids[$ppid]+=" $pid"
	done
	while [ ${#queue[@]} -gt 0 ]; do
		cur=${queue[0]}
		queue=("${queue[@]:1}")
		for pid in ${kids[$cur]:-}; do
			echo "$pid $(rx__starttime "$pid")"
			queue+=("$pid")
		done
	done
}

# ---------------------------------------------------------------------------
# Waiting

# rx__not CMD...: inverts CMD's status (for rx_wait_for).
rx__not() { ! "$@"; }

# rx_wait_for CMD...: runs CMD every 10 ms until it succeeds (0) or
# RX_WAIT_MS (default 5000) ms have passed (non-zero).
rx_wait_for() {
	local limit=${RX_WAIT_MS:-5000} start now
	start=${EPOCHREALTIME//[.,]/}
	while :; do
		"$@" && return 0
		now=${EPOCHREALTIME//[.,]/}
		if (((now - start) / 1000 >= limit)); then
			return 1
		fi
		sleep 0.01
	done
}

# ---------------------------------------------------------------------------
# Containers

# rx__ctr_dir NAME: the container's work dir (whether or not it exists).
rx__ctr_dir() { echo "$RX_TMP/$1"; }

# rx__ctr_get NAME KEY: one state file of container NAME; fails loudly if absent.
rx__ctr_get() {
	local f
	f="$(rx__ctr_dir "$1")/$2"
	if [ ! -f "$f" ]; then
		echo "rx: no container '$1' (missing $f)" >&2
		return 1
	fi
	cat "$f"
}

# rx_ctr_id NAME: the 64-hex container id.
rx_ctr_id() { rx__ctr_get "$1" id; }
# rx_ctr_uid NAME: the pod uid (36-char UUID).
rx_ctr_uid() { rx__ctr_get "$1" uid; }
# rx_ctr_pid NAME: the container's init pid on the host.
rx_ctr_pid() { rx__ctr_get "$1" pid; }
# rx_ctr_cgroup NAME: absolute cgroup2 directory of the container.
rx_ctr_cgroup() { rx__ctr_get "$1" cgroup; }
# rx_ctr_cgroup_path NAME: linux.cgroupsPath as in config.json (relative to a hierarchy root).
rx_ctr_cgroup_path() { rx__ctr_get "$1" cgpath; }
# rx_ctr_rootfs NAME: host path of the container's root (the overlay mount).
rx_ctr_rootfs() { rx__ctr_get "$1" id >/dev/null && echo "$(rx__ctr_dir "$1")/bundle/rootfs"; }
# rx_ctr_upper NAME: host path of the overlay upper dir (what the container wrote).
rx_ctr_upper() { rx__ctr_get "$1" id >/dev/null && echo "$(rx__ctr_dir "$1")/upper"; }
# rx_ctr_lower NAME: host path of the overlay lower dir (the "image").
rx_ctr_lower() { rx__ctr_get "$1" id >/dev/null && echo "$(rx__ctr_dir "$1")/lower"; }
# rx_ctr_meta NAME: the containerd task dir holding config.json and init.pid.
rx_ctr_meta() { rx__ctr_get "$1" meta; }

# rx__runc ARGS...: runc with this RX_TMP's private state root.
rx__runc() { runc --root "$RX_TMP/runc" "$@"; }

# rx__registry_add NAME / rx__registry_remove NAME: the list rx_cleanup_all walks.
rx__registry_add() {
	grep -qxF -- "$1" "$RX_TMP/containers" 2>/dev/null || echo "$1" >>"$RX_TMP/containers"
}
rx__registry_remove() {
	[ -f "$RX_TMP/containers" ] || return 0
	grep -vxF -- "$1" "$RX_TMP/containers" >"$RX_TMP/containers.tmp" || true
	mv -f "$RX_TMP/containers.tmp" "$RX_TMP/containers"
}

# rx__cgroup_record CGPATH: before runc creates CGPATH, records (in
# $RX_TMP/cgroup-dirs) each directory of it that does not exist yet, in every
# hierarchy, so that destroy removes exactly what the tests created.
rx__cgroup_record() {
	local cgpath=$1 root prefix comp dirs=()
	local -a comps
	IFS=/ read -r -a comps <<<"${cgpath#/}"
	for root in "$(rx_cgroup2_root)" $(rx__cgroup_v1_mounts); do
		prefix=$root
		for comp in "${comps[@]}"; do
			prefix=$prefix/$comp
			[ -d "$prefix" ] || dirs+=("$prefix")
		done
	done
	[ ${#dirs[@]} -eq 0 ] || printf '%s\n' "${dirs[@]}" >>"$RX_TMP/cgroup-dirs"
}

# rx__cgroup_sweep: removes, deepest first, every recorded cgroup dir that is
# now empty; dirs still in use (another live container) stay for a later sweep.
rx__cgroup_sweep() {
	local d left=()
	[ -f "$RX_TMP/cgroup-dirs" ] || return 0
	while IFS= read -r d; do
		[ -d "$d" ] || continue
		rmdir "$d" 2>/dev/null || left+=("$d")
	done < <(awk '{ print length($0) "\t" $0 }' "$RX_TMP/cgroup-dirs" | sort -rn | cut -f2- | uniq)
	if [ ${#left[@]} -gt 0 ]; then
		printf '%s\n' "${left[@]}" | tac >"$RX_TMP/cgroup-dirs"
	else
		rm -f "$RX_TMP/cgroup-dirs"
	fi
}

# rx__cg_empty DIR: the cgroup2 dir has no process left (or is gone).
rx__cg_empty() {
	# The dir may vanish under us: runc deletes it once the init is reaped.
	[ ! -e "$1/cgroup.events" ] || ! grep -q '^populated 1' "$1/cgroup.events" 2>/dev/null
}

# rx__write_atomic FILE: stdin to FILE via rename, so a concurrent reader (the
# agent) sees the whole file or none of it.
rx__write_atomic() { cat >"$1.rx-tmp" && mv -f "$1.rx-tmp" "$1"; }

# rx__build_image DIR: the lower layer: busybox-static at /bin/busybox with its
# applet links, the usual empty top-level dirs, and RX_LOWER_EXTRA files in /bin.
rx__build_image() {
	local lower=$1 a f
	mkdir -p "$lower"/{bin,proc,sys,dev,tmp,etc,root} || return 1
	chmod 1777 "$lower/tmp" || return 1
	cp /bin/busybox "$lower/bin/busybox" || return 1
	for a in $RX__APPLETS; do
		ln -s busybox "$lower/bin/$a" || return 1
	done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$lower/etc/passwd" || return 1
	echo 'root:x:0:' >"$lower/etc/group" || return 1
	for f in ${RX_LOWER_EXTRA:-}; do
		cp "$f" "$lower/bin/" || return 1
	done
}

# rx_ctr_create NAME NAMESPACE POD [DRIVER]: creates and starts a container
# (random id, random pod uid, overlay rootfs, kubelet-named cgroup; DRIVER
# cgroupfs (default) or systemd naming) with containerd-style metadata.
# Extra host files listed in RX_LOWER_EXTRA are copied into the image's /bin.
rx_ctr_create() {
	if [ $# -lt 3 ]; then
		echo "usage: rx_ctr_create NAME NAMESPACE POD [cgroupfs|systemd]" >&2
		return 2
	fi
	local name=$1 namespace=$2 pod=$3 driver=${4:-cgroupfs}
	local dir id uid sandbox cgpath cg2 meta
	if ! [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || [[ $RX__RESERVED_NAMES == *" $name "* ]]; then
		echo "rx_ctr_create: bad container name '$name'" >&2
		return 2
	fi
	mkdir -p "$RX_TMP" || return 1
	dir=$(rx__ctr_dir "$name")
	if [ -e "$dir" ]; then
		echo "rx_ctr_create: $dir already exists (container '$name' not destroyed?)" >&2
		return 1
	fi
	cg2=$(rx_cgroup2_root)
	[ -n "$cg2" ] || { echo "rx_ctr_create: no cgroup2 mount" >&2; return 1; }

	id=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
	uid=$(cat /proc/sys/kernel/random/uuid)
	sandbox=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
	case $driver in
	cgroupfs) cgpath=/kubepods/besteffort/pod$uid/$id ;;
	systemd) cgpath=/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uid//-/_}.slice/cri-containerd-$id.scope ;;
	*)
		echo "rx_ctr_create: unknown cgroup driver '$driver' (cgroupfs|systemd)" >&2
		return 2
		;;
	esac
	meta=${RX_CONTAINERD_ROOT:-$RX_TMP/containerd}/io.containerd.runtime.v2.task/k8s.io/$id

	# Registered before anything exists, so a half-made container is cleaned too.
	rx__registry_add "$name"
	if ! mkdir -p "$dir"/{lower,upper,work,bundle/rootfs} || ! : >"$dir/.rx-ctr"; then
		rx_ctr_destroy "$name"
		return 1
	fi
	echo "$id" >"$dir/id"
	echo "$uid" >"$dir/uid"
	echo "$namespace" >"$dir/namespace"
	echo "$pod" >"$dir/pod"
	echo "$driver" >"$dir/driver"
	echo "$cgpath" >"$dir/cgpath"
	echo "$cg2$cgpath" >"$dir/cgroup"
	echo "$meta" >"$dir/meta"

	# The "image": busybox-static and its applets, nothing else.
	if ! rx__build_image "$dir/lower"; then
		echo "rx_ctr_create: could not build the image for '$name'" >&2
		rx_ctr_destroy "$name"
		return 1
	fi

	# A real overlayfs rootfs: files the container (or rx_ctr_drop) writes land in upper/.
	if ! mount -t overlay overlay \
		-o "lowerdir=$dir/lower,upperdir=$dir/upper,workdir=$dir/work" "$dir/bundle/rootfs"; then
		echo "rx_ctr_create: overlay mount failed for '$name'" >&2
		rx_ctr_destroy "$name"
		return 1
	fi

	if ! runc spec --bundle "$dir/bundle" ||
		! python3 - "$dir/bundle/config.json" "$name" "$namespace" "$pod" "$uid" "$cgpath" "$sandbox" "$RX__CAPS" <<'PY'; then
import json, os, sys

path, name, namespace, pod, uid, cgpath, sandbox, caps = sys.argv[1:]
with open(path) as f:
    spec = json.load(f)
proc = spec["process"]
proc["terminal"] = False
proc["args"] = ["/bin/sleep", "3600"]
caps = caps.split()
proc["capabilities"] = {k: list(caps) for k in ("bounding", "effective", "permitted")}
spec["root"]["readonly"] = False
spec["hostname"] = pod
spec["linux"]["cgroupsPath"] = cgpath
# What containerd's CRI plugin writes (it does not write io.kubernetes.pod.*).
spec["annotations"] = {
    "io.kubernetes.cri.container-type": "container",
    "io.kubernetes.cri.container-name": name,
    "io.kubernetes.cri.image-name": "docker.io/library/busybox:1.36",
    "io.kubernetes.cri.sandbox-id": sandbox,
    "io.kubernetes.cri.sandbox-name": pod,
    "io.kubernetes.cri.sandbox-namespace": namespace,
    "io.kubernetes.cri.sandbox-uid": uid,
}
with open(path + ".tmp", "w") as f:
    json.dump(spec, f, indent=2)
os.rename(path + ".tmp", path)
PY
		echo "rx_ctr_create: could not write config.json for '$name'" >&2
		rx_ctr_destroy "$name"
		return 1
	fi

	# containerd's view, written before the cgroup appears (as containerd does).
	if ! mkdir -p "$meta" || ! rx__write_atomic "$meta/config.json" <"$dir/bundle/config.json"; then
		echo "rx_ctr_create: could not write containerd metadata in $meta" >&2
		rx_ctr_destroy "$name"
		return 1
	fi

	rx__cgroup_record "$cgpath"
	# Every container's own path, for the runner's final leftover check.
	echo "$cgpath" >>"$RX_TMP/cgpaths"
	# A foreground `runc run`, cut loose from this shell by a double fork:
	# runc stays the parent of the container's init and reaps it the moment
	# it dies, as containerd's shim does (and then deletes the container).
	# With `run -d` the init is orphaned to pid 1, which may reap it late, and
	# runc counts an unreaped init as running. stdio goes to a file: a process
	# holding this shell's stdout would hang a caller's $(...).
	(
		rx__runc run --pid-file "$dir/init.pid" --bundle "$dir/bundle" "$id" \
			</dev/null >"$dir/init.log" 2>&1 &
		echo "$! $(rx__starttime $!)" >"$dir/runc.pid"
	)
	if ! rx__await_exec "$dir/init.pid" "$dir/runc.pid" || ! kill -0 "$(cat "$dir/init.pid")" 2>/dev/null; then
		echo "rx_ctr_create: runc run failed for '$name':" >&2
		sed 's/^/    /' "$dir/init.log" >&2
		rx_ctr_destroy "$name"
		return 1
	fi
	cp "$dir/init.pid" "$dir/pid"
	rx__write_atomic "$meta/init.pid" <"$dir/init.pid"
	echo "rx: container $name id=${id:0:12} pid=$(cat "$dir/pid") ns=$namespace pod=$pod cgroup=$cg2$cgpath" >&2
}

# rx_ctr_exec NAME CMD...: runs CMD in the container in the foreground; returns
# its exit status (128+N when killed by signal N).
rx_ctr_exec() {
	local id
	id=$(rx_ctr_id "$1") || return 125
	shift
	rx__runc exec "$id" "$@"
}

# rx_ctr_exec_bg NAME CMD...: starts CMD detached in the container and prints
# its host pid; its output goes to a file in the work dir.
rx_ctr_exec_bg() {
	local id dir pidf
	id=$(rx_ctr_id "$1") || return 125
	dir=$(rx__ctr_dir "$1")
	shift
	pidf=$(mktemp "$dir/exec.XXXXXX") || return 1
	rm -f "$pidf"
	# Foreground runc exec, double-forked (see rx_ctr_create): runc reaps the
	# process as soon as it dies, so `kill -0 PID` fails right after a kill.
	(
		rx__runc exec --pid-file "$pidf" "$id" "$@" </dev/null >"$pidf.log" 2>&1 &
		echo "$! $(rx__starttime $!)" >"$pidf.runc"
	)
	if ! rx__await_exec "$pidf" "$pidf.runc"; then
		echo "rx_ctr_exec_bg: runc exec failed:" >&2
		sed 's/^/    /' "$pidf.log" >&2
		return 1
	fi
	# runc writes the pid without a newline.
	printf '%s\n' "$(cat "$pidf")"
}

# rx_ctr_drop NAME SRC DEST: copies host file SRC to absolute path DEST in the
# container THROUGH the overlay mount (so it lands in upper/), mode 755.
rx_ctr_drop() {
	local rootfs upper src=$2 dest=$3
	rootfs=$(rx_ctr_rootfs "$1") || return 1
	upper=$(rx_ctr_upper "$1") || return 1
	case $dest in
	/*) ;;
	*) echo "rx_ctr_drop: destination must be absolute: $dest" >&2; return 2 ;;
	esac
	mkdir -p "$(dirname "$rootfs$dest")" &&
		cp -- "$src" "$rootfs$dest" &&
		chmod 755 "$rootfs$dest" || return 1
	if [ ! -e "$upper$dest" ]; then
		echo "rx_ctr_drop: $dest did not land in the upper layer" >&2
		return 1
	fi
}

# rx_ctr_alive NAME: 0 if the container's cgroup still has processes.
rx_ctr_alive() {
	local cg
	cg=$(rx_ctr_cgroup "$1") || return 1
	grep -q '^populated 1' "$cg/cgroup.events" 2>/dev/null
}

# rx_ctr_destroy NAME: kills and deletes the container, unmounts its rootfs,
# removes its cgroup dirs (cgroup2 and every v1 hierarchy), its containerd
# metadata and its work dir. Idempotent; non-zero only if something is left.
rx_ctr_destroy() {
	local name=$1 dir id cg cgpath meta root rpid rstart rc=0
	dir=$(rx__ctr_dir "$name")
	if [ ! -f "$dir/.rx-ctr" ]; then
		rx__registry_remove "$name"
		return 0
	fi
	id=$(cat "$dir/id" 2>/dev/null || true)
	cg=$(cat "$dir/cgroup" 2>/dev/null || true)
	cgpath=$(cat "$dir/cgpath" 2>/dev/null || true)
	meta=$(cat "$dir/meta" 2>/dev/null || true)

	# Everything in the container dies at once, as with reflexd's kill_container.
	if [ -n "$cg" ] && [ -d "$cg" ] && ! rx__cg_empty "$cg"; then
		echo 1 >"$cg/cgroup.kill" 2>/dev/null || true
		if ! RX_WAIT_MS=5000 rx_wait_for rx__cg_empty "$cg"; then
			echo "rx_ctr_destroy: $cg still has processes" >&2
			rc=1
		fi
	fi
	# The foreground runc run then reaps init and deletes the container; give
	# it the time, then delete whatever it did not (it may have been killed).
	if read -r rpid rstart 2>/dev/null <"$dir/runc.pid"; then
		RX_WAIT_MS=5000 rx_wait_for rx__not rx__proc_live "$rpid" "$rstart" || true
	fi
	if [ -n "$id" ] && [ -e "$RX_TMP/runc/$id" ]; then
		rx__runc kill "$id" KILL >/dev/null 2>&1 || true
		rx__runc delete -f "$id" >/dev/null 2>&1 || true
		if [ -e "$RX_TMP/runc/$id" ]; then
			echo "rx_ctr_destroy: runc state for $name ($id) is still there" >&2
			rc=1
		fi
	fi
	# The leaf in every hierarchy (runc may leave v1 ones), then the ancestors.
	if [ -n "$cgpath" ]; then
		for root in "$(rx_cgroup2_root)" $(rx__cgroup_v1_mounts); do
			[ ! -d "$root$cgpath" ] || rmdir "$root$cgpath" 2>/dev/null || true
		done
	fi
	rx__cgroup_sweep
	if [ -n "$cgpath" ]; then
		for root in "$(rx_cgroup2_root)" $(rx__cgroup_v1_mounts); do
			if [ -d "$root$cgpath" ]; then
				echo "rx_ctr_destroy: cgroup dir $root$cgpath is still there" >&2
				rc=1
			fi
		done
	fi

	if mountpoint -q "$dir/bundle/rootfs" 2>/dev/null; then
		umount "$dir/bundle/rootfs" 2>/dev/null || umount -l "$dir/bundle/rootfs" || true
	fi
	if [ -n "$meta" ] && [ -d "$meta" ]; then
		# Only the task dir: containerd never removes .../k8s.io itself, and an
		# agent may be watching it.
		rm -rf "$meta"
	fi
	# Never rm through a mount: that would delete into whatever is mounted.
	if grep -qF " $dir/" /proc/self/mountinfo; then
		echo "rx_ctr_destroy: something is still mounted under $dir" >&2
		rc=1
	else
		rm -rf --one-file-system "$dir"
	fi
	rx__registry_remove "$name"
	# Said as the test's failure reason too: from an EXIT trap, the ERR trap
	# would only see a stale command.
	[ "$rc" -eq 0 ] || rx__reason "rx_ctr_destroy $name left something behind (see its log)"
	return "$rc"
}

# rx_cleanup_all: destroys every container created under this RX_TMP (the
# registry, and any work dir the registry lost track of).
rx_cleanup_all() {
	local name f rc=0
	local -A seen=()
	if [ -f "$RX_TMP/containers" ]; then
		while IFS= read -r name; do
			[ -n "$name" ] && seen[$name]=1
		done <"$RX_TMP/containers"
	fi
	for f in "$RX_TMP"/*/.rx-ctr; do
		[ -e "$f" ] || continue
		name=${f%/.rx-ctr}
		seen[${name##*/}]=1
	done
	for name in "${!seen[@]}"; do
		rx_ctr_destroy "$name" || rc=1
	done
	rx__cgroup_sweep
	return "$rc"
}

# ---------------------------------------------------------------------------
# Test reporting

# rx__reason MSG: records MSG as the running test's failure reason (the first wins).
rx__reason() {
	[ -n "${RX__REASON_FILE:-}" ] || return 0
	[ -s "$RX__REASON_FILE" ] || printf '%s\n' "$1" | tr '\n' ' ' >"$RX__REASON_FILE"
}

# rx__fail_at DEPTH MSG: rx_fail reporting the caller DEPTH frames up.
rx__fail_at() {
	local depth=$1 where
	where="${BASH_SOURCE[$((depth + 1))]:-?}:${BASH_LINENO[$depth]:-?}"
	where=${where#"$RX_ROOT/"}
	echo "FAIL: $2 ($where)" >&2
	rx__reason "$2 ($where)"
	return 1
}

# rx_fail MSG: reports MSG with the caller's file:line on stderr; returns 1.
rx_fail() { rx__fail_at 1 "$*"; }

# rx_assert CMD...: runs CMD; if it fails, reports the command and line; returns 1.
rx_assert() {
	local rc=0
	"$@" || rc=$?
	[ "$rc" -eq 0 ] || rx__fail_at 1 "assertion failed (status $rc): $*"
}

# rx_assert_not CMD...: runs CMD; if it succeeds, reports the command and line; returns 1.
rx_assert_not() {
	if "$@"; then
		rx__fail_at 1 "assertion failed (succeeded, should not): $*"
	fi
}

# rx__on_err STATUS COMMAND FILE LINE: the ERR trap of a test: records the
# command that ended it, unless rx_fail already said why. Only in the test's
# own shell: failures inside $(...) that the test tolerates are not reasons.
rx__on_err() {
	[ "${BASHPID}" = "${RX__TEST_PID:-}" ] || return 0
	if [ -n "${RX__BODY_DONE:-}" ]; then
		# Inside a trap bash reports a stale command and line: do not repeat them.
		rx__reason "the test passed but its EXIT trap (teardown) failed (status $1)"
		return 0
	fi
	rx__reason "command failed (status $1): $2 (${3#"$RX_ROOT/"}:$4)"
}

# rx__watchdog PIDFILE REASONFILE SECONDS: ends a test that runs too long:
# TERM (its EXIT trap tears down), then KILL what is left, after a grace.
rx__watchdog() {
	local pidf=$1 reasonf=$2 secs=$3 parent=$$ pid start i kids kpid kstart
	for ((i = 0; i < secs; i++)); do
		sleep 1
		kill -0 "$parent" 2>/dev/null || return 0
	done
	# Under load the body may not have written its pid yet: wait for it (rx_test
	# kills this watchdog when the body ends).
	while [ ! -s "$pidf" ]; do
		kill -0 "$parent" 2>/dev/null || return 0
		sleep 0.1
	done
	read -r pid start <"$pidf" || return 0
	[ -n "$pid" ] && [ "$(rx__starttime "$pid")" = "$start" ] || return 0
	echo "timed out after ${secs}s (RX_TEST_TIMEOUT)" >"$reasonf"
	# rx_test must now wait for us rather than kill us: the KILLs below matter.
	: >"$pidf.fired"
	echo "rx: test timed out after ${secs}s; stopping it" >&2
	kids=$(rx__descendants "$pid")
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		[ "$(rx__starttime "$pid")" = "$start" ] || break
		sleep 0.1
	done
	[ "$(rx__starttime "$pid")" != "$start" ] || kill -KILL "$pid" 2>/dev/null || true
	while read -r kpid kstart; do
		[ -n "$kpid" ] || continue
		[ "$(rx__starttime "$kpid")" != "$kstart" ] || kill -KILL "$kpid" 2>/dev/null || true
	done <<<"$kids"
}

# rx__test_body NAME FUNC REASONFILE PIDFILE: one test, in its own subshell
# (the function body is a subshell), with set -eE, pipefail and the ERR trap.
rx__test_body() (
	local name=$1 func=$2
	RX__TEST_PID=$BASHPID
	RX__REASON_FILE=$3
	# $BASHPID inside $(...) would be the substitution's own pid: take it here.
	local me=$BASHPID
	echo "$me $(rx__starttime "$me")" >"$4"
	set -eE -o pipefail
	trap 'rx__on_err "$?" "$BASH_COMMAND" "${BASH_SOURCE[0]:-?}" "$LINENO"' ERR
	echo "=== $name ($(date '+%F %T'))"
	"$func"
	# From here on only the test's EXIT trap (its teardown) runs.
	RX__BODY_DONE=1
)

# rx_test NAME FUNC: runs FUNC in a subshell with set -eE -o pipefail (so a
# failed assertion ends only that test), output in $RX_TMP/tests/NAME.log
# (streamed too with RX_VERBOSE=1, through a pipe), time limit RX_TEST_TIMEOUT s (default 300);
# prints "PASS NAME" or "FAIL NAME: reason" and appends it to $RX_RESULTS.
# RX_ONLY=substring[,substring...] runs only matching tests. Call it as a plain command.
rx_test() {
	local name=$1 func=$2 tdir log reasonf pidf had_e=0 rc wd reason line only want=0
	if [ -n "${RX_ONLY:-}" ]; then
		for only in ${RX_ONLY//,/ }; do
			[[ $name == *"$only"* ]] && want=1
		done
		[ "$want" = 1 ] || return 0
	fi
	tdir=$RX_TMP/tests
	mkdir -p "$tdir" "$(dirname "$RX_RESULTS")"
	log=$tdir/$name.log
	reasonf=$tdir/$name.reason
	pidf=$tdir/$name.pid
	rm -f "$reasonf" "$pidf" "$pidf.fired"
	[[ $- != *e* ]] || had_e=1
	# The subshell must not run in a set -e-ignored context (`||`, `if`), or
	# set -e would be off inside it too: turn -e off here, on inside.
	set +e
	# Output straight to a file, not through a pipe: a stray background
	# process a test leaves running then holds a file open, not our stdout.
	: >"$log"
	rx__watchdog "$pidf" "$reasonf" "${RX_TEST_TIMEOUT:-300}" </dev/null >>"$log" 2>&1 &
	wd=$!
	if [ "${RX_VERBOSE:-0}" = 1 ]; then
		rx__test_body "$name" "$func" "$reasonf" "$pidf" 2>&1 | tee -a "$log"
		rc=${PIPESTATUS[0]}
	else
		rx__test_body "$name" "$func" "$reasonf" "$pidf" >>"$log" 2>&1
		rc=$?
	fi
	[ -e "$pidf.fired" ] || kill "$wd" 2>/dev/null
	wait "$wd" 2>/dev/null
	[ "$had_e" -eq 0 ] || set -e

	if [ "$rc" -eq 0 ]; then
		line="PASS $name"
		echo "$line"
	else
		reason=$(cat "$reasonf" 2>/dev/null || true)
		[ -n "$reason" ] || reason="exit status $rc"
		line="FAIL $name: ${reason% }"
		echo "$line"
		if [ "${RX_VERBOSE:-0}" != 1 ]; then
			tail -n "${RX_LOG_LINES:-40}" "$log" | sed 's/^/    | /'
		fi
		if [ -e "$pidf.fired" ]; then
			# Its teardown may not have finished: leave nothing to the next test.
			rx_cleanup_all >/dev/null 2>&1 || true
		fi
	fi
	echo "$line" >>"$RX_RESULTS"
	return 0
}

# rx_summary: prints "N passed, N failed" for $RX_RESULTS; non-zero if any failed.
rx_summary() {
	local passed=0 failed=0
	if [ -f "$RX_RESULTS" ]; then
		passed=$(grep -c '^PASS ' "$RX_RESULTS" || true)
		failed=$(grep -c '^FAIL ' "$RX_RESULTS" || true)
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
