#!/usr/bin/env python3
"""Baseline: the "Python script" way to copy LightRAG chunks from pgvector to Qdrant.

    baseline_vectors_py.py --pg-url postgres://migrate@127.0.0.1:15432/rag --password-env PG_PASSWORD
                           --qdrant-url http://127.0.0.1:16334 --api-key KEY
                           --collection lightrag_vdb_chunks_bench [--batch 128]
                           [--table LIGHTRAG_VDB_CHUNKS] [--ca CA.crt]

What a careful hand-written script does, with the usual libraries:
  * psycopg 3, one server-side (named) cursor over the whole table, binary
    results; pgvector's binary vector format decoded with numpy;
  * qdrant-client in REST mode: the collection is dropped and re-created
    (one unnamed Cosine vector of the table's dimension, keyword payload index
    `workspace_id` with is_tenant, as LightRAG creates it), then one
    `upsert(wait=True)` per --batch rows;
  * LightRAG's Qdrant layout: point id = UUID(bytes=sha256(workspace + id)[:16],
    version=4) sent as 32 hex characters (LightRAG's "simple" style), payload
    id, workspace_id, created_at (epoch seconds of create_time), full_doc_id,
    content, file_path.
At the end the target count must equal the rows read (exit 1 otherwise).
Prints one JSON line: {"tool","rows","seconds","rows_per_s"}; seconds cover
the copy only (not the collection setup or the final count).
--api-key defaults to $QDRANT_API_KEY; --ca is the CA file for https URLs.
"""
import argparse
import hashlib
import json
import os
import ssl
import sys
import time
import uuid
import warnings

import numpy as np
import psycopg
from psycopg import sql
from qdrant_client import QdrantClient, models

# qdrant-client warns whenever an api-key travels over plain HTTP (the local test target does).
warnings.filterwarnings("ignore", message="Api key is used with an insecure connection")

VECTOR_DTYPES = {"vector": np.dtype(">f4"), "halfvec": np.dtype(">f2")}


def lightrag_point_id(workspace: str, chunk_id: str) -> str:
    """LightRAG's compute_mdhash_id_for_qdrant(id, prefix=workspace), style "simple"."""
    digest = hashlib.sha256((workspace + chunk_id).encode("utf-8")).digest()
    return uuid.UUID(bytes=digest[:16], version=4).hex


def decode_vector(raw: bytes, dtype: np.dtype) -> list:
    """pgvector binary: int16 dim, int16 unused, then dim big-endian floats."""
    dim = int.from_bytes(raw[:2], "big")
    return np.frombuffer(raw, dtype=dtype, count=dim, offset=4).astype(np.float32).tolist()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg-url", required=True, help="postgres://user@host:port/db (no password in it)")
    ap.add_argument("--password-env", default="PG_PASSWORD", help="variable holding the password (PG_PASSWORD)")
    ap.add_argument("--table", default="LIGHTRAG_VDB_CHUNKS", help="source table (unquoted, like LightRAG)")
    ap.add_argument("--qdrant-url", required=True, help="http(s)://host:port of Qdrant")
    ap.add_argument("--api-key", default=os.environ.get("QDRANT_API_KEY"), help="Qdrant api-key")
    ap.add_argument("--ca", help="CA certificate file for an https Qdrant URL")
    ap.add_argument("--collection", required=True, help="target collection (dropped and re-created)")
    ap.add_argument("--batch", type=int, default=128, help="points per upsert (default 128, like LightRAG)")
    ap.add_argument("--fetch", type=int, default=1000, help="rows per server-side cursor fetch (default 1000)")
    args = ap.parse_args()
    if args.batch < 1 or args.fetch < 1:
        ap.error("--batch and --fetch must be >= 1")
    password = os.environ.get(args.password_env)
    if password is None:
        ap.error(f"environment variable {args.password_env} is not set")

    table = args.table.lower()
    qdrant_kwargs: dict = {"url": args.qdrant_url, "api_key": args.api_key or None, "prefer_grpc": False,
                           "timeout": 120}
    if args.ca:
        qdrant_kwargs["verify"] = ssl.create_default_context(cafile=args.ca)
        qdrant_kwargs["check_compatibility"] = False  # the version probe does not take the CA
    client = QdrantClient(**qdrant_kwargs)

    with psycopg.connect(args.pg_url, password=password) as conn:
        # Dimension and element type from the column's declared type, e.g. vector(1536).
        with conn.cursor() as cur:
            cur.execute("SELECT t.typname, a.atttypmod FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
                        "WHERE a.attrelid = %s::regclass AND a.attname = 'content_vector'", (table,))
            row = cur.fetchone()
            if row is None or row[0] not in VECTOR_DTYPES or row[1] < 1:
                print(f"{table}.content_vector is not a vector/halfvec column with a dimension", file=sys.stderr)
                return 1
            vtype, dim = row[0], row[1]
        dtype = VECTOR_DTYPES[vtype]

        if client.collection_exists(args.collection):
            client.delete_collection(args.collection)
        client.create_collection(args.collection,
                                 vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE))
        client.create_payload_index(args.collection, "workspace_id",
                                    field_schema=models.KeywordIndexParams(type="keyword", is_tenant=True))

        rows = 0
        started = time.perf_counter()
        query = sql.SQL("SELECT workspace, id, full_doc_id, content, file_path, "
                        "extract(epoch FROM create_time)::bigint, content_vector FROM {}").format(
            sql.Identifier(table))
        with conn.transaction(), conn.cursor(name="baseline_scan", binary=True) as cur:
            cur.itersize = args.fetch
            cur.execute(query)
            batch: list = []
            for workspace, chunk_id, full_doc_id, content, file_path, created, raw_vec in cur:
                batch.append(models.PointStruct(
                    id=lightrag_point_id(workspace, chunk_id),
                    vector=decode_vector(raw_vec, dtype),
                    payload={"id": chunk_id, "workspace_id": workspace, "created_at": created,
                             "full_doc_id": full_doc_id, "content": content, "file_path": file_path},
                ))
                if len(batch) >= args.batch:
                    client.upsert(args.collection, points=batch, wait=True)
                    rows += len(batch)
                    batch = []
            if batch:
                client.upsert(args.collection, points=batch, wait=True)
                rows += len(batch)
        seconds = time.perf_counter() - started

    count = client.count(args.collection, exact=True).count
    client.close()
    print(json.dumps({"tool": "python (psycopg + qdrant-client REST)", "rows": rows, "seconds": round(seconds, 3),
                      "rows_per_s": round(rows / seconds, 1) if seconds else None}))
    if count != rows:
        print(f"target has {count} points, expected {rows}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
