#!/usr/bin/env python3
"""Fill the Bolt source (scripts/graph's Neo4j-flavoured stand-in) with a LightRAG-shaped graph, fast.

    fill_graph.py --url bolt://127.0.0.1:17687 --user neo4j --password-env BOLT_PASSWORD --nodes 100000 --edges 500000

Nodes are labelled `base` plus an entity type, with LightRAG's properties (entity_id, entity_type,
description, source_id, file_path, created_at); edges are `DIRECTED` with weight, description, keywords,
source_id, file_path, created_at, between pseudo-random pairs (no self loops, at most one edge per pair).
Prints one JSON line {"nodes","edges","seconds"}.
"""
import argparse
import json
import os
import random
import time

from neo4j import GraphDatabase

TYPES = ["person", "organization", "concept", "event", "location"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password-env", required=True)
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--edges", type=int, default=500_000)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()

    started = time.time()
    rng = random.Random(7)
    driver = GraphDatabase.driver(args.url, auth=(args.user, os.environ[args.password_env]))
    with driver.session() as session:
        session.run("MATCH (n) DETACH DELETE n").consume()
        try:
            session.run("CREATE INDEX FOR (n:base) ON (n.entity_id)").consume()
        except Exception as error:  # the index survives earlier runs
            if "already indexed" not in str(error):
                raise
        for kind_index, kind in enumerate(TYPES):
            ids = list(range(kind_index, args.nodes, len(TYPES)))
            for start in range(0, len(ids), args.batch):
                rows = [{"entity_id": f"E{i}", "entity_type": kind, "description": f"Entity {i}, a {kind}: «Ünïcödé» text",
                         "source_id": f"chunk-{i}<SEP>chunk-{i + 1}", "file_path": f"docs/{i % 997}.md", "created_at": 1_793_534_460 + i}
                        for i in ids[start:start + args.batch]]
                session.run(f"UNWIND $rows AS row CREATE (n:base:{kind}) SET n += row", rows=rows).consume()
        seen = set()
        edges = []
        while len(edges) < args.edges:
            a, b = rng.randrange(args.nodes), rng.randrange(args.nodes)
            if a == b or (a, b) in seen:
                continue
            seen.add((a, b))
            edges.append({"from": f"E{a}", "to": f"E{b}", "props": {
                "weight": round(rng.random() * 10, 3), "description": f"E{a} relates to E{b}", "keywords": "bench,graph",
                "source_id": f"chunk-{a}", "file_path": f"docs/{a % 997}.md", "created_at": 1_793_534_460}})
        for start in range(0, len(edges), args.batch):
            session.run("UNWIND $rows AS row MATCH (a:base {entity_id: row.from}), (b:base {entity_id: row.to}) "
                        "CREATE (a)-[r:DIRECTED]->(b) SET r += row.props", rows=edges[start:start + args.batch]).consume()
    driver.close()
    print(json.dumps({"nodes": args.nodes, "edges": args.edges, "seconds": round(time.time() - started, 2)}))


if __name__ == "__main__":
    main()
