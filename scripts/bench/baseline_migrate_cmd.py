#!/usr/bin/env python3
"""Baseline: copy every key with the server-side MIGRATE command.

    baseline_migrate_cmd.py --source URL --target URL [--batch 1000]

SCANs the source with COUNT <batch>; for each batch of keys the source server
itself sends them to the target with
    MIGRATE host port "" <db> 5000 COPY REPLACE [AUTH2 user pass | AUTH pass] KEYS k1 k2 ...
Most of the work therefore happens inside the two servers, not in this process.
Prints one JSON line: {"tool","keys","seconds","keys_per_s"}.
"""
import argparse
import json
import sys
import time
from urllib.parse import unquote, urlparse

import redis

TIMEOUT_MS = 5000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", required=True, help="redis://host:port[/db] to read from")
    ap.add_argument("--target", required=True, help="redis://[user:pass@]host:port[/db] to copy to")
    ap.add_argument("--batch", type=int, default=1000, help="SCAN COUNT and keys per MIGRATE (default 1000)")
    args = ap.parse_args()

    src = redis.Redis.from_url(args.source)
    tgt = urlparse(args.target)
    if tgt.scheme != "redis":
        ap.error("MIGRATE speaks plain TCP only: --target must be redis://")
    host, port = tgt.hostname or "127.0.0.1", tgt.port or 6379
    db = int(tgt.path.lstrip("/") or 0)
    auth: list = []
    if tgt.password is not None:
        pw = unquote(tgt.password)
        auth = ["AUTH2", unquote(tgt.username), pw] if tgt.username else ["AUTH", pw]

    keys = 0
    start = time.perf_counter()
    cursor = 0
    while True:
        cursor, batch = src.scan(cursor=cursor, count=args.batch)
        if batch:
            # Replies OK, or NOKEY when every key of the batch expired meanwhile.
            src.execute_command("MIGRATE", host, port, "", db, TIMEOUT_MS, "COPY", "REPLACE", *auth, "KEYS", *batch)
            keys += len(batch)
        if cursor == 0:
            break
    seconds = time.perf_counter() - start

    print(json.dumps({"tool": "MIGRATE COPY REPLACE", "keys": keys, "seconds": round(seconds, 3),
                      "keys_per_s": round(keys / seconds, 1) if seconds > 0 else None}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
