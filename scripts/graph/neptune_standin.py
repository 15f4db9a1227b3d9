#!/usr/bin/env python3
"""A stand-in for Amazon Neptune's openCypher HTTPS endpoint, on FalkorDB. It is NOT Neptune.

    neptune_standin.py [--host 127.0.0.1] [--port 18182] [--graph neptune]
                       [--tls-cert server.crt --tls-key server.key | --no-tls]
                       [--iam --region us-east-1 --access-key AK --secret-key SK
                        [--session-token TOKEN]]
                       [--s3-endpoint http://127.0.0.1:16500]
                       [--falkordb-host 127.0.0.1] [--falkordb-port 16410]
                       [--pid-file F] [--verbose]

Nothing of Neptune's data plane runs locally, so this process answers the
requests `migrate graph` sends to Neptune, with Neptune's paths, JSON shapes,
status codes and error codes, and executes the openCypher on FalkorDB.

Endpoints
    POST /openCypher, /opencypher   form fields `query` and `parameters` (JSON text),
                                    or a JSON body {"query": ..., "parameters": {...} or "..."}
    GET  /openCypher?query=...&parameters=...
    GET  /status                    {"status": "healthy", ...}
    POST /loader                    bulk load openCypher CSV files from S3 (see below)
    GET  /loader, GET/DELETE /loader/{loadId}[?details=true&errors=true]
  Stand-in only (never signed, for tests):
    POST /faults  {"code": "ConcurrentModificationException", "count": 3}
                  (optional "status", "message", and "match": only queries containing that text)
                  the next `count` openCypher requests fail with that error (500).
                  Codes: ConcurrentModificationException, MemoryLimitExceededException,
                  TimeLimitExceededException, ThrottlingException,
                  InternalFailureException, QueryLimitExceededException, any other
                  name (with optional "status", default 500), and "drop": the
                  connection is closed without an answer. Faults queue in order;
                  {"clear": true} or DELETE /faults empties the queue;
                  GET /faults lists it.
    POST /reset   drops the whole graph (fast test isolation).

Results: {"results": [{"col": value, ...}, ...]} with nodes as
{"~id", "~entityType": "node", "~labels", "~properties"} and relationships as
{"~id", "~entityType": "relationship", "~start", "~end", "~type", "~properties"};
paths as a list alternating nodes and relationships.

Errors: HTTP 400/403/500 with {"requestId", "code", "detailedMessage"}:
    400 MalformedQueryException    syntax errors, unknown functions/variables
    400 InvalidArgumentException   a list or map as a property value ("Property
                                   value must be a simple literal."); Neptune
                                   stores only simple literals
    400 ConstraintViolationException  a second node or relationship with an
                                   existing ~id (whatever its labels or type)
    400 BadRequestException        other query errors (type mismatch, ...)
    400 MissingParameterException  no `query`; InvalidParameterException for bad
                                   `parameters` JSON
    403 AccessDeniedException      IAM on and the SigV4 signature missing or wrong
    500 ConcurrentModificationException / MemoryLimitExceededException /
        TimeLimitExceededException ... only when injected through /faults
Every request is one FalkorDB query, so it commits or fails as a whole.

Custom ids. Neptune ids are strings; `~id` in a CREATE/MERGE property map sets
them, and Neptune keeps them unique across the whole graph: a CREATE or MERGE
that would make a second node (or relationship) with an existing `~id`, even
with other labels, fails as a whole with 400 ConstraintViolationException.
Here `~id` is stored as a real property named `__id` (every `~id` name in a
query is rewritten to it; FalkorDB refuses a constraint on a property named
`~id`) with a FalkorDB unique constraint on :__node(__id), and one per
relationship type (created before the first write of that type), and removed
from ~properties in results. The query is rewritten with a small tokenizer
(cypher_tokens.py), never inside strings:
  * every node created by CREATE/MERGE also gets the hidden label `__node`
    (as its first label), and every node pattern with a `~id` key gets it too, so that
    `MATCH (a {`~id`: row.from})` uses the index on :__node(`~id`) instead of
    scanning all nodes (FalkorDB indexes are per label);
  * CREATE patterns without `~id` get `~id: randomUUID()` (nodes without a
    label also get Neptune's default label `vertex`); MERGE patterns without
    `~id` get `ON CREATE SET x.`~id` = randomUUID()`;
  * `CREATE (n:L $props)` -> `CREATE (n:L) SET n += $props` (FalkorDB takes
    no parameter as a pattern's map);
  * id(x) -> x.`~id`, labels(x) hides __node, keys(x) hides ~id; every map in
    a result loses a `~id` key (properties(x) must not show it).
Result column names are those of the query as sent.

Literal-only rule: before running a query the stand-in follows the values that
flow into properties — `{key: expr}` maps in CREATE/MERGE patterns and the
items of SET / ON CREATE SET / ON MATCH SET (`x.p = e`, `x += e`, `x = e`) —
where e is a list/map literal, `$param(.path)` or a variable bound by
`UNWIND $param(.path) AS var` (.path), and refuses lists and maps with 400
InvalidArgumentException. Values it cannot follow are caught by FalkorDB,
which refuses maps itself (lists computed by functions are not caught).

IAM (--iam): every request but /faults and /reset needs a SigV4 signature
(service neptune-db, the --region, the --access-key/--secret-key pair; with
--session-token the X-Amz-Security-Token header must carry it). The stand-in
rebuilds the canonical request from what it received and recomputes the
signature with botocore's SigV4Auth; the payload hash, the credential scope
and a 15 minute clock skew are checked too.

Bulk loader (format "opencypher"): POST /loader {"source": "s3://bucket/prefix",
"format": "opencypher", "iamRoleArn", "region", "failOnError": "TRUE"|"FALSE"}
answers {"status": "200 OK", "payload": {"loadId"}} and loads in the
background from the S3 stand-in (--s3-endpoint, read with boto3). Files
(every object under the prefix) are node files (`:ID`, optional `:LABEL`
with `;`-separated labels) or relationship files (`:START_ID`, `:END_ID`,
`:TYPE`, optional `:ID`); property columns are `name` or `name:Type` with
Type one of String, Bool/Boolean, Byte, Short, Int, Long, Float, Double,
DateTime, Date, optionally `[]` (values `;`-separated). Empty cells set no
property. DateTime/Date values are stored as ISO-8601 strings. Node files
load before relationship files; ids are merged (a second load of the same id
updates it). A relationship whose end node does not exist is an insert error
(FROM_OR_TO_VERTEX_ARE_MISSING); with failOnError TRUE the first error stops
the load as LOAD_FAILED. ID spaces (`:ID(space)`) are ignored.

Known differences from Neptune: relationship ids are unique per type only
(FalkorDB constrains one type at a time), node ids across all labels; the
exact detailedMessage of Neptune's ConstraintViolationException is not
confirmed (its code and status are Neptune's documented ones); float values come back rounded to 15
significant digits (FalkorDB); ids of nodes created by label-less MERGE show
the label `vertex` but cannot be matched by it; no Bolt endpoint, no
explain, no streams, no Gremlin/SPARQL; the loader does not do Gremlin CSV.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import hashlib
import hmac
import io
import itertools
import logging
import math
import os
import signal
import ssl
import sys
import time
import uuid
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import h11

try:
    import orjson

    def json_dumps(obj) -> bytes:
        return orjson.dumps(obj)

    json_loads = orjson.loads
except ImportError:  # pragma: no cover - plain json is fine, only slower
    import json

    def json_dumps(obj) -> bytes:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()

    json_loads = json.loads

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cypher_tokens import (  # noqa: E402
    CLAUSE_WORDS, Token, TokenizeError, clause_end, expand_create_params, find_patterns,
    is_keyword_at, map_entries,
    matching, next_sig, prev_sig, restore_names, rewrite_function_calls, tokenize, untokenize,
)
from falkordb_client import (  # noqa: E402
    Edge, FalkorDB, FalkorError, FalkorUnavailable, FDate, FDuration, FLocalDateTime,
    FLocalTime, FPoint, Node, ParamError, Path,
)

log = logging.getLogger("neptune-standin")

HIDDEN_LABEL = "__node"
ID_KEY = "~id"
# Where `~id` is stored: FalkorDB refuses a unique constraint on a property named `~id`.
ID_PROP = "__id"
DEFAULT_LABEL = "vertex"
MAX_BODY = 256 * 1024 * 1024

SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you "
                      "provided. Check your AWS Secret Access Key and signing method. Consult "
                      "the service documentation for details.")
INVALID_TOKEN = "The security token included in the request is invalid."

FAULT_MESSAGES = {
    "ConcurrentModificationException":
        "Operation failed due to conflicting concurrent operations (please retry), "
        "Transactions are currently rolling back.",
    "MemoryLimitExceededException": "Operation terminated (out of memory)",
    "TimeLimitExceededException": "Operation terminated (deadline exceeded)",
    "ThrottlingException": "Rate of requests exceeds the maximum throughput. "
                           "OK to retry after a backoff.",
    "InternalFailureException": "An internal error occurred. Please retry the request.",
    "QueryLimitExceededException": "Max number of request have breached, "
                                   "ConfiguredQueueCapacity=8192 for connId = standin",
}


class NeptuneError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


# ---------------------------------------------------------------------------
# Query rewriting (custom ids, hidden label) and the literal-only check
# ---------------------------------------------------------------------------

def map_has_id(tokens, span) -> bool:
    return span is not None and any(key == ID_KEY for key, _, _ in map_entries(tokens, span))


def rewrite_query(query: str):
    """Rewrite a Neptune openCypher query for FalkorDB (see the module docstring).

    Returns (cypher, record, tokens_of_original) where record maps rewritten
    expressions back to their original text for result column names."""
    tokens = tokenize(expand_create_params(query))
    patterns = find_patterns(tokens)
    inserts: dict[int, list[str]] = {}   # token index -> texts to insert before it

    def insert(idx, text):
        inserts.setdefault(idx, []).append(text)

    counter = itertools.count()
    seen_before = _seen_identifiers(tokens)
    merge_sets: dict[int, list[str]] = {}   # MERGE keyword index -> ON CREATE SET items
    merge_kw = _merge_keywords(tokens)

    for pat in patterns:
        has_id = map_has_id(tokens, pat.map_span)
        var_name = tokens[pat.var].text if pat.var is not None else None
        reference_only = (pat.kind == "node" and pat.var is not None and not pat.has_labels
                          and pat.map_span is None and seen_before(var_name, pat.start))
        if pat.clause in ("CREATE", "MERGE") and not reference_only:
            # MERGE without `~id`: name the element (before any label text
            # inserted at the same place) and set its id when MERGE creates it.
            if not has_id and pat.clause == "MERGE":
                if var_name is None:
                    var_name = f"__{'n' if pat.kind == 'node' else 'r'}{next(counter)}"
                    insert(pat.start + 1, var_name)
                kw = max(k for k in merge_kw if k < pat.start)
                merge_sets.setdefault(kw, []).append(f"{var_name}.{ID_PROP} = randomUUID()")
            if pat.kind == "node":
                labels = ":" + HIDDEN_LABEL
                if not pat.has_labels and pat.clause == "CREATE":
                    labels = f":{HIDDEN_LABEL}:{DEFAULT_LABEL}"
                insert(_first_label_at(pat), labels)
            if not has_id and pat.clause == "CREATE":
                _add_map_entry(tokens, pat, insert, f"{ID_PROP}: randomUUID()")
        elif pat.kind == "node" and has_id:
            insert(_first_label_at(pat), ":" + HIDDEN_LABEL)

    for kw, items in merge_sets.items():
        insert(clause_end(tokens, kw), " ON CREATE SET " + ", ".join(items) + " ")

    out = []
    for i, t in enumerate(tokens):
        if i in inserts:
            out.append(Token("ws", "".join(inserts[i])))
        out.append(t)
    if len(tokens) in inserts:
        out.append(Token("ws", "".join(inserts[len(tokens)])))
    rewritten = tokenize(untokenize(out))

    record: list = []
    rewritten = rewrite_function_calls(
        rewritten, "id", lambda a: f"{a}.{ID_PROP}" if _simple_var(a) else None, record)
    rewritten = rewrite_function_calls(
        rewritten, "labels", lambda a: f"[__l IN labels({a}) WHERE __l <> '{HIDDEN_LABEL}']", record)
    rewritten = rewrite_function_calls(
        rewritten, "keys", lambda a: f"[__k IN keys({a}) WHERE __k <> '{ID_PROP}']", record)
    rewritten = [Token("ident", ID_PROP) if t.kind == "name" and t.bare == ID_KEY else t for t in rewritten]
    return untokenize(rewritten), record, tokens


def written_types(tokens):
    """The relationship types of CREATE/MERGE patterns (which need their unique `~id` constraint)."""
    types = set()
    for pat in find_patterns(tokens):
        if pat.kind == "rel" and pat.clause in ("CREATE", "MERGE") and pat.has_labels:
            types.update(tokens[j].bare for j in range(pat.start + 1, pat.label_end)
                         if tokens[j].kind in ("ident", "name") and j != pat.var)
    return types


def _first_label_at(pat):
    """Where the hidden label goes: first. FalkorDB 4.16 answers `MATCH (n:A:B:__node {`~id`: x})` from the
    index on :__node without checking A and B; with :__node first it checks every label."""
    return pat.var + 1 if pat.var is not None else pat.start + 1


def _simple_var(text):
    return text.isidentifier() or (text.startswith("`") and text.endswith("`"))


def _add_map_entry(tokens, pat, insert, entry):
    if pat.map_span is None:
        insert(pat.end, " {" + entry + "}")
    else:
        m_start, m_end = pat.map_span
        empty = next_sig(tokens, m_start + 1) == m_end
        insert(m_start + 1, entry if empty else entry + ", ")


def _merge_keywords(tokens):
    return [i for i, t in enumerate(tokens) if t.is_kw("MERGE") and is_keyword_at(tokens, i, {"MERGE"})]


def _seen_identifiers(tokens):
    """seen(name, before_index): was `name` used as a variable before that index?"""
    first_use: dict[str, int] = {}
    for i, t in enumerate(tokens):
        if t.kind not in ("ident", "name"):
            continue
        p = prev_sig(tokens, i - 1)
        if p >= 0 and tokens[p].kind == "op" and tokens[p].text in (".", ":"):
            continue  # property access or label
        n = next_sig(tokens, i + 1)
        if n < len(tokens) and tokens[n].kind == "op" and tokens[n].text == ":" \
                and p >= 0 and tokens[p].kind == "op" and tokens[p].text in ("{", ","):
            continue  # map key
        first_use.setdefault(t.text, i)

    def seen(name, before):
        return first_use.get(name, before) < before
    return seen


# -- literal-only check ----------------------------------------------------

class _Unknown:
    pass


UNKNOWN = _Unknown()


def check_literals(tokens, params: dict):
    """Raise NeptuneError(400, InvalidArgumentException) when a list or map
    would be stored as a property value (as far as it can be followed)."""
    bindings = {}  # UNWIND variable -> list of possible element values
    for i, t in enumerate(tokens):
        if t.is_kw("UNWIND") and is_keyword_at(tokens, i, {"UNWIND"}):
            end = clause_end(tokens, i)
            as_idx = None
            for j in range(i + 1, end):
                if tokens[j].is_kw("AS"):
                    as_idx = j
            if as_idx is None:
                continue
            var_i = next_sig(tokens, as_idx + 1)
            if var_i >= len(tokens):
                continue
            values = _resolve(tokens, next_sig(tokens, i + 1), as_idx, params, bindings)
            elems = []
            if values is not UNKNOWN:
                for v in values:
                    if isinstance(v, list):
                        elems.extend(v)
                    else:
                        elems = UNKNOWN
                        break
            bindings[tokens[var_i].bare] = elems if elems is not UNKNOWN else UNKNOWN

    for pat in find_patterns(tokens):
        if pat.clause in ("CREATE", "MERGE") and pat.map_span:
            for key, vs, ve in map_entries(tokens, pat.map_span):
                _check_value(key, _resolve(tokens, vs, ve, params, bindings))

    for i, t in enumerate(tokens):
        if t.is_kw("SET") and is_keyword_at(tokens, i, {"SET"}):
            _check_set_items(tokens, i, clause_end(tokens, i), params, bindings)


def _check_set_items(tokens, start, end, params, bindings):
    items, depth, item_start = [], 0, start + 1
    for j in range(start + 1, end):
        t = tokens[j]
        if t.kind == "op" and t.text in "([{":
            depth += 1
        elif t.kind == "op" and t.text in ")]}":
            depth -= 1
        elif depth == 0 and t.kind == "op" and t.text == ",":
            items.append((item_start, j))
            item_start = j + 1
    items.append((item_start, end))
    for s, e in items:
        # find the top-level operator: =, += (x.p = e / x += e / x = e)
        depth = 0
        for j in range(s, e):
            t = tokens[j]
            if t.kind == "op" and t.text in "([{":
                depth += 1
            elif t.kind == "op" and t.text in ")]}":
                depth -= 1
            elif depth == 0 and t.kind == "op" and t.text in ("=", "+="):
                lhs = untokenize(tokens[s:j]).strip()
                values = _resolve(tokens, next_sig(tokens, j + 1), e, params, bindings)
                if "." in lhs and t.text == "=":
                    _check_value(lhs.split(".", 1)[1].strip("`"), values)
                elif values is not UNKNOWN:
                    for v in values:
                        if isinstance(v, dict):
                            for key, item in v.items():
                                _check_value(key, [item])
                        elif v is not None and not isinstance(v, _LiteralMap):
                            raise NeptuneError(
                                400, "InvalidArgumentException",
                                f"Expected a map for Set property but didn't find one (SET {lhs} "
                                f"{t.text} ...)")
                break


class _LiteralList:
    pass


class _LiteralMap:
    pass


def _check_value(key, values):
    if values is UNKNOWN:
        return
    for v in values:
        if isinstance(v, (list, _LiteralList)):
            kind = "List"
        elif isinstance(v, (dict, _LiteralMap)):
            kind = "Map"
        else:
            continue
        raise NeptuneError(
            400, "InvalidArgumentException",
            f"Property value must be a simple literal. Expected a simple literal but found "
            f"{kind} for property '{key}'.")


def _resolve(tokens, start, end, params, bindings):
    """Possible values of the expression tokens[start:end], or UNKNOWN."""
    sig = [t for t in tokens[start:end] if t.kind != "ws"]
    if not sig:
        return UNKNOWN
    first = sig[0]
    if first.kind == "op" and first.text == "[" and matching(tokens, start) == end - 1 - _trailing_ws(tokens, start, end):
        return [_LiteralList()]
    if first.kind == "op" and first.text == "{" and matching(tokens, start) == end - 1 - _trailing_ws(tokens, start, end):
        return [_LiteralMap()]
    # $param(.key)* or var(.key)*
    path = []
    rest = sig[1:]
    while len(rest) >= 2 and rest[0].kind == "op" and rest[0].text == "." and rest[1].kind in ("ident", "name"):
        path.append(rest[1].bare)
        rest = rest[2:]
    if rest:
        return UNKNOWN
    if first.kind == "param":
        name = first.text[1:].strip("`")
        if name not in params:
            return UNKNOWN
        values = [params[name]]
    elif first.kind in ("ident", "name") and first.bare in bindings:
        values = bindings[first.bare]
        if values is UNKNOWN:
            return UNKNOWN
    else:
        return UNKNOWN
    for key in path:
        nxt = []
        for v in values:
            if isinstance(v, dict):
                if key in v:
                    nxt.append(v[key])
            else:
                return UNKNOWN
        values = nxt
    return values


def _trailing_ws(tokens, start, end):
    n = 0
    j = end - 1
    while j >= start and tokens[j].kind == "ws":
        n += 1
        j -= 1
    return n


# ---------------------------------------------------------------------------
# Results -> Neptune JSON
# ---------------------------------------------------------------------------

def _iso_date(secs):
    return (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=secs)).strftime("%Y-%m-%d")


def _iso_datetime(secs):
    return (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=secs)).strftime("%Y-%m-%dT%H:%M:%SZ")


class ResultConverter:
    def __init__(self, id_of_node):
        self.id_of_node = id_of_node  # internal node id -> ~id

    def node(self, n: Node):
        props = dict(n.properties)
        nid = props.pop(ID_PROP, None)
        labels = [lb for lb in n.labels if lb != HIDDEN_LABEL] or [DEFAULT_LABEL]
        return {"~id": nid if nid is not None else str(n.id), "~entityType": "node",
                "~labels": labels, "~properties": {k: self.value(v) for k, v in props.items()}}

    def edge(self, e: Edge):
        props = dict(e.properties)
        eid = props.pop(ID_PROP, None)
        return {"~id": eid if eid is not None else str(e.id), "~entityType": "relationship",
                "~start": self.id_of_node.get(e.src, str(e.src)),
                "~end": self.id_of_node.get(e.dst, str(e.dst)),
                "~type": e.type, "~properties": {k: self.value(v) for k, v in props.items()}}

    def value(self, v):
        t = type(v)
        if t in (str, int, bool) or v is None:
            return v
        if t is float:
            if math.isnan(v):
                return "NaN"
            if math.isinf(v):
                return "Infinity" if v > 0 else "-Infinity"
            return v
        if t is list:
            return [self.value(x) for x in v]
        if t is dict:
            return {k: self.value(x) for k, x in v.items() if k != ID_PROP}
        if t is Node:
            return self.node(v)
        if t is Edge:
            return self.edge(v)
        if t is Path:
            out = []
            for i, n in enumerate(v.nodes):
                out.append(self.node(n))
                if i < len(v.edges):
                    out.append(self.edge(v.edges[i]))
            return out
        if t is FDate:
            return _iso_date(v.value)
        if t is FLocalDateTime:
            return _iso_datetime(v.value)
        if t is FLocalTime:
            s = v.value % 86400
            return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
        if t is FDuration:
            return f"PT{v.value}S"
        if t is FPoint:
            return {"latitude": v.value[0], "longitude": v.value[1]}
        return str(v)


def _edge_endpoints(rows, acc):
    for v in rows:
        t = type(v)
        if t is Edge:
            acc.add(v.src)
            acc.add(v.dst)
        elif t is list:
            _edge_endpoints(v, acc)
        elif t is dict:
            _edge_endpoints(v.values(), acc)
        elif t is Path:
            _edge_endpoints(v.edges, acc)


# ---------------------------------------------------------------------------
# SigV4 verification (botocore's own signer recomputes the signature)
# ---------------------------------------------------------------------------

class IamVerifier:
    def __init__(self, region, access_key, secret_key, session_token):
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.compat import HTTPHeaders
        from botocore.credentials import Credentials

        self.region = region
        self.access_key = access_key
        self.session_token = session_token
        self.AWSRequest = AWSRequest
        creds = Credentials(access_key, secret_key, session_token)

        class Verifier(SigV4Auth):
            """SigV4Auth that signs exactly the headers the client said it signed."""

            def __init__(self, signed):
                super().__init__(creds, "neptune-db", region)
                self.signed = signed

            def headers_to_sign(self, request):
                header_map = HTTPHeaders()
                for name, value in request.headers.items():
                    if name.lower() in self.signed:
                        header_map[name.lower()] = value
                return header_map

        self.Verifier = Verifier

    @staticmethod
    def _deny(message):
        return NeptuneError(403, "AccessDeniedException", message)

    def verify(self, method, target, headers: dict, body: bytes):
        auth = headers.get("authorization")
        if not auth:
            raise self._deny("Missing Authentication Token")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            raise self._deny("Unsupported authorization type (only AWS4-HMAC-SHA256)")
        fields = {}
        for part in auth[len("AWS4-HMAC-SHA256 "):].split(","):
            key, _, value = part.strip().partition("=")
            fields[key] = value
        for key in ("Credential", "SignedHeaders", "Signature"):
            if not fields.get(key):
                raise self._deny(f"Authorization header requires '{key}' parameter.")
        scope = fields["Credential"].split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise self._deny("Authorization header has a malformed Credential scope.")
        access_key, date, region, service = scope[:4]
        if access_key != self.access_key:
            raise self._deny(INVALID_TOKEN)
        token = headers.get("x-amz-security-token")
        if token != self.session_token:
            raise self._deny(INVALID_TOKEN)
        if service != "neptune-db":
            raise self._deny(f"Credential should be scoped to correct service: 'neptune-db'. ")
        if region != self.region:
            raise self._deny(f"Credential should be scoped to a valid region, not '{region}'. ")
        amz_date = headers.get("x-amz-date")
        if not amz_date:
            raise self._deny("Authorization header requires existence of either a "
                             "'X-Amz-Date' or a 'Date' header.")
        try:
            when = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
        except ValueError:
            raise self._deny(f"Invalid X-Amz-Date: {amz_date}") from None
        now = dt.datetime.now(dt.timezone.utc)
        if abs((now - when).total_seconds()) > 900:
            raise self._deny(f"Signature expired: {amz_date} is now earlier than "
                             f"{(now - dt.timedelta(minutes=15)).strftime('%Y%m%dT%H%M%SZ')} "
                             f"({now.strftime('%Y%m%dT%H%M%SZ')} - 15 min.)")
        if date != amz_date[:8]:
            raise self._deny("Credential scope date does not match X-Amz-Date.")
        signed = [h.strip().lower() for h in fields["SignedHeaders"].split(";")]
        if "host" not in signed:
            raise self._deny("'Host' must be a signed header.")
        body_hash = hashlib.sha256(body).hexdigest()
        declared = headers.get("x-amz-content-sha256")
        if declared is not None and declared != body_hash:
            raise self._deny("The provided 'x-amz-content-sha256' header does not match what "
                             "was computed.")
        # Canonical query string: decode what was sent, re-encode the AWS way.
        path, _, query = target.partition("?")
        pairs = [(unquote(k), unquote(v)) for k, _, v in
                 (p.partition("=") for p in query.split("&") if p)]
        canon_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                               for k, v in sorted(pairs))
        host = headers.get("host", "")
        url = f"https://{host}{path}" + (f"?{canon_query}" if canon_query else "")
        req_headers = {k: v for k, v in headers.items() if k in signed}
        request = self.AWSRequest(method=method, url=url, data=body, headers=req_headers)
        request.context["timestamp"] = amz_date
        verifier = self.Verifier(set(signed))
        canonical = verifier.canonical_request(request)
        expected = verifier.signature(verifier.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected, fields["Signature"]):
            log.debug("signature mismatch; canonical request was:\n%s", canonical)
            raise self._deny(SIGNATURE_MISMATCH)


# ---------------------------------------------------------------------------
# Bulk loader
# ---------------------------------------------------------------------------

LOADER_TYPES = {"string", "bool", "boolean", "byte", "short", "int", "long", "float",
                "double", "datetime", "date"}
INT_RANGES = {"byte": 8, "short": 16, "int": 32, "long": 64}


class LoadError(Exception):
    def __init__(self, code, message, file=None, record=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.file = file
        self.record = record


def _parse_datetime(text):
    s = text.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    try:
        value = dt.datetime.fromisoformat(s)
    except ValueError:
        value = dt.datetime.combine(dt.date.fromisoformat(s), dt.time())
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    iso = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        iso += f".{value.microsecond // 1000:03d}"
    return iso + "Z"


def convert_cell(text, typ):
    base = typ.lower()
    if base in ("string",):
        return text
    if base in ("bool", "boolean"):
        low = text.strip().lower()
        if low in ("true", "false"):
            return low == "true"
        raise ValueError(f"'{text}' is not a Bool")
    if base in INT_RANGES:
        value = int(text.strip())
        bits = INT_RANGES[base]
        if not -(1 << (bits - 1)) <= value < (1 << (bits - 1)):
            raise ValueError(f"{value} does not fit in {typ}")
        return value
    if base in ("float", "double"):
        return float(text.strip())
    if base in ("datetime", "date"):
        return _parse_datetime(text)
    raise ValueError(f"unknown type {typ}")


class CsvFile:
    def __init__(self, uri, header):
        self.uri = uri
        self.columns = []  # (index, role, name, type, is_array)
        self.kind = None
        roles = set()
        for i, col in enumerate(header):
            col = col.strip()
            role, name, typ, arr = self._column(col)
            if role in roles and role != "prop":
                raise LoadError("PARSING_ERROR", f"System column {role} appears twice", uri, 1)
            roles.add(role)
            self.columns.append((i, role, name, typ, arr))
        if ":START_ID" in roles or ":END_ID" in roles or ":TYPE" in roles:
            for need in (":START_ID", ":END_ID", ":TYPE"):
                if need not in roles:
                    raise LoadError("PARSING_ERROR", f"Relationship file is missing {need}", uri, 1)
            self.kind = "rel"
        elif ":ID" in roles:
            self.kind = "node"
        else:
            raise LoadError("PARSING_ERROR", "Header has neither :ID nor :START_ID/:END_ID/:TYPE", uri, 1)

    def _column(self, col):
        for system in (":ID", ":START_ID", ":END_ID", ":LABEL", ":TYPE"):
            if col == system or col.startswith(system + "("):
                return system, None, None, False
            # name:ID also stores the id as property `name`
            if system == ":ID" and col.endswith(":ID") and not col.startswith(":"):
                return ":ID", col[:-3], "string", False
            if system == ":ID" and ":ID(" in col and not col.startswith(":"):
                return ":ID", col.split(":ID(")[0], "string", False
        name, _, typ = col.rpartition(":") if ":" in col else (col, "", "")
        if not name:
            name, typ = col, "string"
        typ = typ or "string"
        arr = typ.endswith("[]")
        base = typ[:-2] if arr else typ
        if base.lower() not in LOADER_TYPES:
            raise LoadError("PARSING_ERROR", f"Invalid data type '{typ}' in header column '{col}'",
                            self.uri, 1)
        return "prop", name, base, arr


class LoadJob:
    def __init__(self, load_id, request):
        self.id = load_id
        self.request = request
        self.status = "LOAD_NOT_STARTED"
        self.start = int(time.time())
        self.t0 = time.monotonic()
        self.t1 = None
        self.total = 0
        self.duplicates = 0
        self.parsing_errors = 0
        self.mismatch_errors = 0
        self.insert_errors = 0
        self.errors: list[dict] = []
        self.feeds: dict[str, str] = {}
        self.task: asyncio.Task | None = None

    def error(self, exc: LoadError):
        if exc.code == "PARSING_ERROR":
            self.parsing_errors += 1
        elif exc.code == "DATATYPE_MISMATCH":
            self.mismatch_errors += 1
        else:
            self.insert_errors += 1
        self.errors.append({"errorCode": exc.code, "errorMessage": exc.message,
                            "fileName": exc.file, "recordNum": exc.record or 0})

    def payload(self, details=False, errors=False, page=1, per_page=10):
        spent = int((self.t1 or time.monotonic()) - self.t0)
        counts: dict[str, int] = {}
        for status in self.feeds.values():
            counts[status] = counts.get(status, 0) + 1
        payload = {
            "feedCount": [{k: v} for k, v in counts.items()],
            "overallStatus": {
                "fullUri": self.request["source"], "runNumber": 1, "retryNumber": 0,
                "status": self.status, "totalTimeSpent": spent, "startTime": self.start,
                "totalRecords": self.total, "totalDuplicates": self.duplicates,
                "parsingErrors": self.parsing_errors,
                "datatypeMismatchErrors": self.mismatch_errors,
                "insertErrors": self.insert_errors,
            },
        }
        if details:
            payload["failedFeeds"] = [
                {"fullUri": uri, "status": st} for uri, st in self.feeds.items()
                if st != "LOAD_COMPLETED"]
        if errors:
            start = (page - 1) * per_page
            logs = self.errors[start:start + per_page]
            payload["errors"] = {"startIndex": start + 1 if logs else 0,
                                 "endIndex": start + len(logs), "loadId": self.id,
                                 "errorLogs": logs}
        return payload


class Loader:
    BATCH = 500

    def __init__(self, app: "NeptuneApp"):
        self.app = app
        self.jobs: dict[str, LoadJob] = {}

    def submit(self, body: dict) -> str:
        source = body.get("source")
        if not source:
            raise NeptuneError(400, "MissingParameterException", "Missing required parameter: source")
        if not isinstance(source, str) or not source.startswith("s3://") or len(source) <= 5:
            raise NeptuneError(400, "InvalidParameterException",
                               f"Invalid source '{source}': expected s3://bucket/prefix")
        fmt = str(body.get("format", "")).lower()
        if fmt != "opencypher":
            raise NeptuneError(400, "InvalidParameterException",
                               f"Unsupported format '{body.get('format')}': this stand-in loads "
                               f"only 'opencypher'")
        for key in ("iamRoleArn", "region"):
            if not body.get(key):
                raise NeptuneError(400, "MissingParameterException", f"Missing required parameter: {key}")
        fail = str(body.get("failOnError", "TRUE")).upper()
        if fail not in ("TRUE", "FALSE"):
            raise NeptuneError(400, "InvalidParameterException", "failOnError must be TRUE or FALSE")
        job = LoadJob(str(uuid.uuid4()), body)
        self.jobs[job.id] = job
        job.task = asyncio.get_running_loop().create_task(self.run(job, fail == "TRUE"))
        return job.id

    def _s3(self, region):
        import boto3
        return boto3.client("s3", endpoint_url=self.app.args.s3_endpoint, region_name=region or "us-east-1",
                            aws_access_key_id="standin", aws_secret_access_key="standin")

    def _fetch(self, source, region):
        """All (uri, text) under the source prefix, sorted by key (blocking: run in a thread)."""
        bucket, _, prefix = source[5:].partition("/")
        s3 = self._s3(region)
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", []) if not o["Key"].endswith("/")]
        files = []
        for key in sorted(keys):
            data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            files.append((f"s3://{bucket}/{key}", data.decode("utf-8-sig")))
        return files

    async def run(self, job: LoadJob, fail_on_error: bool):
        job.status = "LOAD_IN_PROGRESS"
        try:
            try:
                files = await asyncio.to_thread(self._fetch, job.request["source"], job.request.get("region"))
            except Exception as exc:  # S3 errors: missing bucket, unreachable endpoint...
                job.errors.append({"errorCode": "S3_ACCESS_DENIED_ERROR" if "AccessDenied" in str(exc)
                                   else "S3_READ_ERROR", "errorMessage": str(exc),
                                   "fileName": job.request["source"], "recordNum": 0})
                job.status = "LOAD_S3_READ_ERROR"
                return
            if not files:
                job.errors.append({"errorCode": "S3_READ_ERROR",
                                   "errorMessage": "No files found at the source prefix",
                                   "fileName": job.request["source"], "recordNum": 0})
                job.status = "LOAD_FAILED"
                return
            parsed = []
            for uri, text in files:
                job.feeds[uri] = "LOAD_NOT_STARTED"
                try:
                    rows = list(csv.reader(io.StringIO(text)))
                    if not rows:
                        raise LoadError("PARSING_ERROR", "Empty file", uri, 0)
                    parsed.append((CsvFile(uri, rows[0]), rows[1:]))
                except LoadError as exc:
                    job.error(exc)
                    job.feeds[uri] = "LOAD_FAILED"
                    if fail_on_error:
                        job.status = "LOAD_FAILED"
                        return
            # Nodes first, so relationships find their ends.
            for kind in ("node", "rel"):
                for f, rows in parsed:
                    if f.kind != kind:
                        continue
                    job.feeds[f.uri] = "LOAD_IN_PROGRESS"
                    ok = await self.load_file(job, f, rows, fail_on_error)
                    job.feeds[f.uri] = "LOAD_COMPLETED" if ok else "LOAD_FAILED"
                    if not ok and fail_on_error:
                        job.status = "LOAD_FAILED"
                        return
            job.status = "LOAD_COMPLETED" if not job.errors or not fail_on_error else "LOAD_FAILED"
        except asyncio.CancelledError:
            job.status = "LOAD_CANCELLED_BY_USER"
        except Exception as exc:
            log.exception("load %s crashed", job.id)
            job.errors.append({"errorCode": "INTERNAL_ERROR", "errorMessage": str(exc),
                               "fileName": job.request["source"], "recordNum": 0})
            job.status = "LOAD_UNEXPECTED_ERROR"
        finally:
            job.t1 = time.monotonic()

    async def load_file(self, job, f: CsvFile, rows, fail_on_error) -> bool:
        ok = True
        groups: dict[tuple, list] = {}
        for recno, cells in enumerate(rows, start=2):
            if not cells or all(c == "" for c in cells):
                continue
            try:
                key, row = self.convert_row(f, cells, recno)
            except LoadError as exc:
                job.error(exc)
                ok = False
                if fail_on_error:
                    return False
                continue
            groups.setdefault(key, []).append((recno, row))
        for key, items in groups.items():
            for start in range(0, len(items), self.BATCH):
                batch = items[start:start + self.BATCH]
                if not await self.insert(job, f, key, batch) and fail_on_error:
                    return False
                ok = ok and not job.errors
        return ok

    def convert_row(self, f: CsvFile, cells, recno):
        if len(cells) != len(f.columns):
            raise LoadError("PARSING_ERROR", f"Expected {len(f.columns)} columns, found {len(cells)}",
                            f.uri, recno)
        props, ident, start, end, labels, rtype = {}, None, None, None, (), None
        for i, role, name, typ, arr in f.columns:
            cell = cells[i]
            if role == ":ID":
                ident = cell
                if name:
                    props[name] = cell
            elif role == ":START_ID":
                start = cell
            elif role == ":END_ID":
                end = cell
            elif role == ":LABEL":
                labels = tuple(sorted({lb.strip() for lb in cell.split(";") if lb.strip()}))
            elif role == ":TYPE":
                rtype = cell.strip()
            elif cell != "":
                try:
                    if arr:
                        props[name] = [convert_cell(x, typ) for x in cell.split(";") if x != ""]
                    else:
                        props[name] = convert_cell(cell, typ)
                except ValueError as exc:
                    raise LoadError("DATATYPE_MISMATCH", f"Column '{name}': {exc}", f.uri, recno) from None
        for label in labels + ((rtype,) if rtype else ()):
            if "`" in label:
                raise LoadError("PARSING_ERROR", f"Unsupported character in label/type '{label}'", f.uri, recno)
        if f.kind == "node":
            if not ident:
                raise LoadError("PARSING_ERROR", "Empty :ID", f.uri, recno)
            return ("node", labels), {"id": ident, "props": props}
        if not start or not end or not rtype:
            raise LoadError("PARSING_ERROR", "Empty :START_ID, :END_ID or :TYPE", f.uri, recno)
        return ("rel", rtype), {"id": ident or str(uuid.uuid4()), "from": start, "to": end, "props": props}

    async def insert(self, job, f, key, batch) -> bool:
        rows = [row for _, row in batch]
        db, graph = self.app.db, self.app.graph
        if key[0] == "node":
            labels = "".join(f":`{lb}`" for lb in key[1]) or f":{DEFAULT_LABEL}"
            cypher = (f"UNWIND $rows AS row MERGE (n:{HIDDEN_LABEL}{labels} {{{ID_PROP}: row.id}}) "
                      f"SET n += row.props")
        else:
            cypher = (f"UNWIND $rows AS row MATCH (a:{HIDDEN_LABEL} {{{ID_PROP}: row.from}}), "
                      f"(b:{HIDDEN_LABEL} {{{ID_PROP}: row.to}}) "
                      f"MERGE (a)-[r:`{key[1]}` {{{ID_PROP}: row.id}}]->(b) SET r += row.props "
                      f"RETURN count(r)")
        try:
            if key[0] == "rel":
                await self.app.ensure_unique_types([key[1]])
            result = await db.query(graph, cypher, {"rows": rows})
        except (FalkorError, ParamError) as exc:
            for recno, _ in batch:
                job.error(LoadError("INSERT_ERROR", str(exc), f.uri, recno))
            return False
        if key[0] == "rel" and result.rows and result.rows[0][0] < len(rows):
            check = await db.query(
                graph, f"UNWIND $rows AS row OPTIONAL MATCH (a:{HIDDEN_LABEL} {{{ID_PROP}: row.from}}) "
                       f"OPTIONAL MATCH (b:{HIDDEN_LABEL} {{{ID_PROP}: row.to}}) "
                       f"WITH row, a, b WHERE a IS NULL OR b IS NULL RETURN row.id",
                {"rows": rows})
            missing = {r[0] for r in check.rows}
            for recno, row in batch:
                if row["id"] in missing:
                    job.error(LoadError("FROM_OR_TO_VERTEX_ARE_MISSING",
                                        f"Relationship {row['id']}: node {row['from']} or {row['to']} "
                                        f"does not exist", f.uri, recno))
            job.total += len(rows) - len(missing)
            return not missing
        job.total += len(rows)
        return True


# ---------------------------------------------------------------------------
# The application: routing, faults, query execution
# ---------------------------------------------------------------------------

class NeptuneApp:
    def __init__(self, args):
        self.args = args
        self.graph = args.graph
        self.db = FalkorDB(args.falkordb_host, args.falkordb_port)
        self.iam = (IamVerifier(args.region, args.access_key, args.secret_key, args.session_token)
                    if args.iam else None)
        self.faults: list[dict] = []
        self.unique_types: set[str] = set()   # relationship types whose ~id constraint exists
        self.loader = Loader(self)
        self.started = dt.datetime.now(dt.timezone.utc)

    async def setup(self):
        await self.ensure_index()

    async def ensure_index(self):
        """The index on :__node(~id) and the constraint that keeps node ids unique across the whole graph."""
        self.unique_types = set()
        await self._index(f"CREATE INDEX FOR (n:{HIDDEN_LABEL}) ON (n.{ID_PROP})")
        await self.db.unique_constraint(self.graph, "NODE", HIDDEN_LABEL, ID_PROP)

    async def ensure_unique_types(self, types):
        """Relationship ids unique per type (FalkorDB constrains one type at a time), before the first write."""
        for rtype in sorted(set(types) - self.unique_types):
            quoted = "`" + rtype.replace("`", "``") + "`"
            await self._index(f"CREATE INDEX FOR ()-[r:{quoted}]-() ON (r.{ID_PROP})")
            await self.db.unique_constraint(self.graph, "RELATIONSHIP", rtype, ID_PROP)
            self.unique_types.add(rtype)

    async def _index(self, cypher):
        try:
            await self.db.query(self.graph, cypher)
        except FalkorError as exc:
            if "already indexed" not in str(exc) and "already exists" not in str(exc):
                raise

    # -- request entry point ---------------------------------------------

    async def handle(self, method, target, headers, body):
        """Returns (status, json_obj) or the string "drop"."""
        path = target.partition("?")[0]
        if path == "/faults":
            return await self.on_faults(method, body)
        if path == "/reset" and method == "POST":
            await self.db.delete_graph(self.graph)
            await self.ensure_index()
            return 200, {"status": "200 OK"}
        if self.iam:
            self.iam.verify(method, target, headers, body)
        lower = path.lower()
        if lower in ("/opencypher", "/opencypher/"):
            if method not in ("GET", "POST"):
                raise NeptuneError(405, "MethodNotAllowedException",
                                   f"Method {method} is not allowed on {path}")
            query, params = self.parse_query_request(method, target, headers, body)
            # A fault with "match" only hits queries containing that text (so a test can aim at one kind).
            if self.faults and self.faults[0].get("match", "") in query:
                fault = self.faults[0]
                fault["count"] -= 1
                if fault["count"] <= 0:
                    self.faults.pop(0)
                if fault["code"] == "drop":
                    return "drop"
                raise NeptuneError(fault.get("status", 500), fault["code"],
                                   fault.get("message") or FAULT_MESSAGES.get(fault["code"], fault["code"]))
            return 200, await self.run_query(query, params)
        if lower in ("/status", "/opencypher/status"):
            return 200, self.status()
        if lower == "/loader" or lower.startswith("/loader/"):
            return await self.on_loader(method, path, target, headers, body)
        raise NeptuneError(404, "BadRequestException", f"Unknown path {path}")

    def status(self):
        return {"status": "healthy", "startTime": self.started.strftime("%a %b %d %H:%M:%S UTC %Y"),
                "dbEngineVersion": "1.3.2.0.R1 (stand-in)", "role": "writer",
                "dfeQueryEngine": "viaQueryHint", "gremlin": {"version": "tinkerpop-3.7.1"},
                "sparql": {"version": "sparql-1.1"}, "opencypher": {"version": "Neptune-9.0.20190305-1.0"},
                "labMode": {}, "features": {"standin": "FalkorDB"},
                "settings": {"clusterQueryTimeoutInMs": "120000"}}

    async def on_faults(self, method, body):
        if method == "GET":
            return 200, {"faults": self.faults}
        if method == "DELETE":
            self.faults.clear()
            return 200, {"faults": []}
        if method != "POST":
            raise NeptuneError(405, "MethodNotAllowedException", "Use GET, POST or DELETE on /faults")
        try:
            spec = json_loads(body or b"{}")
        except ValueError as exc:
            raise NeptuneError(400, "BadRequestException", f"Invalid JSON: {exc}") from None
        if spec.get("clear"):
            self.faults.clear()
        if spec.get("code"):
            count = int(spec.get("count", 1))
            if count > 0:
                fault = {"code": str(spec["code"]), "count": count}
                if "status" in spec:
                    fault["status"] = int(spec["status"])
                if "message" in spec:
                    fault["message"] = str(spec["message"])
                if "match" in spec:
                    fault["match"] = str(spec["match"])
                self.faults.append(fault)
        return 200, {"faults": self.faults}

    async def on_loader(self, method, path, target, headers, body):
        parts = [p for p in path.split("/") if p]
        query = dict(parse_qsl(target.partition("?")[2]))
        if len(parts) == 1:
            if method == "POST":
                ctype = headers.get("content-type", "")
                try:
                    req = (dict(parse_qsl(body.decode())) if "x-www-form-urlencoded" in ctype
                           else json_loads(body or b"{}"))
                except ValueError as exc:
                    raise NeptuneError(400, "BadRequestException", f"Invalid JSON: {exc}") from None
                load_id = self.loader.submit(req)
                return 200, {"status": "200 OK", "payload": {"loadId": load_id}}
            if method == "GET":
                return 200, {"status": "200 OK", "payload": {"loadIds": list(self.loader.jobs)[::-1]}}
            raise NeptuneError(405, "MethodNotAllowedException", f"Method {method} not allowed on /loader")
        job = self.loader.jobs.get(parts[1])
        if job is None:
            raise NeptuneError(404, "BulkLoadIdNotFoundException",
                               f"The load with id = {parts[1]} does not exist or not active")
        if method == "GET":
            truthy = ("true", "TRUE", "True")
            return 200, {"status": "200 OK", "payload": job.payload(
                details=query.get("details") in truthy, errors=query.get("errors") in truthy,
                page=int(query.get("page", 1)), per_page=int(query.get("errorsPerPage", 10)))}
        if method == "DELETE":
            if job.task and not job.task.done():
                job.task.cancel()
            return 200, {"status": "200 OK", "payload": {"loadId": job.id}}
        raise NeptuneError(405, "MethodNotAllowedException", f"Method {method} not allowed on {path}")

    # -- openCypher ------------------------------------------------------

    @staticmethod
    def parse_query_request(method, target, headers, body):
        ctype = headers.get("content-type", "").lower()
        if method == "GET":
            fields = dict(parse_qsl(target.partition("?")[2], keep_blank_values=True))
        elif "application/json" in ctype:
            try:
                fields = json_loads(body or b"{}")
            except ValueError as exc:
                raise NeptuneError(400, "BadRequestException", f"Invalid JSON body: {exc}") from None
            if not isinstance(fields, dict):
                raise NeptuneError(400, "BadRequestException", "JSON body must be an object")
        else:
            fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        query = fields.get("query")
        if not query or not isinstance(query, str):
            raise NeptuneError(400, "MissingParameterException", "Missing required parameter: query")
        params = fields.get("parameters") or {}
        if isinstance(params, str):
            try:
                params = json_loads(params) if params.strip() else {}
            except ValueError as exc:
                raise NeptuneError(400, "InvalidParameterException",
                                   f"Invalid parameters: not valid JSON ({exc})") from None
        if not isinstance(params, dict):
            raise NeptuneError(400, "InvalidParameterException", "parameters must be a JSON object")
        return query, params

    async def run_query(self, query, params):
        try:
            cypher, record, tokens = rewrite_query(query)
        except TokenizeError as exc:
            raise NeptuneError(400, "MalformedQueryException", f"Invalid input: {exc}") from None
        check_literals(tokens, params)
        try:
            await self.ensure_unique_types(written_types(tokens))
            result = await self.db.query(self.graph, cypher, params)
        except FalkorUnavailable as exc:
            raise NeptuneError(500, "InternalFailureException", str(exc)) from None
        except ParamError as exc:
            raise NeptuneError(400, "InvalidParameterException", str(exc)) from None
        except FalkorError as exc:
            raise self.map_error(str(exc)) from None
        columns = restore_names(result.columns, record)
        endpoints: set = set()
        _edge_endpoints(result.rows, endpoints)
        id_of_node = {}
        if endpoints:
            lookup = await self.db.query(
                self.graph, f"MATCH (n) WHERE id(n) IN $ids RETURN id(n), n.{ID_PROP}",
                {"ids": sorted(endpoints)})
            id_of_node = {r[0]: r[1] if r[1] is not None else str(r[0]) for r in lookup.rows}
        conv = ResultConverter(id_of_node)
        return {"results": [{col: conv.value(v) for col, v in zip(columns, row)} for row in result.rows]}

    @staticmethod
    def map_error(msg: str) -> NeptuneError:
        text = msg[len("errMsg: "):] if msg.startswith("errMsg: ") else msg
        if "unique constraint violation" in msg:
            kind = "relationship" if "edge" in msg else "node"
            return NeptuneError(400, "ConstraintViolationException",
                                f"Operation failed: a {kind} with the same ~id already exists. Neptune keeps "
                                f"~id unique across the whole graph, whatever the labels or type. ({text})")
        if "Property values can only be of primitive types" in msg:
            return NeptuneError(400, "InvalidArgumentException",
                                f"Property value must be a simple literal. ({text})")
        if ("Invalid input" in msg or msg.startswith("errMsg:") or "Unknown function" in msg
                or "not defined" in msg or "is not registered" in msg):
            return NeptuneError(400, "MalformedQueryException", text)
        if "timed out" in msg.lower():
            return NeptuneError(500, "TimeLimitExceededException", "Operation terminated (deadline exceeded)")
        return NeptuneError(400, "BadRequestException", text)


# ---------------------------------------------------------------------------
# HTTP/1.1 (h11) over TLS
# ---------------------------------------------------------------------------

class HttpServer:
    def __init__(self, app: NeptuneApp):
        self.app = app
        self.conns: set[asyncio.Task] = set()

    async def handle_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        task = asyncio.current_task()
        self.conns.add(task)
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=4 * 1024 * 1024)
        try:
            while True:
                req = await self._next(conn, reader)
                if req is None or isinstance(req, h11.ConnectionClosed):
                    return
                if conn.they_are_waiting_for_100_continue:  # curl sends Expect: 100-continue
                    writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
                body = bytearray()
                while True:
                    ev = await self._next(conn, reader)
                    if ev is None:
                        return
                    if isinstance(ev, h11.Data):
                        body += ev.data
                        if len(body) > MAX_BODY:
                            await self._send(conn, writer, 413, self._error_body(
                                "BadRequestException", "Request body too large"), close=True)
                            return
                    elif isinstance(ev, h11.EndOfMessage):
                        break
                method = req.method.decode()
                target = req.target.decode("latin-1")
                headers = {k.decode().lower(): v.decode("latin-1") for k, v in req.headers}
                request_id = str(uuid.uuid4())
                t0 = time.monotonic()
                try:
                    answer = await self.app.handle(method, target, headers, bytes(body))
                except NeptuneError as exc:
                    answer = (exc.status, {"requestId": request_id, "code": exc.code,
                                           "detailedMessage": exc.message})
                except Exception as exc:  # a bug here must not kill the connection loop
                    log.exception("request failed")
                    answer = (500, {"requestId": request_id, "code": "InternalFailureException",
                                    "detailedMessage": f"stand-in error: {exc}"})
                if answer == "drop":
                    log.info("%s %s -> dropped (fault)", method, target[:80])
                    writer.transport.abort()
                    return
                status, obj = answer
                log.debug("%s %s -> %d (%.1f ms)", method, target[:80], status, (time.monotonic() - t0) * 1000)
                await self._send(conn, writer, status, json_dumps(obj), request_id=request_id)
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except h11.RemoteProtocolError as exc:
            try:
                await self._send(conn, writer, 400, self._error_body("BadRequestException", str(exc)), close=True)
            except Exception:
                pass
        finally:
            self.conns.discard(task)
            try:
                writer.close()
            except Exception:
                pass

    @staticmethod
    def _error_body(code, message):
        return json_dumps({"requestId": str(uuid.uuid4()), "code": code, "detailedMessage": message})

    @staticmethod
    async def _next(conn, reader):
        while True:
            ev = conn.next_event()
            if ev is h11.NEED_DATA:
                data = await reader.read(256 * 1024)
                conn.receive_data(data)
                if not data and conn.their_state is h11.IDLE:
                    return None
                continue
            if ev is h11.PAUSED:
                return None
            return ev

    @staticmethod
    async def _send(conn, writer, status, body: bytes, request_id=None, close=False):
        headers = [("content-type", "application/json;charset=UTF-8"),
                   ("content-length", str(len(body)))]
        if request_id:
            headers.append(("x-amzn-requestid", request_id))
        if close:
            headers.append(("connection", "close"))
        reason = {200: b"OK", 400: b"Bad Request", 403: b"Forbidden", 404: b"Not Found",
                  405: b"Method Not Allowed", 413: b"Payload Too Large",
                  500: b"Internal Server Error"}.get(status, b"")
        data = conn.send(h11.Response(status_code=status, headers=headers, reason=reason))
        data += conn.send(h11.Data(data=body))
        data += conn.send(h11.EndOfMessage())
        writer.write(data)
        await writer.drain()


async def main_async(args):
    app = NeptuneApp(args)
    deadline = time.monotonic() + 15
    while True:
        try:
            await app.db.ping()
            break
        except FalkorError as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"neptune-standin: FalkorDB not reachable: {exc}") from None
            await asyncio.sleep(0.2)
    await app.setup()
    ctx = None
    if not args.no_tls:
        if not (args.tls_cert and args.tls_key):
            raise SystemExit("neptune-standin: --tls-cert and --tls-key are required (or --no-tls)")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
    http = HttpServer(app)
    server = await asyncio.start_server(http.handle_conn, args.host, args.port, ssl=ctx,
                                        reuse_address=True, limit=1 << 20)
    if args.pid_file:
        with open(args.pid_file, "w") as fh:
            fh.write(f"{os.getpid()}\n")
    log.info("Neptune stand-in on %s://%s:%d (IAM %s), FalkorDB graph '%s'",
             "http" if args.no_tls else "https", args.host, args.port,
             f"on, region {args.region}" if args.iam else "off", args.graph)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    server.close()
    for task in list(http.conns):
        task.cancel()
    await app.db.close()
    if args.pid_file:
        try:
            os.unlink(args.pid_file)
        except FileNotFoundError:
            pass


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Amazon Neptune openCypher stand-in on FalkorDB")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=18182)
    p.add_argument("--graph", default="neptune")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--no-tls", action="store_true", help="plain HTTP (debugging only)")
    p.add_argument("--iam", action="store_true", help="require SigV4 (service neptune-db)")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--access-key", default="AKIDEXAMPLE")
    p.add_argument("--secret-key", default="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    p.add_argument("--session-token", default=None,
                   help="when set, requests must carry it in X-Amz-Security-Token")
    p.add_argument("--s3-endpoint", default="http://127.0.0.1:16500")
    p.add_argument("--falkordb-host", default="127.0.0.1")
    p.add_argument("--falkordb-port", type=int, default=16410)
    p.add_argument("--pid-file")
    p.add_argument("--verbose", action="store_true")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
