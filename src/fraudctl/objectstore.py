"""The S3 client for an environment's object store (AWS S3, MinIO, or the local stack's moto)."""

from __future__ import annotations

from typing import Any

import boto3

from fraudctl.config.settings import S3, Settings


def s3_client(env: Settings) -> Any:
    s3: S3 = env.need("s3")
    kwargs: dict[str, Any] = {"region_name": s3.region}
    if s3.endpoint:
        kwargs["endpoint_url"] = s3.endpoint
    if s3.access_key_id and s3.secret_access_key:
        # Keys given as references; without them boto3 uses its own credential chain.
        kwargs["aws_access_key_id"] = s3.access_key_id.resolve()
        kwargs["aws_secret_access_key"] = s3.secret_access_key.resolve()
    return boto3.client("s3", **kwargs)
