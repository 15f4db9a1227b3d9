#!/usr/bin/env python3
"""Readiness probes for scripts/graph/servers.sh (exit 0 = healthy, 1 = not).

    probe.py bolt HOST PORT            Bolt handshake answers with a version
    probe.py https URL CA              GET URL over TLS verified against CA -> 200
    probe.py http URL                  GET URL -> any HTTP answer below 500

Every probe gives up after --timeout seconds (default 3).
"""
import argparse
import socket
import ssl
import sys
import urllib.error
import urllib.request


def probe_bolt(host, port, timeout):
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        # magic + proposals 5.4..5.0, 4.4..4.0 (ranges), two empty slots
        sock.sendall(b"\x60\x60\xb0\x17" + bytes([0, 4, 4, 5, 0, 4, 4, 4]) + bytes(8))
        answer = b""
        while len(answer) < 4:
            chunk = sock.recv(4 - len(answer))
            if not chunk:
                break
            answer += chunk
    return len(answer) == 4 and answer != b"\x00\x00\x00\x00"


def probe_http(url, timeout, ca=None):
    ctx = ssl.create_default_context(cafile=ca) if ca else None
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=ctx) as resp:
            return resp.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500


def main():
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["bolt", "https", "http"])
    p.add_argument("args", nargs="+")
    p.add_argument("--timeout", type=float, default=3.0)
    a = p.parse_args()
    try:
        if a.kind == "bolt":
            ok = probe_bolt(a.args[0], a.args[1], a.timeout)
        elif a.kind == "https":
            ok = probe_http(a.args[0], a.timeout, ca=a.args[1])
        else:
            ok = probe_http(a.args[0], a.timeout)
    except (OSError, ValueError) as exc:
        print(f"probe {a.kind} {' '.join(a.args)}: {exc}", file=sys.stderr)
        ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
