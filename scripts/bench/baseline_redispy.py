#!/usr/bin/env python3
"""Baseline: copy every key client-side with redis-py DUMP/RESTORE.

    baseline_redispy.py --source URL --target URL [--batch 1000]

SCANs the source with COUNT <batch>; per batch, one non-transactional pipeline
of PTTL + DUMP per key on the source, then one pipeline of
    RESTORE key <ttl-ms or 0> payload REPLACE
on the target (ttl 0 = no expiry; the TTL is relative, as most tools do).
Keys that vanished between SCAN and DUMP are skipped.
Prints one JSON line: {"tool","keys","seconds","keys_per_s"}.
"""
import argparse
import json
import sys
import time

import redis


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", required=True, help="redis[s]://... to read from")
    ap.add_argument("--target", required=True, help="redis[s]://... to write to")
    ap.add_argument("--batch", type=int, default=1000, help="SCAN COUNT and pipeline size (default 1000)")
    args = ap.parse_args()

    src = redis.Redis.from_url(args.source)
    dst = redis.Redis.from_url(args.target)

    keys = 0
    start = time.perf_counter()
    cursor = 0
    while True:
        cursor, batch = src.scan(cursor=cursor, count=args.batch)
        if batch:
            rp = src.pipeline(transaction=False)
            for k in batch:
                rp.pttl(k)
                rp.dump(k)
            replies = rp.execute()

            wp = dst.pipeline(transaction=False)
            n = 0
            for k, ttl, payload in zip(batch, replies[0::2], replies[1::2]):
                if payload is None:  # gone since SCAN
                    continue
                wp.restore(k, ttl if ttl > 0 else 0, payload, replace=True)
                n += 1
            if n:
                wp.execute()
            keys += n
        if cursor == 0:
            break
    seconds = time.perf_counter() - start

    print(json.dumps({"tool": "redis-py DUMP/RESTORE", "keys": keys, "seconds": round(seconds, 3),
                      "keys_per_s": round(keys / seconds, 1) if seconds > 0 else None}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
