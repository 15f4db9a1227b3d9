#!/usr/bin/env python3
"""Reads migrated collections with LightRAG's OWN Qdrant storage (lightrag-hku's QdrantVectorDBStorage).

    QDRANT_URL=http://127.0.0.1:16334 QDRANT_API_KEY=... [QDRANT_WORKSPACE=...] \
        lightrag_qdrant_reads.py --model test_model --dim 8 [--workspace prod] < ids.json

stdin: {"chunks": [ids...], "entities": [...], "relationships": [...]}, the ids LightRAG's PostgreSQL storage
held for one workspace. For each namespace it asks the storage, as the application would, for every id
(get_by_ids, which hashes point ids with the storage's effective workspace) and runs one nearest-neighbour
query (query, filtered on the workspace_id payload) with the first id's own vector. Prints one JSON object:
{"namespace": {"asked": n, "found": m, "missing": [first ids not found], "query_top": id}, ...,
 "workspace": the storage's effective workspace}.
"""
import argparse
import asyncio
import json
import sys

from lightrag.kg.qdrant_impl import QdrantVectorDBStorage
from lightrag.kg.shared_storage import initialize_share_data
from lightrag.utils import EmbeddingFunc


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="the embedding model name (the collection suffix's model)")
    ap.add_argument("--dim", type=int, required=True, help="the embedding dimension")
    ap.add_argument("--workspace", default=None, help="LightRAG's workspace (omit for none)")
    args = ap.parse_args()
    wanted = json.load(sys.stdin)
    initialize_share_data()

    async def never_embed(texts, **_):
        raise RuntimeError("reads only: nothing may be embedded")

    embedding = EmbeddingFunc(embedding_dim=args.dim, func=never_embed, model_name=args.model)
    config = {"embedding_batch_num": 8, "vector_db_storage_cls_kwargs": {"cosine_better_than_threshold": 0.2}}
    result = {}
    for namespace, ids in wanted.items():
        storage = QdrantVectorDBStorage(namespace=namespace, global_config=config, embedding_func=embedding,
                                        workspace=args.workspace)
        await storage.initialize()
        payloads = await storage.get_by_ids(ids)
        missing = [i for i, p in zip(ids, payloads) if p is None or p.get("id") != i]
        top = None
        if ids and not missing:
            vectors = await storage.get_vectors_by_ids(ids[:1])
            hits = await storage.query("", top_k=3, query_embedding=list(vectors[ids[0]]))
            top = hits[0]["id"] if hits else None
        result[namespace] = {"asked": len(ids), "found": len(ids) - len(missing), "missing": missing[:5], "query_top": top,
                             "collection": storage.final_namespace}
        result["workspace"] = storage.effective_workspace
        await storage.finalize()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
