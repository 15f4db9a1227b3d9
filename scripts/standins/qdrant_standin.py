#!/usr/bin/env python3
"""A stand-in for Qdrant's REST API, for tests and benchmarks. It is NOT Qdrant.

    qdrant_standin.py [--host 127.0.0.1] --port 16333 [--api-key KEY]
                      [--tls-cert server.crt --tls-key server.key]
                      [--data-dir DIR] [--pid-file FILE] [--verbose] [--fault-drop-every N]
                      [--peers N] [--test-controls]

No Qdrant server binary can be installed on these machines, so this process
answers the subset of Qdrant's HTTP API that `migrate vectors` and the tests
use, with Qdrant's paths, status codes, JSON envelopes and error texts:

    GET    /                                   version info (no envelope)
    GET    /healthz /livez /readyz             plain-text health checks
    GET    /collections                        list
    GET    /collections/{c}                    collection info
    GET    /collections/{c}/exists             {"exists": bool}
    GET    /collections/{c}/cluster            shards, replicas and their states
    GET    /collections/{c}/aliases            the collection's aliases
    GET    /cluster                            cluster status (disabled, or enabled with --peers N)
    GET    /aliases                            every alias
    POST   /collections/aliases                create/delete/rename aliases
    PUT    /collections/{c}                    create (409 if it exists)
    DELETE /collections/{c}                    delete (result false if absent)
    PUT    /collections/{c}/index              create a payload index
    DELETE /collections/{c}/index/{field}      delete a payload index
    PUT    /collections/{c}/points             upsert (PointsList or PointsBatch)
    POST   /collections/{c}/points/delete      delete by ids or filter
    POST   /collections/{c}/points/scroll      scroll (id order, next_page_offset)
    POST   /collections/{c}/points/count       count (filter, exact)
    POST   /collections/{c}/points             retrieve by ids
    GET    /collections/{c}/points/{id}        retrieve one point
    POST   /collections/{c}/points/query       universal query (nearest, order_by, fusion)
    POST   /collections/{c}/points/search      legacy search (gone from current Qdrant)

Storage and search are done by `qdrant-edge-py`, Qdrant's own shard engine
running in-process (one shard per collection), so point-id ordering, cosine
normalisation, float32 storage, dimension and vector-name errors, filters
and payload indexes behave like Qdrant. Request bodies are validated with the
pydantic models in `qdrant_client.http.models` (generated from Qdrant's
OpenAPI; they forbid unknown fields). Point ids are checked like Qdrant does
(unsigned 64-bit integers or UUIDs only). JSON is parsed strictly (NaN and
Infinity are refused, like serde_json). Bodies over 32 MiB are refused
before they are read.

Everything lives under --data-dir (a fresh temporary directory when omitted),
which is wiped at start and removed at exit: nothing persists between runs.
With --api-key every request except /, /healthz, /livez and /readyz must
carry `api-key: KEY` (or `Authorization: Bearer KEY`); like Qdrant, a missing
or wrong key gets 401 with a plain-text body.

With --peers N it answers as a cluster of N peers (QDRANT__CLUSTER__ENABLED):
every peer is this process, but shard_number defaults to N, each shard's
replicas are placed like Qdrant's ShardDistributionProposal (at most one per
peer, so a replication_factor over N keeps N replicas while the config echoes
the asked number), and a shard whose replicas are all Dead refuses updates
with Qdrant's 500. --test-controls (TESTS ONLY) adds POST /standin/faults
{"fail_upserts": n, "status": 503}, POST /standin/collections/{c}/replica
{"shard_id", "peer_id", "state": "Dead"} and POST /standin/collections/{c}/status
{"status": "yellow"}; Qdrant has no such routes.

Known differences from Qdrant: one engine shard holds every point whatever
the placement, no HNSW index build (searches are exact), no snapshots/shard
transfers/gRPC, serde's "at line L column C"
suffix is only given for JSON syntax errors, and only nearest (vector, sparse,
multi-vector, point id), order_by, fusion/rrf queries with prefetch are
implemented (others answer 400).
"""
import argparse
import hmac
import importlib.metadata
import os
import re
import shutil
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, List, Optional, Union
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import orjson
import pydantic
import qdrant_edge as qe
from pydantic import StrictFloat
from qdrant_client.http import models as m

MAX_REQUEST_SIZE = 32 * 1024 * 1024  # Qdrant's default service.max_request_size_mb = 32
KEEP_ALIVE_SECONDS = 5.0  # actix-web's default keep-alive for idle connections
BODY_READ_TIMEOUT = 60.0  # per socket read while a request body is arriving
DRAIN_LIMIT = 512 * 1024 * 1024  # discard at most this much of a refused body
U64_MAX = 2**64 - 1

# The API version these request models describe: qdrant-client's releases follow Qdrant's.
try:
    API_VERSION = importlib.metadata.version("qdrant-client")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover
    API_VERSION = "1.16.0"

# Rust's `uuid` crate accepts these spellings (hyphenated, simple, braced, urn).
_HEX = "[0-9a-fA-F]"
UUID_RE = re.compile(
    rf"^(?:urn:uuid:)?(?:\{{?{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}\}}?|{_HEX}{{32}})$"
)
# Characters Qdrant refuses in collection names.
FORBIDDEN_NAME_CHARS = set('<>:"/\\|?*\0\u001f')

DISTANCES = {
    m.Distance.COSINE: qe.Distance.Cosine,
    m.Distance.EUCLID: qe.Distance.Euclid,
    m.Distance.DOT: qe.Distance.Dot,
    m.Distance.MANHATTAN: qe.Distance.Manhattan,
}
SCHEMA_TYPES = {
    "keyword": qe.PayloadSchemaType.Keyword,
    "integer": qe.PayloadSchemaType.Integer,
    "float": qe.PayloadSchemaType.Float,
    "geo": qe.PayloadSchemaType.Geo,
    "text": qe.PayloadSchemaType.Text,
    "bool": qe.PayloadSchemaType.Bool,
    "datetime": qe.PayloadSchemaType.Datetime,
    "uuid": qe.PayloadSchemaType.Uuid,
}
INDEX_PARAM_CLASSES = {
    "keyword": qe.KeywordIndexParams,
    "integer": qe.IntegerIndexParams,
    "float": qe.FloatIndexParams,
    "geo": qe.GeoIndexParams,
    "bool": qe.BoolIndexParams,
    "datetime": qe.DatetimeIndexParams,
    "uuid": qe.UuidIndexParams,
}
DATATYPES = {
    "float32": qe.VectorStorageDatatype.Float32,
    "float16": qe.VectorStorageDatatype.Float16,
    "uint8": qe.VectorStorageDatatype.Uint8,
}

# Defaults Qdrant reports for a collection created without overrides.
DEFAULT_HNSW = {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000, "max_indexing_threads": 0,
                "on_disk": False}
DEFAULT_OPTIMIZERS = {"deleted_threshold": 0.2, "vacuum_min_vector_number": 1000, "default_segment_number": 0,
                      "max_segment_size": None, "memmap_threshold": None, "indexing_threshold": 10000,
                      "flush_interval_sec": 5, "max_optimization_threads": None}
DEFAULT_WAL = {"wal_capacity_mb": 32, "wal_segments_ahead": 0, "wal_retain_closed": 1}


# ---------------------------------------------------------------------------
# Errors, in Qdrant's words
# ---------------------------------------------------------------------------

class ApiError(Exception):
    """An error answered as {"status": {"error": message}, "time": t}."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def wrong_input(msg: str) -> ApiError:
    return ApiError(400, f"Wrong input: {msg}")


def format_error(msg: str) -> ApiError:
    return ApiError(400, f"Format error in JSON body: {msg}")


def validation_error(field: str, msg: str, where: str = "JSON body") -> ApiError:
    return ApiError(422, f"Validation error in {where}: [{field}: {msg}]")


def collection_not_found(name: str) -> ApiError:
    return ApiError(404, f"Not found: Collection `{name}` doesn't exist!")


def engine_error(exc: Exception) -> ApiError:
    """Map an exception from the shard engine to Qdrant's HTTP error."""
    text = str(exc)
    if "No point with id" in text or "not found" in text.lower() and "point" in text.lower():
        return ApiError(404, f"Not found: {text}")
    return wrong_input(text)


def show_value(v: Any) -> str:
    """A JSON value the way Qdrant's SerdeValue prints it (strings unquoted, null as Unit)."""
    if v is None:
        return "Unit"
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    return orjson.dumps(v).decode()


def parse_point_id(v: Any) -> Union[int, uuid.UUID]:
    """A point id as Qdrant accepts it: u64 or UUID. Anything else is a 400."""
    if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= U64_MAX:
        return v
    if isinstance(v, str) and UUID_RE.match(v):
        return uuid.UUID(v)
    raise format_error(f"value {show_value(v)} is not a valid point ID, "
                       "valid values are either an unsigned integer or a UUID")


def id_json(pid: Any) -> Union[int, str]:
    return str(pid) if isinstance(pid, uuid.UUID) else pid


def _is_branch_label(p: Any) -> bool:
    """Union branch labels in pydantic error locations (class or type names), not JSON keys."""
    return isinstance(p, str) and (p[:1].isupper() or "[" in p)


def describe_validation(exc: pydantic.ValidationError) -> str:
    """A short serde-like description of a pydantic validation failure.

    For unions (e.g. PointsList | PointsBatch) pydantic reports every branch;
    the branch that got deepest into the body is the one it was meant for.
    """
    branches: dict = {}
    for err in exc.errors():
        label = next((p for p in err["loc"] if _is_branch_label(p)), None)
        branches.setdefault(label, []).append(err)
    errors = max(branches.values(), key=lambda errs: max(len(e["loc"]) for e in errs))
    extra = [e for e in errors if e["type"] == "extra_forbidden"]
    e = max(extra or errors, key=lambda err: len(err["loc"]))
    path = [str(p) for p in e["loc"] if not _is_branch_label(p)]
    if e["type"] == "extra_forbidden":
        where = ".".join(path[:-1])
        return f"unknown field `{path[-1]}`" + (f" in {where}" if where else "")
    if e["type"] == "missing":
        where = ".".join(path[:-1])
        return f"missing field `{path[-1]}`" + (f" in {where}" if where else "")
    where = ".".join(path)
    return f"{where}: {e['msg']}" if where else e["msg"]


def validate(model: Any, obj: Any) -> Any:
    try:
        if isinstance(model, pydantic.TypeAdapter):
            return model.validate_python(obj)
        return model.model_validate(obj)
    except pydantic.ValidationError as exc:
        raise format_error(describe_validation(exc)) from None


def check_limit(value: Optional[int], field: str = "limit") -> None:
    if value is not None and value < 1:
        raise validation_error(field, f"value {value} invalid, must be 1 or larger")


# ---------------------------------------------------------------------------
# Models of the legacy /points/search endpoint (removed from Qdrant's OpenAPI)
# ---------------------------------------------------------------------------

class LegacyNamedVector(pydantic.BaseModel, extra="forbid"):
    name: str
    vector: List[StrictFloat]


class LegacyNamedSparseVector(pydantic.BaseModel, extra="forbid"):
    name: str
    vector: m.SparseVector


class LegacySearchRequest(pydantic.BaseModel, extra="forbid"):
    shard_key: Optional[m.ShardKeySelector] = None
    vector: Union[List[StrictFloat], LegacyNamedVector, LegacyNamedSparseVector]
    filter: Optional[m.Filter] = None
    params: Optional[m.SearchParams] = None
    limit: int
    offset: Optional[int] = None
    with_payload: Optional[m.WithPayloadInterface] = None
    with_vector: Optional[m.WithVector] = None
    score_threshold: Optional[float] = None


POINT_INSERT = pydantic.TypeAdapter(m.PointInsertOperations)
POINTS_SELECTOR = pydantic.TypeAdapter(m.PointsSelector)


# ---------------------------------------------------------------------------
# Conversions: REST models -> shard-engine objects
# ---------------------------------------------------------------------------

def as_list(x: Any) -> List[Any]:
    if x is None:
        return []
    return x if isinstance(x, list) else [x]


def edge_match(match: Any) -> Any:
    if isinstance(match, m.MatchValue):
        return qe.MatchValue(match.value)
    if isinstance(match, m.MatchText):
        return qe.MatchText(match.text)
    if isinstance(match, m.MatchTextAny):
        return qe.MatchTextAny(match.text_any)
    if isinstance(match, m.MatchPhrase):
        return qe.MatchPhrase(match.phrase)
    if isinstance(match, m.MatchPrefix):
        return qe.MatchPrefix(match.prefix)
    if isinstance(match, m.MatchSubstring):
        return qe.MatchSubstring(match.substring)
    if isinstance(match, m.MatchAny):
        return qe.MatchAny(list(match.any))
    if isinstance(match, m.MatchExcept):
        return qe.MatchExcept(list(match.except_))
    raise wrong_input(f"unsupported match {type(match).__name__}")


def edge_geo_point(p: m.GeoPoint) -> Any:
    return qe.GeoPoint(lon=p.lon, lat=p.lat)


def edge_field_condition(c: m.FieldCondition) -> Any:
    kw: dict = {}
    if c.match is not None:
        kw["match"] = edge_match(c.match)
    if isinstance(c.range, m.Range):
        kw["range"] = qe.RangeFloat(gte=c.range.gte, gt=c.range.gt, lte=c.range.lte, lt=c.range.lt)
    elif isinstance(c.range, m.DatetimeRange):
        iso = lambda d: None if d is None else d.isoformat()  # noqa: E731
        kw["range"] = qe.RangeDateTime(gte=iso(c.range.gte), gt=iso(c.range.gt),
                                       lte=iso(c.range.lte), lt=iso(c.range.lt))
    if c.geo_bounding_box is not None:
        kw["geo_bounding_box"] = qe.GeoBoundingBox(edge_geo_point(c.geo_bounding_box.top_left),
                                                   edge_geo_point(c.geo_bounding_box.bottom_right))
    if c.geo_radius is not None:
        kw["geo_radius"] = qe.GeoRadius(edge_geo_point(c.geo_radius.center), c.geo_radius.radius)
    if c.geo_polygon is not None:
        kw["geo_polygon"] = qe.GeoPolygon(
            [edge_geo_point(p) for p in c.geo_polygon.exterior.points],
            [[edge_geo_point(p) for p in ring.points] for ring in (c.geo_polygon.interiors or [])] or None)
    if c.values_count is not None:
        v = c.values_count
        kw["values_count"] = qe.ValuesCount(lt=v.lt, gt=v.gt, lte=v.lte, gte=v.gte)
    if c.is_empty is not None:
        kw["is_empty"] = c.is_empty
    if c.is_null is not None:
        kw["is_null"] = c.is_null
    if not kw:
        # Qdrant: a field condition needs at least one of its conditions.
        raise validation_error("filter", "At least one field condition must be specified")
    return qe.FieldCondition(c.key, **kw)


def edge_condition(c: Any) -> Any:
    if isinstance(c, m.FieldCondition):
        return edge_field_condition(c)
    if isinstance(c, m.IsEmptyCondition):
        return qe.IsEmptyCondition(c.is_empty.key)
    if isinstance(c, m.IsNullCondition):
        return qe.IsNullCondition(c.is_null.key)
    if isinstance(c, m.HasIdCondition):
        return qe.HasIdCondition({parse_point_id(i) for i in c.has_id})
    if isinstance(c, m.HasVectorCondition):
        return qe.HasVectorCondition(c.has_vector)
    if isinstance(c, m.NestedCondition):
        return qe.NestedCondition(c.nested.key, edge_filter(c.nested.filter))
    if isinstance(c, m.Filter):
        return edge_filter(c)
    raise wrong_input(f"condition {type(c).__name__} is not implemented by this stand-in")


def edge_filter(f: Optional[m.Filter]) -> Any:
    if f is None:
        return None
    conv = lambda cs: [edge_condition(c) for c in as_list(cs)] or None  # noqa: E731
    min_should = None
    if f.min_should is not None:
        min_should = qe.MinShould([edge_condition(c) for c in f.min_should.conditions], f.min_should.min_count)
    return qe.Filter(must=conv(f.must), should=conv(f.should), must_not=conv(f.must_not), min_should=min_should)


def edge_with_payload(wp: Any, default: bool) -> Any:
    if wp is None:
        return default
    if isinstance(wp, bool):
        return wp
    if isinstance(wp, list):
        return qe.PayloadSelector.Include(list(wp))
    if isinstance(wp, m.PayloadSelectorInclude):
        return qe.PayloadSelector.Include(list(wp.include))
    if isinstance(wp, m.PayloadSelectorExclude):
        return qe.PayloadSelector.Exclude(list(wp.exclude))
    raise wrong_input("unsupported with_payload")


def edge_with_vector(wv: Any) -> Any:
    if wv is None:
        return False
    return wv if isinstance(wv, bool) else list(wv)


def edge_search_params(p: Optional[m.SearchParams]) -> Any:
    if p is None:
        return None
    return qe.SearchParams(hnsw_ef=p.hnsw_ef, exact=bool(p.exact), indexed_only=bool(p.indexed_only))


def edge_order_by(ob: Any) -> Any:
    if isinstance(ob, str):
        return qe.OrderBy(ob)
    direction = None
    if ob.direction is not None:
        direction = qe.Direction.Desc if str(ob.direction) == "desc" else qe.Direction.Asc
    start = ob.start_from
    if start is not None and not isinstance(start, (int, float)):
        start = start.isoformat()
    return qe.OrderBy(ob.key, direction=direction, start_from=start)


def edge_named_vector(v: Any) -> Any:
    """One vector value from the wire (dense list, multi-dense list of lists or sparse)."""
    if isinstance(v, dict):
        if "indices" in v and "values" in v:
            return qe.SparseVector(v["indices"], v["values"])
        raise wrong_input("inference objects (Document/Image/InferenceObject) are not supported: "
                          "this stand-in has no embedding models")
    return v


def edge_point_vector(raw: Any) -> Any:
    """A point's `vector` field: unnamed dense/multi vector or a map of named vectors."""
    if isinstance(raw, list):
        return raw
    # Qdrant's inference objects always carry a `model` next to `text`, `image` or `object`; anything else
    # is a map of named vectors (which may well be called "image" or "text").
    is_inference = "model" in raw and bool({"text", "image", "object"} & raw.keys()) if isinstance(raw, dict) else False
    if isinstance(raw, dict) and not is_inference:
        return {name: edge_named_vector(v) for name, v in raw.items()}
    raise wrong_input("inference objects (Document/Image/InferenceObject) are not supported: "
                      "this stand-in has no embedding models")


# ---------------------------------------------------------------------------
# Conversions: shard-engine results -> JSON
# ---------------------------------------------------------------------------

def vector_json(v: Any) -> Any:
    """float32 arrays serialise with float32's shortest repr, as Qdrant prints f32."""
    if v is None:
        return None
    if isinstance(v, dict):
        return {k: vector_json(x) for k, x in v.items()}
    if isinstance(v, qe.SparseVector):
        return {"indices": list(v.indices), "values": np.asarray(v.values, dtype=np.float32)}
    if v and isinstance(v[0], list):
        return [np.asarray(x, dtype=np.float32) for x in v]
    return np.asarray(v, dtype=np.float32)


def record_json(r: Any) -> dict:
    # Qdrant omits `payload`/`vector` when they were not requested.
    d: dict = {"id": id_json(r.id)}
    if r.payload is not None:
        d["payload"] = r.payload
    if r.vector is not None:
        d["vector"] = vector_json(r.vector)
    if getattr(r, "order_value", None) is not None:
        d["order_value"] = r.order_value
    return d


def scored_json(p: Any) -> dict:
    d: dict = {"id": id_json(p.id), "version": p.version, "score": np.float32(p.score)}
    if p.payload is not None:
        d["payload"] = p.payload
    if p.vector is not None:
        d["vector"] = vector_json(p.vector)
    if p.order_value is not None:
        d["order_value"] = p.order_value
    return d


def dump_model(obj: Any) -> Any:
    """A request model back to JSON-able data, without unset fields."""
    if isinstance(obj, pydantic.BaseModel):
        return obj.model_dump(mode="json", exclude_none=True, by_alias=True)
    if isinstance(obj, dict):
        return {k: dump_model(v) for k, v in obj.items()}
    if hasattr(obj, "value"):  # enums
        return obj.value
    return obj


# ---------------------------------------------------------------------------
# Collections
# ---------------------------------------------------------------------------

class Collection:
    """One collection: its creation request (for GET) and its shard."""

    def __init__(self, name: str, path: str, req: m.CreateCollection, cluster: "Cluster"):
        self.name = name
        self.path = path
        self.req = req
        self.cluster = cluster
        self.lock = threading.RLock()
        for field in ("shard_number", "replication_factor", "write_consistency_factor"):
            if getattr(req, field) is not None and getattr(req, field) < 1:
                raise format_error(f"{field}: invalid value: integer `{getattr(req, field)}`, expected a nonzero u32")
        # Like Qdrant: shards default to one per peer on a cluster (1 standalone), replicas to 1; the
        # configured numbers are kept as asked, but a shard never has two replicas on one peer.
        self.shard_number = req.shard_number or len(cluster.peers)
        self.replication_factor = req.replication_factor or 1
        self.write_consistency_factor = req.write_consistency_factor or 1
        self.placement = cluster.place(self.shard_number, self.replication_factor)
        self.replica_states = {(shard, peer): "Active" for shard, peers in self.placement.items() for peer in peers}
        self.forced_status: Optional[str] = None  # test control: "yellow"/"red"/"grey" instead of "green"
        self.op_id = 0
        self.index_schemas: dict = {}  # field -> schema as requested (for payload_schema)
        self.created_at = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())

        dense: dict = {}
        if isinstance(req.vectors, m.VectorParams):
            dense[""] = self._vector_params(req.vectors, "vectors")
        elif isinstance(req.vectors, dict):
            for vname, p in req.vectors.items():
                dense[vname] = self._vector_params(p, f"vectors.{vname}")
        sparse = {}
        for vname, p in (req.sparse_vectors or {}).items():
            modifier = qe.Modifier.Idf if p.modifier is not None and str(p.modifier) == "idf" else None
            sparse[vname] = qe.EdgeSparseVectorParams(modifier=modifier)
        if not dense and not sparse:
            raise wrong_input("this stand-in needs at least one dense or sparse vector in a collection")
        self.dense_names = set(dense)
        self.sparse_names = set(sparse)
        config = qe.EdgeConfig(vectors=dense or None, sparse_vectors=sparse or None, wal_enabled=False)
        try:
            self.shard = qe.EdgeShard.create(path, config)
        except Exception as exc:  # noqa: BLE001 - engine errors are Qdrant's wording
            raise engine_error(exc) from None

    @staticmethod
    def _vector_params(p: m.VectorParams, field: str) -> Any:
        if not 1 <= p.size <= 65536:
            raise validation_error(f"{field}.size", f"value {p.size} invalid, must be from 1 to 65536")
        kw: dict = {}
        if p.multivector_config is not None:
            kw["multivector_config"] = qe.MultiVectorConfig(qe.MultiVectorComparator.MaxSim)
        if p.datatype is not None:
            kw["datatype"] = DATATYPES[str(p.datatype.value if hasattr(p.datatype, "value") else p.datatype)]
        return qe.EdgeVectorParams(size=p.size, distance=DISTANCES[p.distance], **kw)

    def next_op(self) -> int:
        self.op_id += 1
        return self.op_id

    def info(self) -> dict:
        req = self.req
        shard_info = self.shard.info()
        params: dict = {
            "vectors": dump_model(req.vectors) if req.vectors is not None else {},
            "shard_number": self.shard_number,
            "replication_factor": self.replication_factor,
            "write_consistency_factor": self.write_consistency_factor,
            "on_disk_payload": True if req.on_disk_payload is None else req.on_disk_payload,
        }
        if req.sparse_vectors:
            params["sparse_vectors"] = dump_model(req.sparse_vectors)
        hnsw = dict(DEFAULT_HNSW)
        hnsw.update(dump_model(req.hnsw_config) if req.hnsw_config else {})
        optimizers = dict(DEFAULT_OPTIMIZERS)
        optimizers.update(dump_model(req.optimizers_config) if req.optimizers_config else {})
        wal = dict(DEFAULT_WAL)
        wal.update(dump_model(req.wal_config) if req.wal_config else {})
        config = {
            "params": params,
            "hnsw_config": hnsw,
            "optimizer_config": optimizers,
            "wal_config": wal,
            "quantization_config": dump_model(req.quantization_config) if req.quantization_config else None,
            "strict_mode_config": {"enabled": False},
        }
        if req.metadata:
            config["metadata"] = req.metadata
        payload_schema = {}
        for field, info in shard_info.payload_schema.items():
            schema = self.index_schemas.get(field)
            entry: dict = {"data_type": str(info.data_type).split(".")[-1].lower()}
            if isinstance(schema, dict):
                entry["params"] = schema
            entry["points"] = info.points
            payload_schema[field] = entry
        return {
            "status": self.forced_status or "green",
            "optimizer_status": "ok",
            "indexed_vectors_count": shard_info.indexed_vectors_count,
            "points_count": shard_info.points_count,
            "segments_count": shard_info.segments_count,
            "config": config,
            "payload_schema": payload_schema,
        }

    def update_params(self, req: m.UpdateCollection) -> None:
        """`PATCH /collections/{c}`: replication and on-disk params are recorded (as Qdrant does, a higher
        replication_factor adds no replica by itself); other parameters are accepted and ignored."""
        params = req.params
        if params is None:
            return
        for field in ("replication_factor", "write_consistency_factor"):
            value = getattr(params, field)
            if value is not None and value < 1:
                raise format_error(f"{field}: invalid value: integer `{value}`, expected a nonzero u32")
        self.replication_factor = params.replication_factor or self.replication_factor
        self.write_consistency_factor = params.write_consistency_factor or self.write_consistency_factor
        if params.on_disk_payload is not None:
            self.req = self.req.model_copy(update={"on_disk_payload": params.on_disk_payload})

    def cluster_info(self) -> dict:
        """`GET /collections/{c}/cluster` as the first peer (the one answering) sees it."""
        points = self.shard.info().points_count
        me = self.cluster.peers[0]
        local, remote = [], []
        for shard, peers in sorted(self.placement.items()):
            for peer in peers:
                state = self.replica_states[(shard, peer)]
                if peer == me:
                    share = points // self.shard_number + (1 if shard < points % self.shard_number else 0)
                    local.append({"shard_id": shard, "points_count": share, "state": state})
                else:
                    remote.append({"shard_id": shard, "peer_id": peer, "state": state})
        return {"peer_id": me, "shard_count": self.shard_number, "local_shards": local, "remote_shards": remote,
                "shard_transfers": []}

    def check_writable(self) -> None:
        """Qdrant's replica-set rule: a shard whose replicas are all dead takes no update."""
        for shard, peers in sorted(self.placement.items()):
            if all(self.replica_states[(shard, peer)] == "Dead" for peer in peers):
                raise ApiError(500, f"Service internal error: The replica set for shard {shard} on peer "
                                    f"{self.cluster.peers[0]} has no active replica")

    def close(self) -> None:
        try:
            self.shard.close()
        except Exception:  # noqa: BLE001 - best effort on delete/shutdown
            pass


class Cluster:
    """The peers this process pretends to be: one (cluster mode off) or `--peers N` (cluster mode on).

    Every peer is this one process; placement follows Qdrant's ShardDistributionProposal: each shard's
    replicas go to the least loaded peers, at most one replica per peer (min(replication_factor, peers))."""

    def __init__(self, peers: int):
        self.enabled = peers > 0
        self.peers = [7_000_000_000_000_000 + 101 * (i + 1) for i in range(max(peers, 1))]
        self.started = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())

    def place(self, shard_number: int, replication_factor: int) -> dict:
        load = {peer: 0 for peer in self.peers}
        placement = {}
        for shard in range(shard_number):
            chosen = sorted(self.peers, key=lambda p: (load[p], p))[:min(replication_factor, len(self.peers))]
            for peer in chosen:
                load[peer] += 1
            placement[shard] = chosen
        return placement

    def status(self) -> dict:
        if not self.enabled:
            return {"status": "disabled"}
        return {
            "status": "enabled",
            "peer_id": self.peers[0],
            "peers": {str(p): {"uri": f"http://qdrant-node-{i}:6335/"} for i, p in enumerate(self.peers)},
            "raft_info": {"term": 1, "commit": len(self.peers) + 1, "pending_operations": 0, "leader": self.peers[0],
                          "role": "Leader", "is_voter": True},
            "consensus_thread_status": {"consensus_thread_status": "working", "last_update": self.started},
            "message_send_failures": {},
        }


class Store:
    """All collections, each with its own shard directory under `root`, and their aliases."""

    def __init__(self, root: str, cluster: Optional[Cluster] = None):
        self.root = root
        self.cluster = cluster or Cluster(0)
        self.lock = threading.Lock()
        self.collections: dict = {}
        self.aliases: dict = {}  # alias -> collection

    def get(self, name: str) -> Collection:
        with self.lock:
            col = self.collections.get(name)
            if col is None and name in self.aliases:
                col = self.collections.get(self.aliases[name])
        if col is None:
            raise collection_not_found(name)
        return col

    def create(self, name: str, req: m.CreateCollection) -> None:
        with self.lock:
            if name in self.collections:
                raise ApiError(409, f"Wrong input: Collection `{name}` already exists!")
            path = os.path.join(self.root, uuid.uuid4().hex)
            self.collections[name] = None  # reserve the name while the shard is created
        try:
            col = Collection(name, path, req, self.cluster)
        except BaseException:
            with self.lock:
                del self.collections[name]
            shutil.rmtree(path, ignore_errors=True)
            raise
        with self.lock:
            self.collections[name] = col

    def delete(self, name: str) -> bool:
        with self.lock:
            col = self.collections.get(name)
            if col is None:
                return False
            del self.collections[name]
            self.aliases = {a: c for a, c in self.aliases.items() if c != name}
        with col.lock:
            col.close()
            shutil.rmtree(col.path, ignore_errors=True)
        return True

    def names(self) -> List[str]:
        with self.lock:
            return [n for n, c in self.collections.items() if c is not None]

    def alias_list(self, collection: Optional[str] = None) -> dict:
        with self.lock:
            pairs = sorted(self.aliases.items())
        return {"aliases": [{"alias_name": a, "collection_name": c} for a, c in pairs
                            if collection is None or c == collection]}

    def change_aliases(self, body: Any) -> bool:
        """`POST /collections/aliases`: the actions apply together, or none does."""
        req = validate(m.ChangeAliasesOperation, body)
        with self.lock:
            aliases = dict(self.aliases)
            for action in req.actions:
                if isinstance(action, m.CreateAliasOperation):
                    a = action.create_alias
                    if a.collection_name not in self.collections:
                        raise collection_not_found(a.collection_name)
                    if a.alias_name in self.collections:
                        raise wrong_input(f"Collection `{a.alias_name}` already exists!")
                    aliases[a.alias_name] = a.collection_name
                elif isinstance(action, m.DeleteAliasOperation):
                    if aliases.pop(action.delete_alias.alias_name, None) is None:
                        raise ApiError(404, f"Not found: Alias {action.delete_alias.alias_name} does not exists!")
                else:
                    r = action.rename_alias
                    if r.old_alias_name not in aliases:
                        raise ApiError(404, f"Not found: Alias {r.old_alias_name} does not exists!")
                    aliases[r.new_alias_name] = aliases.pop(r.old_alias_name)
            self.aliases = aliases
        return True

    def close_all(self) -> None:
        for name in self.names():
            self.delete(name)


# ---------------------------------------------------------------------------
# API operations (each returns the `result` of the envelope)
# ---------------------------------------------------------------------------

def validate_collection_name(name: str) -> None:
    if not name or len(name) > 255:
        raise validation_error("name", "length must be between 1 and 255", "path parameters")
    bad = sorted(set(name) & FORBIDDEN_NAME_CHARS)
    if bad:
        raise validation_error("name", f'collection name cannot contain "{bad[0]}" char', "path parameters")


def update_result(col: Collection, wait: bool) -> dict:
    return {"operation_id": col.next_op(), "status": "completed" if wait else "acknowledged"}


def op_create_collection(store: Store, name: str, body: Any) -> bool:
    validate_collection_name(name)
    req = validate(m.CreateCollection, body)
    store.create(name, req)
    return True


def op_create_index(col: Collection, body: Any, wait: bool) -> dict:
    req = validate(m.CreateFieldIndex, body)
    schema = req.field_schema
    if schema is None:
        raise wrong_input("field_schema is required")  # Qdrant infers it from data; this stand-in does not
    if isinstance(schema, m.PayloadSchemaType):
        edge_schema = SCHEMA_TYPES[schema.value]
        shown: Any = schema.value
    else:
        shown = dump_model(schema)
        kind = shown.get("type")
        cls = INDEX_PARAM_CLASSES.get(kind)
        kwargs = {k: v for k, v in shown.items()
                  if k in ("is_tenant", "on_disk", "is_principal", "lookup", "range", "enable_hnsw")}
        try:
            edge_schema = cls(**kwargs) if cls else SCHEMA_TYPES[kind]
        except TypeError:
            edge_schema = SCHEMA_TYPES[kind]
    with col.lock:
        try:
            col.shard.update(qe.UpdateOperation.create_field_index(req.field_name, edge_schema))
        except Exception as exc:  # noqa: BLE001
            raise engine_error(exc) from None
        col.index_schemas[req.field_name] = shown
        return update_result(col, wait)


def op_delete_index(col: Collection, field: str, wait: bool) -> dict:
    with col.lock:
        try:
            col.shard.update(qe.UpdateOperation.delete_field_index(field))
        except Exception as exc:  # noqa: BLE001
            raise engine_error(exc) from None
        col.index_schemas.pop(field, None)
        return update_result(col, wait)


class Faults:
    """Test-only misbehaviour (`--fault-drop-every N`): a target that lies about what it stored, so tests can
    check that a client notices. Off unless asked for; real Qdrant has no such switch."""
    drop_every = 0
    upserted = 0
    lock = threading.Lock()
    # Test controls (`--test-controls`): the next `fail_upserts` upserts answer `fail_status` with
    # `fail_message`, as a cluster does while shards move or a replica is lost.
    fail_upserts = 0
    fail_status = 500
    fail_message = ("Service internal error: Failed to apply operation to at least one `Active` replica. "
                    "Consistency of this update is not guaranteed. Please retry. ")

    @classmethod
    def take_upsert_failure(cls) -> Optional[ApiError]:
        with cls.lock:
            if cls.fail_upserts <= 0:
                return None
            cls.fail_upserts -= 1
            return ApiError(cls.fail_status, cls.fail_message)

    @classmethod
    def keep(cls, points: list) -> list:
        """The points actually stored: every `drop_every`-th point of all upserts so far is left out."""
        if cls.drop_every <= 0:
            return points
        kept = []
        with cls.lock:
            for point in points:
                cls.upserted += 1
                if cls.upserted % cls.drop_every:
                    kept.append(point)
        return kept


def op_upsert(col: Collection, body: Any, wait: bool) -> dict:
    # Ids first: Qdrant's own deserializer rejects them with this exact text.
    if isinstance(body, dict):
        if isinstance(body.get("points"), list):
            for p in body["points"]:
                if isinstance(p, dict) and "id" in p:
                    parse_point_id(p["id"])
        elif isinstance(body.get("batch"), dict) and isinstance(body["batch"].get("ids"), list):
            for i in body["batch"]["ids"]:
                parse_point_id(i)
    req = validate(POINT_INSERT, body)

    # Build engine points from the raw JSON (already validated, no copies).
    points = []
    if isinstance(req, m.PointsList):
        for raw in body["points"]:
            points.append(qe.Point(parse_point_id(raw["id"]), edge_point_vector(raw["vector"]),
                                   raw.get("payload")))
    else:
        batch = body["batch"]
        ids = batch["ids"]
        vectors = batch["vectors"]
        payloads = batch.get("payloads") or [None] * len(ids)
        if isinstance(vectors, dict):
            per_point = [{name: vs[i] for name, vs in vectors.items()} for i in range(len(ids))]
            lengths = {len(vs) for vs in vectors.values()}
        else:
            per_point = vectors
            lengths = {len(vectors)}
        if lengths - {len(ids)} or len(payloads) != len(ids):
            raise wrong_input("number of ids and vectors must be equal")
        for pid, vec, payload in zip(ids, per_point, payloads):
            points.append(qe.Point(parse_point_id(pid), edge_point_vector(vec), payload))

    kwargs: dict = {}
    if req.update_filter is not None:
        kwargs["condition"] = edge_filter(req.update_filter)
    if req.update_mode is not None:
        kwargs["update_mode"] = {"upsert": qe.UpdateMode.Upsert, "insert_only": qe.UpdateMode.InsertOnly,
                                 "update_only": qe.UpdateMode.UpdateOnly}[str(req.update_mode.value)]
    failure = Faults.take_upsert_failure()
    if failure is not None:
        raise failure
    points = Faults.keep(points)
    with col.lock:
        col.check_writable()
        try:
            col.shard.update(qe.UpdateOperation.upsert_points(points, **kwargs))
        except Exception as exc:  # noqa: BLE001
            raise engine_error(exc) from None
        return update_result(col, wait)


def op_delete_points(col: Collection, body: Any, wait: bool) -> dict:
    if isinstance(body, dict) and isinstance(body.get("points"), list):
        for i in body["points"]:
            parse_point_id(i)
    req = validate(POINTS_SELECTOR, body)
    if isinstance(req, m.PointIdsList):
        op = qe.UpdateOperation.delete_points([parse_point_id(i) for i in req.points])
    else:
        op = qe.UpdateOperation.delete_points_by_filter(edge_filter(req.filter))
    with col.lock:
        try:
            col.shard.update(op)
        except Exception as exc:  # noqa: BLE001
            raise engine_error(exc) from None
        return update_result(col, wait)


def op_scroll(col: Collection, body: Any) -> dict:
    if isinstance(body, dict) and body.get("offset") is not None:
        parse_point_id(body["offset"])
    req = validate(m.ScrollRequest, body or {})
    check_limit(req.limit)
    order_by = edge_order_by(req.order_by) if req.order_by is not None else None
    sr = qe.ScrollRequest(
        offset=parse_point_id(body["offset"]) if req.offset is not None else None,
        limit=req.limit if req.limit is not None else 10,
        filter=edge_filter(req.filter),
        with_payload=edge_with_payload(req.with_payload, True),
        with_vector=edge_with_vector(req.with_vector),
        order_by=order_by,
    )
    with col.lock:
        try:
            records, next_offset = col.shard.scroll(sr)
        except Exception as exc:  # noqa: BLE001
            raise engine_error(exc) from None
    return {"points": [record_json(r) for r in records],
            "next_page_offset": None if next_offset is None or order_by is not None else id_json(next_offset)}


def op_count(col: Collection, body: Any) -> dict:
    req = validate(m.CountRequest, body or {})
    with col.lock:
        try:
            n = col.shard.count(qe.CountRequest(exact=True if req.exact is None else req.exact,
                                                filter=edge_filter(req.filter)))
        except Exception as exc:  # noqa: BLE001
            raise engine_error(exc) from None
    return {"count": n}


def op_retrieve(col: Collection, body: Any) -> list:
    if isinstance(body, dict) and isinstance(body.get("ids"), list):
        for i in body["ids"]:
            parse_point_id(i)
    req = validate(m.PointRequest, body)
    ids = [parse_point_id(i) for i in body["ids"]]
    with col.lock:
        try:
            records = col.shard.retrieve(ids, edge_with_payload(req.with_payload, True),
                                         edge_with_vector(req.with_vector))
        except Exception as exc:  # noqa: BLE001
            raise engine_error(exc) from None
    return [record_json(r) for r in records]


def op_get_point(col: Collection, raw_id: str) -> dict:
    pid = int(raw_id) if raw_id.isdigit() else raw_id
    pid = parse_point_id(pid)
    with col.lock:
        records = col.shard.retrieve([pid], True, True)
    if not records:
        raise ApiError(404, f"Not found: No point with id {pid} found")
    return record_json(records[0])


def _lookup_vector(col: Collection, pid: Any, using: Optional[str]) -> Any:
    """The stored vector of a point, for queries given by point id."""
    name = using or ""
    records = col.shard.retrieve([pid], False, [name] if name else True)
    if not records:
        raise ApiError(404, f"Not found: No point with id {pid} found")
    vec = records[0].vector
    if isinstance(vec, dict):
        if name not in vec:
            raise wrong_input(f"Not existing vector name error: {name}")
        return vec[name]
    return vec


def edge_query(col: Collection, q: Any, using: Optional[str], referenced: list) -> Any:
    """A REST query (QueryInterface) as an engine scoring query; ids used as input go to `referenced`."""
    if q is None:
        return None
    if isinstance(q, m.NearestQuery):
        if q.mmr is not None:
            raise wrong_input("MMR is not implemented by this stand-in")
        q = q.nearest
    if isinstance(q, (m.OrderByQuery,)):
        return edge_order_by(q.order_by)
    if isinstance(q, m.FusionQuery):
        return qe.Fusion.Dbsf() if str(q.fusion.value) == "dbsf" else qe.Fusion.Rrf(k=2)
    if isinstance(q, m.RrfQuery):
        return qe.Fusion.Rrf(k=q.rrf.k if q.rrf.k is not None else 2)
    if isinstance(q, m.SampleQuery):
        return qe.Sample.Random
    if isinstance(q, pydantic.BaseModel) and not isinstance(q, m.SparseVector):
        raise wrong_input(f"{type(q).__name__} is not implemented by this stand-in")
    # A vector input: dense list, multi-dense, sparse, or a point id.
    if isinstance(q, m.SparseVector):
        vec: Any = qe.SparseVector(q.indices, q.values)
    elif isinstance(q, (int, str, uuid.UUID)) and not isinstance(q, bool):
        pid = parse_point_id(str(q) if isinstance(q, uuid.UUID) else q)
        referenced.append(pid)
        vec = _lookup_vector(col, pid, using)
    else:
        vec = q
    return qe.Query.Nearest(vec, using=using or None)


def edge_prefetch(col: Collection, p: m.Prefetch, referenced: list) -> Any:
    check_limit(p.limit, "prefetch.limit")
    return qe.Prefetch(
        limit=p.limit if p.limit is not None else 10,
        query=edge_query(col, p.query, p.using, referenced),
        prefetches=[edge_prefetch(col, x, referenced) for x in as_list(p.prefetch)] or None,
        params=edge_search_params(p.params),
        filter=edge_filter(p.filter),
        score_threshold=p.score_threshold,
    )


def op_query(col: Collection, body: Any) -> dict:
    req = validate(m.QueryRequest, body or {})
    check_limit(req.limit)
    if req.lookup_from is not None:
        raise wrong_input("lookup_from is not implemented by this stand-in")
    referenced: list = []
    with col.lock:
        try:
            query = edge_query(col, req.query, req.using, referenced)
            prefetches = [edge_prefetch(col, p, referenced) for p in as_list(req.prefetch)] or None
            flt = edge_filter(req.filter)
            if referenced:  # Qdrant leaves the points used as query input out of the results
                exclude = qe.HasIdCondition(set(referenced))
                flt = qe.Filter(must=[flt] if flt else None, must_not=[exclude])
            qr = qe.QueryRequest(
                limit=req.limit if req.limit is not None else 10,
                offset=req.offset,
                query=query,
                prefetches=prefetches,
                with_vector=edge_with_vector(req.with_vector),
                with_payload=edge_with_payload(req.with_payload, False),
                filter=flt,
                score_threshold=req.score_threshold,
                params=edge_search_params(req.params),
            )
            points = col.shard.query(qr)
        except ApiError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise engine_error(exc) from None
    return {"points": [scored_json(p) for p in points]}


def op_search(col: Collection, body: Any) -> list:
    req = validate(LegacySearchRequest, body)
    check_limit(req.limit)
    v = req.vector
    if isinstance(v, LegacyNamedVector):
        query = qe.Query.Nearest(v.vector, using=v.name)
    elif isinstance(v, LegacyNamedSparseVector):
        query = qe.Query.Nearest(qe.SparseVector(v.vector.indices, v.vector.values), using=v.name)
    else:
        query = qe.Query.Nearest(v)
    sr = qe.SearchRequest(
        query=query,
        limit=req.limit,
        offset=req.offset,
        filter=edge_filter(req.filter),
        params=edge_search_params(req.params),
        with_vector=edge_with_vector(req.with_vector),
        with_payload=edge_with_payload(req.with_payload, False),
        score_threshold=req.score_threshold,
    )
    with col.lock:
        try:
            points = col.shard.search(sr)
        except Exception as exc:  # noqa: BLE001
            raise engine_error(exc) from None
    return [scored_json(p) for p in points]


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------

class RawResponse(Exception):
    """A response outside the JSON envelope (health checks, auth errors, 404s)."""

    def __init__(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8"):
        super().__init__(status)
        self.status = status
        self.body = body
        self.content_type = content_type


class BodyTooLarge(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def parse_ordering(query: dict) -> str:
    """`ordering=weak|medium|strong` of update requests (weak by default), checked like Qdrant's serde."""
    values = query.get("ordering")
    if not values:
        return "weak"
    if values[-1] not in ("weak", "medium", "strong"):
        raise ApiError(400, f"Deserialize error in query parameters: ordering: unknown variant `{values[-1]}`, "
                            "expected one of `weak`, `medium`, `strong`")
    return values[-1]


def op_test_control(store: Store, parts: list, body: Any) -> bool:
    """TESTS ONLY (`--test-controls`): mark a replica's state, force a collection's status, fail upserts."""
    if parts == ["faults"]:
        Faults.fail_upserts = int(body.get("fail_upserts", 0))
        Faults.fail_status = int(body.get("status", Faults.fail_status))
        Faults.fail_message = str(body.get("message", Faults.fail_message))
        return True
    if len(parts) == 3 and parts[0] == "collections":
        col = store.get(parts[1])
        with col.lock:
            if parts[2] == "replica":
                key = (int(body["shard_id"]), int(body.get("peer_id", col.placement[int(body["shard_id"])][-1])))
                if key not in col.replica_states:
                    raise wrong_input(f"shard {key[0]} has no replica on peer {key[1]}")
                col.replica_states[key] = m.ReplicaState(body["state"]).value
                return True
            if parts[2] == "status":
                col.forced_status = m.CollectionStatus(body["status"]).value
                return True
    raise RawResponse(404, b"")


def parse_wait(query: dict) -> bool:
    values = query.get("wait")
    if not values:
        return False
    if values[-1] not in ("true", "false"):
        raise ApiError(400, "Deserialize error in query parameters: wait: provided string was not `true` or `false`")
    return values[-1] == "true"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length
    server_version = "qdrant-standin"

    def version_string(self) -> str:
        return self.server_version

    # Set on the class by main().
    store: Store
    api_key: Optional[str] = None
    test_controls = False
    verbose = False
    keep_alive = KEEP_ALIVE_SECONDS

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.keep_alive)
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                self.connection.do_handshake()
            except (ssl.SSLError, OSError):
                self.close_connection = True
                raise ConnectionAbortedError("TLS handshake failed") from None

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionError, TimeoutError, socket.timeout, ssl.SSLError):
            pass  # client went away or idled out: nothing to answer

    def log_message(self, fmt: str, *args: Any) -> None:
        if self.verbose:
            sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))

    # -- plumbing ------------------------------------------------------------

    def send_bytes(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, obj: Any) -> None:
        body = orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
        self.send_bytes(status, body, "application/json")

    def send_error_json(self, status: int, message: str, started: float) -> None:
        self.send_json(status, {"status": {"error": message}, "time": time.perf_counter() - started})

    def auth_error(self) -> Optional[RawResponse]:
        """Qdrant's api-key check: 401 with a plain-text body, before anything else."""
        if not self.api_key:
            return None
        path = urlsplit(self.path).path
        if path in ("/", "/healthz") or path.startswith(("/readyz", "/livez")):
            return None
        key = self.headers.get("api-key")
        if key is None:
            auth = self.headers.get("authorization", "")
            key = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        if key is None:
            return RawResponse(401, b"Must provide an API key or an Authorization bearer token")
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            return RawResponse(401, b"Invalid API key or JWT")
        return None

    def declared_length(self) -> Optional[int]:
        value = self.headers.get("Content-Length")
        if value is None:
            return None
        try:
            n = int(value)
        except ValueError:
            raise ApiError(400, "Payload error: invalid Content-Length") from None
        if n < 0:
            raise ApiError(400, "Payload error: invalid Content-Length")
        return n

    def handle_expect_100(self) -> bool:
        # Answer errors we can decide from the headers alone instead of "100 Continue".
        started = time.perf_counter()
        err = self.auth_error()
        if err is not None:
            self.close_connection = True
            self.send_bytes(err.status, err.body, err.content_type)
            return False
        try:
            length = self.declared_length()
        except ApiError as exc:
            self.close_connection = True
            self.send_error_json(exc.status, exc.message, started)
            return False
        if length is not None and length > MAX_REQUEST_SIZE:
            self.close_connection = True
            self.send_error_json(400, f"Payload error: JSON payload ({length} bytes) is larger than allowed "
                                      f"(limit: {MAX_REQUEST_SIZE} bytes).", started)
            return False
        return super().handle_expect_100()

    def read_body(self) -> bytes:
        """The request body (Content-Length or chunked), refusing more than 32 MiB."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ConnectionError("client closed mid-body")
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                total += size
                if total > MAX_REQUEST_SIZE:
                    raise BodyTooLarge(f"Payload error: JSON payload is larger than allowed "
                                       f"(limit: {MAX_REQUEST_SIZE} bytes).")
                parts.append(self.rfile.read(size))
                self.rfile.readline(8)  # CRLF after the chunk
            return b"".join(parts)
        length = self.declared_length() or 0
        if length > MAX_REQUEST_SIZE:
            raise BodyTooLarge(f"Payload error: JSON payload ({length} bytes) is larger than allowed "
                               f"(limit: {MAX_REQUEST_SIZE} bytes).")
        data = self.rfile.read(length) if length else b""
        if len(data) != length:
            raise ConnectionError("client closed mid-body")
        return data

    def drain_refused_body(self) -> None:
        """Discard (never store) a refused body so a client still writing it can read our answer.

        Bounded by DRAIN_LIMIT bytes and 30 s; the connection is closed afterwards.
        """
        try:
            remaining = DRAIN_LIMIT
            if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
                remaining = min(self.declared_length() or 0, DRAIN_LIMIT)
            self.connection.settimeout(5)
            deadline = time.monotonic() + 30
            while remaining > 0 and time.monotonic() < deadline:
                chunk = self.rfile.read1(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
        except (OSError, ApiError):
            pass

    # -- dispatch ------------------------------------------------------------

    def do_GET(self) -> None:
        self.dispatch()

    def do_PUT(self) -> None:
        self.dispatch()

    def do_POST(self) -> None:
        self.dispatch()

    def do_DELETE(self) -> None:
        self.dispatch()

    def do_PATCH(self) -> None:
        self.dispatch()

    def dispatch(self) -> None:
        started = time.perf_counter()
        self.connection.settimeout(BODY_READ_TIMEOUT)
        try:
            err = self.auth_error()
            try:
                body = self.read_body()
            except BodyTooLarge as exc:
                # Answer at once, then discard what the client still sends and close.
                self.close_connection = True
                if err is not None:
                    self.send_bytes(err.status, err.body, err.content_type)
                else:
                    self.send_error_json(400, exc.message, started)
                self.drain_refused_body()
                return
            if err is not None:
                raise err
            result = self.route(body)
            self.send_json(200, {"result": result, "status": "ok", "time": time.perf_counter() - started})
        except RawResponse as resp:
            self.send_bytes(resp.status, resp.body, resp.content_type)
        except ApiError as exc:
            self.send_error_json(exc.status, exc.message, started)
        except (ConnectionError, TimeoutError, socket.timeout):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - answer 500 like Qdrant, keep serving
            traceback.print_exc()
            self.send_error_json(500, f"Service internal error: {exc}", started)
        finally:
            try:
                self.connection.settimeout(self.keep_alive)
            except OSError:
                pass

    def json_body(self, body: bytes) -> Any:
        """The request's JSON body; like actix, Content-Type must say JSON and the body must be there."""
        ctype = self.headers.get("Content-Type", "")
        if "json" not in ctype.lower():
            raise ApiError(400, "Payload error: Content type error")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            if not body.strip():
                raise format_error("EOF while parsing a value at line 1 column 0") from None
            # serde_json's wording for the common cases (NaN/Infinity are "expected value").
            msg = exc.msg
            if "unexpected character" in msg:
                msg = "expected value"
            elif "digit" in msg or "number" in msg:
                msg = "invalid number"
            elif "invalid literal" in msg:
                msg = "expected ident"
            raise format_error(f"{msg} at line {exc.lineno} column {exc.colno}") from None

    def route(self, raw_body: bytes) -> Any:
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        query = parse_qs(url.query)
        method = self.command
        store = self.store

        if not parts:
            if method == "GET":
                raise RawResponse(200, orjson.dumps({"title": "qdrant - vector search engine",
                                                     "version": API_VERSION, "commit": "standin"}),
                                  "application/json")
        elif parts[0] in ("healthz", "livez") and len(parts) == 1 and method == "GET":
            raise RawResponse(200, b"healthz check passed")
        elif parts[0] == "readyz" and len(parts) == 1 and method == "GET":
            raise RawResponse(200, b"all shards are ready")
        elif parts == ["cluster"] and method == "GET":
            return store.cluster.status()
        elif parts == ["aliases"] and method == "GET":
            return store.alias_list()
        elif parts[0] == "standin" and self.test_controls and method == "POST":
            return op_test_control(store, parts[1:], self.json_body(raw_body))
        elif parts[0] == "collections":
            if len(parts) == 1 and method == "GET":
                return {"collections": [{"name": n} for n in store.names()]}
            if parts == ["collections", "aliases"] and method == "POST":
                return store.change_aliases(self.json_body(raw_body))
            if len(parts) >= 2:
                name = parts[1]
                rest = parts[2:]
                if not rest:
                    if method == "GET":
                        col = store.get(name)
                        with col.lock:
                            return col.info()
                    if method == "PUT":
                        return op_create_collection(store, name, self.json_body(raw_body))
                    if method == "DELETE":
                        return store.delete(name)
                    if method == "PATCH":
                        col = store.get(name)
                        with col.lock:
                            col.update_params(validate(m.UpdateCollection, self.json_body(raw_body)))
                        return True
                elif rest == ["exists"] and method == "GET":
                    return {"exists": name in store.names()}
                elif rest == ["cluster"] and method == "GET":
                    col = store.get(name)
                    with col.lock:
                        return col.cluster_info()
                elif rest == ["aliases"] and method == "GET":
                    store.get(name)
                    return store.alias_list(name)
                elif rest[0] == "index":
                    wait = parse_wait(query)
                    if len(rest) == 1 and method == "PUT":
                        body = self.json_body(raw_body)
                        return op_create_index(store.get(name), body, wait)
                    if len(rest) == 2 and method == "DELETE":
                        return op_delete_index(store.get(name), rest[1], wait)
                elif rest[0] == "points":
                    sub = rest[1:]
                    if not sub and method == "PUT":
                        wait = parse_wait(query)
                        parse_ordering(query)
                        body = self.json_body(raw_body)
                        return op_upsert(store.get(name), body, wait)
                    if not sub and method == "POST":
                        return op_retrieve(store.get(name), self.json_body(raw_body))
                    if sub == ["scroll"] and method == "POST":
                        return op_scroll(store.get(name), self.json_body(raw_body))
                    if sub == ["count"] and method == "POST":
                        return op_count(store.get(name), self.json_body(raw_body))
                    if sub == ["query"] and method == "POST":
                        return op_query(store.get(name), self.json_body(raw_body))
                    if sub == ["search"] and method == "POST":
                        return op_search(store.get(name), self.json_body(raw_body))
                    if sub == ["delete"] and method == "POST":
                        wait = parse_wait(query)
                        parse_ordering(query)
                        return op_delete_points(store.get(name), self.json_body(raw_body), wait)
                    if len(sub) == 1 and method == "GET":
                        return op_get_point(store.get(name), sub[0])
        # actix answers unknown routes with an empty 404.
        raise RawResponse(404, b"")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients vanishing or failing the TLS handshake are routine, not errors.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)

    def __init__(self, addr: tuple, handler: type, tls: Optional[ssl.SSLContext]):
        self.tls = tls
        super().__init__(addr, handler)

    def get_request(self) -> tuple:
        conn, addr = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is not None:
            # The handshake runs in the connection's own thread (Handler.setup), so a
            # slow or broken client cannot stall the accept loop.
            conn = self.tls.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        return conn, addr


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    ap.add_argument("--port", type=int, required=True, help="port to listen on")
    ap.add_argument("--api-key", default=os.environ.get("QDRANT_STANDIN_API_KEY"),
                    help="require this key in the api-key header")
    ap.add_argument("--tls-cert", help="PEM certificate (chain): serve HTTPS")
    ap.add_argument("--tls-key", help="PEM private key for --tls-cert")
    ap.add_argument("--data-dir", help="shard storage; wiped at start, removed at exit (default: a temp dir)")
    ap.add_argument("--pid-file", help="write the process id here once listening; removed at exit")
    ap.add_argument("--keep-alive", type=float, default=KEEP_ALIVE_SECONDS,
                    help=f"seconds an idle connection stays open (default {KEEP_ALIVE_SECONDS:g}, like actix)")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    ap.add_argument("--fault-drop-every", type=int, metavar="N",
                    default=int(os.environ.get("QDRANT_STANDIN_FAULT_DROP_EVERY", "0")),
                    help="TESTS ONLY: silently drop every Nth upserted point while answering 'completed'")
    ap.add_argument("--peers", type=int, default=0, metavar="N",
                    help="answer as a cluster of N peers (cluster mode on: GET /cluster, shard placement); "
                         "default: a single node with cluster mode off")
    ap.add_argument("--test-controls", action="store_true",
                    help="TESTS ONLY: serve POST /standin/... to mark a replica dead, force a collection's "
                         "status, or fail the next upserts")
    args = ap.parse_args()
    if args.peers < 0:
        ap.error("--peers must be 0 (cluster mode off) or more")
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")

    tls = None
    if args.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.minimum_version = ssl.TLSVersion.TLSv1_2
        tls.load_cert_chain(args.tls_cert, args.tls_key)

    if args.data_dir:
        data_dir = os.path.abspath(args.data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
        os.makedirs(data_dir)
    else:
        data_dir = tempfile.mkdtemp(prefix="qdrant-standin-")

    store = Store(data_dir, Cluster(args.peers))
    Handler.store = store
    Handler.test_controls = args.test_controls
    Handler.api_key = args.api_key or None
    Handler.verbose = args.verbose
    Handler.keep_alive = args.keep_alive
    Faults.drop_every = args.fault_drop_every

    server = Server((args.host, args.port), Handler, tls)
    stopping = threading.Event()

    def stop(_signum: int, _frame: Any) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    if args.pid_file:
        tmp = f"{args.pid_file}.tmp"
        with open(tmp, "w") as f:
            f.write(f"{os.getpid()}\n")
        os.replace(tmp, args.pid_file)
    scheme = "https" if tls else "http"
    print(f"qdrant stand-in (API {API_VERSION}) listening on {scheme}://{args.host}:{server.server_address[1]}"
          f"{' (api-key required)' if args.api_key else ''}"
          f"{f' (cluster of {args.peers} peers)' if args.peers else ''}"
          f"{f' (FAULT: drops every {Faults.drop_every}th upserted point)' if Faults.drop_every > 0 else ''}",
          file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        store.close_all()
        shutil.rmtree(data_dir, ignore_errors=True)
        if args.pid_file:
            try:
                os.unlink(args.pid_file)
            except FileNotFoundError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
