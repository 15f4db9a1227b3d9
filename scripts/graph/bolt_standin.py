#!/usr/bin/env python3
"""A Bolt server stand-in for Neo4j / Memgraph, executing Cypher on FalkorDB. It is NOT Neo4j.

    bolt_standin.py --flavor neo4j|memgraph [--host 127.0.0.1] [--port N]
                    [--falkordb-host 127.0.0.1] [--falkordb-port 16410] [--graph NAME]
                    [--user U --password P] [--versions 5.4,5.3,...] [--pid-file F] [--port-file F] [--verbose]

No Neo4j or Memgraph server can run on these machines, and FalkorDB's own Bolt
listener is not fit for tests (it aborts on messages over ~4 KB and on
temporal results). This process speaks Bolt itself (handshake, chunked
framing, PackStream, the request/response state machine) and runs each query
on FalkorDB through its redis protocol (see falkordb_client.py).

Flavors
    neo4j     (default port 17687) offers Bolt 5.4, 5.3, 5.2, 5.1, 5.0 and 4.4.
              HELLO carries the credentials up to 5.0; from 5.1 on HELLO has
              none and LOGON {scheme: basic, principal, credentials} follows
              (LOGOFF returns to the unauthenticated state). Default user
              neo4j / test-pass. Element ids look like Neo4j 5's:
              "4:<db-uuid>:<id>" for nodes, "5:<db-uuid>:<id>" for
              relationships (the uuid is derived from the graph name, so it
              is stable across restarts). Bookmarks "FB:standin:<n>".
              ROUTE answers with a routing table that names this server for
              every role; `CALL dbms.components()` is answered as Neo4j 5.26.
    memgraph  (default port 17688) offers only 5.2, 4.3, 4.1 and 4.0, like
              Memgraph 2.x. HELLO must carry `user_agent` (a FAILURE
              otherwise). Default user memgraph / mg-pass. element_id is the
              decimal string of the id. Error codes use Memgraph's
              "Memgraph.ClientError.MemgraphError.MemgraphError" family.
    --versions overrides the offered versions (tests use it to force 4.4/4.3).

Messages: HELLO, LOGON, LOGOFF, RUN, PULL {n, qid}, DISCARD {n, qid}, BEGIN,
COMMIT, ROLLBACK, RESET, GOODBYE, ROUTE (neo4j), TELEMETRY (5.4). A query is
executed when RUN arrives (FalkorDB has no lazy cursors); its rows are kept
and PULL n streams n of them at a time ({has_more: true} until the last
one), so fetch sizes behave as with Neo4j. After a FAILURE every message but
RESET and GOODBYE gets IGNORED. Wrong credentials give FAILURE
Neo.ClientError.Security.Unauthorized (neo4j) /
Memgraph.ClientError.Security.Unauthenticated (memgraph) and the connection
is closed. Messages of any size are accepted (chunks up to 65535 bytes are
reassembled; replies are chunked the same way).

Transactions: BEGIN/COMMIT/ROLLBACK are accepted, but FalkorDB has no
multi-statement transactions: each RUN is applied when it runs, and ROLLBACK
does NOT undo earlier statements of the transaction. Write tests so that they
do not depend on rollback.

Values. Nodes, relationships and paths come back as PackStream structures
(Node 0x4E, Relationship 0x52, UnboundRelationship 0x72, Path 0x50; element
ids in 5.x). FalkorDB cannot store zoned datetimes, times, nanoseconds,
months in durations or byte arrays, so such values received as RUN
parameters are stored as tagged strings and turned back into structures on
the way out. The encoding (a string starting with "\\x01T:"):

    \\x01T:D:<days>                          Date            0x44
    \\x01T:t:<nanos>                         LocalTime       0x74
    \\x01T:T:<nanos>:<offset_s>              Time            0x54
    \\x01T:d:<epoch_s>:<nanos>               LocalDateTime   0x64
    \\x01T:I:<utc_epoch_s>:<nanos>:<offset_s> DateTime       0x49 (5.x, 4.4+utc) / 0x46 (4.x)
    \\x01T:i:<utc_epoch_s>:<nanos>:<tz_id>   DateTimeZoneId  0x69 (5.x, 4.4+utc) / 0x66 (4.x)
    \\x01T:E:<months>:<days>:<seconds>:<nanos>  Duration     0x45
    \\x01T:X:<srid>:<x>:<y>                  Point2D         0x58
    \\x01T:Y:<srid>:<x>:<y>:<z>              Point3D         0x59
    \\x01T:B:<base64>                        bytes

Equality on such values works (the encoding is canonical); ordering and
temporal functions on them do not. Values made by FalkorDB's own functions
(date(), localdatetime(), localtime(), duration(), point()) are converted to
the matching structure too. Map-valued properties are refused (as Neo4j
does) with Neo.ClientError.Statement.TypeError.

Other known differences: FalkorDB returns doubles rounded to 15 significant
digits; it reuses the ids of deleted nodes/relationships; strings cannot
contain NUL; NaN/Infinity parameters are refused; lists of mixed types are
stored (Neo4j refuses them); `elementId(x)` is rewritten into an expression
FalkorDB understands, and `CREATE (n:L $props)` into `CREATE (n:L) SET n +=
$props` (FalkorDB takes no parameter as a pattern's map; MERGE (n $props) is
still refused); only the database `neo4j` exists (neo4j flavor); summary
counters come from FalkorDB's statistics ("labels-added" counts only labels
new to the graph).
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import itertools
import logging
import os
import re
import signal
import struct
import sys
import time
import uuid
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cypher_tokens import (  # noqa: E402
    TokenizeError, expand_create_params, restore_names, rewrite_function_calls, tokenize,
    untokenize,
)
from falkordb_client import (  # noqa: E402
    Edge, FalkorDB, FalkorError, FalkorUnavailable, FDate, FDuration, FLocalDateTime,
    FLocalTime, FPoint, Node, ParamError, Path,
)

log = logging.getLogger("bolt-standin")

MAGIC = b"\x60\x60\xb0\x17"
MAX_CHUNK = 0xFFFF

# Request messages
HELLO, GOODBYE, RESET, RUN, BEGIN, COMMIT, ROLLBACK = 0x01, 0x02, 0x0F, 0x10, 0x11, 0x12, 0x13
DISCARD, PULL, TELEMETRY, ROUTE, LOGON, LOGOFF = 0x2F, 0x3F, 0x54, 0x66, 0x6A, 0x6B
# Response messages
SUCCESS, RECORD, IGNORED, FAILURE = 0x70, 0x71, 0x7E, 0x7F

MESSAGE_NAMES = {
    HELLO: "HELLO", GOODBYE: "GOODBYE", RESET: "RESET", RUN: "RUN", BEGIN: "BEGIN",
    COMMIT: "COMMIT", ROLLBACK: "ROLLBACK", DISCARD: "DISCARD", PULL: "PULL",
    TELEMETRY: "TELEMETRY", ROUTE: "ROUTE", LOGON: "LOGON", LOGOFF: "LOGOFF",
}

FLAVORS = {
    "neo4j": {
        "port": 17687, "user": "neo4j", "password": "test-pass",
        "versions": [(5, 4), (5, 3), (5, 2), (5, 1), (5, 0), (4, 4)],
        "agent": "Neo4j/5.26.0",
    },
    "memgraph": {
        "port": 17688, "user": "memgraph", "password": "mg-pass",
        "versions": [(5, 2), (4, 3), (4, 1), (4, 0)],
        "agent": "Neo4j/v5.11.0 compatible graph database server - Memgraph",
    },
}


# ---------------------------------------------------------------------------
# PackStream
# ---------------------------------------------------------------------------

class Structure:
    """A PackStream structure as received: tag byte + fields."""
    __slots__ = ("tag", "fields")

    def __init__(self, tag, fields):
        self.tag = tag
        self.fields = fields

    def __repr__(self):
        return f"Structure(0x{self.tag:02X}, {self.fields!r})"

    def __eq__(self, other):
        return isinstance(other, Structure) and (self.tag, self.fields) == (other.tag, other.fields)


class PackStreamError(ValueError):
    pass


_s_int8, _s_int16, _s_int32, _s_int64 = (struct.Struct(f) for f in (">b", ">h", ">i", ">q"))
_s_u8, _s_u16, _s_u32, _s_f64 = (struct.Struct(f) for f in (">B", ">H", ">I", ">d"))


class Unpacker:
    """Decodes one PackStream value after another from a bytes buffer."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def _take(self, n):
        p = self.pos
        if p + n > len(self.data):
            raise PackStreamError("truncated PackStream data")
        self.pos = p + n
        return self.data[p:p + n]

    def _u(self, st):
        return st.unpack(self._take(st.size))[0]

    def unpack(self):
        m = self._take(1)[0]
        if m < 0x80:                      # tiny positive int
            return m
        if m >= 0xF0:                     # tiny negative int
            return m - 0x100
        hi = m & 0xF0
        if hi == 0x80:
            return self._str(m & 0x0F)
        if hi == 0x90:
            return [self.unpack() for _ in range(m & 0x0F)]
        if hi == 0xA0:
            return self._map(m & 0x0F)
        if hi == 0xB0:
            return self._struct(m & 0x0F)
        if m == 0xC0:
            return None
        if m == 0xC1:
            return self._u(_s_f64)
        if m == 0xC2:
            return False
        if m == 0xC3:
            return True
        if m == 0xC8:
            return self._u(_s_int8)
        if m == 0xC9:
            return self._u(_s_int16)
        if m == 0xCA:
            return self._u(_s_int32)
        if m == 0xCB:
            return self._u(_s_int64)
        if m == 0xCC:
            return bytes(self._take(self._u(_s_u8)))
        if m == 0xCD:
            return bytes(self._take(self._u(_s_u16)))
        if m == 0xCE:
            return bytes(self._take(self._u(_s_u32)))
        if m == 0xD0:
            return self._str(self._u(_s_u8))
        if m == 0xD1:
            return self._str(self._u(_s_u16))
        if m == 0xD2:
            return self._str(self._u(_s_u32))
        if m == 0xD4:
            return [self.unpack() for _ in range(self._u(_s_u8))]
        if m == 0xD5:
            return [self.unpack() for _ in range(self._u(_s_u16))]
        if m == 0xD6:
            return [self.unpack() for _ in range(self._u(_s_u32))]
        if m == 0xD8:
            return self._map(self._u(_s_u8))
        if m == 0xD9:
            return self._map(self._u(_s_u16))
        if m == 0xDA:
            return self._map(self._u(_s_u32))
        raise PackStreamError(f"unknown PackStream marker 0x{m:02X}")

    def _str(self, n):
        try:
            return bytes(self._take(n)).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PackStreamError(f"invalid UTF-8 in string: {exc}") from None

    def _map(self, n):
        out = {}
        for _ in range(n):
            key = self.unpack()
            if not isinstance(key, str):
                raise PackStreamError("map key is not a string")
            out[key] = self.unpack()
        return out

    def _struct(self, n):
        tag = self._take(1)[0]
        return Structure(tag, [self.unpack() for _ in range(n)])


def pack_header(buf: bytearray, n: int, tiny: int, m8: int, m16: int, m32: int):
    if n < 0x10 and tiny is not None:
        buf.append(tiny | n)
    elif n < 0x100:
        buf.append(m8)
        buf.append(n)
    elif n < 0x10000:
        buf.append(m16)
        buf += _s_u16.pack(n)
    else:
        buf.append(m32)
        buf += _s_u32.pack(n)


def pack_int(buf: bytearray, v: int):
    if -0x10 <= v < 0x80:
        buf.append(v & 0xFF)
    elif -0x80 <= v < 0x80:
        buf.append(0xC8)
        buf += _s_int8.pack(v)
    elif -0x8000 <= v < 0x8000:
        buf.append(0xC9)
        buf += _s_int16.pack(v)
    elif -0x80000000 <= v < 0x80000000:
        buf.append(0xCA)
        buf += _s_int32.pack(v)
    elif -(1 << 63) <= v < (1 << 63):
        buf.append(0xCB)
        buf += _s_int64.pack(v)
    else:
        raise PackStreamError(f"integer {v} does not fit in 64 bits")


def pack_str(buf: bytearray, s: str):
    b = s.encode("utf-8", "surrogateescape")
    pack_header(buf, len(b), 0x80, 0xD0, 0xD1, 0xD2)
    buf += b


# ---------------------------------------------------------------------------
# Temporal / spatial values and their storage encoding
# ---------------------------------------------------------------------------

TAG = "\x01T:"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class Temporal:
    """A temporal, spatial or bytes value in canonical form (see the docstring).

    kind is the Bolt 5 signature letter (D t T d I i E X Y) or B for bytes;
    DateTime kinds I and i always hold UTC epoch seconds."""
    __slots__ = ("kind", "fields")

    def __init__(self, kind, fields):
        self.kind = kind
        self.fields = tuple(fields)

    def encode(self) -> str:
        if self.kind == "B":
            return TAG + "B:" + base64.b64encode(self.fields[0]).decode()
        return TAG + self.kind + ":" + ":".join(
            repr(f) if isinstance(f, float) else str(f) for f in self.fields)

    @classmethod
    def decode(cls, s: str) -> "Temporal | str":
        kind, _, rest = s[len(TAG):].partition(":")
        try:
            if kind == "B":
                return cls("B", (base64.b64decode(rest),))
            parts = rest.split(":")
            if kind in ("D", "t"):
                return cls(kind, (int(parts[0]),))
            if kind in ("T", "d"):
                return cls(kind, (int(parts[0]), int(parts[1])))
            if kind == "I":
                return cls(kind, (int(parts[0]), int(parts[1]), int(parts[2])))
            if kind == "i":
                return cls(kind, (int(parts[0]), int(parts[1]), ":".join(parts[2:])))
            if kind == "E":
                return cls(kind, tuple(int(p) for p in parts[:4]))
            if kind == "X":
                return cls(kind, (int(parts[0]), float(parts[1]), float(parts[2])))
            if kind == "Y":
                return cls(kind, (int(parts[0]), float(parts[1]), float(parts[2]), float(parts[3])))
        except (ValueError, IndexError):
            pass
        return s  # not ours after all: leave the string alone

    def __repr__(self):
        return f"Temporal({self.kind}, {self.fields})"


def _zone_offset(tz_id: str, utc_seconds: int) -> int:
    """UTC offset (seconds) of zone tz_id at a UTC instant; 0 for unknown zones."""
    try:
        zone = ZoneInfo(tz_id)
    except Exception:  # unknown zone id: treat as UTC rather than failing the query
        return 0
    instant = _EPOCH + dt.timedelta(seconds=utc_seconds)
    return int(instant.astimezone(zone).utcoffset().total_seconds())


def _local_to_utc(tz_id: str, local_seconds: int) -> int:
    """UTC epoch seconds of a wall-clock time in zone tz_id (first occurrence)."""
    try:
        zone = ZoneInfo(tz_id)
    except Exception:
        return local_seconds
    naive = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=local_seconds)
    offset = naive.replace(tzinfo=zone).utcoffset()
    return local_seconds - int(offset.total_seconds())


def structure_to_param(s: Structure):
    """A temporal/spatial structure received as a parameter -> Temporal."""
    f = s.fields
    try:
        if s.tag == 0x44:
            return Temporal("D", (int(f[0]),))
        if s.tag == 0x74:
            return Temporal("t", (int(f[0]),))
        if s.tag == 0x54:
            return Temporal("T", (int(f[0]), int(f[1])))
        if s.tag == 0x64:
            return Temporal("d", (int(f[0]), int(f[1])))
        if s.tag == 0x49:
            return Temporal("I", (int(f[0]), int(f[1]), int(f[2])))
        if s.tag == 0x69:
            return Temporal("i", (int(f[0]), int(f[1]), str(f[2])))
        if s.tag == 0x46:  # legacy DateTime: seconds are local wall-clock seconds
            return Temporal("I", (int(f[0]) - int(f[2]), int(f[1]), int(f[2])))
        if s.tag == 0x66:  # legacy DateTimeZoneId
            return Temporal("i", (_local_to_utc(str(f[2]), int(f[0])), int(f[1]), str(f[2])))
        if s.tag == 0x45:
            return Temporal("E", tuple(int(x) for x in f[:4]))
        if s.tag == 0x58:
            return Temporal("X", (int(f[0]), float(f[1]), float(f[2])))
        if s.tag == 0x59:
            return Temporal("Y", (int(f[0]), float(f[1]), float(f[2]), float(f[3])))
    except (TypeError, ValueError, IndexError):
        raise ParamError(f"malformed structure 0x{s.tag:02X} in parameters") from None
    raise ParamError(f"structure 0x{s.tag:02X} cannot be used as a parameter")


def encode_param_other(v):
    """encode_other hook for falkordb_client: Temporal/bytes -> tagged string."""
    if isinstance(v, Temporal):
        return v.encode()
    if isinstance(v, (bytes, bytearray)):
        return Temporal("B", (bytes(v),)).encode()
    if isinstance(v, Structure):
        return structure_to_param(v).encode()
    raise ParamError(f"unsupported parameter type {type(v).__name__}")


def convert_params(value):
    """Replace structures/bytes inside RUN parameters by Temporal values."""
    if isinstance(value, Structure):
        return structure_to_param(value)
    if isinstance(value, bytes):
        return Temporal("B", (value,))
    if isinstance(value, list):
        return [convert_params(v) for v in value]
    if isinstance(value, dict):
        return {k: convert_params(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------
# Packing result values for one connection (depends on the Bolt version)
# ---------------------------------------------------------------------------

class ValuePacker:
    def __init__(self, version, utc_patch, node_eid, rel_eid):
        self.v5 = version[0] >= 5
        self.utc = self.v5 or utc_patch
        self.node_eid = node_eid
        self.rel_eid = rel_eid

    def pack(self, buf: bytearray, v):
        t = type(v)
        if t is str:
            if v.startswith(TAG):
                d = Temporal.decode(v)
                if d is not v:
                    return self.pack_temporal(buf, d)
            return pack_str(buf, v)
        if t is int:
            return pack_int(buf, v)
        if v is None:
            buf.append(0xC0)
        elif t is bool:
            buf.append(0xC3 if v else 0xC2)
        elif t is float:
            buf.append(0xC1)
            buf += _s_f64.pack(v)
        elif t is list or t is tuple:
            pack_header(buf, len(v), 0x90, 0xD4, 0xD5, 0xD6)
            for item in v:
                self.pack(buf, item)
        elif t is dict:
            pack_header(buf, len(v), 0xA0, 0xD8, 0xD9, 0xDA)
            for k, item in v.items():
                pack_str(buf, k)
                self.pack(buf, item)
        elif t is Node:
            self.pack_node(buf, v)
        elif t is Edge:
            self.pack_rel(buf, v)
        elif t is Path:
            self.pack_path(buf, v)
        elif t is Temporal:
            self.pack_temporal(buf, v)
        elif t is FDate:
            self.struct(buf, 0x44, [v.value // 86400])
        elif t is FLocalDateTime:
            self.struct(buf, 0x64, [v.value, 0])
        elif t is FLocalTime:
            self.struct(buf, 0x74, [(v.value % 86400) * 1_000_000_000])
        elif t is FDuration:
            days, secs = divmod(v.value, 86400)
            self.struct(buf, 0x45, [0, days, secs, 0])
        elif t is FPoint:
            lat, lon = v.value
            self.struct(buf, 0x58, [4326, lon, lat])
        elif t is bytes:
            pack_header(buf, len(v), None, 0xCC, 0xCD, 0xCE)
            buf += v
        elif t is Structure:
            self.struct(buf, v.tag, v.fields)
        else:
            raise PackStreamError(f"cannot pack {t.__name__}")

    def struct(self, buf, tag, fields):
        buf.append(0xB0 | len(fields))
        buf.append(tag)
        for f in fields:
            self.pack(buf, f)

    def pack_node(self, buf, n: Node):
        fields = [n.id, n.labels, n.properties]
        if self.v5:
            fields.append(self.node_eid(n.id))
        self.struct(buf, 0x4E, fields)

    def pack_rel(self, buf, r: Edge):
        fields = [r.id, r.src, r.dst, r.type, r.properties]
        if self.v5:
            fields += [self.rel_eid(r.id), self.node_eid(r.src), self.node_eid(r.dst)]
        self.struct(buf, 0x52, fields)

    def pack_path(self, buf, p: Path):
        nodes, node_index = [], {}
        for n in p.nodes:
            if n.id not in node_index:
                node_index[n.id] = len(nodes)
                nodes.append(n)
        rels, rel_index = [], {}
        for e in p.edges:
            if e.id not in rel_index:
                rel_index[e.id] = len(rels)
                rels.append(e)
        indices = []
        for i, e in enumerate(p.edges):
            ri = rel_index[e.id] + 1
            indices.append(ri if e.src == p.nodes[i].id else -ri)
            indices.append(node_index[p.nodes[i + 1].id])
        buf.append(0xB3)
        buf.append(0x50)
        pack_header(buf, len(nodes), 0x90, 0xD4, 0xD5, 0xD6)
        for n in nodes:
            self.pack_node(buf, n)
        pack_header(buf, len(rels), 0x90, 0xD4, 0xD5, 0xD6)
        for e in rels:
            fields = [e.id, e.type, e.properties]
            if self.v5:
                fields.append(self.rel_eid(e.id))
            self.struct(buf, 0x72, fields)
        self.pack(buf, indices)

    def pack_temporal(self, buf, t: Temporal):
        k, f = t.kind, t.fields
        if k == "B":
            pack_header(buf, len(f[0]), None, 0xCC, 0xCD, 0xCE)
            buf += f[0]
        elif k == "I":
            if self.utc:
                self.struct(buf, 0x49, list(f))
            else:
                self.struct(buf, 0x46, [f[0] + f[2], f[1], f[2]])
        elif k == "i":
            if self.utc:
                self.struct(buf, 0x69, list(f))
            else:
                self.struct(buf, 0x66, [f[0] + _zone_offset(f[2], f[0]), f[1], f[2]])
        else:
            tag = {"D": 0x44, "t": 0x74, "T": 0x54, "d": 0x64, "E": 0x45, "X": 0x58, "Y": 0x59}[k]
            self.struct(buf, tag, list(f))


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

class BoltFailure(Exception):
    def __init__(self, code, message, close=False):
        super().__init__(message)
        self.code = code
        self.message = message
        self.close = close


NEO4J_UNAUTHORIZED = "The client is unauthorized due to authentication failure."


def map_falkor_error(flavor: str, exc: Exception) -> BoltFailure:
    """FalkorDB's error text -> a Neo4j (or Memgraph) status code."""
    msg = str(exc)
    if flavor == "memgraph":
        if isinstance(exc, FalkorUnavailable):
            return BoltFailure("Memgraph.TransientError.MemgraphError.MemgraphError", msg)
        return BoltFailure("Memgraph.ClientError.MemgraphError.MemgraphError", msg)
    if isinstance(exc, FalkorUnavailable):
        code = "Neo.TransientError.General.DatabaseUnavailable"
    elif isinstance(exc, ParamError):
        code = "Neo.ClientError.Statement.TypeError"
    elif ("Invalid input" in msg or "errMsg:" in msg or "Unknown function" in msg
          or "not defined" in msg or "is not registered" in msg or "Syntax error" in msg):
        code = "Neo.ClientError.Statement.SyntaxError"
    elif "Missing parameters" in msg:
        code = "Neo.ClientError.Statement.ParameterMissing"
    elif "Property values can only be of primitive types" in msg:
        code = "Neo.ClientError.Statement.TypeError"
        msg = ("Property values can only be of primitive types or arrays thereof. "
               f"({msg})")
    elif "Type mismatch" in msg:
        code = "Neo.ClientError.Statement.TypeError"
    elif "Division by zero" in msg:
        code = "Neo.ClientError.Statement.ArithmeticError"
    elif "timed out" in msg.lower():
        code = "Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration"
    elif "Limit operates" in msg or "Skip operates" in msg:
        code = "Neo.ClientError.Statement.ArgumentError"
    else:
        code = "Neo.DatabaseError.General.UnknownError"
    return BoltFailure(code, msg)


# ---------------------------------------------------------------------------
# Query helpers
# ---------------------------------------------------------------------------

_WRITE_WORDS = re.compile(r"\b(CREATE|MERGE|SET|DELETE|REMOVE|DETACH)\b", re.I)
_SCHEMA_WORDS = re.compile(r"^\s*(CREATE|DROP)\s+(INDEX|CONSTRAINT|FULLTEXT|VECTOR)\b", re.I)
_COMPONENTS = re.compile(r"^\s*CALL\s+dbms\.components\s*\(\s*\)", re.I)
_EXAMINED = re.compile(r"^\s*CALL\s+standin\.examined\s*\(\s*\)", re.I)
_EXAMINED_RESET = re.compile(r"^\s*CALL\s+standin\.resetExamined\s*\(\s*\)", re.I)
_IF_NOT_EXISTS = re.compile(r"^(\s*CREATE\s+INDEX\s+)IF\s+NOT\s+EXISTS\s+", re.I)
_CREATE_INDEX = re.compile(r"^\s*CREATE\s+INDEX\b", re.I)
# A range on an internal id: `id(n) > $x`, `$x <= id(n)`, ...
_ID_RANGE = re.compile(r"\bid\s*\(\s*[\w`]+\s*\)\s*[<>]|[<>]=?\s*id\s*\(", re.I)
# FalkorDB plan operations that visit stored records: scans, seeks and traversals.
_VISITING = re.compile(r"^\s*([A-Za-z ]*(?:Scan|Seek|Traverse|Expand Into)[A-Za-z ]*)\s*\|.*Records produced: (\d+)")
_ID_SEEKS = ("NodeByIdSeek", "Node By Id Seek", "Node By Label and ID Scan")


def examined_records(profile: list[str], query: str, node_count: int) -> int:
    """Records a read examines, from FalkorDB's GRAPH.PROFILE lines, as Neo4j 5 and Memgraph would examine
    them: what each scan, seek and traversal produced, except that an id *range* (which FalkorDB seeks)
    costs every node, as it does on Neo4j and Memgraph (they seek only `id(n) = x`)."""
    total = 0
    id_range = bool(_ID_RANGE.search(query))
    for line in profile:
        m = _VISITING.match(line)
        if not m:
            continue
        produced = int(m.group(2))
        if id_range and m.group(1).strip() in _ID_SEEKS:
            produced = max(produced, node_count)
        total += produced
    return total

STAT_NAMES = {
    "Nodes created": "nodes-created", "Nodes deleted": "nodes-deleted",
    "Relationships created": "relationships-created",
    "Relationships deleted": "relationships-deleted",
    "Properties set": "properties-set", "Properties removed": "properties-set",
    "Labels added": "labels-added", "Labels removed": "labels-removed",
    "Indices created": "indexes-added", "Indices deleted": "indexes-removed",
}


class Cursor:
    """The kept result of one RUN, consumed by PULL/DISCARD."""

    def __init__(self, fields, rows, qtype, stats, t_first):
        self.fields = fields
        self.rows = rows
        self.pos = 0
        self.qtype = qtype
        self.stats = stats
        self.t_first = t_first
        self.counted = True

    @property
    def remaining(self):
        return len(self.rows) - self.pos


# ---------------------------------------------------------------------------
# One Bolt connection
# ---------------------------------------------------------------------------

class Session:
    ids = itertools.count(1)

    def __init__(self, server: "BoltServer", reader, writer):
        self.server = server
        self.flavor = server.flavor
        self.reader = reader
        self.writer = writer
        self.cid = f"bolt-{next(Session.ids)}"
        self.version = (0, 0)
        self.state = "CONNECTED"
        self.failed = False
        self.utc_patch = False
        self.packer: ValuePacker | None = None
        self.auto: Cursor | None = None
        self.tx: dict | None = None
        self.out = bytearray()

    # -- framing -----------------------------------------------------------

    async def read_message(self):
        """One whole message (chunks reassembled); None at EOF. NOOPs skipped."""
        parts = []
        while True:
            header = await self.reader.readexactly(2)
            size = (header[0] << 8) | header[1]
            if size == 0:
                if parts:
                    return b"".join(parts)
                continue  # NOOP chunk (keep-alive)
            parts.append(await self.reader.readexactly(size))

    def queue(self, tag, fields):
        body = bytearray()
        body.append(0xB0 | len(fields))
        body.append(tag)
        for f in fields:
            if self.packer:
                self.packer.pack(body, f)
            else:
                ValuePacker((5, 0), True, str, str).pack(body, f)
        self._frame(body)

    def _frame(self, body: bytes | bytearray):
        out = self.out
        view = memoryview(body)
        for start in range(0, len(view), MAX_CHUNK):
            chunk = view[start:start + MAX_CHUNK]
            out += _s_u16.pack(len(chunk))
            out += chunk
        out += b"\x00\x00"

    async def flush(self):
        if self.out:
            self.writer.write(self.out)
            self.out = bytearray()
            await self.writer.drain()

    def success(self, meta=None):
        self.queue(SUCCESS, [meta or {}])

    def failure(self, code, message):
        log.debug("%s FAILURE %s %s", self.cid, code, message)
        self.queue(FAILURE, [{"code": code, "message": message}])

    # -- handshake ---------------------------------------------------------

    async def handshake(self) -> bool:
        magic = await self.reader.readexactly(4)
        if magic != MAGIC:
            log.info("%s: not a Bolt client (bad magic %s)", self.cid, magic.hex())
            return False
        proposals = await self.reader.readexactly(16)
        chosen = self.negotiate(proposals)
        if chosen is None:
            self.writer.write(b"\x00\x00\x00\x00")
            await self.writer.drain()
            log.info("%s: no common Bolt version in %s", self.cid, proposals.hex())
            return False
        self.version = chosen
        self.writer.write(bytes([0, 0, chosen[1], chosen[0]]))
        await self.writer.drain()
        log.debug("%s: Bolt %d.%d", self.cid, *chosen)
        return True

    def negotiate(self, proposals: bytes):
        offered = self.server.versions
        for i in range(0, 16, 4):
            _, rng, minor, major = proposals[i:i + 4]
            if major == 0 or major == 0xFF:  # empty slot / manifest-style handshake
                continue
            for v in offered:  # offered is highest first
                if v[0] == major and minor - rng <= v[1] <= minor:
                    return v
        return None

    # -- main loop ---------------------------------------------------------

    async def run(self):
        try:
            if not await self.handshake():
                return
            while True:
                data = await self.read_message()
                try:
                    msg = Unpacker(data).unpack()
                except PackStreamError as exc:
                    self.failure("Neo.ClientError.Request.InvalidFormat", f"Invalid message: {exc}")
                    await self.flush()
                    return
                if not isinstance(msg, Structure):
                    self.failure("Neo.ClientError.Request.InvalidFormat", "message is not a structure")
                    await self.flush()
                    return
                keep = await self.dispatch(msg)
                # Flush when the client waits for answers: after a PULL/DISCARD
                # or anything else when no more input is buffered.
                if not keep:
                    await self.flush()
                    return
                if msg.tag in (PULL, DISCARD) or not self.reader._buffer or len(self.out) > 1 << 20:
                    await self.flush()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            try:
                self.writer.close()
            except Exception:
                pass

    async def dispatch(self, msg: Structure) -> bool:
        tag, f = msg.tag, msg.fields
        name = MESSAGE_NAMES.get(tag, f"0x{tag:02X}")
        log.debug("%s C: %s %s", self.cid, name, repr(f)[:300])
        if tag == GOODBYE:
            return False
        if tag == RESET:
            self.failed = False
            self.auto = None
            self.tx = None
            if self.state in ("STREAMING", "TX_READY", "TX_STREAMING", "FAILED", "READY"):
                self.state = "READY"
            self.success()
            return True
        if self.failed:
            self.queue(IGNORED, [])
            return True
        try:
            handler = {
                HELLO: self.on_hello, LOGON: self.on_logon, LOGOFF: self.on_logoff,
                RUN: self.on_run, PULL: self.on_pull, DISCARD: self.on_discard,
                BEGIN: self.on_begin, COMMIT: self.on_commit, ROLLBACK: self.on_rollback,
                ROUTE: self.on_route, TELEMETRY: self.on_telemetry,
            }.get(tag)
            if handler is None:
                raise BoltFailure("Neo.ClientError.Request.Invalid",
                                  f"Message 0x{tag:02X} is not supported in Bolt "
                                  f"{self.version[0]}.{self.version[1]}", close=True)
            await handler(f)
        except BoltFailure as exc:
            self.failure(exc.code, exc.message)
            if exc.close:
                return False
            self.failed = True
            self.auto = None
            self.tx = None
            if self.state not in ("CONNECTED", "AUTHENTICATION"):
                self.state = "FAILED"
        return True

    def require_state(self, *states, what):
        if self.state not in states:
            raise BoltFailure("Neo.ClientError.Request.Invalid",
                              f"{what} is not allowed in state {self.state}")

    # -- authentication ----------------------------------------------------

    def code_unauthorized(self):
        if self.flavor == "memgraph":
            return "Memgraph.ClientError.Security.Unauthenticated", "Authentication failure"
        return "Neo.ClientError.Security.Unauthorized", NEO4J_UNAUTHORIZED

    def check_auth(self, meta: dict):
        scheme = meta.get("scheme")
        if (scheme == "basic" and meta.get("principal") == self.server.user
                and meta.get("credentials") == self.server.password):
            return
        code, message = self.code_unauthorized()
        log.info("%s: authentication failed for %r (scheme %r)", self.cid, meta.get("principal"), scheme)
        raise BoltFailure(code, message, close=True)

    async def on_hello(self, f):
        self.require_state("CONNECTED", what="HELLO")
        meta = f[0] if f and isinstance(f[0], dict) else {}
        if self.flavor == "memgraph" and not meta.get("user_agent"):
            raise BoltFailure("Memgraph.ClientError.MemgraphError.MemgraphError",
                              "The client didn't supply the user agent!", close=True)
        if self.version < (5, 1):
            self.check_auth(meta)
        self.utc_patch = (self.flavor == "neo4j" and self.version == (4, 4)
                          and "utc" in (meta.get("patch_bolt") or []))
        self.packer = ValuePacker(self.version, self.utc_patch, self.server.node_eid, self.server.rel_eid)
        reply = {"server": self.server.agent, "connection_id": self.cid}
        if self.flavor == "neo4j" and self.version >= (4, 3):
            reply["hints"] = {}
        if self.utc_patch:
            reply["patch_bolt"] = ["utc"]
        self.state = "AUTHENTICATION" if self.version >= (5, 1) else "READY"
        self.success(reply)

    async def on_logon(self, f):
        if self.version < (5, 1):
            raise BoltFailure("Neo.ClientError.Request.Invalid", "LOGON needs Bolt 5.1+", close=True)
        self.require_state("AUTHENTICATION", what="LOGON")
        self.check_auth(f[0] if f and isinstance(f[0], dict) else {})
        self.state = "READY"
        self.success()

    async def on_logoff(self, f):
        if self.version < (5, 1):
            raise BoltFailure("Neo.ClientError.Request.Invalid", "LOGOFF needs Bolt 5.1+", close=True)
        self.require_state("READY", what="LOGOFF")
        self.state = "AUTHENTICATION"
        self.success()

    async def on_telemetry(self, f):
        if self.version < (5, 4):
            raise BoltFailure("Neo.ClientError.Request.Invalid", "TELEMETRY needs Bolt 5.4+", close=True)
        self.require_state("READY", what="TELEMETRY")
        self.success()

    async def on_route(self, f):
        if self.flavor == "memgraph":
            raise BoltFailure("Memgraph.ClientError.MemgraphError.MemgraphError",
                              "Route message is not supported in Memgraph!")
        self.require_state("READY", what="ROUTE")
        address = f"{self.server.advertised_host}:{self.server.port}"
        servers = [{"addresses": [address], "role": role} for role in ("WRITE", "READ", "ROUTE")]
        self.success({"rt": {"ttl": 300, "db": "neo4j", "servers": servers}})

    # -- queries -----------------------------------------------------------

    def check_db(self, extra):
        db = extra.get("db") if isinstance(extra, dict) else None
        if self.flavor == "neo4j" and db not in (None, "", "neo4j"):
            raise BoltFailure("Neo.ClientError.Database.DatabaseNotFound",
                              f"Database does not exist. Database name: '{db}'.")

    async def execute(self, query: str, params: dict) -> Cursor:
        t0 = time.monotonic()
        if self.flavor == "neo4j" and _COMPONENTS.match(query):
            rows = [["Neo4j Kernel", [self.server.agent.split("/")[1]], "community"]]
            return Cursor(["name", "versions", "edition"], rows, "r", {}, 0)
        if _EXAMINED.match(query):
            cursor = Cursor(["examined", "queries", "returned"], [[self.server.examined, self.server.read_queries, self.server.returned]],
                            "r", {}, 0)
            cursor.counted = False  # the counter's own row is not a record read
            return cursor
        if _EXAMINED_RESET.match(query):
            self.server.examined = self.server.read_queries = self.server.returned = 0
            return Cursor([], [], "r", {}, 0)
        # Neo4j's `IF NOT EXISTS` and Memgraph's CREATE INDEX leave an existing index alone; FalkorDB refuses
        # to create it twice.
        tolerate_existing = bool(_IF_NOT_EXISTS.match(query)) or (self.flavor == "memgraph" and _CREATE_INDEX.match(query))
        query = _IF_NOT_EXISTS.sub(r"\1", query)
        try:
            params = convert_params(params or {})
            record = []
            cypher = self.server.rewrite(query, record)
            try:
                result = await self.server.db.query(self.server.graph, cypher, params,
                                                    encode_other=encode_param_other)
            except FalkorError as exc:
                if not (tolerate_existing and "already indexed" in str(exc)):
                    raise
                return Cursor([], [], "s", {}, 0)
            if not _WRITE_WORDS.search(query) and not _SCHEMA_WORDS.match(query) and not result.stats.get("Nodes created"):
                await self.count_examined(cypher, params)
        except (FalkorError, ParamError) as exc:
            raise map_falkor_error(self.flavor, exc) from None
        except TokenizeError as exc:
            code = ("Memgraph.ClientError.MemgraphError.MemgraphError" if self.flavor == "memgraph"
                    else "Neo.ClientError.Statement.SyntaxError")
            raise BoltFailure(code, f"Invalid input: {exc}") from None
        stats = {}
        for k, v in result.stats.items():
            name = STAT_NAMES.get(k)
            if name and v:
                stats[name] = stats.get(name, 0) + int(v)
        if stats:
            stats["contains-updates"] = True
        if _SCHEMA_WORDS.match(query):
            qtype = "s"
        elif stats or _WRITE_WORDS.search(query):
            qtype = "rw" if result.columns else "w"
        else:
            qtype = "r"
        t_first = int((time.monotonic() - t0) * 1000)
        return Cursor(restore_names(result.columns, record), result.rows, qtype, stats, t_first)

    async def count_examined(self, cypher: str, params: dict):
        """Adds the records a read query examined to the server's counter (GRAPH.PROFILE runs it again)."""
        try:
            profile = await self.server.db.profile(self.server.graph, cypher, params, encode_other=encode_param_other)
        except FalkorError as exc:  # e.g. a procedure GRAPH.PROFILE cannot plan: the read counts as examining nothing
            log.info("%s: GRAPH.PROFILE refused %r: %s", self.cid, cypher, exc)
            return
        node_count = 0
        if _ID_RANGE.search(cypher):
            counted = await self.server.db.query(self.server.graph, "MATCH (n) RETURN count(n)")
            node_count = int(counted.rows[0][0])
        self.server.examined += examined_records(profile, cypher, node_count)
        self.server.read_queries += 1

    async def on_run(self, f):
        if len(f) < 2 or not isinstance(f[0], str):
            raise BoltFailure("Neo.ClientError.Request.InvalidFormat", "RUN needs a query string")
        query, params = f[0], f[1] if isinstance(f[1], dict) else {}
        extra = f[2] if len(f) > 2 and isinstance(f[2], dict) else {}
        if self.state == "READY":
            self.check_db(extra)
            self.auto = await self.execute(query, params)
            self.state = "STREAMING"
            self.success({"fields": self.auto.fields, "t_first": self.auto.t_first})
        elif self.state in ("TX_READY", "TX_STREAMING"):
            cursor = await self.execute(query, params)
            qid = self.tx["next_qid"]
            self.tx["next_qid"] += 1
            self.tx["cursors"][qid] = cursor
            self.tx["last"] = qid
            self.state = "TX_STREAMING"
            self.success({"fields": cursor.fields, "t_first": cursor.t_first, "qid": qid})
        else:
            raise BoltFailure("Neo.ClientError.Request.Invalid",
                              f"RUN is not allowed in state {self.state}")

    def cursor_for(self, extra):
        if self.state == "STREAMING":
            return self.auto, None
        if self.state == "TX_STREAMING":
            qid = extra.get("qid", -1) if isinstance(extra, dict) else -1
            if qid == -1:
                qid = self.tx["last"]
            cursor = self.tx["cursors"].get(qid)
            if cursor is None:
                raise BoltFailure("Neo.ClientError.Request.Invalid", f"No open result with qid {qid}")
            return cursor, qid
        raise BoltFailure("Neo.ClientError.Request.Invalid",
                          f"PULL/DISCARD is not allowed in state {self.state}")

    def finish(self, cursor: Cursor, qid):
        """Metadata of the last SUCCESS of a result, and the state change."""
        meta = {"type": cursor.qtype, "t_last": 0}
        if cursor.stats:
            meta["stats"] = cursor.stats
        if qid is None:  # auto-commit: the result is also the transaction
            self.auto = None
            self.state = "READY"
            if self.flavor == "neo4j":
                meta["bookmark"] = self.server.next_bookmark()
                meta["db"] = "neo4j"
        else:
            del self.tx["cursors"][qid]
            if not self.tx["cursors"]:
                self.state = "TX_READY"
            if self.flavor == "neo4j":
                meta["db"] = "neo4j"
        return meta

    async def on_pull(self, f):
        extra = f[0] if f and isinstance(f[0], dict) else {}
        cursor, qid = self.cursor_for(extra)
        n = extra.get("n", -1)
        if not isinstance(n, int) or n == 0 or n < -1:
            raise BoltFailure("Neo.ClientError.Request.Invalid",
                              f"Expecting PULL size to be at least 1 or -1 (all), got {n}")
        end = len(cursor.rows) if n == -1 else min(len(cursor.rows), cursor.pos + n)
        packer = self.packer
        for row in cursor.rows[cursor.pos:end]:
            body = bytearray(b"\xB1\x71")
            packer.pack(body, row)
            self._frame(body)
            if len(self.out) > 1 << 20:
                await self.flush()
        if cursor.counted:
            self.server.returned += end - cursor.pos
        cursor.pos = end
        if cursor.remaining:
            self.success({"has_more": True})
        else:
            self.success(self.finish(cursor, qid))

    async def on_discard(self, f):
        extra = f[0] if f and isinstance(f[0], dict) else {}
        cursor, qid = self.cursor_for(extra)
        n = extra.get("n", -1)
        cursor.pos = len(cursor.rows) if n == -1 else min(len(cursor.rows), cursor.pos + max(n, 0))
        if cursor.remaining:
            self.success({"has_more": True})
        else:
            self.success(self.finish(cursor, qid))

    async def on_begin(self, f):
        self.require_state("READY", what="BEGIN")
        extra = f[0] if f and isinstance(f[0], dict) else {}
        self.check_db(extra)
        self.tx = {"cursors": {}, "next_qid": 0, "last": -1}
        self.state = "TX_READY"
        self.success()

    async def on_commit(self, f):
        self.require_state("TX_READY", "TX_STREAMING", what="COMMIT")
        self.tx = None
        self.state = "READY"
        self.success({"bookmark": self.server.next_bookmark()} if self.flavor == "neo4j" else {})

    async def on_rollback(self, f):
        self.require_state("TX_READY", "TX_STREAMING", what="ROLLBACK")
        # FalkorDB cannot undo the statements already applied (see the docstring).
        self.tx = None
        self.state = "READY"
        self.success()


# ---------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------

class BoltServer:
    def __init__(self, args):
        cfg = FLAVORS[args.flavor]
        self.flavor = args.flavor
        self.host = args.host
        self.advertised_host = args.host
        self.port = args.port or cfg["port"]
        self.user = args.user or cfg["user"]
        self.password = args.password or cfg["password"]
        self.agent = cfg["agent"]
        self.graph = args.graph or f"bolt_{args.flavor}"
        if args.versions:
            self.versions = sorted((tuple(int(x) for x in v.split(".")) for v in args.versions.split(",")),
                                   reverse=True)
        else:
            self.versions = cfg["versions"]
        self.db = FalkorDB(args.falkordb_host, args.falkordb_port)
        self.db_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"falkordb-standin:{self.graph}"))
        self._bookmarks = itertools.count(1)
        # Records examined by read queries (see examined_records), how many reads, and the records PULL sent:
        # `CALL standin.examined()`.
        self.examined = 0
        self.read_queries = 0
        self.returned = 0
        self.sessions: set[asyncio.Task] = set()

    def next_bookmark(self):
        return f"FB:standin:{next(self._bookmarks)}"

    def node_eid(self, node_id):
        return f"4:{self.db_uuid}:{node_id}" if self.flavor == "neo4j" else str(node_id)

    def rel_eid(self, rel_id):
        return f"5:{self.db_uuid}:{rel_id}" if self.flavor == "neo4j" else str(rel_id)

    def rewrite(self, query: str, record: list) -> str:
        """Make a Neo4j/Memgraph query runnable on FalkorDB:
        `CREATE (n:L $props)` -> `CREATE (n:L) SET n += $props`, and
        elementId(x) -> an expression FalkorDB can evaluate (the rewrites are
        appended to `record` so column names can be restored)."""
        query = expand_create_params(query)
        if "elementid" not in query.lower():
            return query
        if self.flavor == "neo4j":
            def make(arg):
                return (f"(CASE typeOf({arg}) WHEN 'Node' THEN '4:{self.db_uuid}:' "
                        f"ELSE '5:{self.db_uuid}:' END + toString(id({arg})))")
        else:
            def make(arg):
                return f"toString(id({arg}))"
        return untokenize(rewrite_function_calls(tokenize(query), "elementId", make, record))

    async def handle(self, reader, writer):
        task = asyncio.current_task()
        self.sessions.add(task)
        try:
            await Session(self, reader, writer).run()
        except Exception:
            log.exception("session crashed")
        finally:
            self.sessions.discard(task)


async def wait_for_falkordb(db: FalkorDB, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        try:
            await db.ping()
            return
        except FalkorError as exc:
            if time.monotonic() >= deadline:
                raise SystemExit(f"bolt-standin: FalkorDB not reachable: {exc}") from None
            await asyncio.sleep(0.2)


async def main_async(args):
    server = BoltServer(args)
    await wait_for_falkordb(server.db, 15)
    listener = await asyncio.start_server(server.handle, server.host, 0 if args.port_file else server.port,
                                          reuse_address=True, limit=1 << 20)
    if args.pid_file:
        with open(args.pid_file, "w") as fh:
            fh.write(f"{os.getpid()}\n")
    if args.port_file:  # the port the system chose, written once the listener accepts
        server.port = listener.sockets[0].getsockname()[1]
        with open(args.port_file + ".tmp", "w") as fh:
            fh.write(f"{server.port}\n")
        os.replace(args.port_file + ".tmp", args.port_file)
    log.info("Bolt stand-in (%s flavor, Bolt %s) on %s:%d, FalkorDB graph '%s'",
             server.flavor, ", ".join(f"{a}.{b}" for a, b in server.versions),
             server.host, server.port, server.graph)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with listener:
        await stop.wait()
    listener.close()
    for task in list(server.sessions):
        task.cancel()
    await server.db.close()
    if args.pid_file:
        try:
            os.unlink(args.pid_file)
        except FileNotFoundError:
            pass


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Bolt (Neo4j/Memgraph) stand-in on FalkorDB")
    p.add_argument("--flavor", choices=sorted(FLAVORS), default="neo4j")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="default: 17687 (neo4j) / 17688 (memgraph)")
    p.add_argument("--falkordb-host", default="127.0.0.1")
    p.add_argument("--falkordb-port", type=int, default=16410)
    p.add_argument("--graph", help="FalkorDB graph name (default bolt_<flavor>)")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--versions", help="comma-separated Bolt versions to offer, e.g. 4.4")
    p.add_argument("--pid-file")
    p.add_argument("--port-file", help="listen on a port the system chooses and write it to this file")
    p.add_argument("--verbose", action="store_true")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
