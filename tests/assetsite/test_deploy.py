"""The production stack's files: docker-compose.yml, the Dockerfile, their documentation, check --deploy.

There is no Docker engine where the tests run, so nothing here builds the image. Instead:
- docker-compose.yml is validated by Compose itself (`docker-compose config`, which checks the file
  against the Compose schema without a daemon) and its structure is checked with PyYAML;
- the commands docs/operations.md (and the README, once it documents them) gives for building and
  running must match the Dockerfile and the compose file (tags, build args, profiles, services);
- the Dockerfile's steps that need no engine are replayed: the build context its .dockerignore
  gives, `pip install .` of that context (as a wheel), its collectstatic line, then gunicorn serving
  pages and static files with DEBUG=0 and the compose file's own web healthcheck command.
"""

from __future__ import annotations

import fnmatch
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

from testkit.stack import free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
OPERATIONS = REPO / "docs" / "operations.md"
APP_SERVICES = ("migrate", "web", "worker", "webhook-worker", "worker-gpu", "scheduler")
COMPOSE_ENV = {"SECRET_KEY": "compose-check", "POSTGRES_PASSWORD": "compose-check"}


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def docker_compose(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose is not installed (.ci/run installs it: apt-get install docker-compose)")
    clean = {key: value for key, value in os.environ.items() if key not in COMPOSE_ENV}
    return subprocess.run([tool, "-f", str(COMPOSE), *args], env={**clean, **(env or {})}, capture_output=True,
                          text=True, timeout=60, cwd=REPO)


# --- docker-compose.yml -----------------------------------------------------------------------


def test_compose_file_is_valid_for_compose_with_every_profile():
    result = docker_compose("--profile", "gpu", "--profile", "monitoring", "--profile", "s3", "config", "--services",
                            env=COMPOSE_ENV)
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {"db", "redis", "migrate", "web", "worker", "webhook-worker", "worker-gpu",
                                         "scheduler", "flower", "s3", "s3-bucket"}


def test_compose_refuses_to_start_without_secrets():
    # Proof that the validation above is real: the same file without SECRET_KEY is an error.
    result = docker_compose("config", "-q", env={"POSTGRES_PASSWORD": "x"})
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr, result.stderr
    broken = REPO / "var" / "compose-broken.yml"
    broken.parent.mkdir(exist_ok=True)
    broken.write_text(COMPOSE.read_text().replace("    healthcheck:\n", "    healthchek:\n", 1))
    try:
        bad = subprocess.run([shutil.which("docker-compose") or "docker-compose", "-f", str(broken), "config", "-q"],
                             env={**os.environ, **COMPOSE_ENV}, capture_output=True, text=True, timeout=60)
    finally:
        broken.unlink()
    assert bad.returncode != 0 and "healthchek" in bad.stderr, bad.stderr


def test_compose_stack_has_what_production_needs():
    spec = compose()
    services = spec["services"]
    assert set(spec["volumes"]) >= {"pgdata", "media", "redisdata"}
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]
    for name in APP_SERVICES:
        service = services[name]
        assert service["build"]["context"] == "." and service["image"] == "${ASSETSITE_IMAGE:-assetsite:latest}"
        assert "media:/data" in service["volumes"], name
        assert service["environment"]["DEBUG"] == "0", name
        assert service["environment"]["LOG_FORMAT"] == "${LOG_FORMAT:-json}", name
    for name in ("db", "redis", "web", "worker", "webhook-worker", "worker-gpu"):
        assert services[name]["healthcheck"]["test"], f"{name} has no healthcheck"
    assert services["web"]["command"][0] == "gunicorn"
    assert "/health/live/" in " ".join(services["web"]["healthcheck"]["test"])
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["scheduler"]["command"][:4] == ["celery", "-A", "assetsite", "beat"]
    # The worker healthcheck pings the worker by the name its command gives it.
    for name in ("worker", "webhook-worker", "worker-gpu"):
        command = services[name]["command"]
        assert command[command.index("-n") + 1] == "celery@%h"
        assert "celery@$$HOSTNAME" in services[name]["healthcheck"]["test"][1]
    gpu = services["worker-gpu"]
    assert gpu["profiles"] == ["gpu"]
    assert gpu["environment"]["TAGGING_DEVICE"] == "cuda"
    assert gpu["command"][gpu["command"].index("-Q") + 1] == "${GPU_WORKER_QUEUES:-detection-gpu,detection-bulk}"
    device = gpu["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert services["worker"]["environment"]["TAGGING_DEVICE"] == "cpu"
    cpu = services["worker"]["command"]
    assert cpu[cpu.index("-Q") + 1] == "${CPU_WORKER_QUEUES:-detection,detection-bulk,celery}"  # both lanes
    assert services["flower"]["profiles"] == ["monitoring"]
    assert services["flower"]["ports"][0].startswith("127.0.0.1:")  # never on a public interface
    # Object storage next to the stack (profile s3): its own volume, loopback only, the bucket made once it is up.
    store = services["s3"]
    assert store["profiles"] == ["s3"] and "s3data:/data" in store["volumes"]
    assert store["ports"][0].startswith("127.0.0.1:") and "/healthz" in store["healthcheck"]["test"][1]
    assert "-s3.config=/tmp/s3.json" in store["command"][0] and "AWS_ACCESS_KEY_ID" in store["environment"]
    bucket = services["s3-bucket"]
    assert bucket["profiles"] == ["s3"] and bucket["depends_on"]["s3"]["condition"] == "service_healthy"
    assert "create_bucket" in bucket["command"][2]


def test_every_variable_compose_passes_is_one_the_app_reads():
    settings_source = (REPO / "assetsite" / "settings.py").read_text()
    known_elsewhere = {"WEB_CONCURRENCY", "NVIDIA_VISIBLE_DEVICES"}  # gunicorn's, the NVIDIA runtime's
    for name in APP_SERVICES:
        for variable in compose()["services"][name]["environment"]:
            assert f'"{variable}"' in settings_source or variable in known_elsewhere, (
                f"{name} sets {variable}, which assetsite/settings.py never reads (a typo?)"
            )


# --- the Dockerfile and the documented commands -------------------------------------------------


def _dockerfile_args() -> set[str]:
    return set(re.findall(r"^ARG (\w+)", DOCKERFILE.read_text(), re.MULTILINE))


def documented_commands() -> list[tuple[str, str]]:
    """(source, command) for every docker command in the operations guide, the README and the
    Dockerfile's and compose file's own header comments."""
    found = []
    for path in (OPERATIONS, REPO / "README.md", DOCKERFILE, COMPOSE):
        for line in path.read_text().splitlines():
            text = line.strip().lstrip("#").strip().lstrip("$").strip()
            text = text.split("  #")[0].strip()
            if re.match(r"docker(-compose| compose| build)\b", text):
                found.append((path.name, text))
    return found


def test_docs_document_the_build_and_run_commands():
    commands = [command for _, command in documented_commands()]
    assert any(command.startswith("docker build -t assetsite") for command in commands)
    assert "docker compose build" in commands and "docker compose up -d" in commands
    assert any("--profile gpu" in command for command in commands)


@pytest.mark.parametrize(("source", "command"), documented_commands())
def test_documented_docker_commands_match_the_dockerfile_and_compose_file(source, command):
    words = shlex.split(command)
    services = set(compose()["services"])
    profiles = {p for service in compose()["services"].values() for p in service.get("profiles", [])}
    if words[:2] == ["docker", "build"]:
        tag = words[words.index("-t") + 1]
        assert tag.split(":")[0] == "assetsite", f"{source}: the compose file runs assetsite:latest, not {tag}"
        assert words[-1] == ".", f"{source}: the build context is the repository root"
        for index, word in enumerate(words):
            if word == "--build-arg":
                assert words[index + 1].split("=")[0] in _dockerfile_args(), f"{source}: {command}"
        return
    rest = words[2:] if words[:2] == ["docker", "compose"] else words[1:]
    while rest and rest[0] in ("--profile", "-f"):
        value = rest[1]
        assert rest[0] != "--profile" or value in profiles, f"{source}: no profile {value} in docker-compose.yml"
        rest = rest[2:]
    if rest and rest[0] in ("exec", "run", "logs", "stop", "start", "restart"):
        targets = [word for word in rest[1:] if not word.startswith("-")]
        if targets:
            assert targets[0] in services, f"{source}: no service {targets[0]} in docker-compose.yml ({command})"
    if rest and rest[0] == "up":
        for index, word in enumerate(rest):
            if word == "--scale":
                assert rest[index + 1].split("=")[0] in services, f"{source}: {command}"


def test_dockerfile_installs_the_pinned_torch_of_pyproject():
    pins = {}
    for requirement in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]:
        if requirement.startswith(("torch==", "torchvision==")):
            name, version = requirement.split("==")
            pins[name] = version
    text = DOCKERFILE.read_text()
    for name, version in pins.items():
        assert f'"{name}=={version}"' in text, f"the Dockerfile's {name} pin differs from pyproject.toml's"
    assert 'pip install ".[s3]"' in text and "pip install --no-deps ." in text


def build_context(destination: Path) -> list[str]:
    """Copy what `docker build .` sends (everything .dockerignore does not exclude) to ``destination``."""
    patterns = [
        line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(relative: str) -> bool:
        parts = relative.split("/")
        for pattern in patterns:
            bare = pattern.removeprefix("**/")
            if fnmatch.fnmatch(relative, pattern) or any(fnmatch.fnmatch(part, bare) for part in parts):
                return True
            if any(fnmatch.fnmatch("/".join(parts[: i + 1]), pattern) for i in range(len(parts))):
                return True
        return False

    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout.split()
    copied = []
    for relative in tracked:
        source = REPO / relative
        if not source.is_file() or ignored(relative):
            continue
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        copied.append(relative)
    return copied


@pytest.fixture(scope="module")
def image_tree(tmp_path_factory) -> Path:
    """The image's /app, replayed: the build context, the package installed from it, collectstatic."""
    app = tmp_path_factory.mktemp("image") / "app"
    build_context(app)
    # `pip install --no-deps .` from the context: build the same wheel (dependencies are already in .venv).
    wheels = app.parent / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(wheels), str(app)], check=True, capture_output=True, timeout=300)
    shutil.rmtree(app / "build", ignore_errors=True)
    # The Dockerfile's own collectstatic line, run as written (its environment assignments included).
    line = next(line for line in DOCKERFILE.read_text().splitlines() if "manage.py collectstatic" in line)
    command = line.strip().removeprefix("&&").strip().rstrip("\\").strip()
    env = {**os.environ, "STATIC_ROOT": str(app / "staticfiles"), "VAR_DIR": str(app.parent / "var")}
    env.pop("DEBUG", None)
    command = command.replace("python ", f"{shlex.quote(sys.executable)} ", 1).replace("/tmp/build", str(
        app.parent / "build-var"))
    result = subprocess.run(command, shell=True, cwd=app, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return app


def test_build_context_leaves_out_secrets_and_local_state(tmp_path):
    copied = build_context(tmp_path / "ctx")
    assert "manage.py" in copied and "pyproject.toml" in copied and "README.md" in copied
    for relative in copied:
        first = relative.split("/")[0]
        assert first not in {".venv", "var", ".git", ".env", "staticfiles"}, relative
        assert "__pycache__" not in relative and not relative.endswith(".pyc"), relative


def test_pip_install_of_the_context_ships_every_package(image_tree):
    wheel = next((image_tree.parent / "wheels").glob("assetsite-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for package in ("assetsite", "media", "tagging", "integrations"):
        assert f"{package}/__init__.py" in names, f"the image's `pip install .` would miss {package}"
    # Templates and CSS live at the top level and reach the image through COPY; the site runs from /app.
    assert (image_tree / "templates").is_dir() and (image_tree / "static").is_dir()


def test_collectstatic_writes_the_manifest_whitenoise_serves(image_tree):
    manifest = image_tree / "staticfiles" / "staticfiles.json"
    assert manifest.exists(), "DEBUG=0 uses the manifest storage; without staticfiles.json every page is a 500"
    assert list((image_tree / "staticfiles").rglob("*.css.gz")), "WhiteNoise's compressed copies are missing"


def test_image_serves_pages_static_files_and_passes_the_compose_healthcheck(image_tree, tmp_path):
    import requests

    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "photos.example.com",
        "SECURE_SSL_REDIRECT": "1",  # the healthcheck must pass even with the HTTPS redirect on
        "STATIC_ROOT": str(image_tree / "staticfiles"),
        "VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "LOG_FORMAT": "json",
    }
    env.pop("REDIS_URL", None)
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "assetsite.wsgi:application", "--bind",
                               f"127.0.0.1:{port}", "--workers", "1"], cwd=image_tree, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        headers = {"Host": "photos.example.com", "X-Forwarded-Proto": "https"}

        def up() -> bool:
            try:
                requests.get(f"http://127.0.0.1:{port}/health/live/", headers=headers, timeout=2)
                return True
            except requests.RequestException:
                return False

        wait_until(up, timeout=60, what="gunicorn")
        # The compose file's web healthcheck, run as the container would (other port).
        test = compose()["services"]["web"]["healthcheck"]["test"]
        probe = test[3].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        # The same probe against a dead port fails: the check can fail.
        dead = subprocess.run([sys.executable, "-c", probe.replace(str(port), str(free_port()))], env=env,
                              capture_output=True, text=True, timeout=30)
        assert dead.returncode != 0
        # Plain HTTP to a page is sent to HTTPS; pages and hashed static files work over "HTTPS".
        assert requests.get(f"http://127.0.0.1:{port}/accounts/login/", headers={"Host": "photos.example.com"},
                            allow_redirects=False, timeout=10).status_code == 301
        login = requests.get(f"http://127.0.0.1:{port}/accounts/login/", headers=headers, timeout=10)
        assert login.status_code == 200, login.text[:500]
        css = re.search(r'href="(/static/[^"]+\.[0-9a-f]{12}\.css)"', login.text)
        assert css, "pages must link hashed static file names (manifest storage)"
        static = requests.get(f"http://127.0.0.1:{port}{css.group(1)}", headers=headers, timeout=10)
        assert static.status_code == 200 and "immutable" in static.headers.get("Cache-Control", "")
    finally:
        server.terminate()
        server.wait(timeout=20)


# --- Django's production checklist ------------------------------------------------------------


def _check_deploy(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("SECURE_", "DEBUG"))}
    environment.update({"VAR_DIR": str(tmp_path), "DEBUG": "0", "ALLOWED_HOSTS": "photos.example.com", **env})
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=REPO,
                          env=environment, capture_output=True, text=True, timeout=120)


def test_check_deploy_passes_with_production_settings(tmp_path):
    result = _check_deploy(tmp_path, SECRET_KEY=secrets.token_urlsafe(50))
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_fails_on_a_weak_secret_key(tmp_path):
    result = _check_deploy(tmp_path, SECRET_KEY="short")
    assert result.returncode != 0 and "security.W009" in result.stdout + result.stderr
