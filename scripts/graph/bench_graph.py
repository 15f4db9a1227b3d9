#!/usr/bin/env python3
"""Throughput of the graph stand-ins, measured with ordinary clients.

    .run/venv/bin/python scripts/graph/bench_graph.py [--nodes 20000] [--batch 500]
                                                      [--page 1000] [--workers 1]

Starts its own private stand-ins (free ports, private FalkorDB graphs that are
deleted at the end), so it never touches the shared servers' data. Needs
FalkorDB up (scripts/graph/servers.sh start). Measures:

  * Neptune stand-in writes over HTTPS: `UNWIND $rows AS row MERGE (n:Entity
    {`~id`: row.id}) SET n += row.props` in batches of --batch (LightRAG-like
    entity properties), then the relationship MERGE that matches both ends by
    `~id`, with --workers concurrent HTTP clients;
  * Bolt stand-in reads with the neo4j driver: keyset pages of --page nodes
    (`MATCH (n) WHERE id(n) > $last RETURN n ORDER BY id(n) LIMIT $n`) and the
    same for relationships.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from neo4j import GraphDatabase

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import FALKORDB_PORT, HOST, Spawner, free_port  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def entity(i):
    return {"id": f"ent-{i:08d}", "props": {
        "entity_id": f"Entity {i}", "entity_type": "organization",
        "description": f"Description of entity {i}. " * 4,
        "source_id": f"chunk-{i % 997:032x}", "file_path": f"docs/file-{i % 50}.md",
        "created_at": 1700000000 + i}}


def relation(i):
    return {"id": f"rel-{i:08d}", "from": f"ent-{i:08d}", "to": f"ent-{i + 1:08d}", "props": {
        "weight": 1.0 + (i % 7) / 4, "description": f"relation {i}", "keywords": "a,b",
        "source_id": f"chunk-{i % 997:032x}", "file_path": "docs/x.md", "created_at": 1700000000}}


def bench_neptune(spawner, ca, tls_dir, args):
    port = free_port()
    spawner.start("neptune_standin.py", [
        "--host", HOST, "--port", str(port), "--graph", spawner.graph_name("bench_neptune"),
        "--tls-cert", str(tls_dir / "server.crt"), "--tls-key", str(tls_dir / "server.key"),
        "--falkordb-port", str(FALKORDB_PORT)], port, "bench-neptune")
    url = f"https://{HOST}:{port}/openCypher"
    node_q = "UNWIND $rows AS row MERGE (n:Entity {`~id`: row.id}) SET n += row.props"
    rel_q = ("UNWIND $rows AS row MATCH (a {`~id`: row.from}), (b {`~id`: row.to}) "
             "MERGE (a)-[r:DIRECTED {`~id`: row.id}]->(b) SET r += row.props")
    sessions = {}

    def post(query, rows):
        import threading
        s = sessions.setdefault(threading.get_ident(), requests.Session())
        r = s.post(url, data={"query": query, "parameters": json.dumps({"rows": rows})}, verify=ca)
        r.raise_for_status()

    def run(query, make, total):
        batches = [[make(i) for i in range(start, min(start + args.batch, total))]
                   for start in range(0, total, args.batch)]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.workers) as pool:
            list(pool.map(lambda b: post(query, b), batches))
        return total / (time.perf_counter() - t0)

    nodes_s = run(node_q, entity, args.nodes)
    rels_s = run(rel_q, relation, args.nodes - 1)
    return nodes_s, rels_s


def bench_bolt(spawner, args):
    port = free_port()
    spawner.start("bolt_standin.py", [
        "--flavor", "neo4j", "--host", HOST, "--port", str(port),
        "--falkordb-port", str(FALKORDB_PORT), "--graph", spawner.graph_name("bench_bolt")],
        port, "bench-bolt")
    with GraphDatabase.driver(f"bolt://{HOST}:{port}", auth=("neo4j", "test-pass")) as d:
        with d.session() as s:
            for start in range(0, args.nodes, 1000):
                rows = [{"id": e["id"], **e["props"]} for e in map(entity, range(start, min(start + 1000, args.nodes)))]
                s.run("UNWIND $rows AS row CREATE (n:base:organization) SET n = row", rows=rows).consume()
            s.run("MATCH (a:base) WITH a ORDER BY id(a) WITH collect(a) AS ns "
                  "UNWIND range(0, size(ns) - 2) AS i WITH ns[i] AS a, ns[i + 1] AS b "
                  "CREATE (a)-[:DIRECTED {weight: 1.0, description: 'relation', keywords: 'a,b', "
                  "source_id: 'chunk-1', file_path: 'x.md', created_at: 1700000000}]->(b)").consume()

            def read_all(query):
                last, n, t0 = -1, 0, time.perf_counter()
                while True:
                    page = list(s.run(query, last=last, n=args.page))
                    if not page:
                        break
                    n += len(page)
                    last = page[-1][1]
                return n, n / (time.perf_counter() - t0)

            nodes = read_all("MATCH (n) WHERE id(n) > $last "
                             "RETURN n, id(n) ORDER BY id(n) LIMIT $n")
            rels = read_all("MATCH (a)-[r]->(b) WHERE id(r) > $last "
                            "RETURN r, id(r) ORDER BY id(r) LIMIT $n")
    return nodes, rels


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=20000)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--page", type=int, default=1000)
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args()
    ca = os.environ.get("GRAPH_CA") or str(
        REPO / ".run/tls/ca.crt" if (REPO / ".run/tls/server.crt").exists() else REPO / ".run/graph/tls/ca.crt")
    spawner = Spawner(Path(tempfile.mkdtemp(prefix="graph-bench-")))
    try:
        n_s, r_s = bench_neptune(spawner, ca, Path(ca).parent, args)
        print(f"neptune stand-in: {n_s:,.0f} nodes/s, {r_s:,.0f} relationships/s "
              f"(UNWIND batches of {args.batch}, {args.workers} client(s), HTTPS)")
        (nn, nps), (rn, rps) = bench_bolt(spawner, args)
        print(f"bolt stand-in:    {nps:,.0f} node records/s ({nn}), {rps:,.0f} relationship records/s ({rn}) "
              f"(keyset pages of {args.page}, neo4j driver)")
    finally:
        spawner.close()


if __name__ == "__main__":
    main()
