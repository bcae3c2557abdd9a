"""The built feeds copied to an S3-compatible bucket, for a CDN to serve: after each build, the
files whose bytes the bucket does not hold are uploaded (with their Content-Type and
Cache-Control; the bucket's ETag is the MD5 of the bytes, which is how a file is compared), and
files under the prefix that no build makes any more are deleted. A rebuild that changes nothing
uploads nothing. Bounded in time and never fatal: a bucket that is away costs a log line, and the
next build catches up, since it compares with what the bucket holds, not with the last build.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from publisher.config import Bucket
from publisher.feeds.media import file_type
from publisher.store.models import FeedFile

log = logging.getLogger(__name__)

_DELETE_AT_ONCE = 1000  # the S3 API's limit per DeleteObjects


@dataclass
class BucketReport:
    uploaded: int = 0
    deleted: int = 0
    problem: str = ""

    def clause(self) -> str:
        done = f"bucket: {self.uploaded} uploaded, {self.deleted} deleted"
        return f"{done} (stopped: {self.problem})" if self.problem else done


def publish_to_bucket(bucket: Bucket, files: Sequence[FeedFile], max_age: int,
                      environ: Mapping[str, str] = os.environ) -> BucketReport:
    """Make the bucket's prefix hold exactly `files`."""
    report = BucketReport()
    key_id, secret = environ.get(bucket.key_id_env), environ.get(bucket.secret_env)
    if not key_id or not secret:
        report.problem = f"set {bucket.key_id_env} and {bucket.secret_env} to the bucket's credentials"
        log.warning("feeds.publish: %s", report.problem)
        return report
    try:
        from botocore.exceptions import BotoCoreError, ClientError  # only for an office with a bucket
    except ImportError:
        report.problem = "boto3 is not installed: pip install 'publisher[s3]'"
        log.warning("feeds.publish: %s", report.problem)
        return report

    try:
        client = _client(bucket, key_id, secret)
        held = dict(_held(client, bucket))
        for file in files:
            key = bucket.prefix + file.path
            if held.pop(key, None) == _etag(file.body):
                continue
            client.put_object(Bucket=bucket.bucket, Key=key, Body=file.body, ContentType=file_type(file.path),
                              CacheControl=f"public, max-age={max_age}", Metadata={"sha256": file.sha256})
            report.uploaded += 1
        gone = sorted(held)
        for start in range(0, len(gone), _DELETE_AT_ONCE):
            chunk = gone[start:start + _DELETE_AT_ONCE]
            client.delete_objects(Bucket=bucket.bucket,
                                  Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True})
            report.deleted += len(chunk)
    except (BotoCoreError, ClientError) as exc:
        report.problem = str(exc)
        log.warning("feeds.publish: %s/%s: %s; the next build tries again", bucket.endpoint, bucket.bucket, exc)
    return report


def _client(bucket: Bucket, key_id: str, secret: str) -> Any:
    import boto3
    from botocore.config import Config as BotoConfig

    return boto3.client("s3", endpoint_url=bucket.endpoint, region_name=bucket.region,
                        aws_access_key_id=key_id, aws_secret_access_key=secret,
                        config=BotoConfig(connect_timeout=5, read_timeout=30,
                                          retries={"max_attempts": 3, "mode": "standard"}))


def _held(client: Any, bucket: Bucket) -> Iterator[tuple[str, str]]:
    """Each key under the prefix with its ETag."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket.bucket, Prefix=bucket.prefix):
        for item in page.get("Contents", ()):
            yield item["Key"], item["ETag"]


def _etag(body: bytes) -> str:
    """The ETag S3 gives an object uploaded whole: its MD5, quoted."""
    return f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'
