#!/usr/bin/env python3
"""Fill a Redis/Valkey database with N small string keys, fast.

    fill_redis.py --url redis://127.0.0.1:16379 --keys 1000000 [--value-size 64] [--flush]

Keys are `bench:{i}` for i in 0..N-1; every tenth key (i % 10 == 0) gets a
TTL of one hour, so about 10% of the keys carry an expiry. Writes go through
non-transactional redis-py pipelines of 10,000 commands. Prints the number of
keys written and the seconds it took.
"""
import argparse
import sys
import time

import redis

CHUNK = 10_000
TTL_SECONDS = 3600


def value_for(i: int, size: int) -> bytes:
    """A deterministic value of exactly `size` bytes that differs per key."""
    head = f"{i}:".encode()
    if len(head) >= size:
        return head[:size]
    return head + b"x" * (size - len(head))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="redis://host:port[/db]")
    ap.add_argument("--keys", type=int, required=True, help="number of keys to write")
    ap.add_argument("--value-size", type=int, default=64, help="bytes per value (default 64)")
    ap.add_argument("--flush", action="store_true", help="FLUSHDB before filling")
    args = ap.parse_args()
    if args.keys < 0 or args.value_size < 1:
        ap.error("--keys must be >= 0 and --value-size >= 1")

    r = redis.Redis.from_url(args.url)
    if args.flush:
        r.flushdb()

    start = time.perf_counter()
    for lo in range(0, args.keys, CHUNK):
        pipe = r.pipeline(transaction=False)
        for i in range(lo, min(lo + CHUNK, args.keys)):
            if i % 10 == 0:
                pipe.set(f"bench:{i}", value_for(i, args.value_size), ex=TTL_SECONDS)
            else:
                pipe.set(f"bench:{i}", value_for(i, args.value_size))
        pipe.execute()
    seconds = time.perf_counter() - start

    print(f"filled {args.keys} keys in {seconds:.2f} s (dbsize now {r.dbsize()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
