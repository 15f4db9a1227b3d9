"""Tests of bolt_standin.py with the official neo4j Python driver (and raw Bolt).

Run: .run/venv/bin/python -m pytest scripts/graph/test_bolt_standin.py
(needs FalkorDB: scripts/graph/servers.sh start)
"""
from __future__ import annotations

import datetime as dt
import os
import socket
import struct

import neo4j
import pytest
from neo4j import GraphDatabase
from neo4j.exceptions import AuthError, ClientError, CypherSyntaxError
from neo4j.time import Date, DateTime, Duration, Time

from conftest import FALKORDB_PORT, HOST, free_port
from bolt_standin import (
    FAILURE, IGNORED, RECORD, SUCCESS, Structure, Unpacker, ValuePacker,
)

CREDS = {"neo4j": ("neo4j", "test-pass"), "memgraph": ("memgraph", "mg-pass")}


def start_standin(spawner, flavor, versions=None):
    port = free_port()
    graph = spawner.graph_name(flavor)
    args = ["--flavor", flavor, "--host", HOST, "--port", str(port),
            "--falkordb-port", str(FALKORDB_PORT), "--graph", graph]
    if versions:
        args += ["--versions", versions]
    spawner.start("bolt_standin.py", args, port, f"bolt-{flavor}-{versions or 'default'}")
    return port, graph


@pytest.fixture(scope="module")
def servers(spawner):
    """flavor -> (port, graph) of a private stand-in per flavor/version set."""
    return {
        "neo4j": start_standin(spawner, "neo4j"),
        "memgraph": start_standin(spawner, "memgraph"),
        "neo4j-4.4": start_standin(spawner, "neo4j", "4.4"),
        "memgraph-4.3": start_standin(spawner, "memgraph", "4.3"),
    }


def make_driver(servers, key, auth=None):
    flavor = key.split("-")[0]
    port = servers[key][0]
    return GraphDatabase.driver(f"bolt://{HOST}:{port}", auth=auth or CREDS[flavor])


@pytest.fixture(params=["neo4j", "memgraph", "neo4j-4.4", "memgraph-4.3"])
def driver(request, servers):
    d = make_driver(servers, request.param)
    with d.session() as s:
        s.run("MATCH (n) DETACH DELETE n").consume()
    d.flavor = request.param
    yield d
    d.close()


# ---------------------------------------------------------------------------
# A tiny raw Bolt client (uses the stand-in's own PackStream code)
# ---------------------------------------------------------------------------

class RawBolt:
    def __init__(self, port, proposals):
        self.sock = socket.create_connection((HOST, port), timeout=10)
        payload = b"".join(bytes([0, rng, minor, major]) for major, minor, rng in proposals)
        self.sock.sendall(b"\x60\x60\xb0\x17" + payload.ljust(16, b"\x00"))
        v = self._read(4)
        self.version = (v[3], v[2])
        self.packer = ValuePacker((5, 0), True, str, str)

    def _read(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def send(self, tag, *fields, chunk=65535):
        body = bytearray([0xB0 | len(fields), tag])
        for f in fields:
            self.packer.pack(body, f)
        out = bytearray()
        for i in range(0, len(body), chunk):
            part = body[i:i + chunk]
            out += struct.pack(">H", len(part)) + part
        out += b"\x00\x00"
        self.sock.sendall(out)

    def recv(self):
        data = b""
        while True:
            size = struct.unpack(">H", self._read(2))[0]
            if size == 0:
                if data:
                    return Unpacker(data).unpack()
                continue
            data += self._read(size)

    def close(self):
        self.sock.close()


def hello_raw(bolt, flavor, user_agent="raw-test/1.0"):
    user, password = CREDS[flavor]
    meta = {"user_agent": user_agent} if user_agent else {}
    if bolt.version >= (5, 1):
        bolt.send(0x01, meta)
        reply = bolt.recv()
        if reply.tag != SUCCESS:
            return reply
        bolt.send(0x6A, {"scheme": "basic", "principal": user, "credentials": password})
    else:
        bolt.send(0x01, {**meta, "scheme": "basic", "principal": user, "credentials": password})
    return bolt.recv()


# ---------------------------------------------------------------------------
# Connection, versions, auth
# ---------------------------------------------------------------------------

def test_connect_neo4j_flavor(servers):
    with make_driver(servers, "neo4j") as d:
        d.verify_connectivity()
        info = d.get_server_info()
        assert info.agent.startswith("Neo4j/5")
        assert info.protocol_version == (5, 4)


def test_connect_memgraph_flavor(servers):
    with make_driver(servers, "memgraph") as d:
        d.verify_connectivity()
        info = d.get_server_info()
        assert "Memgraph" in info.agent
        assert info.protocol_version == (5, 2)


def test_forced_old_versions(servers):
    with make_driver(servers, "neo4j-4.4") as d:
        assert d.get_server_info().protocol_version == (4, 4)
    with make_driver(servers, "memgraph-4.3") as d:
        assert d.get_server_info().protocol_version == (4, 3)


def test_shared_servers_answer():
    """The servers scripts/graph/servers.sh started (read-only check)."""
    for url, user, pw in (("BOLT_URL", "BOLT_USER", "BOLT_PASSWORD"),
                          ("MEMGRAPH_URL", "MEMGRAPH_USER", "MEMGRAPH_PASSWORD")):
        if url not in os.environ:
            pytest.skip("no .run/graph.env loaded")
        with GraphDatabase.driver(os.environ[url], auth=(os.environ[user], os.environ[pw])) as d:
            d.verify_connectivity()


@pytest.mark.parametrize("proposals,neo4j_expect,memgraph_expect", [
    ([(5, 8, 8), (4, 4, 2)], (5, 4), (5, 2)),       # what driver 6 sends
    ([(4, 4, 0)], (4, 4), (0, 0)),                   # Memgraph has no 4.4
    ([(4, 4, 1)], (4, 4), (4, 3)),                   # 4.4..4.3
    ([(5, 1, 0), (4, 1, 0)], (5, 1), (4, 1)),        # no 5.1 on Memgraph
    ([(5, 3, 0)], (5, 3), (0, 0)),
    ([(3, 0, 0)], (0, 0), (0, 0)),
])
def test_handshake_negotiation(servers, proposals, neo4j_expect, memgraph_expect):
    for key, expect in (("neo4j", neo4j_expect), ("memgraph", memgraph_expect)):
        bolt = RawBolt(servers[key][0], proposals)
        assert bolt.version == expect, key
        bolt.close()


@pytest.mark.parametrize("key", ["neo4j", "memgraph", "neo4j-4.4", "memgraph-4.3"])
def test_wrong_password(servers, key):
    flavor = key.split("-")[0]
    with make_driver(servers, key, auth=(CREDS[flavor][0], "wrong")) as d:
        # The driver maps only Neo4j's code to AuthError; Memgraph's code
        # surfaces as a plain ClientError (AuthError is a ClientError too).
        with pytest.raises(ClientError) as exc:
            d.verify_connectivity()
    if flavor == "neo4j":
        assert isinstance(exc.value, AuthError)
        assert exc.value.code == "Neo.ClientError.Security.Unauthorized"
        assert exc.value.message == "The client is unauthorized due to authentication failure."
    else:
        assert exc.value.code == "Memgraph.ClientError.Security.Unauthenticated"


def test_wrong_user(servers):
    with make_driver(servers, "neo4j", auth=("memgraph", "test-pass")) as d:
        with pytest.raises(AuthError):
            d.verify_connectivity()


def test_memgraph_requires_user_agent(servers):
    bolt = RawBolt(servers["memgraph"][0], [(5, 2, 0)])
    reply = hello_raw(bolt, "memgraph", user_agent=None)
    assert reply.tag == FAILURE
    assert reply.fields[0]["code"].startswith("Memgraph.ClientError")
    bolt.close()
    # the neo4j flavor does not insist
    bolt = RawBolt(servers["neo4j"][0], [(5, 4, 0)])
    assert hello_raw(bolt, "neo4j", user_agent=None).tag == SUCCESS
    bolt.close()


def test_logon_logoff_cycle(servers):
    bolt = RawBolt(servers["neo4j"][0], [(5, 4, 0)])
    assert hello_raw(bolt, "neo4j").tag == SUCCESS
    bolt.send(0x6B)  # LOGOFF
    assert bolt.recv().tag == SUCCESS
    bolt.send(0x10, "RETURN 1", {}, {})  # RUN while logged off: refused
    assert bolt.recv().tag == FAILURE
    bolt.close()


# ---------------------------------------------------------------------------
# Data round trips
# ---------------------------------------------------------------------------

PARIS = dt.timezone(dt.timedelta(hours=2))


def sample_props():
    return {
        "name": "Zoë – 東京 🎉 \"quoted\" \\ back\nslash",
        "tags": ["alpha", "βeta", "γ"],
        "scores": [1, 2, 3],
        "weights": [0.5, 1.25],
        "flag": True,
        "count": 9007199254740993,
        "ratio": 0.1,
        "born": Date(1990, 5, 17),
        "seen": DateTime(2024, 1, 2, 3, 4, 5, 123456789, tzinfo=PARIS),
        "local": DateTime(2024, 1, 2, 3, 4, 5, 1),
        "wall": Time(12, 30, 0, 5),
        "ttl": Duration(months=14, days=3, seconds=5, nanoseconds=7),
        "blob": b"\x00\x01\xffbytes",
    }


def test_roundtrip_nodes_and_relationships(driver):
    props = sample_props()
    with driver.session() as s:
        s.run("CREATE (a:Entity:base:Person $props)", props=props).consume()
        s.run("CREATE (b:Entity:base {entity_id: 'B', tags: []})").consume()
        s.run("MATCH (a:Person), (b {entity_id: 'B'}) "
              "CREATE (a)-[:DIRECTED {weight: 1.5, keywords: $kw, created_at: 1700000000}]->(b)",
              kw=["k1", "k2"]).consume()
        nodes = s.run("MATCH (n) WHERE id(n) > $last RETURN n, labels(n) AS labels, id(n) AS id "
                      "ORDER BY id(n) LIMIT $n", last=-1, n=10).data()
        rec = s.run("MATCH (a)-[r]->(b) WHERE id(r) > $last "
                    "RETURN r, type(r) AS t, properties(r) AS p, id(a) AS a, id(b) AS b "
                    "ORDER BY id(r) LIMIT $n", last=-1, n=10).single()
        node_objs = [r["n"] for r in s.run("MATCH (n) RETURN n ORDER BY id(n)")]
    assert len(nodes) == 2
    person = nodes[0]
    assert set(person["labels"]) == {"Entity", "base", "Person"}
    for key, value in props.items():
        assert person["n"][key] == value, key
    assert nodes[1]["n"]["tags"] == []
    assert rec["t"] == "DIRECTED"
    assert rec["p"] == {"weight": 1.5, "keywords": ["k1", "k2"], "created_at": 1700000000}
    r = rec["r"]
    assert r.type == "DIRECTED"
    assert r.start_node.element_id == node_objs[0].element_id
    assert r.end_node.element_id == node_objs[1].element_id
    if driver.flavor == "neo4j":
        assert node_objs[0].element_id.startswith("4:") and node_objs[0].element_id.count(":") == 2
        assert r.element_id.startswith("5:")
    else:
        assert node_objs[0].element_id == str(person["id"])


def test_zoned_datetime_roundtrip(driver):
    import pytz
    zoned = pytz.timezone("Europe/Paris").localize(DateTime(2024, 7, 1, 12, 0, 0, 42))
    utc = DateTime(1969, 12, 31, 23, 59, 59, 999999999, tzinfo=dt.timezone.utc)
    with driver.session() as s:
        got = s.run("RETURN $a AS a, $b AS b", a=zoned, b=utc).single()
        s.run("CREATE (:T {a: $a})", a=zoned).consume()
        stored = s.run("MATCH (t:T) RETURN t.a AS a").single()["a"]
    assert got["a"] == zoned and got["a"].tzinfo.zone == "Europe/Paris"
    assert got["b"] == utc
    assert stored == zoned


def test_falkordb_native_temporals_come_back_as_structs(driver):
    with driver.session() as s:
        rec = s.run("RETURN date('2024-01-02') AS d, localdatetime('2024-01-02T03:04:05') AS ldt, "
                    "localtime('12:30:00') AS lt, duration('P1DT2H') AS du").single()
    assert rec["d"] == Date(2024, 1, 2)
    assert rec["ldt"] == DateTime(2024, 1, 2, 3, 4, 5)
    assert rec["lt"] == Time(12, 30, 0)
    assert rec["du"] == Duration(days=1, seconds=7200)


def test_elementid_function(driver):
    with driver.session() as s:
        rec = s.run("CREATE (a:X)-[r:R]->(b:X) RETURN elementId(a) AS ea, elementId(r) AS er, a, r").single()
    if driver.flavor == "neo4j":
        # Bolt 5: the structures carry the same element ids the function returns.
        assert rec["ea"] == rec["a"].element_id and rec["er"] == rec["r"].element_id
    if driver.flavor.startswith("neo4j"):
        # Neo4j's elementId() does not depend on the protocol (under 4.4 the
        # driver makes element_id from the numeric id instead).
        assert rec["ea"].startswith("4:") and rec["er"].startswith("5:")
    if driver.flavor.startswith("memgraph"):
        assert rec["ea"] == str(rec["a"].id)


def test_path_result(driver):
    with driver.session() as s:
        s.run("CREATE (:P {i: 1})-[:NEXT]->(:P {i: 2})-[:NEXT]->(:P {i: 3})").consume()
        path = s.run("MATCH p = (a:P {i: 1})-[:NEXT*2]->(c) RETURN p").single()["p"]
    assert [n["i"] for n in path.nodes] == [1, 2, 3]
    assert [r.type for r in path.relationships] == ["NEXT", "NEXT"]
    assert path.relationships[0].start_node.element_id == path.nodes[0].element_id


def test_keyset_paging_and_small_fetch_size(driver):
    with driver.session() as s:
        s.run("UNWIND range(1, 250) AS i CREATE (:N {i: i})").consume()
        s.run("MATCH (a:N), (b:N) WHERE b.i = a.i + 1 CREATE (a)-[:NEXT {i: a.i}]->(b)").consume()
    seen, last = [], -1
    with driver.session(fetch_size=7) as s:
        while True:
            page = [r["n"] for r in s.run(
                "MATCH (n) WHERE id(n) > $last RETURN n ORDER BY id(n) LIMIT $n", last=last, n=40)]
            if not page:
                break
            seen += [n["i"] for n in page]
            last = page[-1].id
        rels, last = [], -1
        while True:
            page = [r["r"] for r in s.run(
                "MATCH (a)-[r]->(b) WHERE id(r) > $last RETURN r ORDER BY id(r) LIMIT $n", last=last, n=33)]
            if not page:
                break
            rels += [r["i"] for r in page]
            last = page[-1].id
        everything = list(s.run("MATCH (n:N) RETURN n.i AS i ORDER BY n.i"))
    assert sorted(seen) == list(range(1, 251))
    assert sorted(rels) == list(range(1, 250))
    assert [r["i"] for r in everything] == list(range(1, 251))


def test_pull_n_is_honoured_raw(servers):
    bolt = RawBolt(servers["neo4j"][0], [(5, 4, 0)])
    assert hello_raw(bolt, "neo4j").tag == SUCCESS
    bolt.send(0x10, "UNWIND range(1, 10) AS i RETURN i", {}, {})
    run = bolt.recv()
    assert run.tag == SUCCESS and run.fields[0]["fields"] == ["i"]
    got = []
    for expect_more in (True, True, False):
        bolt.send(0x3F, {"n": 4})
        while True:
            msg = bolt.recv()
            if msg.tag == RECORD:
                got.append(msg.fields[0][0])
                continue
            assert msg.tag == SUCCESS
            assert bool(msg.fields[0].get("has_more")) == expect_more
            if not expect_more:
                assert msg.fields[0]["bookmark"] and msg.fields[0]["type"] == "r"
            break
    assert got == list(range(1, 11))
    # DISCARD the rest of a second result
    bolt.send(0x10, "UNWIND range(1, 10) AS i RETURN i", {}, {})
    assert bolt.recv().tag == SUCCESS
    bolt.send(0x3F, {"n": 3})
    assert [bolt.recv().tag for _ in range(4)] == [RECORD, RECORD, RECORD, SUCCESS]
    bolt.send(0x2F, {"n": -1})
    done = bolt.recv()
    assert done.tag == SUCCESS and "has_more" not in done.fields[0]
    bolt.close()


def test_failure_ignored_until_reset_raw(servers):
    for key, version in (("neo4j", (5, 4, 0)), ("memgraph-4.3", (4, 3, 0))):
        flavor = key.split("-")[0]
        bolt = RawBolt(servers[key][0], [version])
        assert hello_raw(bolt, flavor).tag == SUCCESS
        bolt.send(0x10, "MATCH (n RETURN n", {}, {})
        bolt.send(0x3F, {"n": -1})
        bolt.send(0x10, "RETURN 1", {}, {})
        failure = bolt.recv()
        assert failure.tag == FAILURE
        assert failure.fields[0]["code"] in ("Neo.ClientError.Statement.SyntaxError",
                                              "Memgraph.ClientError.MemgraphError.MemgraphError")
        assert bolt.recv().tag == IGNORED
        assert bolt.recv().tag == IGNORED
        bolt.send(0x0F)  # RESET
        assert bolt.recv().tag == SUCCESS
        bolt.send(0x10, "RETURN 1 AS one", {}, {})
        bolt.send(0x3F, {"n": -1})
        assert bolt.recv().tag == SUCCESS
        rec = bolt.recv()
        assert rec.tag == RECORD and rec.fields[0] == [1]
        assert bolt.recv().tag == SUCCESS
        bolt.close()


def test_syntax_error_then_success_same_session(driver):
    with driver.session() as s:
        if driver.flavor.startswith("neo4j"):
            with pytest.raises(CypherSyntaxError) as exc:
                s.run("MATCH (n RETURN n").consume()
            assert exc.value.code == "Neo.ClientError.Statement.SyntaxError"
        else:
            with pytest.raises(ClientError) as exc:
                s.run("MATCH (n RETURN n").consume()
            assert exc.value.code == "Memgraph.ClientError.MemgraphError.MemgraphError"
        assert s.run("RETURN 41 + 1 AS x").single()["x"] == 42


def test_map_property_refused(driver):
    with driver.session() as s:
        with pytest.raises(ClientError) as exc:
            s.run("CREATE (n:M) SET n.m = $m", m={"a": 1}).consume()
        if driver.flavor.startswith("neo4j"):
            assert exc.value.code == "Neo.ClientError.Statement.TypeError"
        assert s.run("MATCH (n:M) RETURN count(n) AS c").single()["c"] == 0


def test_large_parameter_messages(driver):
    rows = [{"id": f"ent-{i:05d}", "description": "d" * 100 + str(i), "chunks": [f"chunk-{i}"] * 3}
            for i in range(1500)]   # ~250 KB in one RUN message
    big = "x" * 300_000
    with driver.session() as s:
        summary = s.run("UNWIND $rows AS row CREATE (n:Big {id: row.id}) SET n += row", rows=rows).consume()
        assert summary.counters.nodes_created == 1500
        assert s.run("RETURN size($s) AS n", s=big).single()["n"] == 300_000
        assert s.run("MATCH (n:Big) RETURN count(n) AS c").single()["c"] == 1500
        got = s.run("MATCH (n:Big {id: 'ent-01234'}) RETURN n").single()["n"]
    assert got["chunks"] == ["chunk-1234"] * 3


def test_large_message_split_in_small_chunks_raw(servers):
    bolt = RawBolt(servers["neo4j"][0], [(5, 4, 0)])
    assert hello_raw(bolt, "neo4j").tag == SUCCESS
    bolt.send(0x10, "RETURN size($s) AS n", {"s": "y" * 200_000}, {}, chunk=1000)
    bolt.send(0x3F, {"n": -1})
    assert bolt.recv().tag == SUCCESS
    assert bolt.recv().fields[0] == [200_000]
    bolt.close()


def test_explicit_transactions_and_counters(driver):
    def work(tx):
        tx.run("CREATE (:Tx {i: 1})").consume()
        tx.run("CREATE (:Tx {i: 2})").consume()
        return tx.run("MATCH (n:Tx) RETURN count(n) AS c").single()["c"]

    with driver.session() as s:
        assert s.execute_write(work) == 2
        summary = s.run("CREATE (:Tx {i: 3})").consume()
        assert summary.counters.nodes_created == 1
        assert summary.counters.contains_updates
        assert s.execute_read(lambda tx: tx.run("MATCH (n:Tx) RETURN count(n) AS c").single()["c"]) == 3
        if driver.flavor.startswith("neo4j"):
            assert s.last_bookmarks()


def test_unknown_database(servers):
    with make_driver(servers, "neo4j") as d:
        with d.session(database="nope") as s:
            with pytest.raises(ClientError) as exc:
                s.run("RETURN 1").consume()
    assert exc.value.code == "Neo.ClientError.Database.DatabaseNotFound"


def test_dbms_components(servers):
    with make_driver(servers, "neo4j") as d:
        rec = d.execute_query("CALL dbms.components() YIELD name, versions, edition "
                              "RETURN name, versions, edition").records[0]
    assert rec["name"] == "Neo4j Kernel" and rec["versions"][0].startswith("5.")
