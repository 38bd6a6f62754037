# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
# Falco's side of the feed, for tests (sourced after agent.sh): alerts in the
# exact shape Falco prints with json_output: true (keys and tags sorted, evt.time
# in integer ns, `time` RFC 3339 with ns, null for a missing value), written the
# way Falco's program_output writes them (socat -u - UNIX-CONNECT:...), or
# POSTed the way http_output / falcosidekick's webhook do.

rx_falco_socket() { echo "${RX_FALCO_SOCKET:-$RX_TMP/agent/falco.sock}"; }

# rx_falco_alert RULE CONTAINER_ID EXE [PID] [TIME_NS] [PRIORITY] [NS] [POD]:
# prints one alert line. CONTAINER_ID as Falco writes it (12 hex, "host", or
# "null" for a missing value); PID "" or "null": the rule does not print
# proc.pid (stock rules); TIME_NS default now.
rx_falco_alert() {
	python3 - "$@" <<'PY'
import json, sys, time
args = sys.argv[1:] + [""] * 8
rule, cid, exe, pid, tns, prio, ns, pod = args[:8]
tns = int(tns) if tns else time.time_ns()
prio = prio or "Critical"
fields = {
    "container.id": None if cid == "null" else cid,
    "container.image.repository": "docker.io/library/busybox",
    "container.image.tag": "1.36",
    "container.name": "app",
    "evt.time": tns,
    "evt.type": "execve",
    "k8s.ns.name": ns or None,
    "k8s.pod.name": pod or None,
    "proc.cmdline": exe.rsplit("/", 1)[-1],
    "proc.exepath": exe or None,
    "proc.name": exe.rsplit("/", 1)[-1],
    "user.name": "root",
    "user.uid": 0,
}
if pid not in ("", "null"):
    fields["proc.pid"] = int(pid)
secs, nsec = divmod(tns, 10**9)
stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + ".%09dZ" % nsec
alert = {
    "hostname": "it-node",
    "output": "%s: %s %s (proc_exepath=%s container_id=%s)" % (
        time.strftime("%H:%M:%S", time.gmtime(secs)) + ".%09d" % nsec, prio, rule, exe or "<NA>", cid),
    "output_fields": dict(sorted(fields.items())),
    "priority": prio,
    "rule": rule,
    "source": "syscall",
    "tags": sorted(["container", "mitre_execution", "T1059"]),
    "time": stamp,
}
print(json.dumps(alert, separators=(",", ":")))
PY
}

# rx_falco_send [FILE]: writes FILE (default stdin) to the socket as Falco's
# program_output does, through socat.
rx_falco_send() {
	socat -u "${1:-/dev/stdin}" "UNIX-CONNECT:$(rx_falco_socket)"
}

# rx_falco_post BODY_FILE [curl args...]: POSTs like http_output; prints the HTTP code.
rx_falco_post() {
	local body=$1
	shift
	curl -s -o "$RX_TMP/post.out" -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary "@$body" "$@" "http://$RX_FALCO_HTTP/"
}

# rx_metric NAME: value of an unlabelled sample on the agent's /metrics.
rx_metric() {
	curl -sf "http://127.0.0.1:${RX_AGENT_PORT:-19464}/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}

# rx_metric_wait NAME VALUE: waits until the sample equals VALUE.
rx_metric_is() { [ "$(rx_metric "$1")" = "$2" ]; }
rx_metric_wait() { rx_wait_for rx_metric_is "$1" "$2"; }

# rx_ctr_id12 NAME: the container id as Falco prints it.
rx_ctr_id12() { rx_ctr_id "$1" | cut -c1-12; }
