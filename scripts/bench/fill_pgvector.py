#!/usr/bin/env python3
"""Fill a pgvector table shaped like LightRAG's chunks table, fast.

    fill_pgvector.py --url postgres://migrate@127.0.0.1:15432/rag --password-env PG_PASSWORD \\
                     --rows 10000 --dim 1536 [--workspaces a,b] [--table LIGHTRAG_VDB_CHUNKS]
                     [--vector-type vector|halfvec] [--append] [--seed 1] [--hnsw]

Creates (dropping any previous one, unless --append) LightRAG's table

    LIGHTRAG_VDB_CHUNKS (id VARCHAR(255), workspace VARCHAR(255), full_doc_id VARCHAR(256),
        chunk_order_index INTEGER, tokens INTEGER, content TEXT, content_vector VECTOR(dim),
        file_path TEXT NULL, create_time TIMESTAMP(0), update_time TIMESTAMP(0),
        PRIMARY KEY (workspace, id))

with an unquoted name, as LightRAG does, so PostgreSQL folds it to lower case
(lightrag_vdb_chunks). Rows are spread round-robin over the workspaces; row k
of a workspace has the same content, and so the same id ("chunk-" + md5 of
the content), in every workspace: ids repeat across workspaces like in a real
multi-tenant LightRAG database, only (workspace, id) is unique. Content is
Unicode-heavy (accents, CJK, RTL, emoji, combining marks, quotes, backslashes,
tabs and newlines); every 50th row has a NULL file_path. Vectors are random
(normal, seeded) float32.

Rows go in through one binary COPY per 2,000 rows (psycopg 3), the vector
values encoded as pgvector's binary format (int16 dim, int16 0, big-endian
float4, or float2 for halfvec). Prints one JSON line:
{"table","rows","dim","workspaces","seconds","rows_per_s","table_bytes"}.
"""
import argparse
import hashlib
import json
import os
import struct
import sys
import time

import numpy as np
import psycopg
from psycopg import sql

BATCH = 2000
PG_EPOCH = 946684800  # 2000-01-01T00:00:00Z, the origin of binary timestamps
BASE_TIME = 1735689600  # 2025-01-01T00:00:00Z

SNIPPETS = [
    "Café crème brûlée, naïve façade — déjà vu.",
    "日本語のテキストと中文内容，한국어 문장도 포함됩니다。",
    "مرحبا بالعالم — نص من اليمين إلى اليسار",
    "Emoji: 🚀✨🧪 and flags 🇩🇪🇯🇵, ZWJ 👩‍💻",
    "Combining: e\u0301 a\u0308 n\u0303; Greek: λόγος; Cyrillic: съешь же ещё",
    'Quotes \'single\' "double" `back` \\backslash\\ and\ttabs',
    "Line one\nLine two\r\nLine three",
    "Math: ∑ᵢ xᵢ² ≤ ∞, ≠, ≈, √2",
]


def content_for(j: int) -> str:
    """Deterministic chunk text for local index j (the same in every workspace)."""
    parts = [f"Chunk {j}:"]
    for k in range(3):
        parts.append(SNIPPETS[(j + k) % len(SNIPPETS)])
    parts.append("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * (1 + j % 4))
    return " ".join(parts)


def text_field(s: str) -> bytes:
    b = s.encode("utf-8")
    return struct.pack(">i", len(b)) + b


def int4_field(v: int) -> bytes:
    return b"\x00\x00\x00\x04" + struct.pack(">i", v)


def timestamp_field(epoch_seconds: int) -> bytes:
    return b"\x00\x00\x00\x08" + struct.pack(">q", (epoch_seconds - PG_EPOCH) * 1_000_000)


NULL_FIELD = struct.pack(">i", -1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="postgres://user@host:port/db (no password in it)")
    ap.add_argument("--password-env", default="PG_PASSWORD",
                    help="environment variable holding the password (default PG_PASSWORD)")
    ap.add_argument("--rows", type=int, required=True, help="rows to write")
    ap.add_argument("--dim", type=int, required=True, help="vector dimension")
    ap.add_argument("--workspaces", default="default", help="comma-separated workspaces (default: default)")
    ap.add_argument("--table", default="LIGHTRAG_VDB_CHUNKS", help="table name, unquoted like LightRAG's")
    ap.add_argument("--vector-type", choices=["vector", "halfvec"], default="vector",
                    help="column type of content_vector (default vector)")
    ap.add_argument("--append", action="store_true", help="keep an existing table and add rows to it")
    ap.add_argument("--seed", type=int, default=1, help="random seed for the vectors (default 1)")
    ap.add_argument("--hnsw", action="store_true", help="also build LightRAG's HNSW cosine index (slow)")
    args = ap.parse_args()

    workspaces = [w for w in args.workspaces.split(",") if w]
    if args.rows < 0 or args.dim < 1 or not workspaces:
        ap.error("--rows must be >= 0, --dim >= 1 and --workspaces non-empty")
    if args.dim > 16000:
        ap.error(f"--dim {args.dim} is over pgvector's limit (16000) for {args.vector_type}")
    password = os.environ.get(args.password_env)
    if password is None:
        ap.error(f"environment variable {args.password_env} is not set")

    # PostgreSQL folds unquoted names to lower case: do the same, then quote.
    table = sql.Identifier(args.table.lower())
    pk = sql.Identifier(f"{args.table.lower()}_pk")
    vtype = sql.SQL(f"{args.vector_type}({args.dim})")
    elem = np.dtype(">f4") if args.vector_type == "vector" else np.dtype(">f2")
    vec_len = struct.pack(">i", 4 + args.dim * elem.itemsize)
    vec_head = struct.pack(">hh", args.dim, 0)

    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    with psycopg.connect(args.url, password=password, autocommit=False) as conn:
        with conn.cursor() as cur:
            if not args.append:
                cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
            cur.execute(sql.SQL("""
                CREATE TABLE IF NOT EXISTS {table} (
                    id VARCHAR(255),
                    workspace VARCHAR(255),
                    full_doc_id VARCHAR(256),
                    chunk_order_index INTEGER,
                    tokens INTEGER,
                    content TEXT,
                    content_vector {vtype},
                    file_path TEXT NULL,
                    create_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP,
                    update_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP,
                    CONSTRAINT {pk} PRIMARY KEY (workspace, id)
                )""").format(table=table, vtype=vtype, pk=pk))
            start_row = 0
            if args.append:
                cur.execute(sql.SQL("SELECT count(*) FROM {}").format(table))
                start_row = cur.fetchone()[0]

            copy_sql = sql.SQL(
                "COPY {} (workspace, id, full_doc_id, chunk_order_index, tokens, content, file_path, "
                "create_time, update_time, content_vector) FROM STDIN (FORMAT BINARY)").format(table)
            with cur.copy(copy_sql) as copy:
                copy.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
                for lo in range(0, args.rows, BATCH):
                    n = min(BATCH, args.rows - lo)
                    vecs = rng.standard_normal((n, args.dim), dtype=np.float32).astype(elem)
                    buf = bytearray()
                    for r in range(n):
                        k = start_row + lo + r
                        ws = workspaces[k % len(workspaces)]
                        j = k // len(workspaces)
                        content = content_for(j)
                        doc = j // 10
                        created = BASE_TIME + j * 60
                        buf += b"\x00\x0a"  # 10 fields
                        buf += text_field(ws)
                        buf += text_field("chunk-" + hashlib.md5(content.encode("utf-8")).hexdigest())
                        buf += text_field("doc-" + hashlib.md5(f"doc {doc}".encode()).hexdigest())
                        buf += int4_field(j % 10)
                        buf += int4_field(len(content.split()))
                        buf += text_field(content)
                        buf += NULL_FIELD if j % 50 == 49 else text_field(f"docs/{doc:05d} – résumé 📄.md")
                        buf += timestamp_field(created)
                        buf += timestamp_field(created + 3600)
                        buf += vec_len + vec_head + vecs[r].tobytes()
                    copy.write(bytes(buf))
                copy.write(b"\xff\xff")
            if args.hnsw:
                ops = "vector_cosine_ops" if args.vector_type == "vector" else "halfvec_cosine_ops"
                cur.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw (content_vector {})").format(
                    sql.Identifier(f"idx_{args.table.lower()}_hnsw_cosine"), table, sql.SQL(ops)))
        conn.commit()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql.SQL("ANALYZE {}").format(table))
            cur.execute("SELECT pg_total_relation_size(%s::regclass)", (args.table.lower(),))
            size = cur.fetchone()[0]
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(table))
            total = cur.fetchone()[0]
    seconds = time.perf_counter() - started
    print(json.dumps({"table": args.table.lower(), "rows": args.rows, "total_rows": total, "dim": args.dim,
                      "vector_type": args.vector_type, "workspaces": workspaces, "seconds": round(seconds, 3),
                      "rows_per_s": round(args.rows / seconds, 1) if seconds else None, "table_bytes": size}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
