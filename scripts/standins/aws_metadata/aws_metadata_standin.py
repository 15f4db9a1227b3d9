#!/usr/bin/env python3
"""Stand-in for the two AWS credential endpoints a process inside AWS reads: the ECS task-role /
EKS Pod Identity container endpoint and EC2 instance metadata (IMDSv2). Not AWS: it issues whatever
credentials it is told to, for tests of `migrate`'s credential chain.

Container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI):
    GET <--container-path>  with `Authorization: <--container-token>` when a token is set (else 401)
    -> {"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "RoleArn"} as ECS answers.

IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT):
    PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds: 1..21600 -> a session token
        (400 without the TTL header or with one out of range; 403 with X-Forwarded-For, as EC2 does)
    GET /latest/meta-data/iam/security-credentials/ with X-aws-ec2-metadata-token -> the role name
    GET /latest/meta-data/iam/security-credentials/<role> -> {"Code": "Success", "Type": "AWS-HMAC",
        "AccessKeyId", "SecretAccessKey", "Token", "Expiration", "LastUpdated"}
    Every GET without a valid, unexpired token answers 401 (IMDSv1 is off, as with HttpTokens=required).

Credentials live --lifetime seconds. With --rotate every issue is a new key, secret and token; without
it the fixed --access-key/--secret-key/--session-token are issued (so the Neptune stand-in accepts them).

Test helpers (not AWS):
    POST /check   a SigV4-signed request (any service): 200 if signed with credentials this stand-in issued
                  that have not expired, else 403 with the reason (botocore's signer recomputes the signature).
    GET  /stats   {"container": n, "imds": n, "checked": n, "refused": n}

Run:  python aws_metadata_standin.py --port 0 --port-file /tmp/p [--lifetime 3 --rotate]
"""
import argparse
import datetime as dt
import hmac
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote

ROLE = "migrate-standin-role"


def iso(seconds):
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.issued = {}  # access key -> (secret, token, expires)
        self.tokens = {}  # IMDS session token -> expires
        self.stats = {"container": 0, "imds": 0, "checked": 0, "refused": 0}
        self.generation = 0

    def issue(self, kind):
        with self.lock:
            self.generation += 1
            self.stats[kind] += 1
            if self.args.rotate:
                key = "ASIASTANDIN%08d" % self.generation
                secret = "standin-secret-%d-%s" % (self.generation, secrets.token_hex(8))
                token = "standin-token-%d-%s" % (self.generation, secrets.token_hex(8))
            else:
                key, secret, token = self.args.access_key, self.args.secret_key, self.args.session_token
            expires = int(time.time()) + self.args.lifetime
            self.issued[key] = (secret, token, expires)
            return {"AccessKeyId": key, "SecretAccessKey": secret, "Token": token, "Expiration": iso(expires)}


def verify(state, method, target, headers, body):
    """Returns None when the request is signed with live issued credentials, else the reason."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.compat import HTTPHeaders
    from botocore.credentials import Credentials

    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "missing SigV4 Authorization"
    fields = dict(p.strip().partition("=")[::2] for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    scope = fields.get("Credential", "").split("/")
    if len(scope) != 5:
        return "malformed credential scope"
    key, _, region, service, _ = scope
    with state.lock:
        found = state.issued.get(key)
    if not found:
        return "unknown access key %s" % key
    secret, token, expires = found
    if time.time() >= expires:
        return "ExpiredToken: the security token included in the request is expired"
    if token and headers.get("x-amz-security-token") != token:
        return "InvalidClientTokenId: wrong session token"
    signed = {h.strip().lower() for h in fields.get("SignedHeaders", "").split(";")}
    path, _, query = target.partition("?")
    pairs = sorted((unquote(k), unquote(v)) for k, _, v in (p.partition("=") for p in query.split("&") if p))
    canon_query = "&".join("%s=%s" % (quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    url = "http://%s%s" % (headers.get("host", ""), path) + ("?" + canon_query if canon_query else "")
    request = AWSRequest(method=method, url=url, data=body, headers={k: v for k, v in headers.items() if k in signed})
    request.context["timestamp"] = headers.get("x-amz-date", "")

    class Verifier(SigV4Auth):
        def headers_to_sign(self, request):
            header_map = HTTPHeaders()
            for name, value in request.headers.items():
                if name.lower() in signed:
                    header_map[name.lower()] = value
            return header_map

    verifier = Verifier(Credentials(key, secret, token), service, region)
    canonical = verifier.canonical_request(request)
    expected = verifier.signature(verifier.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, fields.get("Signature", "")):
        return "SignatureDoesNotMatch"
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        if self.server.state.args.verbose:
            super().log_message(*args)

    def reply(self, status, body, content_type="application/json", extra=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def imds_token_ok(self):
        token = self.headers.get("X-aws-ec2-metadata-token")
        state = self.server.state
        with state.lock:
            expires = state.tokens.get(token)
        return expires is not None and time.time() < expires

    def do_PUT(self):
        state = self.server.state
        self.body()
        if self.path != "/latest/api/token":
            return self.reply(404, "Not Found", "text/plain")
        if self.headers.get("X-Forwarded-For"):
            return self.reply(403, "Forbidden", "text/plain")
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        if ttl is None or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return self.reply(400, "Bad Request", "text/plain")
        token = secrets.token_urlsafe(32)
        with state.lock:
            state.tokens[token] = time.time() + int(ttl)
        self.reply(200, token, "text/plain", [("X-aws-ec2-metadata-token-ttl-seconds", ttl)])

    def do_GET(self):
        state = self.server.state
        args = state.args
        if self.path == "/stats":
            with state.lock:
                return self.reply(200, json.dumps(state.stats))
        if self.path == args.container_path:
            if args.container_token and self.headers.get("Authorization") != args.container_token:
                return self.reply(401, json.dumps({"code": "AccessDenied", "message": "Authorization token is invalid"}))
            creds = state.issue("container")
            creds["RoleArn"] = "arn:aws:iam::123456789012:role/" + ROLE
            return self.reply(200, json.dumps(creds))
        prefix = "/latest/meta-data/iam/security-credentials/"
        if self.path.startswith("/latest/"):
            if not self.imds_token_ok():
                return self.reply(401, "Unauthorized", "text/plain")
            if self.path == prefix:
                return self.reply(200, ROLE, "text/plain")
            if self.path == prefix + ROLE:
                creds = state.issue("imds")
                document = {"Code": "Success", "LastUpdated": iso(time.time()), "Type": "AWS-HMAC", **creds}
                return self.reply(200, json.dumps(document, indent=2))
        self.reply(404, "Not Found", "text/plain")

    def do_POST(self):
        state = self.server.state
        body = self.body()
        if self.path.partition("?")[0] != "/check":
            return self.reply(404, "Not Found", "text/plain")
        headers = {k.lower(): v for k, v in self.headers.items()}
        reason = verify(state, "POST", self.path, headers, body)
        with state.lock:
            state.stats["checked" if reason is None else "refused"] += 1
        if reason:
            return self.reply(403, json.dumps({"__type": "AccessDenied", "message": reason}))
        self.reply(200, json.dumps({"ok": True}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--lifetime", type=int, default=3600, help="seconds the issued credentials live")
    p.add_argument("--rotate", action="store_true", help="new key, secret and token on every issue")
    p.add_argument("--access-key", default="AKIDEXAMPLE")
    p.add_argument("--secret-key", default="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    p.add_argument("--session-token", default="test-session-token")
    p.add_argument("--container-path", default="/v2/credentials/standin")
    p.add_argument("--container-token", default=None, help="the Authorization value the container endpoint requires")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.state = State(args)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(server.server_address[1]))
        import os
        os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
