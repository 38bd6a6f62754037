#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
"""A Graylog GELF input stand-in for the GELF sender (user/controller/gelf.c); stdlib only.

  gelf_server.py --http-port P --udp-port Q --out FILE [--down-file F] [--bind ADDR]

HTTP: POST /gelf, the body plain, gzip or zlib (by Content-Encoding, else by
its magic bytes), answered like Graylog: 202 Accepted with an empty body,
before and whatever the validation says. UDP: one datagram per message
(plain, zlib or gzip) or GELF chunks (0x1e 0x0f, 8-byte id, sequence number,
sequence count; at most 128), reassembled by id; a message whose chunks do
not all arrive within --chunk-timeout seconds (Graylog's 5) is dropped.

Each message is checked against GELF 1.1 (version "1.1", host and
short_message non-blank strings, timestamp/line numbers, level 0..7,
full_message/facility/file strings, every other key starting with '_' and
matching ^[\\w\\.\\-]*$, no _id, values strings or numbers, no duplicate keys)
and appended as one JSON line to FILE, or to FILE.invalid as
{"transport", "reason", "message"}. While the file named by --down-file
exists, HTTP answers 503 and UDP datagrams are dropped: Graylog down.

Port 0 picks a free port. Prints "listening http=P udp=Q" once both are
bound; one line per message on stderr. SIGTERM or SIGINT stop it.
"""
import argparse
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

DECOMPRESS_LIMIT = 8 * 1024 * 1024  # Graylog's default decompress_size_limit
MAX_CHUNKS = 128
FIELD_NAME = re.compile(r"[\w.\-]*", re.ASCII)  # Graylog's ^[\w\.\-]*$, Java's ASCII \w
STANDARD = {"version", "host", "short_message", "full_message", "timestamp", "level", "facility", "line", "file"}

ap = argparse.ArgumentParser(description="Graylog GELF HTTP + UDP input stand-in")
ap.add_argument("--http-port", type=int, required=True)
ap.add_argument("--udp-port", type=int, required=True)
ap.add_argument("--out", required=True, help="valid messages, one JSON line each; invalid ones go to OUT.invalid")
ap.add_argument("--down-file", help="while this file exists: HTTP 503, UDP dropped")
ap.add_argument("--bind", default="127.0.0.1")
ap.add_argument("--chunk-timeout", type=float, default=5.0)
args = ap.parse_args()


def log(msg):
    print("gelf_server: " + msg, file=sys.stderr, flush=True)


def down():
    return bool(args.down_file) and os.path.exists(args.down_file)


class Sink:
    """Appends under a lock, opening per line: a test may truncate or move the files."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def _append(self, path, obj):
        line = json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self.lock, open(path, "a", encoding="utf-8") as f:
            f.write(line)

    def valid(self, transport, msg):
        self._append(self.path, msg)
        log("%s: accepted %r" % (transport, msg.get("short_message")))

    def invalid(self, transport, reason, raw):
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        self._append(self.path + ".invalid", {"transport": transport, "reason": reason, "message": raw[:4096]})
        log("%s: invalid: %s" % (transport, reason))


sink = Sink(args.out)


def inflate(data, wbits, what):
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(data, DECOMPRESS_LIMIT + 1)
    except zlib.error as e:
        raise ValueError("%s: %s" % (what, e))
    if len(out) > DECOMPRESS_LIMIT:
        raise ValueError("%s: more than %d bytes decompressed" % (what, DECOMPRESS_LIMIT))
    if not d.eof:
        raise ValueError("%s: truncated" % what)
    if d.unused_data:
        raise ValueError("%s: %d bytes after the end" % (what, len(d.unused_data)))
    return out


def is_zlib(data):
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


def decompress(data, encoding=""):
    """Bytes of the JSON text: by Content-Encoding when given, else by magic bytes."""
    encoding = (encoding or "").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return inflate(data, 31, "gzip")
    if encoding == "deflate":
        return inflate(data, 15, "zlib")
    if encoding not in ("", "identity"):
        raise ValueError("unsupported Content-Encoding %r" % encoding)
    if data[:2] == b"\x1f\x8b":
        return inflate(data, 31, "gzip")
    if is_zlib(data):
        return inflate(data, 15, "zlib")
    return data


def no_duplicates(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise ValueError("duplicate key %r" % k)
        obj[k] = v
    return obj


def no_constants(name):
    raise ValueError("%s is not JSON" % name)


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def nonblank_string(v):
    return isinstance(v, str) and v.strip() != ""


def validate(text):
    """The message as a dict, or ValueError with the first broken rule."""
    try:
        msg = json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except ValueError as e:  # JSONDecodeError is one
        raise ValueError("not JSON: %s" % e)
    if not isinstance(msg, dict):
        raise ValueError("not a JSON object")
    if msg.get("version") != "1.1":
        raise ValueError('"version" must be the string "1.1"')
    if not nonblank_string(msg.get("host")):
        raise ValueError('"host" must be a non-empty string')
    if not nonblank_string(msg.get("short_message")):
        raise ValueError('"short_message" must be a non-empty string')
    for key in ("timestamp", "line"):
        if key in msg and not is_number(msg[key]):
            raise ValueError('"%s" must be a number' % key)
    if "level" in msg and not (isinstance(msg["level"], int) and not isinstance(msg["level"], bool)
                               and 0 <= msg["level"] <= 7):
        raise ValueError('"level" must be an integer from 0 to 7')
    for key in ("full_message", "facility", "file"):
        if key in msg and not isinstance(msg[key], str):
            raise ValueError('"%s" must be a string' % key)
    for key, value in msg.items():
        if key in STANDARD:
            continue
        if not key.startswith("_") or len(key) < 2:
            raise ValueError("field %r: additional field names start with '_' and have a name" % key)
        if not FIELD_NAME.fullmatch(key):
            raise ValueError("field %r: does not match ^[\\w\\.\\-]*$" % key)
        if key == "_id":
            raise ValueError("field '_id' is reserved")
        if not (isinstance(value, str) or is_number(value)):
            raise ValueError("field %r: value must be a string or a number, not %s" % (key, type(value).__name__))
    return msg


def accept(transport, data, encoding=""):
    try:
        text = decompress(data, encoding).decode("utf-8")
    except UnicodeDecodeError:
        sink.invalid(transport, "not UTF-8", data)
        return
    except ValueError as e:
        sink.invalid(transport, str(e), data)
        return
    try:
        sink.valid(transport, validate(text))
    except ValueError as e:
        sink.invalid(transport, str(e), text)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Graylog's input; 100-continue handled
    server_version = "gelf_server"

    def log_message(self, fmt, *a):
        pass  # one line per message comes from the sink

    def reply(self, code, extra=()):
        self.send_response(code)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
                if len(body) > DECOMPRESS_LIMIT:
                    raise ValueError("body larger than %d bytes" % DECOMPRESS_LIMIT)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > DECOMPRESS_LIMIT:
            raise ValueError("bad Content-Length %d" % length)
        return self.rfile.read(length)

    def do_POST(self):
        try:
            body = self.read_body()
        except ValueError as e:
            sink.invalid("http", str(e), b"")
            self.close_connection = True
            self.reply(400)
            return
        if urlsplit(self.path).path != "/gelf":
            self.reply(404)
            return
        if down():
            log("http: down, 503")
            self.reply(503)
            return
        # 202 whatever the message is, as Graylog (it answers before it parses);
        # recorded first, so a test that got its 202 finds the line.
        accept("http", body, self.headers.get("Content-Encoding", ""))
        self.reply(202)

    def not_allowed(self):
        self.reply(405, [("Allow", "POST")])

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = not_allowed


class Chunks:
    """Chunked UDP messages by id, until complete or expired."""

    def __init__(self):
        self.pending = {}  # id -> (first seen, count, {seq: payload})

    def add(self, data):
        if len(data) < 13:
            sink.invalid("udp", "chunk shorter than its 12-byte header plus data", data)
            return
        mid, seq, count = data[2:10], data[10], data[11]
        if count < 1 or count > MAX_CHUNKS or seq >= count:
            sink.invalid("udp", "chunk %d of %d: bad sequence header" % (seq, count), data)
            return
        first, want, parts = self.pending.setdefault(mid, (time.monotonic(), count, {}))
        if want != count:
            del self.pending[mid]
            sink.invalid("udp", "chunk id %s: sequence count %d, earlier %d" % (mid.hex(), count, want), data)
            return
        parts.setdefault(seq, data[12:])  # a duplicate changes nothing
        if len(parts) == count:
            del self.pending[mid]
            accept("udp", b"".join(parts[i] for i in range(count)))

    def expire(self):
        now = time.monotonic()
        for mid, (first, count, parts) in list(self.pending.items()):
            if now - first > args.chunk_timeout:
                del self.pending[mid]
                sink.invalid("udp", "chunk id %s: %d of %d chunks within %gs" % (
                    mid.hex(), len(parts), count, args.chunk_timeout), b"")


def serve_udp(sock):
    chunks = Chunks()
    while True:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            chunks.expire()
            continue
        except OSError:
            return  # closed at shutdown
        chunks.expire()
        if down():
            log("udp: down, datagram dropped")
            continue
        if data[:2] == b"\x1e\x0f":
            chunks.add(data)
        else:
            accept("udp", data)


def main():
    family = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
    ThreadingHTTPServer.address_family = family
    ThreadingHTTPServer.daemon_threads = True
    httpd = ThreadingHTTPServer((args.bind, args.http_port), Handler)
    udp = socket.socket(family, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)  # 128 chunks at once
    udp.bind((args.bind, args.udp_port))
    udp.settimeout(0.5)
    threading.Thread(target=serve_udp, args=(udp,), daemon=True).start()

    def stop(signum, frame):
        # shutdown() waits for serve_forever, which runs in this very thread.
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("listening http=%d udp=%d" % (httpd.server_address[1], udp.getsockname()[1]), flush=True)
    httpd.serve_forever(poll_interval=0.2)
    httpd.server_close()
    udp.close()


if __name__ == "__main__":
    main()
