"""The S3 client for an environment's object store (AWS S3, MinIO, or the local stack's moto)."""

from __future__ import annotations

from typing import Any

import boto3

from fraudctl.config.secrets import resolve


def s3_client(env: dict[str, Any]) -> Any:
    s3 = env["s3"]
    kwargs: dict[str, Any] = {"region_name": s3.get("region", "us-east-1")}
    if s3.get("endpoint"):
        kwargs["endpoint_url"] = s3["endpoint"]
    if s3.get("access_key_id"):
        # Keys given as ${env:...} references; without them boto3 uses its own credential chain.
        kwargs["aws_access_key_id"] = resolve(str(s3["access_key_id"]))
        kwargs["aws_secret_access_key"] = resolve(str(s3["secret_access_key"]))
    return boto3.client("s3", **kwargs)
