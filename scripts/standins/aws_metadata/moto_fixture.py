#!/usr/bin/env python3
"""moto's server (STS, IAM, Secrets Manager, SSM, S3) with its signature checking on, set up for the
tests of `migrate`'s AWS credential chain and secrets. moto is a mock of AWS, not AWS.

On start it creates, while authentication is still off:
  - an IAM user `migrate-tests` with an allow-all policy and an access key;
  - a role `migrate-role` any principal may assume (AssumeRole and AssumeRoleWithWebIdentity), allow-all;
  - secrets `migrate/redis` ({"password": "sm-json-s3cret", "user": "app"}) and `migrate/plain`
    ("sm-plain-s3cret"), and SSM SecureString `/migrate/pg-password` ("ssm-s3cret");
plus any --bucket NAME, --secret NAME=VALUE and --parameter NAME=VALUE given; then switches authentication on for
every later request (`/moto-api/reset-auth` 0), so a request signed
wrongly, or with keys moto did not issue, is refused. It writes {"port", "access_key", "secret_key",
"role_arn"} as JSON to --info-file and serves until killed.

Run:  python moto_fixture.py --info-file /tmp/moto.json [--port 0]
"""
import argparse
import json
import os
import socket
import time

import boto3
import requests
from moto.server import ThreadedMotoServer

ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
TRUST_ALL = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
    {"Effect": "Allow", "Principal": {"Federated": "*"}, "Action": "sts:AssumeRoleWithWebIdentity"}]})


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--info-file", required=True)
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--secret", action="append", default=[], metavar="NAME=VALUE", help="another Secrets Manager secret")
    p.add_argument("--bucket", action="append", default=[], help="an S3 bucket to create")
    p.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE", help="another SSM SecureString")
    args = p.parse_args()
    port = args.port or free_port()
    # Authentication starts off (a large count) and is switched on after the set-up below.
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "1000000"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    requests.post(f"{url}/moto-api/reset-auth", data=b"1000000").raise_for_status()
    session = boto3.session.Session(aws_access_key_id="setup", aws_secret_access_key="setup", region_name=args.region)
    iam = session.client("iam", endpoint_url=url)
    iam.create_user(UserName="migrate-tests")
    iam.put_user_policy(UserName="migrate-tests", PolicyName="all", PolicyDocument=ALLOW_ALL)
    key = iam.create_access_key(UserName="migrate-tests")["AccessKey"]
    role = iam.create_role(RoleName="migrate-role", AssumeRolePolicyDocument=TRUST_ALL)["Role"]
    iam.put_role_policy(RoleName="migrate-role", PolicyName="all", PolicyDocument=ALLOW_ALL)
    sm = session.client("secretsmanager", endpoint_url=url)
    sm.create_secret(Name="migrate/redis", SecretString=json.dumps({"password": "sm-json-s3cret", "user": "app"}))
    sm.create_secret(Name="migrate/plain", SecretString="sm-plain-s3cret")
    ssm = session.client("ssm", endpoint_url=url)
    ssm.put_parameter(Name="/migrate/pg-password", Value="ssm-s3cret", Type="SecureString")
    s3 = session.client("s3", endpoint_url=url)
    for bucket in args.bucket:
        s3.create_bucket(Bucket=bucket)
    for item in args.secret:
        name, _, value = item.partition("=")
        sm.create_secret(Name=name, SecretString=value)
    for item in args.parameter:
        name, _, value = item.partition("=")
        ssm.put_parameter(Name=name, Value=value, Type="SecureString")
    requests.post(f"{url}/moto-api/reset-auth", data=b"0").raise_for_status()
    info = {"port": port, "access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"], "role_arn": role["Arn"]}
    with open(args.info_file + ".tmp", "w") as f:
        json.dump(info, f)
    os.replace(args.info_file + ".tmp", args.info_file)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
