"""A landing zone on s3:// for the integration tests: moto's S3-compatible server over real HTTP, a bucket in it, and
the settings that point Storeloop's landing (STORELOOP_LANDING_URL, an Airflow AWS connection) at it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import boto3


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto S3 server on a free port; yields its endpoint URL, stops it afterwards."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def point_landing_at_s3(monkeypatch, endpoint: str, *, bucket: str, prefix: str, conn_id: str):
    """Create `bucket` on the server and set the landing to s3://<bucket>/<prefix> through connection `conn_id`
    (Airflow caches the s3 filesystem per connection id, endpoint included: use one id per server). Returns a boto3
    client on the server."""
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    s3.create_bucket(Bucket=bucket)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({
        "conn_type": "aws", "login": "testing", "password": "testing",
        "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"}}))
    monkeypatch.setenv("STORELOOP_LANDING_CONN_ID", conn_id)
    monkeypatch.setenv("STORELOOP_LANDING_URL", f"s3://{bucket}/{prefix}")
    return s3
