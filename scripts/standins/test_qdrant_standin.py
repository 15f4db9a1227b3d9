"""Checks the Qdrant stand-in against the official qdrant-client (REST mode).

    .run/venv/bin/pytest -q scripts/standins/test_qdrant_standin.py

Each test module run starts its own stand-ins on free ports (plain, api-key,
and HTTPS with a throw-away CA made by the openssl CLI), so it needs nothing
from scripts/servers.sh. The error tests pin the exact status codes and texts
the stand-in answers with, which are Qdrant's.
"""
import http.client
import json
import math
import socket
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

HERE = Path(__file__).resolve().parent
STANDIN = HERE / "qdrant_standin.py"
API_KEY = "test-key-123"
LIMIT = 32 * 1024 * 1024

# qdrant-client warns whenever an api-key travels over plain HTTP, as these tests do on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")


# ---------------------------------------------------------------------------
# Fixtures: stand-in processes
# ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Running:
    def __init__(self, tmp: Path, *args: str):
        self.port = free_port()
        self.log = tmp / f"standin-{self.port}.log"
        self.proc = subprocess.Popen(
            [sys.executable, str(STANDIN), "--port", str(self.port), "--data-dir", str(tmp / f"data-{self.port}"),
             *args],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "w"), stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"stand-in did not start: {self.log.read_text()}")
                time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def tmp_module(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("qdrant-standin")


@pytest.fixture(scope="module")
def plain(tmp_module):
    srv = Running(tmp_module)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def keyed(tmp_module):
    srv = Running(tmp_module, "--api-key", API_KEY)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def tls_files(tmp_module):
    """A CA and a server certificate for 127.0.0.1/localhost, made with the openssl CLI."""
    d = tmp_module / "tls"
    d.mkdir()

    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    run("req", "-x509", "-new", "-nodes", "-newkey", "rsa:2048", "-days", "2", "-keyout", "ca.key",
        "-out", "ca.crt", "-subj", "/CN=standin test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-new", "-nodes", "-newkey", "rsa:2048", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=localhost")
    (d / "ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-out", "server.crt", "-extfile", "ext")
    return d


@pytest.fixture(scope="module")
def tls(tmp_module, tls_files):
    srv = Running(tmp_module, "--api-key", API_KEY, "--tls-cert", str(tls_files / "server.crt"),
                  "--tls-key", str(tls_files / "server.key"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(plain):
    c = QdrantClient(url=f"http://127.0.0.1:{plain.port}", prefer_grpc=False, timeout=60)
    yield c
    c.close()


@pytest.fixture
def rest(plain):
    with httpx.Client(base_url=f"http://127.0.0.1:{plain.port}", timeout=60) as h:
        yield h


def fresh(client: QdrantClient, name: str, size: int = 4, distance=models.Distance.COSINE) -> str:
    if client.collection_exists(name):
        client.delete_collection(name)
    client.create_collection(name, vectors_config=models.VectorParams(size=size, distance=distance))
    return name


def error_of(resp: httpx.Response) -> str:
    body = resp.json()
    assert set(body) == {"status", "time"}, body
    return body["status"]["error"]


# ---------------------------------------------------------------------------
# Happy paths through the official client
# ---------------------------------------------------------------------------

def test_version_and_health(plain, rest):
    info = rest.get("/").json()
    assert info["title"] == "qdrant - vector search engine"
    assert info["version"].count(".") >= 2
    assert rest.get("/healthz").text == "healthz check passed"
    assert rest.get("/collections").json()["status"] == "ok"


def test_create_info_and_conflict(client, rest):
    fresh(client, "info")
    info = client.get_collection("info")
    assert info.status == models.CollectionStatus.GREEN
    assert info.points_count == 0
    assert info.config.params.vectors.size == 4
    assert info.config.params.vectors.distance == models.Distance.COSINE
    assert info.config.hnsw_config.m == 16
    assert info.config.optimizer_config.indexing_threshold == 10000
    assert "info" in [c.name for c in client.get_collections().collections]
    assert client.collection_exists("info") and not client.collection_exists("nope")

    with pytest.raises(UnexpectedResponse) as exc:
        client.create_collection("info", vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT))
    assert exc.value.status_code == 409
    r = rest.put("/collections/info", json={"vectors": {"size": 4, "distance": "Dot"}})
    assert r.status_code == 409
    assert error_of(r) == "Wrong input: Collection `info` already exists!"


def test_named_and_sparse_vectors(client, rest):
    name = "named"
    if client.collection_exists(name):
        client.delete_collection(name)
    client.create_collection(
        name,
        vectors_config={"dense": models.VectorParams(size=3, distance=models.Distance.DOT),
                        "other": models.VectorParams(size=2, distance=models.Distance.EUCLID)},
        sparse_vectors_config={"text": models.SparseVectorParams()},
        hnsw_config=models.HnswConfigDiff(m=32),
    )
    info = client.get_collection(name)
    assert info.config.params.vectors["dense"].size == 3
    assert info.config.params.vectors["other"].distance == models.Distance.EUCLID
    assert "text" in info.config.params.sparse_vectors
    assert info.config.hnsw_config.m == 32

    client.upsert(name, points=[
        models.PointStruct(id=1, vector={"dense": [1.0, 2.0, 3.0], "other": [0.5, 0.5],
                                         "text": models.SparseVector(indices=[3, 7], values=[0.25, 1.5])},
                           payload={"k": "v"}),
        models.PointStruct(id=2, vector={"dense": [3.0, 2.0, 1.0]}),
    ])
    [rec] = client.retrieve(name, ids=[1], with_vectors=True)
    assert rec.vector["dense"] == [1.0, 2.0, 3.0]  # Dot: stored as given
    assert rec.vector["text"].indices == [3, 7] and rec.vector["text"].values == [0.25, 1.5]
    hits = client.query_points(name, query=models.SparseVector(indices=[7], values=[1.0]), using="text").points
    assert [h.id for h in hits] == [1]
    hits = client.query_points(name, query=[3.0, 2.0, 1.0], using="dense", limit=1).points
    assert hits[0].id == 2

    # Unknown named vector: 400 with the engine's text.
    r = rest.put(f"/collections/{name}/points?wait=true",
                 json={"points": [{"id": 3, "vector": {"nope": [1.0, 2.0, 3.0]}}]})
    assert r.status_code == 400
    assert error_of(r) == "Wrong input: Not existing vector name error: nope"
    r = rest.post(f"/collections/{name}/points/query", json={"query": [1.0, 2.0, 3.0], "using": "nope"})
    assert r.status_code == 400 and "Not existing vector name error: nope" in error_of(r)


def test_vectors_named_like_inference_fields(client, rest):
    # Named vectors may be called "image" or "text"; only a map with a `model` is an inference object.
    name = "named_like_inference"
    if client.collection_exists(name):
        client.delete_collection(name)
    client.create_collection(name, vectors_config={"image": models.VectorParams(size=2, distance=models.Distance.DOT),
                                                   "text": models.VectorParams(size=2, distance=models.Distance.DOT)})
    r = rest.put(f"/collections/{name}/points?wait=true",
                 json={"points": [{"id": 1, "vector": {"image": [1.0, 2.0], "text": [3.0, 4.0]}}]})
    assert r.status_code == 200, r.text
    [rec] = client.retrieve(name, ids=[1], with_vectors=True)
    assert rec.vector == {"image": [1.0, 2.0], "text": [3.0, 4.0]}
    r = rest.put(f"/collections/{name}/points?wait=true",
                 json={"points": [{"id": 2, "vector": {"image": "https://x/y.png", "model": "clip"}}]})
    assert r.status_code == 400 and "inference objects" in error_of(r)


def make_points(n: int, dim: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((n, dim)).astype(np.float32)
    pts = []
    for i in range(n):
        pid = i * 3 if i % 2 == 0 else str(uuid.UUID(bytes=rng.bytes(16), version=4))
        pts.append(models.PointStruct(id=pid, vector=vecs[i].tolist(),
                                      payload={"n": i, "workspace_id": "ws-a" if i % 3 else "ws-b",
                                               "content": f"chunk {i} – ünïcödé ✓"}))
    return pts, vecs


def qdrant_order_key(pid):
    # Qdrant orders point ids: all integers first (ascending), then UUIDs by their 128-bit value.
    return (0, pid, 0) if isinstance(pid, int) else (1, 0, uuid.UUID(pid).int)


def test_upsert_scroll_paging_count(client):
    name = fresh(client, "paging", size=8)
    pts, _ = make_points(250, 8)
    for i in range(0, len(pts), 64):
        client.upsert(name, points=pts[i:i + 64], wait=True)
    assert client.count(name, exact=True).count == 250
    flt = models.Filter(must=[models.FieldCondition(key="workspace_id", match=models.MatchValue(value="ws-b"))])
    assert client.count(name, count_filter=flt, exact=True).count == sum(1 for i in range(250) if i % 3 == 0)

    seen, offset, pages = [], None, 0
    while True:
        recs, offset = client.scroll(name, limit=37, offset=offset, with_payload=True, with_vectors=False)
        pages += 1
        seen.extend(r.id for r in recs)
        assert all(r.vector is None for r in recs)
        if offset is None:
            break
    assert pages == math.ceil(250 / 37)
    expected = sorted((p.id for p in pts), key=qdrant_order_key)
    assert seen == [str(e) if isinstance(e, str) else e for e in expected]

    # Filtered scroll, payload selection.
    recs, _ = client.scroll(name, scroll_filter=flt, limit=1000, with_payload=["n"])
    assert {r.payload["n"] for r in recs} == {i for i in range(250) if i % 3 == 0}
    assert all(set(r.payload) == {"n"} for r in recs)


def test_retrieve_normalises_cosine_and_query(client, rest):
    name = fresh(client, "query", size=16)
    pts, vecs = make_points(100, 16, seed=3)
    client.upsert(name, points=pts)
    [rec] = client.retrieve(name, ids=[pts[10].id], with_vectors=True, with_payload=True)
    v = vecs[10] / np.linalg.norm(vecs[10])
    assert np.allclose(rec.vector, v, atol=1e-6)  # Cosine: Qdrant stores normalised vectors
    assert rec.payload["content"] == "chunk 10 – ünïcödé ✓"

    hits = client.query_points(name, query=vecs[42].tolist(), limit=5, with_payload=True).points
    assert hits[0].id == pts[42].id and abs(hits[0].score - 1.0) < 1e-5
    assert len(hits) == 5 and hits[0].score >= hits[1].score

    # Query by point id leaves that point out, like Qdrant.
    hits = client.query_points(name, query=pts[42].id, limit=3).points
    assert pts[42].id not in [h.id for h in hits]

    flt = models.Filter(must=[models.FieldCondition(key="workspace_id", match=models.MatchValue(value="ws-b"))])
    hits = client.query_points(name, query=vecs[1].tolist(), query_filter=flt, limit=100, with_payload=True).points
    assert hits and all(h.payload["workspace_id"] == "ws-b" for h in hits)

    # Legacy search endpoint (gone from current Qdrant's OpenAPI, kept for spot checks).
    r = rest.post(f"/collections/{name}/points/search", json={"vector": vecs[7].tolist(), "limit": 2})
    assert r.status_code == 200
    assert r.json()["result"][0]["id"] == pts[7].id
    r = rest.post(f"/collections/{name}/points/search", json={"vector": vecs[7].tolist(), "limit": 2, "foo": 1})
    assert r.status_code == 400 and "unknown field `foo`" in error_of(r)


def test_payload_index_tenant(client):
    name = fresh(client, "tenant")
    client.upsert(name, points=[models.PointStruct(id=i, vector=[1.0, 0.0, 0.0, float(i)],
                                                   payload={"workspace_id": f"w{i % 2}"}) for i in range(10)])
    client.create_payload_index(name, "workspace_id",
                                field_schema=models.KeywordIndexParams(type="keyword", is_tenant=True))
    info = client.get_collection(name)
    entry = info.payload_schema["workspace_id"]
    assert entry.data_type == models.PayloadSchemaType.KEYWORD
    assert entry.params.is_tenant is True
    assert entry.points == 10


def test_delete_points_and_collection(client):
    name = fresh(client, "deleting")
    client.upsert(name, points=[models.PointStruct(id=i, vector=[1.0, 2.0, 3.0, 4.0]) for i in range(5)])
    client.delete(name, points_selector=models.PointIdsList(points=[0, 1]))
    assert client.count(name).count == 3
    assert client.delete_collection(name) is True
    assert client.delete_collection(name) is False


def test_batch_upsert(client):
    name = fresh(client, "batch", size=2, distance=models.Distance.DOT)
    client.upsert(name, points=models.Batch(ids=[1, 2], vectors=[[1.0, 2.0], [3.0, 4.0]],
                                            payloads=[{"a": 1}, {"a": 2}]))
    recs = client.retrieve(name, ids=[2], with_vectors=True)
    assert recs[0].vector == [3.0, 4.0] and recs[0].payload == {"a": 2}


# ---------------------------------------------------------------------------
# Error rules: exact status codes and texts
# ---------------------------------------------------------------------------

def test_point_id_rules(client, rest):
    name = fresh(client, "ids")
    for bad, shown in [("abc", "abc"), ("chunk-123", "chunk-123"), ("123", "123"), (-1, "-1"), (1.5, "1.5"),
                       (None, "Unit")]:
        r = rest.put(f"/collections/{name}/points?wait=true",
                     json={"points": [{"id": bad, "vector": [1.0, 2.0, 3.0, 4.0]}]})
        assert r.status_code == 400, bad
        assert error_of(r) == (f"Format error in JSON body: value {shown} is not a valid point ID, "
                               "valid values are either an unsigned integer or a UUID")
    with pytest.raises(UnexpectedResponse) as exc:
        client.upsert(name, points=[models.PointStruct(id="not-a-uuid", vector=[1.0, 2.0, 3.0, 4.0])])
    assert exc.value.status_code == 400
    # Accepted spellings: u64 max, simple and braced UUIDs (normalised to hyphenated lowercase).
    u = uuid.uuid4()
    r = rest.put(f"/collections/{name}/points?wait=true", json={"points": [
        {"id": 2**64 - 1, "vector": [1.0, 0, 0, 0]},
        {"id": u.hex.upper(), "vector": [0, 1.0, 0, 0]},
    ]})
    assert r.status_code == 200, r.text
    ids = [p.id for p in client.scroll(name, limit=10)[0]]
    assert ids == [2**64 - 1, str(u)]
    r = rest.put(f"/collections/{name}/points", json={"points": [{"id": 2**64, "vector": [1.0, 0, 0, 0]}]})
    assert r.status_code == 400


def test_dimension_mismatch(client, rest):
    name = fresh(client, "dims", size=4)
    r = rest.put(f"/collections/{name}/points?wait=true", json={"points": [{"id": 1, "vector": [1.0, 2.0]}]})
    assert r.status_code == 400
    assert error_of(r) == "Wrong input: Vector dimension error: expected dim: 4, got 2"
    with pytest.raises(UnexpectedResponse) as exc:
        client.upsert(name, points=[models.PointStruct(id=1, vector=[1.0] * 5)])
    assert exc.value.status_code == 400
    assert "Vector dimension error: expected dim: 4, got 5" in str(exc.value)
    r = rest.post(f"/collections/{name}/points/query", json={"query": [1.0, 2.0, 3.0]})
    assert r.status_code == 400
    assert error_of(r) == "Wrong input: Vector dimension error: expected dim: 4, got 3"


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "nan"])
def test_non_standard_json_refused(client, rest, token):
    name = fresh(client, "nan")
    body = '{"points":[{"id":1,"vector":[1.0,2.0,3.0,%s]}]}' % token
    r = rest.put(f"/collections/{name}/points?wait=true", content=body,
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    col = body.index(token) + 1
    if token.startswith("-"):  # serde_json: the sign starts a number, the letter after it is invalid
        assert error_of(r) == f"Format error in JSON body: invalid number at line 1 column {col + 1}"
    elif token == "nan":  # serde_json: `n` starts the literal null
        assert error_of(r).startswith("Format error in JSON body: expected ident at line 1 column ")
    else:
        assert error_of(r) == f"Format error in JSON body: expected value at line 1 column {col}"
    assert client.count(name).count == 0


def test_unknown_fields_refused(client, rest):
    name = fresh(client, "unknown")
    r = rest.put(f"/collections/{name}/points", json={"points": [{"id": 1, "vector": [1, 2, 3, 4], "foo": 1}]})
    assert r.status_code == 400 and "unknown field `foo`" in error_of(r)
    r = rest.post(f"/collections/{name}/points/scroll", json={"limit": 1, "bogus": True})
    assert r.status_code == 400 and error_of(r) == "Format error in JSON body: unknown field `bogus`"
    r = rest.put("/collections/other", json={"vectors": {"size": 4, "distance": "Cosine", "colour": "red"}})
    assert r.status_code == 400 and "unknown field `colour`" in error_of(r)
    r = rest.put("/collections/other2", json={"vectors": {"size": 4, "distance": "Cosinus"}})
    assert r.status_code == 400
    r = rest.post(f"/collections/{name}/points/count", json={"exact": True, "filter": {"must": [{"kee": "x"}]}})
    assert r.status_code == 400


def test_body_limit_content_length(client, plain):
    name = fresh(client, "big")
    # Headers only: the answer comes before any of the 40 MiB is sent.
    with socket.create_connection(("127.0.0.1", plain.port), timeout=10) as s:
        n = 40 * 1024 * 1024
        s.sendall((f"PUT /collections/{name}/points?wait=true HTTP/1.1\r\nHost: x\r\n"
                   f"Content-Type: application/json\r\nContent-Length: {n}\r\n\r\n").encode())
        s.sendall(b'{"points":[')
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < 120:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 400")
    assert b"Connection: close" in head
    assert json.loads(body)["status"]["error"] == (
        f"Payload error: JSON payload ({n} bytes) is larger than allowed (limit: {LIMIT} bytes).")

    # Through the official client, with a real body just over the limit: still a 400 it can read.
    big = [models.PointStruct(id=i, vector=[1.0, 2.0, 3.0, 4.0], payload={"x": "y" * 60000}) for i in range(600)]
    with pytest.raises(UnexpectedResponse) as exc:
        client.upsert(name, points=big)
    assert exc.value.status_code == 400
    assert "is larger than allowed (limit: 33554432 bytes)." in str(exc.value)
    assert client.count(name).count == 0  # and the server still answers


def test_body_limit_chunked(client, plain):
    name = fresh(client, "bigchunked")
    conn = http.client.HTTPConnection("127.0.0.1", plain.port, timeout=30)

    def chunks():
        yield b'{"points":['
        piece = b"0" * (1 << 20)
        for _ in range(40):
            yield piece

    conn.request("PUT", f"/collections/{name}/points", body=chunks(), encode_chunked=True,
                 headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    resp = conn.getresponse()
    assert resp.status == 400
    assert json.loads(resp.read())["status"]["error"] == (
        f"Payload error: JSON payload is larger than allowed (limit: {LIMIT} bytes).")
    conn.close()


def test_chunked_body_and_keep_alive(client, plain):
    name = fresh(client, "chunked")
    conn = http.client.HTTPConnection("127.0.0.1", plain.port, timeout=30)
    body = json.dumps({"points": [{"id": i, "vector": [1.0, 2.0, 3.0, float(i)]} for i in range(20)]}).encode()

    def parts():
        for i in range(0, len(body), 100):
            yield body[i:i + 100]

    conn.request("PUT", f"/collections/{name}/points?wait=true", body=parts(), encode_chunked=True,
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Length")
    assert json.loads(resp.read())["result"]["status"] == "completed"
    sock = conn.sock
    for _ in range(3):  # same connection reused, no reconnect
        conn.request("POST", f"/collections/{name}/points/count", body=b'{"exact":true}',
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert json.loads(resp.read())["result"]["count"] == 20
        assert conn.sock is sock
    conn.close()


def test_unknown_collection(client, rest):
    r = rest.get("/collections/missing")
    assert r.status_code == 404
    assert error_of(r) == "Not found: Collection `missing` doesn't exist!"
    for method, path, body in [("PUT", "/points?wait=true", {"points": [{"id": 1, "vector": [1.0]}]}),
                               ("POST", "/points/scroll", {"limit": 1}),
                               ("POST", "/points/count", {"exact": True}),
                               ("POST", "/points/query", {"query": [1.0]})]:
        r = rest.request(method, f"/collections/missing{path}", json=body)
        assert r.status_code == 404, path
        assert error_of(r) == "Not found: Collection `missing` doesn't exist!"
    with pytest.raises(UnexpectedResponse) as exc:
        client.get_collection("missing")
    assert exc.value.status_code == 404


def test_content_type_and_limits(client, rest):
    name = fresh(client, "ctype")
    r = rest.post(f"/collections/{name}/points/count", content=b'{"exact":true}',
                  headers={"Content-Type": "text/plain"})
    assert r.status_code == 400 and error_of(r) == "Payload error: Content type error"
    r = rest.post(f"/collections/{name}/points/scroll", json={"limit": 0})
    assert r.status_code == 422
    assert error_of(r) == "Validation error in JSON body: [limit: value 0 invalid, must be 1 or larger]"
    r = rest.put("/collections/zero", json={"vectors": {"size": 0, "distance": "Cosine"}})
    assert r.status_code == 422


# ---------------------------------------------------------------------------
# api-key and TLS
# ---------------------------------------------------------------------------

def test_api_key(keyed):
    base = f"http://127.0.0.1:{keyed.port}"
    r = httpx.get(f"{base}/collections")
    assert r.status_code == 401 and r.text == "Must provide an API key or an Authorization bearer token"
    r = httpx.get(f"{base}/collections", headers={"api-key": "wrong"})
    assert r.status_code == 401 and r.text == "Invalid API key or JWT"
    r = httpx.put(f"{base}/collections/x/points", headers={"api-key": "wrong"}, json={"points": []})
    assert r.status_code == 401
    assert httpx.get(f"{base}/").status_code == 200  # whitelisted, like Qdrant
    assert httpx.get(f"{base}/healthz").status_code == 200
    assert httpx.get(f"{base}/collections", headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 200

    c = QdrantClient(url=base, api_key=API_KEY, prefer_grpc=False)
    fresh(c, "k")
    c.upsert("k", points=[models.PointStruct(id=1, vector=[1.0, 2.0, 3.0, 4.0])])
    assert c.count("k").count == 1
    c.close()
    bad = QdrantClient(url=base, api_key="nope", prefer_grpc=False, check_compatibility=False)
    with pytest.raises(UnexpectedResponse) as exc:
        bad.get_collections()
    assert exc.value.status_code == 401
    bad.close()


def test_tls(tls, tls_files):
    ctx = ssl.create_default_context(cafile=str(tls_files / "ca.crt"))
    base = f"https://127.0.0.1:{tls.port}"
    c = QdrantClient(url=base, api_key=API_KEY, prefer_grpc=False, verify=ctx, check_compatibility=False)
    fresh(c, "tls")
    c.upsert("tls", points=[models.PointStruct(id=1, vector=[1.0, 2.0, 3.0, 4.0], payload={"a": "b"})])
    assert c.retrieve("tls", ids=[1])[0].payload == {"a": "b"}
    c.close()
    with httpx.Client(verify=ctx) as h:
        assert h.get(f"https://localhost:{tls.port}/").status_code == 200  # name in the SAN too
    with pytest.raises(httpx.ConnectError):  # default trust store does not know the test CA
        httpx.get(f"{base}/", verify=ssl.create_default_context())
    with pytest.raises(httpx.HTTPError):  # plain HTTP to the TLS port gets no HTTP answer
        httpx.get(f"http://127.0.0.1:{tls.port}/", timeout=5)


# ---------------------------------------------------------------------------
# Test-only fault: a target that drops points while answering "completed"
# ---------------------------------------------------------------------------

def test_fault_drop_every_drops_silently(tmp_module):
    srv = Running(tmp_module, "--fault-drop-every", "3")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{srv.port}", timeout=60) as h:
            assert h.put("/collections/faulty", json={"vectors": {"size": 2, "distance": "Dot"}}).status_code == 200
            answer = h.put("/collections/faulty/points?wait=true",
                           json={"points": [{"id": i, "vector": [1.0, float(i)]} for i in range(1, 10)]})
            assert answer.status_code == 200
            assert answer.json()["result"]["status"] == "completed"
            count = h.post("/collections/faulty/points/count", json={"exact": True}).json()["result"]["count"]
            assert count == 6
            held = {p["id"] for p in h.post("/collections/faulty/points", json={"ids": list(range(1, 10))}).json()["result"]}
            assert held == {1, 2, 4, 5, 7, 8}
    finally:
        srv.stop()


# ---------------------------------------------------------------------------
# Cluster mode (--peers N): GET /cluster, shard placement, replica states, aliases
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cluster(tmp_module):
    srv = Running(tmp_module, "--peers", "3", "--test-controls")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def cluster_client(cluster):
    c = QdrantClient(url=f"http://127.0.0.1:{cluster.port}", prefer_grpc=False, timeout=60)
    yield c
    c.close()


def test_standalone_cluster_endpoints(client, rest):
    assert client.http.distributed_api.cluster_status().result.status == "disabled"
    assert rest.get("/cluster").json()["result"] == {"status": "disabled"}
    fresh(client, "alone")
    info = client.http.distributed_api.collection_cluster_info("alone").result
    assert info.shard_count == 1 and info.remote_shards == [] and info.shard_transfers == []
    assert [(s.shard_id, s.state) for s in info.local_shards] == [(0, models.ReplicaState.ACTIVE)]
    assert client.get_collection("alone").config.params.shard_number == 1
    # Test controls are off unless asked for: Qdrant has no such route.
    assert rest.post("/standin/faults", json={"fail_upserts": 1}).status_code == 404


def test_cluster_status_names_every_peer(cluster_client):
    status = cluster_client.http.distributed_api.cluster_status().result
    assert status.status == "enabled"
    assert len(status.peers) == 3 and str(status.peer_id) in status.peers
    assert status.raft_info.leader == status.peer_id and status.raft_info.role == models.StateRole.LEADER


def test_cluster_defaults_one_shard_per_peer(cluster_client):
    cluster_client.create_collection("dflt", vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
    params = cluster_client.get_collection("dflt").config.params
    assert (params.shard_number, params.replication_factor, params.write_consistency_factor) == (3, 1, 1)
    info = cluster_client.http.distributed_api.collection_cluster_info("dflt").result
    assert info.shard_count == 3
    peers = [s.peer_id for s in info.remote_shards] + [info.peer_id] * len(info.local_shards)
    assert sorted(peers) == sorted(set(peers)), "one shard on each peer"


def test_cluster_records_and_echoes_shard_settings(cluster_client):
    cluster_client.create_collection(
        "placed", vectors_config=models.VectorParams(size=2, distance=models.Distance.COSINE, on_disk=True),
        shard_number=6, replication_factor=2, write_consistency_factor=1, on_disk_payload=False)
    params = cluster_client.get_collection("placed").config.params
    assert (params.shard_number, params.replication_factor, params.write_consistency_factor) == (6, 2, 1)
    assert params.on_disk_payload is False and params.vectors.on_disk is True
    info = cluster_client.http.distributed_api.collection_cluster_info("placed").result
    replicas: dict = {}
    for s in info.local_shards:
        replicas.setdefault(s.shard_id, []).append(info.peer_id)
    for s in info.remote_shards:
        replicas.setdefault(s.shard_id, []).append(s.peer_id)
    assert sorted(replicas) == list(range(6))
    assert all(len(set(p)) == 2 for p in replicas.values())


def test_replication_factor_over_peers_is_capped_like_qdrant(cluster_client):
    # Qdrant accepts it, keeps the asked number in the config, and places at most one replica per peer.
    cluster_client.create_collection("wide", vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT),
                                     shard_number=2, replication_factor=5)
    assert cluster_client.get_collection("wide").config.params.replication_factor == 5
    info = cluster_client.http.distributed_api.collection_cluster_info("wide").result
    assert len(info.local_shards) + len(info.remote_shards) == 2 * 3


def test_zero_replication_factor_refused(cluster, cluster_client):
    r = httpx.put(f"http://127.0.0.1:{cluster.port}/collections/zero",
                  json={"vectors": {"size": 2, "distance": "Dot"}, "replication_factor": 0})
    assert r.status_code == 400 and "nonzero" in error_of(r)


def test_write_ordering_and_dead_replicas(cluster, cluster_client):
    cluster_client.create_collection("dead", vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT),
                                     shard_number=1, replication_factor=2)
    for ordering in (models.WriteOrdering.WEAK, models.WriteOrdering.MEDIUM, models.WriteOrdering.STRONG):
        cluster_client.upsert("dead", points=[models.PointStruct(id=1, vector=[1.0, 2.0])], wait=True, ordering=ordering)
    base = f"http://127.0.0.1:{cluster.port}"
    r = httpx.put(f"{base}/collections/dead/points?wait=true&ordering=fast", json={"points": []})
    assert r.status_code == 400 and "unknown variant `fast`" in error_of(r)

    info = cluster_client.http.distributed_api.collection_cluster_info("dead").result
    remote = info.remote_shards[0]
    assert httpx.post(f"{base}/standin/collections/dead/replica",
                      json={"shard_id": 0, "peer_id": remote.peer_id, "state": "Dead"}).status_code == 200
    info = cluster_client.http.distributed_api.collection_cluster_info("dead").result
    assert info.remote_shards[0].state == models.ReplicaState.DEAD
    cluster_client.upsert("dead", points=[models.PointStruct(id=2, vector=[1.0, 2.0])], wait=True)  # one left: fine
    httpx.post(f"{base}/standin/collections/dead/replica", json={"shard_id": 0, "peer_id": info.peer_id, "state": "Dead"})
    with pytest.raises(UnexpectedResponse) as exc:
        cluster_client.upsert("dead", points=[models.PointStruct(id=3, vector=[1.0, 2.0])], wait=True)
    assert exc.value.status_code == 500 and b"has no active replica" in exc.value.content

    httpx.post(f"{base}/standin/collections/dead/status", json={"status": "yellow"})
    assert cluster_client.get_collection("dead").status == models.CollectionStatus.YELLOW


def test_failing_upserts_control(cluster, cluster_client):
    cluster_client.create_collection("flaky", vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
    base = f"http://127.0.0.1:{cluster.port}"
    httpx.post(f"{base}/standin/faults", json={"fail_upserts": 2, "status": 503})
    codes = [httpx.put(f"{base}/collections/flaky/points?wait=true", json={"points": [{"id": 1, "vector": [1.0, 0.0]}]})
             .status_code for _ in range(3)]
    assert codes == [503, 503, 200]


def test_aliases(cluster_client):
    cluster_client.create_collection("aliased", vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
    cluster_client.update_collection_aliases(change_aliases_operations=[
        models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name="aliased", alias_name="current"))])
    assert [(a.alias_name, a.collection_name) for a in cluster_client.get_aliases().aliases] == [("current", "aliased")]
    assert [a.alias_name for a in cluster_client.get_collection_aliases("aliased").aliases] == ["current"]
    cluster_client.upsert("current", points=[models.PointStruct(id=1, vector=[1.0, 2.0])], wait=True)
    assert cluster_client.count("aliased").count == 1
    with pytest.raises(UnexpectedResponse) as exc:
        cluster_client.update_collection_aliases(change_aliases_operations=[
            models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name="missing", alias_name="x"))])
    assert exc.value.status_code == 404
    cluster_client.delete_collection("aliased")
    assert cluster_client.get_aliases().aliases == []


def test_patch_records_replication_params(cluster_client):
    cluster_client.create_collection("patched", vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT),
                                     shard_number=1, replication_factor=1)
    cluster_client.update_collection("patched", collection_params=models.CollectionParamsDiff(
        replication_factor=2, write_consistency_factor=2, on_disk_payload=False))
    params = cluster_client.get_collection("patched").config.params
    assert (params.replication_factor, params.write_consistency_factor, params.on_disk_payload) == (2, 2, False)
    info = cluster_client.http.distributed_api.collection_cluster_info("patched").result
    assert len(info.local_shards) + len(info.remote_shards) == 1, "a new factor adds no replica by itself"
