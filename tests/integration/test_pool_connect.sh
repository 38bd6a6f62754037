# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
# Mining-pool connections, end to end: a real container in its own network
# namespace, a real pool host in another, real DNS (dnsmasq), real reflexd.

source "$(dirname "${BASH_SOURCE[0]}")/agent.sh"
source "$(dirname "${BASH_SOURCE[0]}")/net.sh"

export RX_LOWER_EXTRA="$RX_BUILD/helpers/netprobe"
PROBE=/bin/netprobe

# setup NAME NAMESPACE ACTION [DRYRUN] [AGENT_YAML] [reflexd args...]
setup() {
	local name=$1 ns=$2 action=$3 dryrun=${4:-false} agent_yaml=${5:-}
	shift 5 || shift $#
	rx_ctr_create "$name" "$ns" "$name-pod"
	rx_net_up "$name"
	rx_agent_config "$RX_TMP/agent.yaml" "$action" "$dryrun" "" "  pool_resolve_interval_s: 1
$agent_yaml"
	rx_agent_start "$RX_TMP/agent.yaml" "$@"
	rx_wait_for rx_agent_tracks "$name" || rx_fail "agent never saw $name"
	RX_WAIT_MS=10000 rx_wait_for grep -q "pools: .* addresses and CIDRs in the kernel" "$RX_TMP/agent/stderr" ||
		rx_fail "pool domains never resolved: $(tail -5 "$RX_TMP/agent/stderr")"
}

teardown() {
	rx_agent_stop || rx_fail "reflexd did not exit cleanly"
	rx_net_down
	rx_cleanup_all
}

probe() { rx_ctr_exec "$1" $PROBE "${@:2}" >/dev/null 2>&1; }

# Where the kernel only refuses: killed through a pidfd, or exited on EPERM before it (denied).
pool_connect_recorded() {
	[ "$(rx_audit_count rule="$RX_POOL_RULE" namespace=shop outcome=killed kill_mode=pidfd)" != 0 ] ||
		[ "$(rx_audit_count rule="$RX_POOL_RULE" namespace=shop outcome=denied)" != 0 ]
}

t_tcp_pool_connect_denied_and_killed() {
	trap teardown EXIT
	setup p1 shop kill_process
	local rc=0
	probe p1 tcp $RX_POOL_V4 3333 '{"method":"mining.subscribe"}' || rc=$?
	[ "$rc" -eq 137 ] || [ "$rc" -eq 13 ] || rx_fail "pool connect exit $rc: not denied or killed"
	! rx_pool_saw tcp $RX_POOL_V4 3333 || rx_fail "the pool received the connection"
	# In the kernel where cgroup programs may signal (not 6.1: there the agent
	# says so in /metrics, the kernel refuses and a pidfd kills).
	local mode=kernel metrics
	metrics=$(curl -sf "http://127.0.0.1:${RX_AGENT_PORT:-19464}/metrics")
	grep -q '^reflex_hook_active{hook="cgroup/connect4",detail="attached; no bpf_send_signal' <<<"$metrics" && mode=pidfd
	if [ "$mode" = kernel ]; then
		rx_audit_wait outcome=killed rule="$RX_POOL_RULE" namespace=shop kill_mode=kernel ||
			{ rx_audit_show; rx_fail "no audit line for the pool connect (killed in the kernel)"; }
	else
		# Refused in the kernel; the pidfd kill lands, or the caller exited on EPERM first.
		rx_wait_for pool_connect_recorded || { rx_audit_show; rx_fail "no audit line for the pool connect (refused, then pidfd)"; }
	fi
	grep -q "connect to $RX_POOL_V4:3333 (tcp, pool list miner_domains or agent.pool_cidrs)" "$RX_TMP/agent/stdout" ||
		rx_fail "audit does not name the destination"
	rx_ctr_alive p1 || rx_fail "kill_process took the container"
}

t_ipv6_pool_connect_denied() {
	trap teardown EXIT
	setup p6 shop kill_process false "" --no-kernel-enforce
	local rc=0
	probe p6 tcp $RX_POOL_V6 3333 hello linger || rc=$?
	# Denied (EPERM) in the kernel, then killed from user space while it lingers.
	[ "$rc" -eq 137 ] || rx_fail "IPv6 pool connect exit $rc, want 137 (denied, then SIGKILL)"
	! rx_pool_saw tcp $RX_POOL_V6 3333 || rx_fail "the pool received the IPv6 connection"
	rx_audit_wait rule="$RX_POOL_RULE" outcome=killed kill_mode=pidfd ||
		{ rx_audit_show; rx_fail "no pidfd kill after the denied IPv6 connect"; }
}

t_udp_sendmsg_to_pool_denied() {
	trap teardown EXIT
	setup pu shop kill_process false "" --no-kernel-enforce
	local rc=0
	probe pu udp $RX_POOL_V4 3333 '{"id":1,"method":"login"}' || rc=$?
	[ "$rc" -eq 13 ] || [ "$rc" -eq 137 ] || rx_fail "UDP sendmsg exit $rc, want 13 (EPERM) or 137 (then killed)"
	sleep 0.3
	! rx_pool_saw udp $RX_POOL_V4 3333 || rx_fail "the pool received the datagram"
	rx_wait_for grep -q "sendmsg to $RX_POOL_V4:3333 (udp" "$RX_TMP/agent/stdout" || { rx_audit_show; rx_fail "no sendmsg audit"; }
}

t_non_pool_traffic_goes_through() {
	trap teardown EXIT
	setup pn shop kill_process
	probe pn tcp $RX_POOL_V4 2222 || rx_fail "same host, non-miner port was blocked"
	probe pn tcp $RX_OTHER_V4 3333 || rx_fail "non-pool address on a miner port was blocked"
	probe pn tcp $RX_OTHER_V6 3333 || rx_fail "non-pool IPv6 address was blocked"
	rx_wait_for rx_pool_saw tcp $RX_OTHER_V4 3333 || rx_fail "non-pool connection never arrived"
	[ "$(rx_audit_count rule="$RX_POOL_RULE")" -eq 0 ] || rx_fail "ordinary traffic was audited"
}

t_private_and_loopback_pass_by_default() {
	trap teardown EXIT
	# Even when configured as pools, loopback and RFC 1918 never match (Falco's rule).
	setup pl shop kill_process false "  pool_cidrs: [127.0.0.0/8, 10.0.0.0/8]"
	local rc=0
	probe pl tcp 127.0.0.1 3333 || rc=$?
	[ "$rc" -ne 13 ] && [ "$rc" -ne 137 ] || rx_fail "loopback connect was denied ($rc)"
	rc=0
	probe pl udp 10.1.2.3 3333 || rc=$?
	[ "$rc" -ne 13 ] && [ "$rc" -ne 137 ] || rx_fail "RFC 1918 sendmsg was denied ($rc)"
	[ "$(rx_audit_count rule="$RX_POOL_RULE")" -eq 0 ] || rx_fail "private traffic was audited"
}

t_dry_run_only_logs() {
	trap teardown EXIT
	setup pd shop kill_process true
	probe pd tcp $RX_POOL_V4 3333 || rx_fail "dry-run blocked the connection"
	rx_wait_for rx_pool_saw tcp $RX_POOL_V4 3333 || rx_fail "pool never saw the dry-run connection"
	rx_audit_wait outcome=dry_run rule="$RX_POOL_RULE" || { rx_audit_show; rx_fail "no DRY_RUN line"; }
}

t_denied_namespace_untouched() {
	trap teardown EXIT
	setup pk kube-system kill_process
	probe pk tcp $RX_POOL_V4 3333 || rx_fail "connect from a denied namespace was blocked or killed"
	rx_audit_wait outcome=refused namespace=kube-system rule="$RX_POOL_RULE" || { rx_audit_show; rx_fail "no refusal"; }
}

t_host_process_untouched() {
	trap teardown EXIT
	setup ph shop kill_process
	# The host connects to the pool host through the pool namespace's address
	# from inside that namespace's peer: run netprobe in the container's netns
	# but the host's cgroup (nsenter -n only).
	nsenter -t "$(rx_ctr_pid ph)" -n "$RX_BUILD/helpers/netprobe" tcp $RX_POOL_V4 3333 >/dev/null ||
		rx_fail "a host process was blocked"
	rx_wait_for rx_pool_saw tcp $RX_POOL_V4 3333 || rx_fail "host connection never arrived"
}

t_stratum_argv_caught_at_exec() {
	trap teardown EXIT
	setup ps shop kill_process
	local rc=0
	rx_ctr_exec ps /bin/sh -c 'exec /bin/sleep 5 -o stratum+tcp://pool.supportxmr.com:3333' || rc=$?
	[ "$rc" -eq 137 ] || rx_fail "exec with a stratum URL exit $rc, want 137"
	rx_audit_wait rule="$RX_STRATUM_RULE" outcome=killed kill_mode=kernel || { rx_audit_show; rx_fail "no stratum audit"; }
	rx_ctr_exec ps /bin/sh -c 'exec /bin/true stratum-is-a-word' || rx_fail "a harmless argv was killed"
}

t_stratum_handshake_to_unlisted_address_caught() {
	trap teardown EXIT
	setup pt shop kill_process
	local rc=0
	# (the check stratum_watch_off_unloads_the_egress_program negates)
	bpftool cgroup show "$(rx_cgroup2_root)" | grep -q 'egress.*stratum_egress' ||
		rx_fail "stratum_egress is not attached to the cgroup root"
	probe pt tcp $RX_OTHER_V4 443 '{"id":1,"method":"mining.subscribe","params":["cpuminer/2.5"]}' || rc=$?
	rx_audit_wait rule="$RX_STRATUM_RULE" outcome=killed kill_mode=pidfd ||
		{ rx_audit_show; rx_fail "Stratum handshake on 443 to an unlisted address not caught"; }
	grep -q "Stratum handshake to $RX_OTHER_V4:443" "$RX_TMP/agent/stdout" || rx_fail "audit lacks the destination"
	! grep -q "mining.subscribe" "$RX_TMP/pool.log" || rx_fail "the handshake reached the pool"
	# An ordinary first payload on the same path is left alone.
	probe pt tcp $RX_OTHER_V4 443 'GET / HTTP/1.1' || rx_fail "ordinary TLS-port traffic was blocked"
	rx_wait_for grep -q "GET / HTTP" "$RX_TMP/pool.log" || rx_fail "ordinary payload never arrived"
}

# agent.watch_stratum_handshake: false: no program runs per packet (nothing
# of reflexd's on the egress hook), /metrics says why, and a handshake to an
# unlisted address is then, as documented, not looked for.
t_stratum_watch_off_unloads_the_egress_program() {
	trap teardown EXIT
	setup ps shop kill_process false "  watch_stratum_handshake: false"
	local metrics
	metrics=$(curl -sf "http://127.0.0.1:${RX_AGENT_PORT:-19464}/metrics")
	grep -q '^reflex_hook_active{hook="cgroup_skb/egress (stratum handshake)",detail="off: agent.watch_stratum_handshake is false"} 0' <<<"$metrics" ||
		rx_fail "/metrics does not show the egress program off: $(grep stratum <<<"$metrics")"
	grep -q '^reflex_hook_active{hook="cgroup/connect4",detail="[^"]*"} 1' <<<"$metrics" ||
		rx_fail "connect4 should still be attached"
	! bpftool cgroup show "$(rx_cgroup2_root)" | grep -q 'egress.*stratum_egress' ||
		rx_fail "stratum_egress still attached to the cgroup root"
	grep -q "watch_stratum_handshake is false" "$RX_TMP/agent/stderr" || rx_fail "start-up log does not say so"
	probe ps tcp $RX_OTHER_V4 443 '{"id":1,"method":"mining.subscribe","params":["cpuminer/2.5"]}' ||
		rx_fail "the connect failed with the watch off"
	rx_wait_for grep -q "mining.subscribe" "$RX_TMP/pool.log" || rx_fail "the payload did not arrive"
	! rx_audit_has rule="$RX_STRATUM_RULE" || rx_fail "a handshake was judged with the watch off"
}

# pool_set_shown: /metrics lists a non-empty pool set (the resolver thread publishes it).
pool_set_shown() {
	curl -sf "http://127.0.0.1:${RX_AGENT_PORT:-19464}/metrics" | grep -q '^reflex_pool_addresses [1-9]'
}

t_new_dns_answer_is_picked_up() {
	trap teardown EXIT
	setup pr shop kill_process false "" --no-kernel-enforce
	probe pr tcp $RX_OTHER_V4 3333 || rx_fail "address not yet a pool was blocked"
	rx_net_dns_set pool.supportxmr.com $RX_OTHER_V4
	RX_WAIT_MS=15000 rx_wait_for grep -q "pools: .*(+1 " "$RX_TMP/agent/stderr" || rx_fail "new address never applied"
	local rc=0
	: >"$RX_TMP/pool.log"
	probe pr tcp $RX_OTHER_V4 3333 || rc=$?
	# Refused with EPERM, and killed from user space (which may land first).
	[ "$rc" -eq 13 ] || [ "$rc" -eq 137 ] || rx_fail "connect to the newly resolved pool address exit $rc, want 13 or 137"
	! rx_pool_saw tcp $RX_OTHER_V4 3333 || rx_fail "the connection to the new pool address went through"
	# The last good address of a name stays listed while it still resolves elsewhere too.
	rx_wait_for pool_set_shown || rx_fail "/metrics does not show the pool set"
}

t_reload_without_restart() {
	trap teardown EXIT
	setup pz shop kill_process false "" --no-kernel-enforce
	probe pz tcp 203.0.113.5 3333 || true
	rx_audit_has destination=203.0.113.5:3333/tcp && rx_fail "unlisted address audited before the reload"
	# A new CIDR, and a bad config after it: the good one applies, the bad one is refused.
	sed -i 's|^  pool_resolve_interval_s: 1|  pool_resolve_interval_s: 1\n  pool_cidrs: [203.0.113.0/24]|' "$RX_TMP/agent.yaml"
	local pid
	pid=$(cat "$RX_TMP/agent/pid")
	kill -HUP "$pid"
	rx_wait_for grep -q "reload: .* loaded" "$RX_TMP/agent/stderr" || rx_fail "no reload logged"
	rx_wait_for grep -q "pools: .*(+1 " "$RX_TMP/agent/stderr" || rx_fail "new CIDR not applied"
	local rc=0
	probe pz tcp 203.0.113.5 3333 || rc=$?
	[ "$rc" -eq 13 ] || [ "$rc" -eq 137 ] || rx_fail "connect to the reloaded CIDR exit $rc, want 13 or 137"
	rx_audit_wait destination=203.0.113.5:3333/tcp || rx_fail "no audit for the reloaded CIDR"
	echo "dryrun: maybe" >>"$RX_TMP/agent.yaml"
	kill -HUP "$pid"
	rx_wait_for grep -q "keeping the running config" "$RX_TMP/agent/stderr" || rx_fail "bad reload not refused loudly"
	kill -0 "$pid" || rx_fail "reflexd died on a bad reload"
}

rx_test tcp_pool_connect_denied_and_killed t_tcp_pool_connect_denied_and_killed
rx_test ipv6_pool_connect_denied t_ipv6_pool_connect_denied
rx_test udp_sendmsg_to_pool_denied t_udp_sendmsg_to_pool_denied
rx_test non_pool_traffic_goes_through t_non_pool_traffic_goes_through
rx_test private_and_loopback_pass_by_default t_private_and_loopback_pass_by_default
rx_test dry_run_only_logs t_dry_run_only_logs
rx_test denied_namespace_untouched t_denied_namespace_untouched
rx_test host_process_untouched t_host_process_untouched
rx_test stratum_argv_caught_at_exec t_stratum_argv_caught_at_exec
rx_test stratum_handshake_to_unlisted_address_caught t_stratum_handshake_to_unlisted_address_caught
rx_test stratum_watch_off_unloads_the_egress_program t_stratum_watch_off_unloads_the_egress_program
rx_test new_dns_answer_is_picked_up t_new_dns_answer_is_picked_up
rx_test reload_without_restart t_reload_without_restart
