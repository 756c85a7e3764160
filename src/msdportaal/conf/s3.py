"""The S3-compatible object storage for municipal files, CBS reports and consent CSVs.

One function builds the ``STORAGES["default"]`` entry, so that ``settings.py`` (from
``MSD_S3_*``) and the tests (against an S3 API server on 127.0.0.1) configure the backend
in exactly the same way. See docs/configuration.md for the variables.

What is fixed here, whatever the environment says:

- **private objects**: no ACL is sent (the bucket's own policy applies, which must not
  grant public reads), and a URL, should any code ever ask for one, is a short-lived
  signed one. Files are only ever handed out by the portal's views, which check who is
  asking; nothing links to the bucket;
- **never overwrite**: a name that exists gets another one (names are random anyway);
- **bounded memory**: uploads go in 8 MB parts, at most 4 at a time and 4 in memory (32 MB
  whatever the file's size); a file that django-storages itself opens for reading spools to
  disk beyond 4 MB. The portal reads stored files
  through :func:`msdportaal.core.storage.open_stored`, which streams with ranged GETs;
- **retries** on throttling and connection errors (botocore's "standard" mode).
"""

from __future__ import annotations

from typing import Any

S3_BACKEND = "storages.backends.s3.S3Storage"
MB = 1024 * 1024


def s3_storage(
    *,
    bucket: str,
    location: str = "",
    endpoint_url: str = "",
    region: str = "eu-west-1",
    access_key_id: str = "",
    secret_access_key: str = "",
    sse: str = "",
    sse_kms_key_id: str = "",
    addressing_style: str = "path",
    ca_bundle: str = "",
) -> dict[str, Any]:
    """The ``STORAGES`` entry for django-storages' S3 backend."""
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    object_parameters: dict[str, str] = {}
    if sse:
        # "AES256" (keys managed by the object store) or "aws:kms".
        object_parameters["ServerSideEncryption"] = sse
        if sse_kms_key_id:
            object_parameters["SSEKMSKeyId"] = sse_kms_key_id
    transfer = TransferConfig(
        multipart_threshold=8 * MB, multipart_chunksize=8 * MB, max_concurrency=4
    )
    # Parts read ahead into memory while others upload (s3transfer's default is 10 × 8 MB).
    transfer.max_in_memory_upload_chunks = 4
    options: dict[str, Any] = {
        "bucket_name": bucket,
        "location": location.strip("/"),
        "region_name": region,
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": 60,
        "file_overwrite": False,
        "object_parameters": object_parameters,
        "max_memory_size": 4 * MB,
        "transfer_config": transfer,
        "client_config": Config(
            s3={"addressing_style": addressing_style},
            signature_version="s3v4",
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
        ),
    }
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
    if access_key_id or secret_access_key:
        # Otherwise boto3's own chain applies (AWS_* variables, instance or pod role).
        options["access_key"] = access_key_id
        options["secret_key"] = secret_access_key
    if ca_bundle:
        options["verify"] = ca_bundle
    return {"BACKEND": S3_BACKEND, "OPTIONS": options}
