#!/usr/bin/env python3
"""Baseline: the "Python script" way to copy a graph from Neo4j/Memgraph to Neptune's openCypher endpoint.

    baseline_graph_py.py --bolt-url bolt://127.0.0.1:17687 --user neo4j --password-env BOLT_PASSWORD
                         --neptune-url https://127.0.0.1:18182 --ca CA.crt [--batch 500]

What a careful hand-written script does with the official `neo4j` driver and `requests`: stream all nodes
(`MATCH (n) RETURN labels(n), properties(n)`), group them by label set and POST
`UNWIND $rows AS row MERGE (n:Labels {`~id`: row.id}) SET n += row.props` in batches of --batch (the node's
entity_id as `~id`); then stream relationships with their endpoints' entity_id and POST the MERGE that
matches both ends by `~id`, keyed by (start, type, end) like mappings/lightrag-graph.yaml. Lists and maps
are turned into JSON text. Prints one JSON line {"tool","records","seconds","records_per_s"}.
"""
import argparse
import hashlib
import json
import os
import time
from collections import defaultdict

import requests
from neo4j import GraphDatabase


def literal(value):
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bolt-url", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password-env", required=True)
    parser.add_argument("--neptune-url", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()

    http = requests.Session()
    http.verify = args.ca

    def post(query, rows):
        response = http.post(f"{args.neptune_url}/openCypher", data={"query": query, "parameters": json.dumps({"rows": rows})},
                             verify=args.ca, timeout=300)
        response.raise_for_status()

    started = time.time()
    records = 0
    driver = GraphDatabase.driver(args.bolt_url, auth=(args.user, os.environ[args.password_env]))
    with driver.session(fetch_size=5000) as session:
        groups = defaultdict(list)
        for record in session.run("MATCH (n) RETURN labels(n) AS labels, properties(n) AS props"):
            labels = ":".join(f"`{label}`" for label in sorted(record["labels"]))
            props = {key: literal(value) for key, value in record["props"].items()}
            groups[labels].append({"id": str(props.get("entity_id")), "props": props})
            records += 1
            if len(groups[labels]) >= args.batch:
                post(f"UNWIND $rows AS row MERGE (n:{labels} {{`~id`: row.id}}) SET n += row.props", groups.pop(labels))
        for labels, rows in groups.items():
            post(f"UNWIND $rows AS row MERGE (n:{labels} {{`~id`: row.id}}) SET n += row.props", rows)
        groups = defaultdict(list)
        query = "MATCH (a)-[r]->(b) RETURN a.entity_id AS a, type(r) AS t, properties(r) AS props, b.entity_id AS b"
        for record in session.run(query):
            start, kind, end = str(record["a"]), record["t"], str(record["b"])
            edge_id = "r-" + hashlib.sha256(f"{start}\0{kind}\0{end}".encode()).hexdigest()[:32]
            props = {key: literal(value) for key, value in record["props"].items()}
            groups[kind].append({"id": edge_id, "from": start, "to": end, "props": props})
            records += 1
            if len(groups[kind]) >= args.batch:
                post(f"UNWIND $rows AS row MATCH (a {{`~id`: row.from}}), (b {{`~id`: row.to}}) "
                     f"MERGE (a)-[r:`{kind}` {{`~id`: row.id}}]->(b) SET r += row.props", groups.pop(kind))
        for kind, rows in groups.items():
            post(f"UNWIND $rows AS row MATCH (a {{`~id`: row.from}}), (b {{`~id`: row.to}}) "
                 f"MERGE (a)-[r:`{kind}` {{`~id`: row.id}}]->(b) SET r += row.props", rows)
    driver.close()
    seconds = time.time() - started
    print(json.dumps({"tool": "Python (neo4j driver + requests)", "records": records, "seconds": round(seconds, 2),
                      "records_per_s": round(records / seconds)}))


if __name__ == "__main__":
    main()
