#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
"""A Kubernetes API server stand-in for the pod list+watch client (user/reflexd/pod_watch.c).

Serves GET /api/v1/pods with fieldSelector=spec.nodeName=NODE as a real
PodList, and with watch=1 as a chunked stream of watch events, one JSON line
each (ADDED/MODIFIED/DELETED/BOOKMARK/ERROR in the real {"type","object"}
shape), resuming from resourceVersion. A test drives it while a watch is open:

  POST   /_control/pods           pod JSON (or a JSON array of pods): ADDED or MODIFIED
  DELETE /_control/pods/NS/NAME   DELETED
  POST   /_control/expire         open watches get ERROR 410 (the recorded event);
                                  watches from an older resourceVersion too
  POST   /_control/token          {"token": T, "write_file_on_401": PATH}: only T is
                                  accepted from now; with PATH, the next 401 first
                                  writes T there (a token rotated meanwhile)
  POST   /_control/bookmark       open watches that asked for bookmarks get one
  POST   /_control/close          open watches end cleanly (as after timeoutSeconds)
  POST   /_control/hugeline       open watches send a line over 4 MiB
  GET    /_control/state          {"resourceVersion", "watches", "pods"}
  POST   /_control/objects        owner objects (ReplicaSet, Deployment, Job, CronJob,
                                  DaemonSet, StatefulSet; JSON object or array)
  POST   /_control/fail           {"count": N, "code": C}: the next N API requests get C
  POST   /_control/np_conflict    the next NetworkPolicy create gets 409 Conflict
  GET    /_control/requests       the API requests so far: [{method, path, body, auth, code}]

and, for the controller (user/controller/actions.c), the object API:

  GET    /api/v1/namespaces/NS/pods/NAME                   the pod, or 404 NotFound
  GET    /apis/{apps,batch}/v1/namespaces/NS/KINDS/NAME    an owner object, or 404
  DELETE /api/v1/namespaces/NS/pods/NAME                   DeleteOptions with
         preconditions.uid: 200 and DELETED; 404 when gone; 409 Conflict on a uid mismatch
  POST   /apis/networking.k8s.io/v1/namespaces/NS/networkpolicies
         201 Created, or 409 AlreadyExists (the recorded Status) when the name exists
  POST   /hooks/page                                      a pager webhook: recorded, 200
  POST   /hooks/sidekick                                  falcosidekick's input: 200 for a Falco
         payload (output, priority, rule, time), else 400 as falcosidekick answers
  POST   /apis/events.k8s.io/v1/namespaces/NS/events      an Event, checked as the API server's
         validation does (eventTime, reportingController/Instance, action and reason
         <= 128, note <= 1 kB, type Normal|Warning, regarding); 201, or 422 Invalid
  PATCH  /apis/events.k8s.io/v1/namespaces/NS/events/N    JSON merge patch (Content-Type
         application/merge-patch+json, else 415); series.count >= 2 with
         lastObservedTime; 200, 404 when absent
  GET    /_control/events         the Events stored
  POST   /_control/events_fail    {"count": N, "code": C}: the next N Event requests get C
  POST   /_control/sidekick_fail  {"count": N}: the next N falcosidekick posts get 500

Each request is logged as one line "METHOD PATH?QUERY auth=none|valid|invalid
code=N". Binds 127.0.0.1 port 0 and prints the port on stdout; stops by
itself after --seconds.
"""
import argparse
import json
import os
import select
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
EXPIRED_DEFAULT = os.path.join(HERE, "../../../shared/fixtures/k8s/watch-event-410.json")
# Same as the recorded fixture; used when shared/ is not beside the repo.
EXPIRED_BUILTIN = {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                               "status": "Failure", "message": "too old resource version: 1 (3473)",
                                               "reason": "Expired", "code": 410}}

ap = argparse.ArgumentParser()
ap.add_argument("--log", required=True)
ap.add_argument("--pods", action="append", default=[],
                help="JSON file: a pod, an array of pods or a PodList (repeatable)")
ap.add_argument("--token", help="bearer token to accept; none: no auth check")
ap.add_argument("--split", type=int, default=0,
                help="send watch data in pieces of this many bytes (tests line buffering)")
ap.add_argument("--expired-event", default=EXPIRED_DEFAULT)
ap.add_argument("--seconds", type=int, default=300)
ap.add_argument("--objects", action="append", default=[], help="JSON file: owner objects (repeatable)")
args = ap.parse_args()

try:
    with open(args.expired_event, "rb") as f:
        EXPIRED_LINE = json.dumps(json.load(f), separators=(",", ":")).encode() + b"\n"
except OSError:
    EXPIRED_LINE = json.dumps(EXPIRED_BUILTIN, separators=(",", ":")).encode() + b"\n"

UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


class State:
    def __init__(self):
        self.cond = threading.Condition()
        self.rv = 1000
        self.compacted = 0  # watches from a resourceVersion below this get 410
        self.pods = {}      # (namespace, name) -> pod
        self.history = []   # (rv, type, pod)
        self.token = args.token
        self.write_file_on_401 = None
        self.gens = {"expire": 0, "close": 0, "bookmark": 0, "hugeline": 0}
        self.watches = 0
        self.objects = {}   # (plural, namespace, name) -> object
        self.policies = {}  # (namespace, name) -> NetworkPolicy
        self.requests = []
        self.fail = (0, 500)
        self.np_conflict = False
        self.events = {}    # (namespace, name) -> Event
        self.events_fail = (0, 500)
        self.sidekick_fail = 0

    def upsert(self, pod):
        meta = pod.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        key = (meta.get("namespace", "default"), meta["name"])
        meta.setdefault("namespace", key[0])
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        kind = "MODIFIED" if key in self.pods else "ADDED"
        self.pods[key] = pod
        self.history.append((self.rv, kind, pod))

    def delete(self, ns, name):
        pod = self.pods.pop((ns, name), None)
        if pod is None:
            return False
        self.rv += 1
        pod = json.loads(json.dumps(pod))
        pod["metadata"]["resourceVersion"] = str(self.rv)
        self.history.append((self.rv, "DELETED", pod))
        return True


state = State()
log_lock = threading.Lock()
log = open(args.log, "a", buffering=1)


def load_pods(path):
    with open(path) as f:
        doc = json.load(f)
    if isinstance(doc, dict) and doc.get("kind") == "PodList":
        return doc.get("items") or []
    return doc if isinstance(doc, list) else [doc]


for path in args.pods:
    for p in load_pods(path):
        state.upsert(p)

PLURAL = {"ReplicaSet": "replicasets", "Deployment": "deployments", "StatefulSet": "statefulsets",
          "DaemonSet": "daemonsets", "Job": "jobs", "CronJob": "cronjobs"}


def add_objects(doc):
    for o in doc if isinstance(doc, list) else [doc]:
        meta = o.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        state.objects[(PLURAL[o["kind"]], meta.get("namespace", "default"), meta["name"])] = o


for path in args.objects:
    with open(path) as f:
        add_objects(json.load(f))


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def on_node(pod, node):
    return node is None or (pod.get("spec") or {}).get("nodeName") == node


def event_line(kind, pod):
    obj = dict(pod)
    obj["kind"] = "Pod"
    obj["apiVersion"] = "v1"
    return json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"


def bookmark_line(rv):
    # What a real API server sends: an almost empty Pod with only the version.
    obj = {"kind": "Pod", "apiVersion": "v1",
           "metadata": {"resourceVersion": str(rv), "creationTimestamp": None},
           "spec": {"containers": None}, "status": {}}
    return json.dumps({"type": "BOOKMARK", "object": obj}, separators=(",", ":")).encode() + b"\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def log_request_line(self, auth, code):
        with log_lock:
            log.write(f"{self.command} {self.path} auth={auth} code={code}\n")

    def auth(self):
        h = self.headers.get("Authorization")
        if h is None:
            return "none"
        with state.cond:
            return "valid" if state.token is not None and h == "Bearer " + state.token else "invalid"

    def send_json(self, code, doc, auth="none"):
        body = json.dumps(doc).encode()
        self.log_request_line(auth, code)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    # ---------------------------------------------------------------- API

    def do_GET(self):
        url = urlsplit(self.path)
        if self.object_api(b""):
            return
        if url.path == "/_control/requests":
            with state.cond:
                doc = list(state.requests)
            return self.send_json(200, doc)
        if url.path == "/_control/events":
            with state.cond:
                doc = list(state.events.values())
            return self.send_json(200, doc)
        if url.path == "/_control/state":
            with state.cond:
                doc = {"resourceVersion": str(state.rv), "watches": state.watches, "pods": len(state.pods)}
            return self.send_json(200, doc)
        if url.path != "/api/v1/pods":
            return self.send_json(404, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                        "status": "Failure", "message": "the server could not find the requested resource",
                                        "reason": "NotFound", "code": 404})
        auth = self.auth()
        with state.cond:
            need_auth = state.token is not None
        if need_auth and auth != "valid":
            with state.cond:
                path, state.write_file_on_401 = state.write_file_on_401, None
                token = state.token
            if path:
                tmp = path + ".tmp"
                with open(tmp, "w") as f:
                    f.write(token + "\n")
                os.rename(tmp, path)
            return self.send_json(401, UNAUTHORIZED, auth)

        q = parse_qs(url.query)
        node = None
        for sel in q.get("fieldSelector", []):
            for term in sel.split(","):
                k, _, v = term.partition("=")
                if k != "spec.nodeName":
                    return self.send_json(400, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                                "status": "Failure", "reason": "BadRequest", "code": 400,
                                                "message": f"field label not supported: {k}"}, auth)
                node = v
        if q.get("watch", [""])[0] in ("1", "true"):
            return self.watch(q, node, auth)
        with state.cond:
            items = []
            for p in state.pods.values():
                if on_node(p, node):
                    p = dict(p)
                    p.pop("kind", None)
                    p.pop("apiVersion", None)
                    items.append(p)
            doc = {"kind": "PodList", "apiVersion": "v1",
                   "metadata": {"resourceVersion": str(state.rv)}, "items": items}
        self.send_json(200, doc, auth)

    def chunk(self, data, split=True):
        pieces = [data]
        if split and args.split > 0:
            pieces = [data[i:i + args.split] for i in range(0, len(data), args.split)]
        for piece in pieces:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
            if split and args.split > 0:
                time.sleep(0.005)

    def client_gone(self):
        # A quiet watch never writes, so look for the client's EOF.
        r, _, _ = select.select([self.connection], [], [], 0)
        if not r:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def watch(self, q, node, auth):
        start = q.get("resourceVersion", [""])[0]
        bookmarks = q.get("allowWatchBookmarks", [""])[0] == "true"
        timeout = int(q.get("timeoutSeconds", ["1800"])[0])
        self.log_request_line(auth, 200)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        deadline = time.monotonic() + timeout
        with state.cond:
            gens = dict(state.gens)
            state.watches += 1
            if start not in ("", "0") and int(start) < state.compacted:
                pending, last = None, state.rv
            elif start in ("", "0"):
                # No version: synthetic ADDED for what exists, then changes.
                pending = b"".join(event_line("ADDED", p) for p in state.pods.values() if on_node(p, node))
                last = state.rv
            else:
                pending, last = b"", int(start)
        try:
            if pending is None:
                self.chunk(EXPIRED_LINE)
                return self.end_chunks()
            if pending:
                self.chunk(pending)
            while time.monotonic() < deadline:
                if self.client_gone():
                    self.close_connection = True
                    return
                with state.cond:
                    state.cond.wait_for(lambda: state.gens != gens or state.history and state.history[-1][0] > last,
                                        timeout=0.2)
                    # Several events at once go out in one chunk, as the real one may.
                    events = [(rv, t, p) for rv, t, p in state.history if rv > last]
                    data = b"".join(event_line(t, p) for rv, t, p in events if on_node(p, node))
                    if events:
                        last = events[-1][0]
                    changed = {k for k in gens if gens[k] != state.gens[k]}
                    gens = dict(state.gens)
                    rv_now = state.rv
                if data:
                    self.chunk(data)
                if "expire" in changed:
                    self.chunk(EXPIRED_LINE)
                    break
                if "hugeline" in changed:
                    line = b'{"type":"ADDED","object":{"metadata":{"name":"' + b"x" * (5 << 20) + b'"}}}\n'
                    self.chunk(line, split=False)
                    break
                if "close" in changed:
                    break
                if "bookmark" in changed and bookmarks:
                    self.chunk(bookmark_line(rv_now))
            self.end_chunks()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            with state.cond:
                state.watches -= 1
                state.cond.notify_all()

    def end_chunks(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # ------------------------------------------------------ object API

    def record(self, auth, code, raw):
        with state.cond:
            state.requests.append({"method": self.command, "path": self.path, "auth": auth, "code": code,
                                   "body": json.loads(raw) if raw else None})

    def reply(self, code, doc, auth, raw):
        self.record(auth, code, raw)
        self.send_json(code, doc, auth)

    def object_api(self, raw):
        """The controller's requests. True when the path was one of them."""
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        pod = len(parts) == 6 and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "pods"
        owner = (len(parts) == 7 and parts[0] == "apis" and parts[1] in ("apps", "batch") and parts[2] == "v1"
                 and parts[3] == "namespaces")
        netpol = (len(parts) == 6 and parts[:4] == ["apis", "networking.k8s.io", "v1", "namespaces"]
                  and parts[5] == "networkpolicies")
        page = url.path == "/hooks/page"
        sidekick = url.path == "/hooks/sidekick"
        events = (len(parts) in (6, 7) and parts[:4] == ["apis", "events.k8s.io", "v1", "namespaces"]
                  and parts[5] == "events")
        if not (pod or owner or netpol or page or sidekick or events):
            return False
        if page:
            self.reply(200, {}, "none", raw)
            return True
        if sidekick:
            return self.sidekick_input(raw)
        if events:
            return self.events_api(parts, raw)
        auth = self.auth()
        with state.cond:
            need_auth = state.token is not None
            n, fail_code = state.fail
            if n:
                state.fail = (n - 1, fail_code)
        if need_auth and auth != "valid":
            with state.cond:
                path, state.write_file_on_401 = state.write_file_on_401, None
                token = state.token
            if path:
                with open(path + ".tmp", "w") as f:
                    f.write(token + "\n")
                os.rename(path + ".tmp", path)
            self.reply(401, UNAUTHORIZED, auth, raw)
            return True
        if n:
            self.reply(fail_code, status(fail_code, "InternalError", "injected failure"), auth, raw)
            return True
        ns = parts[4] if (owner or netpol) else parts[3]
        if pod and self.command == "GET":
            with state.cond:
                p = state.pods.get((ns, parts[5]))
            if p is None:
                self.reply(404, status(404, "NotFound", f'pods "{parts[5]}" not found'), auth, raw)
            else:
                self.reply(200, dict(p, kind="Pod", apiVersion="v1"), auth, raw)
        elif pod and self.command == "DELETE":
            want = ((json.loads(raw) if raw else {}).get("preconditions") or {}).get("uid")
            with state.cond:
                p = state.pods.get((ns, parts[5]))
                uid = p["metadata"]["uid"] if p else None
                if p is not None and (want is None or want == uid):
                    state.delete(ns, parts[5])
                    state.cond.notify_all()
            if p is None:
                self.reply(404, status(404, "NotFound", f'pods "{parts[5]}" not found'), auth, raw)
            elif want is not None and want != uid:
                self.reply(409, status(409, "Conflict", "Precondition failed: UID in precondition: "
                                       f"{want}, UID in object meta: {uid}"), auth, raw)
            else:
                self.reply(200, dict(p, kind="Pod", apiVersion="v1"), auth, raw)
        elif owner and self.command == "GET":
            with state.cond:
                o = state.objects.get((parts[5], ns, parts[6]))
            if o is None:
                self.reply(404, status(404, "NotFound", f'{parts[5]} "{parts[6]}" not found'), auth, raw)
            else:
                self.reply(200, o, auth, raw)
        elif netpol and self.command == "POST":
            doc = json.loads(raw)
            name = doc["metadata"]["name"]
            with state.cond:
                conflict, state.np_conflict = state.np_conflict, False
                exists = (ns, name) in state.policies
                if not exists and not conflict:
                    state.policies[(ns, name)] = doc
            if conflict:
                self.reply(409, status(409, "Conflict", "Operation cannot be fulfilled: the object has been modified"),
                           auth, raw)
            elif exists:
                try:
                    with open(os.path.join(HERE, "../../../shared/fixtures/k8s/status-409-already-exists.json")) as f:
                        already = json.load(f)
                except OSError:
                    already = status(409, "AlreadyExists", f'networkpolicies.networking.k8s.io "{name}" already exists')
                self.reply(409, already, auth, raw)
            else:
                self.reply(201, doc, auth, raw)
        else:
            self.reply(405, status(405, "MethodNotAllowed", "method not allowed"), auth, raw)
        return True

    def sidekick_input(self, raw):
        """falcosidekick's HTTP input: a Falco payload or 400; /_control/sidekick_fail answers 500."""
        with state.cond:
            failing = state.sidekick_fail > 0
            if failing:
                state.sidekick_fail -= 1
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = None
        if failing:
            self.reply(500, {"error": "injected failure"}, "none", raw)
        elif not (isinstance(doc, dict) and all(isinstance(doc.get(k), str) and doc[k]
                                                 for k in ("output", "priority", "rule", "time"))):
            self.reply(400, {"error": "bad request"}, "none", raw)
        else:
            self.reply(200, {}, "none", raw)
        return True

    def event_invalid(self, doc):
        """What the API server's events.k8s.io/v1 validation refuses, or None."""
        meta = doc.get("metadata") or {}
        if not meta.get("name"):
            return "metadata.name: Required value"
        if not doc.get("eventTime"):
            return "eventTime: Required value"
        for k in ("reportingController", "reportingInstance", "action", "reason"):
            v = doc.get(k)
            if not isinstance(v, str) or not v or len(v) > 128:
                return f"{k}: Invalid value: must be 1..128 characters"
        if doc.get("type") not in ("Normal", "Warning"):
            return "type: Unsupported value"
        if len((doc.get("note") or "").encode()) > 1024:
            return "note: Too long: may not be longer than 1024"
        reg = doc.get("regarding") or {}
        if not reg.get("kind") or not reg.get("name"):
            return "regarding: Required value"
        series = doc.get("series")
        if series is not None and (series.get("count", 0) < 2 or not series.get("lastObservedTime")):
            return "series.count: Invalid value: should be at least 2"
        return None

    def events_api(self, parts, raw):
        auth = self.auth()
        ns = parts[4]
        with state.cond:
            n, fail_code = state.events_fail
            if n:
                state.events_fail = (n - 1, fail_code)
        if state.token is not None and auth != "valid":
            self.reply(401, UNAUTHORIZED, auth, raw)
        elif n:
            reason = "Forbidden" if fail_code == 403 else "InternalError"
            self.reply(fail_code, status(fail_code, reason, "injected failure"), auth, raw)
        elif self.command == "POST" and len(parts) == 6:
            doc = json.loads(raw)
            bad = self.event_invalid(doc)
            name = (doc.get("metadata") or {}).get("name")
            with state.cond:
                exists = (ns, name) in state.events
                if not bad and not exists:
                    state.events[(ns, name)] = doc
            if bad:
                self.reply(422, status(422, "Invalid", f'Event.events.k8s.io "{name}" is invalid: {bad}'), auth, raw)
            elif exists:
                self.reply(409, status(409, "AlreadyExists", f'events.events.k8s.io "{name}" already exists'), auth, raw)
            else:
                self.reply(201, doc, auth, raw)
        elif self.command == "PATCH" and len(parts) == 7:
            if self.headers.get("Content-Type") != "application/merge-patch+json":
                self.reply(415, status(415, "UnsupportedMediaType", "the body of the request was in an unknown format"),
                           auth, raw)
                return True
            with state.cond:
                cur = state.events.get((ns, parts[6]))
            if cur is None:
                self.reply(404, status(404, "NotFound", f'events.events.k8s.io "{parts[6]}" not found'), auth, raw)
                return True
            merged = merge_patch(cur, json.loads(raw))
            bad = self.event_invalid(merged)
            if bad:
                self.reply(422, status(422, "Invalid", bad), auth, raw)
                return True
            with state.cond:
                state.events[(ns, parts[6])] = merged
            self.reply(200, merged, auth, raw)
        else:
            self.reply(405, status(405, "MethodNotAllowed", "method not allowed"), auth, raw)
        return True

    def do_PATCH(self):
        if not self.object_api(self.body()):
            self.send_json(404, {"error": "not found"})

    # ------------------------------------------------------------- control

    def do_POST(self):
        path = urlsplit(self.path).path
        raw = self.body()
        if self.object_api(raw):
            return
        with state.cond:
            if path == "/_control/objects":
                add_objects(json.loads(raw))
            elif path == "/_control/fail":
                doc = json.loads(raw)
                state.fail = (doc["count"], doc.get("code", 500))
            elif path == "/_control/events_fail":
                doc = json.loads(raw)
                state.events_fail = (doc["count"], doc.get("code", 500))
            elif path == "/_control/sidekick_fail":
                state.sidekick_fail = json.loads(raw)["count"]
            elif path == "/_control/np_conflict":
                state.np_conflict = True
            elif path == "/_control/pods":
                doc = json.loads(raw)
                for p in doc if isinstance(doc, list) else [doc]:
                    state.upsert(p)
            elif path == "/_control/expire":
                state.rv += 1
                state.compacted = state.rv
                state.gens["expire"] += 1
            elif path == "/_control/token":
                doc = json.loads(raw)
                state.token = doc["token"]
                state.write_file_on_401 = doc.get("write_file_on_401")
            elif path in ("/_control/bookmark", "/_control/close", "/_control/hugeline"):
                state.gens[path.rsplit("/", 1)[1]] += 1
            else:
                return self.send_json(404, {"error": "no such control"})
            state.cond.notify_all()
            rv = state.rv
        self.send_json(200, {"resourceVersion": str(rv)})

    def do_DELETE(self):
        if self.object_api(self.body()):
            return
        parts = urlsplit(self.path).path.split("/")
        if len(parts) != 5 or parts[1:3] != ["_control", "pods"]:
            return self.send_json(404, {"error": "no such control"})
        with state.cond:
            ok = state.delete(parts[3], parts[4])
            state.cond.notify_all()
            rv = state.rv
        self.send_json(200 if ok else 404, {"resourceVersion": str(rv)})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that drops its connection (as the one under test does on
        # an oversized line or at stop) is not an error of the server.
        if not isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError)):
            super().handle_error(request, client_address)


server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
threading.Timer(args.seconds, lambda: os._exit(0)).start()
server.serve_forever(poll_interval=0.2)
