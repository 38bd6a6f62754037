#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
"""make bench: reflex-controller's alert -> pod DELETE path, against kube_api.py.

  bench-controller.py CONTROLLER_URL TOKEN API_URL N CONCURRENCY

Creates N pods in the local API, POSTs one kill_pod alert per pod (falcosidekick
body, keep-alive connections, CONCURRENCY clients), and prints one JSON object:
per-alert latency (POST sent -> 200 received; the controller answers after the
API answered its DELETE) p50/p90/p99/max in µs, alerts per second, and the
DELETE count the API saw.
"""
import http.client
import json
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit

ctl, token, api, n, conc = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
RULE = "Terminal shell in container"


def conn(url):
    u = urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


pods = [{"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": f"bench-{i}", "namespace": "bench", "uid": str(uuid.uuid4())},
         "spec": {"nodeName": "it-node", "containers": [{"name": "app", "image": "busybox"}]}} for i in range(n)]
c = conn(api)
c.request("POST", "/_control/pods", json.dumps(pods))
assert c.getresponse().status == 200

lat = []
lock = threading.Lock()
errors = []


def client(k):
    c = conn(ctl)
    mine = []
    for i in range(k, n, conc):
        t = time.time_ns()
        body = json.dumps({"uuid": str(uuid.uuid4()), "output": "bench", "priority": "Critical", "rule": RULE,
                           "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           "output_fields": {"container.id": "0e4b6a9c3f12", "evt.time": t,
                                             "k8s.ns.name": "bench", "k8s.pod.name": f"bench-{i}",
                                             "proc.exepath": "/bin/sh", "proc.pid": 1000 + i},
                           "source": "syscall", "tags": [], "hostname": "bench"})
        t0 = time.perf_counter_ns()
        c.request("POST", "/alert", body, {"Content-Type": "application/json", "X-Falco-Token": token})
        r = c.getresponse()
        text = r.read()
        mine.append((time.perf_counter_ns() - t0) // 1000)
        if r.status != 200 or not text.startswith(b"deleted"):
            errors.append((r.status, text[:100]))
    with lock:
        lat.extend(mine)


start = time.perf_counter()
threads = [threading.Thread(target=client, args=(k,)) for k in range(conc)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.perf_counter() - start

c = conn(api)
c.request("GET", "/_control/requests")
reqs = json.loads(c.getresponse().read())
deletes = sum(1 for r in reqs if r["method"] == "DELETE" and "/pods/bench-" in r["path"])
lat.sort()


def q(p):
    return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else None


print(json.dumps({"alerts": n, "concurrency": conc, "p50_us": q(0.50), "p90_us": q(0.90), "p99_us": q(0.99),
                  "max_us": lat[-1] if lat else None, "alerts_per_s": round(n / elapsed, 1),
                  "deletes": deletes, "errors": len(errors), "first_error": repr(errors[0]) if errors else None}))
