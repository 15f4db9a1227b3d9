"""Shared pytest fixtures for the graph stand-in tests.

The tests never write into the graphs of the shared servers that
scripts/graph/servers.sh starts (other test suites use those). Each test
module starts its own stand-in processes on free ports, on private FalkorDB
graph names, and deletes those graphs at the end. They only need FalkorDB
(FALKORDB_PORT, default 16410) and, for the bulk loader, the S3 stand-in
(S3_ENDPOINT) to be up: run `scripts/graph/servers.sh start` first.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
FALKORDB_PORT = int(os.environ.get("FALKORDB_PORT", "16410"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"stand-in exited with {proc.returncode}: {proc.args}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"stand-in did not listen on {port} within {timeout}s: {proc.args}")


class Spawner:
    """Starts stand-in processes and stops them (and drops their graphs) at teardown."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []
        self.graphs: list[str] = []

    def graph_name(self, prefix: str) -> str:
        name = f"pytest_{prefix}_{uuid.uuid4().hex[:8]}"
        self.graphs.append(name)
        return name

    def start(self, script: str, args: list[str], port: int, name: str) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "w")
        proc = subprocess.Popen([sys.executable, str(HERE / script), *args],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.procs.append(proc)
        try:
            wait_port(port, proc)
        except RuntimeError:
            log.flush()
            print((self.tmp / f"{name}.log").read_text(), file=sys.stderr)
            raise
        return proc

    def close(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        r = redis.Redis(host=HOST, port=FALKORDB_PORT)
        for g in self.graphs:
            try:
                r.execute_command("GRAPH.DELETE", g)
            except redis.ResponseError:
                pass  # graph never created


@pytest.fixture(scope="session")
def falkordb():
    r = redis.Redis(host=HOST, port=FALKORDB_PORT, socket_timeout=10)
    try:
        r.ping()
    except redis.ConnectionError:
        pytest.fail(f"FalkorDB is not running on {HOST}:{FALKORDB_PORT}: run scripts/graph/servers.sh start")
    return r


@pytest.fixture(scope="module")
def spawner(tmp_path_factory, falkordb):
    sp = Spawner(tmp_path_factory.mktemp("standins"))
    yield sp
    sp.close()
