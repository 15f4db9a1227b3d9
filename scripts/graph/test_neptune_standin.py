"""Tests of neptune_standin.py with requests and botocore's SigV4 signer.

Run: .run/venv/bin/python -m pytest scripts/graph/test_neptune_standin.py
(needs FalkorDB and the S3 stand-in: scripts/graph/servers.sh start)

The CA is passed on every request: this machine exports REQUESTS_CA_BUNDLE,
which requests lets override Session.verify.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlencode

import boto3
import pytest
import requests
from boto3.s3.transfer import TransferConfig
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import FALKORDB_PORT, HOST, free_port

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "test-session-token"
S3_ENDPOINT = os.environ.get("S3_ENDPOINT", "http://127.0.0.1:16500")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def find_ca() -> Path:
    if os.environ.get("GRAPH_CA"):
        return Path(os.environ["GRAPH_CA"])
    for d in (REPO / ".run/tls", REPO / ".run/graph/tls"):
        if (d / "server.crt").exists():
            return d / "ca.crt"
    pytest.fail("no test CA: run scripts/graph/servers.sh start")


CA = str(find_ca())
TLS_DIR = Path(CA).parent


@pytest.fixture(scope="module")
def neptune(spawner):
    """Private stand-ins: {'plain': base_url, 'iam': base_url}."""
    urls = {}
    for kind in ("plain", "iam"):
        port = free_port()
        args = ["--host", HOST, "--port", str(port), "--graph", spawner.graph_name(f"neptune_{kind}"),
                "--tls-cert", str(TLS_DIR / "server.crt"), "--tls-key", str(TLS_DIR / "server.key"),
                "--falkordb-port", str(FALKORDB_PORT), "--s3-endpoint", S3_ENDPOINT]
        if kind == "iam":
            args += ["--iam", "--region", REGION, "--access-key", ACCESS_KEY,
                     "--secret-key", SECRET_KEY, "--session-token", TOKEN]
        spawner.start("neptune_standin.py", args, port, f"neptune-{kind}")
        urls[kind] = f"https://{HOST}:{port}"
    return urls


@pytest.fixture
def base(neptune):
    """The plain instance, emptied before each test."""
    r = requests.post(f"{neptune['plain']}/reset", verify=CA)
    assert r.status_code == 200
    requests.delete(f"{neptune['plain']}/faults", verify=CA)
    return neptune["plain"]


def cypher(base, query, params=None, **kw):
    data = {"query": query}
    if params is not None:
        data["parameters"] = json.dumps(params)
    return requests.post(f"{base}/openCypher", data=data, verify=CA, **kw)


def ok(resp):
    assert resp.status_code == 200, resp.text
    return resp.json()["results"]


def count(base, pattern="(n)"):
    return ok(cypher(base, f"MATCH {pattern} RETURN count(*) AS c"))[0]["c"]


def assert_error(resp, status, code):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["code"] == code, body
    assert body["detailedMessage"] and UUID_RE.match(body["requestId"])
    return body


# ---------------------------------------------------------------------------
# Request and response formats
# ---------------------------------------------------------------------------

def test_form_post_node_shape(base):
    res = ok(cypher(base, "CREATE (n:Person:base {`~id`: 'p1', name: $name, age: 3, score: 0.5, ok: true}) "
                          "RETURN n, id(n), labels(n)", {"name": "Zoë 東京 🎉"}))
    assert res == [{"n": {"~id": "p1", "~entityType": "node", "~labels": ["Person", "base"],
                          "~properties": {"name": "Zoë 東京 🎉", "age": 3, "score": 0.5, "ok": True}},
                    "id(n)": "p1", "labels(n)": ["Person", "base"]}]


def test_json_body_and_get(base):
    body = {"query": "CREATE (n:J {`~id`: $id}) RETURN n.`~id` AS id", "parameters": {"id": "j1"}}
    r = requests.post(f"{base}/opencypher", json=body, verify=CA)
    assert ok(r) == [{"id": "j1"}]
    # parameters as JSON text, as the Neptune data API documents it
    body = {"query": "MATCH (n {`~id`: $id}) RETURN id(n) AS id", "parameters": json.dumps({"id": "j1"})}
    assert ok(requests.post(f"{base}/opencypher", json=body, verify=CA)) == [{"id": "j1"}]
    q = urlencode({"query": "MATCH (n:J) RETURN count(n) AS c"}, quote_via=quote)
    assert ok(requests.get(f"{base}/openCypher?{q}", verify=CA)) == [{"c": 1}]
    assert requests.get(f"{base}/status", verify=CA).json()["status"] == "healthy"


def test_relationship_shape_and_path(base):
    ok(cypher(base, "CREATE (a:P {`~id`: 'a'})-[:KNOWS {`~id`: 'r1', since: 2020}]->(b:P {`~id`: 'b'})"))
    res = ok(cypher(base, "MATCH (a)-[r]->(b) RETURN r, type(r) AS t, id(r) AS rid"))
    assert res == [{"r": {"~id": "r1", "~entityType": "relationship", "~start": "a", "~end": "b",
                          "~type": "KNOWS", "~properties": {"since": 2020}},
                    "t": "KNOWS", "rid": "r1"}]
    path = ok(cypher(base, "MATCH p = (a {`~id`: 'a'})-[]->() RETURN p"))[0]["p"]
    assert [e["~entityType"] for e in path] == ["node", "relationship", "node"]


def test_generated_ids_and_default_label(base):
    res = ok(cypher(base, "CREATE (n) RETURN n"))
    node = res[0]["n"]
    assert UUID_RE.match(node["~id"]) and node["~labels"] == ["vertex"] and node["~properties"] == {}
    res = ok(cypher(base, "MERGE (m:M {name: 'x'}) RETURN m"))
    assert UUID_RE.match(res[0]["m"]["~id"])
    res = ok(cypher(base, "MATCH (a:M), (b:vertex) MERGE (a)-[r:R]->(b) RETURN r"))
    assert UUID_RE.match(res[0]["r"]["~id"])
    # the generated ids work for lookups
    nid = node["~id"]
    assert ok(cypher(base, "MATCH (n {`~id`: $id}) RETURN count(n) AS c", {"id": nid})) == [{"c": 1}]


def test_internal_names_are_hidden(base):
    ok(cypher(base, "CREATE (n:H {`~id`: 'h', a: 1})"))
    res = ok(cypher(base, "MATCH (n:H) RETURN properties(n) AS p, keys(n) AS k, labels(n) AS l"))
    assert res == [{"p": {"a": 1}, "k": ["a"], "l": ["H"]}]


# ---------------------------------------------------------------------------
# The writes `migrate graph` sends
# ---------------------------------------------------------------------------

NODE_Q = "UNWIND $rows AS row MERGE (n:Entity {`~id`: row.id}) SET n += row.props"
REL_Q = ("UNWIND $rows AS row MATCH (a {`~id`: row.from}), (b {`~id`: row.to}) "
         "MERGE (a)-[r:DIRECTED {`~id`: row.id}]->(b) SET r += row.props")


def test_upsert_batches_are_idempotent(base):
    nodes = [{"id": f"ent-{i}", "props": {"entity_id": f"E{i}", "weight": i / 4, "n": i}} for i in range(600)]
    rels = [{"id": f"rel-{i}", "from": f"ent-{i}", "to": f"ent-{i + 1}",
             "props": {"weight": 1.0, "description": f"d{i}"}} for i in range(599)]
    for _ in range(2):  # a rerun must not duplicate anything
        ok(cypher(base, NODE_Q, {"rows": nodes}))
        ok(cypher(base, REL_Q, {"rows": rels}))
    assert count(base) == 600
    assert count(base, "()-[r]->()") == 599
    nodes[5]["props"]["n"] = 500
    ok(cypher(base, NODE_Q, {"rows": nodes[5:6]}))
    res = ok(cypher(base, "MATCH (n {`~id`: 'ent-5'})-[r]->(m) RETURN n.n AS n, id(r) AS r, id(m) AS m"))
    assert res == [{"n": 500, "r": "rel-5", "m": "ent-6"}]


def test_ids_are_unique_across_labels_and_endpoints(base):
    ok(cypher(base, "CREATE (:ws_a:person {`~id`: 'Alice', entity_id: 'Alice'})"))
    # Another workspace's node with the same ~id: MERGE finds no (:ws_b {~id}) and may not create a second
    # vertex with that id; the whole request fails and nothing of it is written.
    rows = [{"id": "Bob", "props": {}}, {"id": "Alice", "props": {"entity_id": "Alice"}}]
    body = assert_error(cypher(base, "UNWIND $rows AS row MERGE (n:ws_b:person {`~id`: row.id}) SET n += row.props",
                               {"rows": rows}), 400, "ConstraintViolationException")
    assert "~id" in body["detailedMessage"]
    assert_error(cypher(base, "CREATE (:other {`~id`: 'Alice'})"), 400, "ConstraintViolationException")
    assert ok(cypher(base, "MATCH (n) RETURN id(n) AS id, labels(n) AS l")) == [{"id": "Alice", "l": ["ws_a", "person"]}]
    # The same labels merge into the node, as before.
    ok(cypher(base, "MERGE (n:ws_a:person {`~id`: 'Alice'}) SET n.x = 1"))
    assert count(base) == 1
    # A relationship id is unique too: the same ~id between other nodes is refused.
    ok(cypher(base, "CREATE (:P {`~id`: 'a'}), (:P {`~id`: 'b'}), (:P {`~id`: 'c'})"))
    merge_rel = ("UNWIND $rows AS row MATCH (a {`~id`: row.from}), (b {`~id`: row.to}) "
                 "MERGE (a)-[r:DIRECTED {`~id`: row.id}]->(b) RETURN row.id AS id")
    assert ok(cypher(base, merge_rel, {"rows": [{"id": "r1", "from": "a", "to": "b"}]})) == [{"id": "r1"}]
    assert ok(cypher(base, merge_rel, {"rows": [{"id": "r1", "from": "a", "to": "b"}]})) == [{"id": "r1"}]
    assert_error(cypher(base, merge_rel, {"rows": [{"id": "r1", "from": "a", "to": "c"}]}), 400, "ConstraintViolationException")
    assert ok(cypher(base, "MATCH (a)-[r]->(b) RETURN id(r) AS r, id(a) AS a, id(b) AS b")) == [{"r": "r1", "a": "a", "b": "b"}]
    # the stored name stays hidden, whatever the query reads
    assert ok(cypher(base, "MATCH (n {`~id`: 'Alice'}) RETURN keys(n) AS k, n.`~id` AS id")) == [{"k": ["entity_id", "x"], "id": "Alice"}]


def test_literal_only_rule(base):
    cases = [
        (NODE_Q, {"rows": [{"id": "x", "props": {"tags": ["a", "b"]}}]}, "List", "tags"),
        (NODE_Q, {"rows": [{"id": "x", "props": {"meta": {"a": 1}}}]}, "Map", "meta"),
        ("MERGE (n:X {`~id`: 'x'}) SET n.tags = $t", {"t": [1, 2]}, "List", "tags"),
        ("CREATE (n:X {`~id`: 'x', tags: ['a']})", {}, "List", "tags"),
        ("CREATE (n:X {`~id`: 'x', m: $m})", {"m": {"k": "v"}}, "Map", "m"),
        ("CREATE (n:X $props)", {"props": {"l": [1]}}, "List", "l"),
    ]
    for query, params, kind, prop in cases:
        body = assert_error(cypher(base, query, params), 400, "InvalidArgumentException")
        assert "simple literal" in body["detailedMessage"] and kind in body["detailedMessage"]
        assert prop in body["detailedMessage"]
    assert count(base) == 0
    # lists are fine where they are not stored
    assert ok(cypher(base, "UNWIND $ids AS i RETURN count(i) AS c", {"ids": [1, 2, 3]})) == [{"c": 3}]


def test_errors(base):
    assert_error(cypher(base, "MATCH (n RETURN n"), 400, "MalformedQueryException")
    assert_error(cypher(base, "RETURN nosuchfunction(1)"), 400, "MalformedQueryException")
    assert_error(requests.post(f"{base}/openCypher", data={"q": "x"}, verify=CA), 400,
                 "MissingParameterException")
    assert_error(requests.post(f"{base}/openCypher", data={"query": "RETURN 1", "parameters": "{bad"},
                               verify=CA), 400, "InvalidParameterException")


def test_each_request_is_a_transaction(base):
    assert_error(cypher(base, "UNWIND [1, 2, 0] AS x CREATE (:T {v: 10 / x})"), 400, "BadRequestException")
    assert count(base) == 0


# ---------------------------------------------------------------------------
# Injected faults
# ---------------------------------------------------------------------------

def test_faults(base):
    r = requests.post(f"{base}/faults", json={"code": "ConcurrentModificationException", "count": 2}, verify=CA)
    assert r.status_code == 200
    requests.post(f"{base}/faults", json={"code": "MemoryLimitExceededException", "count": 1}, verify=CA)
    requests.post(f"{base}/faults", json={"code": "TimeLimitExceededException", "count": 1}, verify=CA)
    q = "CREATE (:F {`~id`: randomUUID()})"
    for code in ["ConcurrentModificationException"] * 2 + ["MemoryLimitExceededException",
                                                            "TimeLimitExceededException"]:
        assert_error(cypher(base, q), 500, code)
    assert count(base) == 0          # failed requests changed nothing
    ok(cypher(base, q))
    assert count(base) == 1
    requests.post(f"{base}/faults", json={"code": "drop", "count": 1}, verify=CA)
    with pytest.raises(requests.exceptions.ConnectionError):
        cypher(base, q)
    assert count(base) == 1
    requests.post(f"{base}/faults", json={"code": "ConcurrentModificationException", "count": 5}, verify=CA)
    assert requests.get(f"{base}/faults", verify=CA).json()["faults"][0]["count"] == 5
    requests.delete(f"{base}/faults", verify=CA)
    ok(cypher(base, "RETURN 1"))


# ---------------------------------------------------------------------------
# IAM (SigV4)
# ---------------------------------------------------------------------------

def signed(method, url, body=b"", headers=None, *, secret=SECRET_KEY, token=TOKEN, region=REGION,
           service="neptune-db", access=ACCESS_KEY, tamper=None):
    headers = dict(headers or {})
    req = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(Credentials(access, secret, token), service, region).add_auth(req)
    if tamper:
        body = tamper(body)
    return requests.request(method, url, data=body, headers=dict(req.headers), verify=CA)


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_iam_signed_requests(neptune):
    url = neptune["iam"]
    body = urlencode({"query": "CREATE (n:I {`~id`: $id}) RETURN id(n) AS id",
                      "parameters": json.dumps({"id": "i1"})}).encode()
    assert ok(signed("POST", f"{url}/openCypher", body, FORM)) == [{"id": "i1"}]
    q = urlencode({"query": "MATCH (n:I) RETURN count(n) AS c"}, quote_via=quote)
    assert ok(signed("GET", f"{url}/openCypher?{q}")) == [{"c": 1}]
    js = json.dumps({"query": "MATCH (n {`~id`: 'i1'}) RETURN labels(n) AS l"}).encode()
    assert ok(signed("POST", f"{url}/opencypher", js, {"Content-Type": "application/json"})) == [{"l": ["I"]}]
    assert signed("GET", f"{url}/status").json()["status"] == "healthy"
    ok(signed("POST", f"{url}/openCypher", urlencode({"query": "MATCH (n) DETACH DELETE n"}).encode(), FORM))


def test_iam_refusals(neptune):
    url = f"{neptune['iam']}/openCypher"
    body = urlencode({"query": "RETURN 1"}).encode()
    r = requests.post(url, data=body, headers=FORM, verify=CA)
    assert assert_error(r, 403, "AccessDeniedException")["detailedMessage"] == "Missing Authentication Token"
    body_mismatch = assert_error(signed("POST", url, body, FORM, secret="wrong"), 403, "AccessDeniedException")
    assert "signature we calculated does not match" in body_mismatch["detailedMessage"]
    assert_error(signed("POST", url, body, FORM, token=None), 403, "AccessDeniedException")
    assert_error(signed("POST", url, body, FORM, token="other"), 403, "AccessDeniedException")
    assert_error(signed("POST", url, body, FORM, region="eu-west-1"), 403, "AccessDeniedException")
    assert_error(signed("POST", url, body, FORM, service="neptune"), 403, "AccessDeniedException")
    assert_error(signed("POST", url, body, FORM, access="AKIDOTHER"), 403, "AccessDeniedException")
    assert_error(signed("POST", url, body, FORM, tamper=lambda b: b.replace(b"1", b"2")), 403,
                 "AccessDeniedException")
    assert_error(requests.get(f"{neptune['iam']}/status", verify=CA), 403, "AccessDeniedException")
    # the stand-in's admin endpoint needs no signature
    assert requests.get(f"{neptune['iam']}/faults", verify=CA).status_code == 200


# ---------------------------------------------------------------------------
# Bulk loader (openCypher CSV from the S3 stand-in)
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def s3():
    client = boto3.client("s3", endpoint_url=S3_ENDPOINT, region_name=REGION,
                          aws_access_key_id="test", aws_secret_access_key="test")
    try:
        client.list_buckets()
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"S3 stand-in not reachable at {S3_ENDPOINT} ({exc}): run scripts/graph/servers.sh start")
    return client


def new_bucket(s3):
    name = f"pytest-load-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name


def csv_text(rows):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def start_load(base, source, fail="TRUE"):
    r = requests.post(f"{base}/loader", json={
        "source": source, "format": "opencypher", "region": REGION, "failOnError": fail,
        "iamRoleArn": "arn:aws:iam::123456789012:role/NeptuneLoadFromS3"}, verify=CA)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "200 OK"
    return r.json()["payload"]["loadId"]


def wait_load(base, load_id, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        r = requests.get(f"{base}/loader/{load_id}?details=true&errors=true", verify=CA)
        assert r.status_code == 200, r.text
        payload = r.json()["payload"]
        if payload["overallStatus"]["status"] not in ("LOAD_IN_PROGRESS", "LOAD_NOT_STARTED"):
            return payload
        assert time.monotonic() < deadline, payload
        time.sleep(0.1)


def test_bulk_load_types(base, s3):
    bucket = new_bucket(s3)
    nodes = csv_text([
        [":ID", ":LABEL", "name", "age:Int", "score:Double", "ok:Bool", "born:DateTime", "tags:String[]"],
        ["n1", "Person;base", "Zoë, \"the\" first", "42", "0.25", "true", "2024-01-02T03:04:05Z", "a;b"],
        ["n2", "Person", "Bob", "", "1e3", "FALSE", "2024-01-02", ""],
        ["n3", "", "no label", "7", "", "", "", ""],
    ])
    rels = csv_text([[":ID", ":START_ID", ":END_ID", ":TYPE", "weight:Float"],
                     ["r1", "n1", "n2", "KNOWS", "0.5"], ["r2", "n2", "n3", "KNOWS", ""]])
    s3.put_object(Bucket=bucket, Key="load/nodes.csv", Body=nodes.encode())
    s3.put_object(Bucket=bucket, Key="load/rels.csv", Body=rels.encode())
    payload = wait_load(base, start_load(base, f"s3://{bucket}/load/"))
    status = payload["overallStatus"]
    assert status["status"] == "LOAD_COMPLETED", payload
    assert status["totalRecords"] == 5 and payload["errors"]["errorLogs"] == []
    res = ok(cypher(base, "MATCH (n {`~id`: 'n1'}) RETURN n"))[0]["n"]
    assert sorted(res["~labels"]) == ["Person", "base"]
    assert res["~properties"] == {"name": 'Zoë, "the" first', "age": 42, "score": 0.25, "ok": True,
                                  "born": "2024-01-02T03:04:05Z", "tags": ["a", "b"]}
    n2 = ok(cypher(base, "MATCH (n {`~id`: 'n2'}) RETURN n"))[0]["n"]["~properties"]
    assert n2 == {"name": "Bob", "score": 1000.0, "ok": False, "born": "2024-01-02T00:00:00Z"}
    assert ok(cypher(base, "MATCH (n {`~id`: 'n3'}) RETURN labels(n) AS l")) == [{"l": ["vertex"]}]
    rel = ok(cypher(base, "MATCH ()-[r {`~id`: 'r1'}]->() RETURN r"))[0]["r"]
    assert rel["~start"] == "n1" and rel["~end"] == "n2" and rel["~properties"] == {"weight": 0.5}
    # the same load again: ids are merged, nothing is duplicated
    assert wait_load(base, start_load(base, f"s3://{bucket}/load/"))["overallStatus"]["status"] == "LOAD_COMPLETED"
    assert count(base) == 3 and count(base, "()-[r]->()") == 2


def test_bulk_load_multipart_upload(base, s3, tmp_path):
    bucket = new_bucket(s3)
    path = tmp_path / "nodes.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow([":ID", ":LABEL", "description", "n:Long"])
        for i in range(40_000):
            w.writerow([f"ent-{i}", "Entity;base", "x" * 150, i])
    assert path.stat().st_size > 6 * 1024 * 1024
    cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    s3.upload_file(str(path), bucket, "big/nodes.csv", Config=cfg)
    head = s3.head_object(Bucket=bucket, Key="big/nodes.csv")
    assert "-" in head["ETag"]  # a multipart ETag: "<md5>-<parts>"
    payload = wait_load(base, start_load(base, f"s3://{bucket}/big/nodes.csv"), timeout=120)
    assert payload["overallStatus"]["status"] == "LOAD_COMPLETED", payload
    assert payload["overallStatus"]["totalRecords"] == 40_000
    assert count(base, "(n:Entity)") == 40_000


def test_bulk_load_errors(base, s3):
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="x/nodes.csv", Body=csv_text([[":ID"], ["a"]]).encode())
    s3.put_object(Bucket=bucket, Key="x/rels.csv", Body=csv_text(
        [[":START_ID", ":END_ID", ":TYPE"], ["a", "missing", "R"]]).encode())
    payload = wait_load(base, start_load(base, f"s3://{bucket}/x/"))
    assert payload["overallStatus"]["status"] == "LOAD_FAILED"
    assert payload["overallStatus"]["insertErrors"] == 1
    assert payload["errors"]["errorLogs"][0]["errorCode"] == "FROM_OR_TO_VERTEX_ARE_MISSING"
    # a bad type is a parsing error
    s3.put_object(Bucket=bucket, Key="y/nodes.csv", Body=csv_text([[":ID", "n:Int"], ["a", "x"]]).encode())
    payload = wait_load(base, start_load(base, f"s3://{bucket}/y/"))
    assert payload["overallStatus"]["status"] == "LOAD_FAILED"
    assert payload["overallStatus"]["datatypeMismatchErrors"] == 1
    # nothing under the prefix
    assert wait_load(base, start_load(base, f"s3://{bucket}/none/"))["overallStatus"]["status"] == "LOAD_FAILED"
    assert_error(requests.get(f"{base}/loader/{uuid.uuid4()}", verify=CA), 404, "BulkLoadIdNotFoundException")
    r = requests.post(f"{base}/loader", json={"source": f"s3://{bucket}/x/", "format": "csv",
                                              "region": REGION, "iamRoleArn": "arn:x"}, verify=CA)
    assert_error(r, 400, "InvalidParameterException")


def test_shared_servers_answer():
    """The servers scripts/graph/servers.sh started (read-only check)."""
    if "NEPTUNE_URL" not in os.environ:
        pytest.skip("no .run/graph.env loaded")
    assert requests.get(f"{os.environ['NEPTUNE_URL']}/status", verify=CA).status_code == 200
    assert requests.get(f"{os.environ['NEPTUNE_IAM_URL']}/status", verify=CA).status_code == 403
