#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
"""A VictoriaLogs stand-in for `reflex triage` (user/reflex/triage/).

Serves GET and POST /select/logsql/query (query= and limit=, URL- or
form-encoded) from a JSON-lines file of log records the way VictoriaLogs
answers: one JSON object per line, keys sorted, every value a string, _time
in RFC 3339 with nanoseconds. It applies the LogsQL that reflex sends:

  _time:DURATION            (5m, 24h, 1h30m, 7d)
  field:=value  field:="quoted value"   exact match
  field:value   field:"a phrase"        the value contains it (word filter, approximately)
  | sort by (_time desc)    | sort by (_time)    | limit N

Anything else is answered 400 "cannot parse query" as VictoriaLogs does, so
a query reflex should not send fails the test. In the events file a _time of
"now-3h" (s, m, h, d) is resolved when the file is loaded.

Control (the test drives it):
  POST /_control/mode     body: ok | 500 | garbage | truncated | hang | 400
                          (hang: no answer for --hang-seconds)
  POST /_control/events   JSON lines: records added
  POST /_control/clear    every record removed
  GET  /_control/queries  [{"method", "query", "limit"}] so far

Each query is also logged to --log as one JSON line. Binds 127.0.0.1 port 0
and prints the port on stdout; stops by itself after --seconds.
"""
import argparse
import json
import re
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ap = argparse.ArgumentParser()
ap.add_argument("--events", required=True, help="JSON lines: the stored log records")
ap.add_argument("--log", required=True, help="one JSON line per query received")
ap.add_argument("--seconds", type=int, default=300)
ap.add_argument("--hang-seconds", type=float, default=30)
args = ap.parse_args()

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
lock = threading.Lock()
state = {"mode": "ok", "records": [], "queries": []}


def duration_ns(text):
    parts = re.fullmatch(r"(?:\d+[smhdw])+", text or "")
    if not parts:
        raise ValueError("bad duration %r" % text)
    secs = sum(int(n) * UNITS[u] for n, u in re.findall(r"(\d+)([smhdw])", text))
    if secs <= 0:
        raise ValueError("bad duration %r" % text)
    return secs * 10**9


def format_ns(ns):
    t = datetime.fromtimestamp(ns // 10**9, tz=timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % (ns % 10**9)


def parse_ns(text):
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z", text)
    if not m:
        raise ValueError("bad _time %r" % text)
    base = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return int(base.timestamp()) * 10**9 + int((m.group(2) or "0").ljust(9, "0"))


def load_record(line):
    r = json.loads(line)
    if not isinstance(r, dict):
        raise ValueError("not an object: %r" % line)
    t = str(r.get("_time", "now"))
    if t.startswith("now"):
        ns = time.time_ns() - (duration_ns(t[4:]) if t[3:4] == "-" else 0)
    else:
        ns = parse_ns(t)
    r["_time"] = format_ns(ns)
    # VictoriaLogs returns every field as a string.
    out = {k: v if isinstance(v, str) else json.dumps(v) for k, v in r.items()}
    out.setdefault("_msg", "")
    if "_stream" not in out:
        labels = [k for k in ("hostname", "k8s_ns_name", "k8s_pod_name", "priority", "rule", "source", "tags") if k in out]
        out["_stream"] = "{" + ",".join('%s="%s"' % (k, out[k]) for k in labels) + "}"
    return ns, out


def load_lines(text):
    return [load_record(line) for line in text.splitlines() if line.strip()]


with open(args.events) as f:
    state["records"] = load_lines(f.read())

TOKEN = re.compile(r'\s*(?:(?P<time>_time:(?P<dur>\S+))|(?P<field>[A-Za-z0-9_.]+):(?P<op>=?)(?:"(?P<q>(?:[^"\\]|\\.)*)"|(?P<v>[^\s"|()]+)))')


def unquote(s):
    return re.sub(r"\\(.)", r"\1", s)


def parse_query(q):
    """[(kind, ...)] filters and pipes of the LogsQL subset; ValueError otherwise."""
    parts = []
    depth_quote = False
    cur = ""
    i = 0
    while i < len(q):
        c = q[i]
        if c == "\\" and depth_quote:
            cur += q[i:i + 2]
            i += 2
            continue
        if c == '"':
            depth_quote = not depth_quote
        if c == "|" and not depth_quote:
            parts.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    parts.append(cur)
    filters, pipes = [], []
    text = parts[0]
    pos = 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        m = TOKEN.match(text, pos)
        if not m:
            raise ValueError("cannot parse query [%s]: unexpected token at %r" % (q, text[pos:]))
        if m.group("time"):
            filters.append(("time", duration_ns(m.group("dur"))))
        else:
            value = unquote(m.group("q")) if m.group("q") is not None else m.group("v")
            filters.append(("exact" if m.group("op") else "contains", m.group("field"), value))
        pos = m.end()
    if not filters:
        raise ValueError("cannot parse query [%s]: missing filter" % q)
    for p in parts[1:]:
        p = p.strip()
        if re.fullmatch(r"sort by \(_time desc\)", p):
            pipes.append(("sort", True))
        elif re.fullmatch(r"sort by \(_time( asc)?\)", p):
            pipes.append(("sort", False))
        elif re.fullmatch(r"limit \d+", p):
            pipes.append(("limit", int(p.split()[1])))
        else:
            raise ValueError("cannot parse query [%s]: unsupported pipe %r" % (q, p))
    return filters, pipes


def run_query(q, limit):
    filters, pipes = parse_query(q)
    now = time.time_ns()
    with lock:
        rows = list(state["records"])
    out = []
    for ns, r in rows:
        ok = True
        for f in filters:
            if f[0] == "time":
                ok = ns >= now - f[1] and ns <= now
            elif f[0] == "exact":
                ok = r.get(f[1], "") == f[2]
            else:
                ok = f[2].lower() in r.get(f[1], "").lower()
            if not ok:
                break
        if ok:
            out.append((ns, r))
    for p in pipes:
        if p[0] == "sort":
            out.sort(key=lambda x: x[0], reverse=p[1])
        elif p[0] == "limit":
            out = out[:p[1]]
    if limit:
        out = out[:limit]
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def reply(self, code, body, ctype="application/stream+json"):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        u = urlsplit(self.path)
        if u.path == "/_control/queries":
            with lock:
                return self.reply(200, json.dumps(state["queries"]), "application/json")
        if u.path == "/select/logsql/query":
            return self.query("GET", parse_qs(u.query))
        self.reply(404, "not found\n", "text/plain")

    def do_POST(self):
        u = urlsplit(self.path)
        data = self.body()
        if u.path == "/_control/mode":
            with lock:
                state["mode"] = data.decode().strip()
            return self.reply(200, "ok\n", "text/plain")
        if u.path == "/_control/events":
            recs = load_lines(data.decode())
            with lock:
                state["records"].extend(recs)
            return self.reply(200, "ok\n", "text/plain")
        if u.path == "/_control/clear":
            with lock:
                state["records"] = []
            return self.reply(200, "ok\n", "text/plain")
        if u.path == "/select/logsql/query":
            params = parse_qs(u.query)
            if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                for k, v in parse_qs(data.decode()).items():
                    params.setdefault(k, []).extend(v)
            return self.query("POST", params)
        self.reply(404, "not found\n", "text/plain")

    def query(self, method, params):
        q = (params.get("query") or [""])[-1]
        limit = (params.get("limit") or ["0"])[-1]
        entry = {"method": method, "query": q, "limit": limit}
        with lock:
            state["queries"].append(entry)
            mode = state["mode"]
        with open(args.log, "a") as f:
            f.write(json.dumps(entry) + "\n")
        if mode == "500":
            return self.reply(500, "cannot execute query: storage is read-only\n", "text/plain")
        if mode == "400":
            return self.reply(400, "cannot parse query [%s]: unexpected token\n" % q, "text/plain")
        if mode == "hang":
            time.sleep(args.hang_seconds)
            return self.reply(200, "")
        if mode == "garbage":
            return self.reply(200, "<html><body><h1>Sign in to continue</h1></body></html>\n", "text/html")
        if not q:
            return self.reply(400, "missing query arg\n", "text/plain")
        try:
            rows = run_query(q, int(limit) if limit.isdigit() else 0)
        except ValueError as e:
            return self.reply(400, "%s\n" % e, "text/plain")
        lines = [json.dumps(r, sort_keys=True, separators=(",", ":")) for _, r in rows]
        body = "".join(line + "\n" for line in lines)
        if mode == "truncated" and lines:
            body = lines[0] + "\n" + lines[0][: len(lines[0]) // 2]
        self.reply(200, body)


class Server(ThreadingHTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Handler)
print(srv.server_address[1], flush=True)
stopper = threading.Timer(args.seconds, srv.shutdown)
stopper.daemon = True
stopper.start()
try:
    srv.serve_forever()
finally:
    srv.server_close()
sys.exit(0)
