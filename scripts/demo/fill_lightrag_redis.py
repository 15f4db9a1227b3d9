#!/usr/bin/env python3
"""Fill a Redis source the way LightRAG's Redis KV storage lays out its data, for the demo.

Keys are `{workspace}_{namespace}:{id}` JSON strings (db 0), e.g. `base_text_chunks:chunk-<md5>`; the LLM
response cache gets a TTL. Database 1 holds some unrelated session keys so the demo shows how a cluster
target (database 0 only) takes a second database under a key prefix.

    fill_lightrag_redis.py --url redis://127.0.0.1:16379 --docs 2000
"""
import argparse
import hashlib
import json
import random
import time

import redis


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--chunks-per-doc", type=int, default=10)
    parser.add_argument("--workspace", default="base")
    args = parser.parse_args()

    started = time.time()
    db0 = redis.Redis.from_url(args.url, db=0)
    db1 = redis.Redis.from_url(args.url, db=1)
    db0.flushall()
    rng = random.Random(42)
    ws = args.workspace
    pipe = db0.pipeline(transaction=False)
    keys = 0
    for doc in range(args.docs):
        content = f"Document {doc}: " + " ".join(rng.choice(["graph", "vector", "cache", "Ünïcödé", "知识", "retrieval"]) for _ in range(200))
        doc_id = "doc-" + md5(content)
        pipe.set(f"{ws}_full_docs:{doc_id}", json.dumps({"content": content, "file_path": f"docs/{doc}.md"}))
        chunk_ids = []
        for order in range(args.chunks_per_doc):
            chunk = content[order * 100:(order + 1) * 100]
            chunk_id = "chunk-" + md5(f"{doc_id}:{order}")
            chunk_ids.append(chunk_id)
            pipe.set(f"{ws}_text_chunks:{chunk_id}", json.dumps({
                "tokens": len(chunk.split()), "content": chunk, "chunk_order_index": order,
                "full_doc_id": doc_id, "file_path": f"docs/{doc}.md",
            }, ensure_ascii=False))
        pipe.set(f"{ws}_doc_status:{doc_id}", json.dumps({
            "status": "processed", "chunks_count": len(chunk_ids), "chunks_list": chunk_ids,
            "content_summary": content[:80], "created_at": "2026-11-01T00:00:00Z",
        }, ensure_ascii=False))
        pipe.set(f"{ws}_llm_response_cache:default:extract:{md5(content)}", json.dumps({"return": "(entity)<|>..."}), ex=30 * 86400)
        keys += args.chunks_per_doc + 3
        if doc % 200 == 199:
            pipe.execute()
    pipe.execute()
    for session in range(1000):
        db1.hset(f"session:{session}", mapping={"user": f"u{session}", "seen": str(session)})
        db1.expire(f"session:{session}", 3600)
    print(f"filled {keys} LightRAG keys in db 0 and 1000 session hashes in db 1 in {time.time() - started:.1f} s")


if __name__ == "__main__":
    main()
