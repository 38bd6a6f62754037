# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
# A test "internet" for pool tests: a pool host in its own network namespace,
# wired by veth to one container, at documentation addresses that exist only
# there (198.51.100.0/24, 2001:db8::/64), and a real DNS server (dnsmasq on
# 127.0.0.77) that answers the pool domains with those addresses.

RX_POOL_V4=198.51.100.7      # a listed pool (its domain resolves here)
RX_OTHER_V4=198.51.100.8     # the same host, an address no list names
RX_POOL_V6=2001:db8::7
RX_OTHER_V6=2001:db8::8
RX_DNS_ADDR=127.0.0.77

# rx_net_up NAME: pool namespace, veth to container NAME, pool server, dnsmasq.
rx_net_up() {
	local name=$1 pid ns
	pid=$(rx_ctr_pid "$name")
	ns=rxpool-$$-$RANDOM
	echo "$ns" >"$RX_TMP/net.ns"
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip link add rxc$$ type veth peer name rxp$$
	ip link set rxc$$ netns "$pid"
	ip link set rxp$$ netns "$ns"
	nsenter -t "$pid" -n ip link set lo up
	nsenter -t "$pid" -n ip addr add 198.51.100.2/24 dev rxc$$
	nsenter -t "$pid" -n ip -6 addr add 2001:db8::2/64 dev rxc$$ nodad
	nsenter -t "$pid" -n ip link set rxc$$ up
	for a in $RX_POOL_V4 $RX_OTHER_V4; do ip -n "$ns" addr add "$a/24" dev rxp$$; done
	for a in $RX_POOL_V6 $RX_OTHER_V6; do ip -n "$ns" -6 addr add "$a/64" dev rxp$$ nodad; done
	ip -n "$ns" link set rxp$$ up
	: >"$RX_TMP/pool.log"
	ip netns exec "$ns" python3 "$RX_ROOT/tests/integration/pool_server.py" \
		--tcp 3333 443 2222 --udp 3333 --log "$RX_TMP/pool.log" --seconds 300 &
	echo $! >"$RX_TMP/pool.pid"
	rx_wait_for grep -q ready "$RX_TMP/pool.log" || rx_fail "pool server did not start"

	# DNS: the shipped list's names point into the pool namespace.
	cat >"$RX_TMP/pool.hosts" <<HOSTS
$RX_POOL_V4 pool.supportxmr.com
$RX_POOL_V6 pool.supportxmr.com
$RX_POOL_V4 ss.antpool.com
HOSTS
	echo "nameserver $RX_DNS_ADDR" >"$RX_TMP/resolv.conf"
	dnsmasq --keep-in-foreground --user=root --no-resolv --no-hosts --addn-hosts="$RX_TMP/pool.hosts" \
		--listen-address=$RX_DNS_ADDR --bind-interfaces --port=53 --local-ttl=0 \
		--pid-file="$RX_TMP/dnsmasq.pid" --log-facility=- 2>"$RX_TMP/dnsmasq.log" &
	echo $! >"$RX_TMP/dnsmasq.bgpid"
	rx_wait_for bash -c "getent -s dns hosts pool.supportxmr.com >/dev/null 2>&1 || \
		nslookup pool.supportxmr.com $RX_DNS_ADDR >/dev/null 2>&1" || true
	export RX_AGENT_RESOLV="$RX_TMP/resolv.conf"
}

# rx_net_dns_set NAME ADDR: re-point a pool name (dnsmasq re-reads on SIGHUP).
rx_net_dns_set() {
	sed -i "/ $1\$/d" "$RX_TMP/pool.hosts"
	echo "$2 $1" >>"$RX_TMP/pool.hosts"
	kill -HUP "$(cat "$RX_TMP/dnsmasq.bgpid")"
}

rx_net_down() {
	[ -f "$RX_TMP/pool.pid" ] && kill "$(cat "$RX_TMP/pool.pid")" 2>/dev/null
	[ -f "$RX_TMP/dnsmasq.bgpid" ] && kill "$(cat "$RX_TMP/dnsmasq.bgpid")" 2>/dev/null
	[ -f "$RX_TMP/net.ns" ] && ip netns del "$(cat "$RX_TMP/net.ns")" 2>/dev/null
	rm -f "$RX_TMP/pool.pid" "$RX_TMP/dnsmasq.bgpid" "$RX_TMP/net.ns"
	unset RX_AGENT_RESOLV
	return 0
}

# rx_pool_saw PROTO ADDR PORT: the pool host received a connection or datagram.
rx_pool_saw() {
	grep -q "^$1 $2 $3 " "$RX_TMP/pool.log"
}
