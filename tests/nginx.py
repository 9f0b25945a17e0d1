"""Debian's nginx in front of a real server, on loopback, with a configuration of the test's
own: what a site behind nginx really gets, caching and compression included. nginx is
installed by `scripts/ensure-nginx` when missing; a machine where that cannot be done fails
the tests that need it, with the reason (never a silent skip)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .servers import REPO, Running, free_port, running


def nginx_binary() -> str:
    """nginx (`CONSENT_NGINX`, else the one on PATH or in /usr/sbin), installed if missing."""
    wanted = os.environ.get("CONSENT_NGINX", "nginx")
    found = shutil.which(wanted) or shutil.which(wanted, path="/usr/sbin:/usr/local/sbin")
    if found is None:
        done = subprocess.run(
            ["bash", str(REPO / "scripts" / "ensure-nginx")], capture_output=True, text=True
        )
        found = shutil.which(wanted) or shutil.which(wanted, path="/usr/sbin:/usr/local/sbin")
        if found is None:
            pytest.fail(f"nginx is needed and could not be installed:\n{done.stdout}{done.stderr}")
    return found


@contextlib.contextmanager
def nginx(server: str, http: str = "") -> Iterator[Running]:
    """nginx with one `server { ... }` block whose text is `server`, `{port}` in it replaced
    by the port it listens on (on 127.0.0.1); `http`: more directives of the http block. A
    cache zone `cache` is declared for `proxy_cache cache;`."""
    binary = nginx_binary()
    port = free_port()
    home = Path(tempfile.mkdtemp(prefix="consent-nginx-"))
    home.chmod(0o755)  # nginx's workers run as nobody when the tests run as root
    for sub in ("cache", "temp"):
        (home / sub).mkdir()
        (home / sub).chmod(0o777)
    temp = home / "temp"
    config = home / "nginx.conf"
    config.write_text(
        f"""daemon off;
worker_processes 1;
pid {home}/nginx.pid;
error_log {home}/error.log warn;
events {{ worker_connections 128; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    proxy_cache_path {home}/cache keys_zone=cache:1m;
    {http}
    {server.replace("{port}", str(port))}
}}
"""
    )
    command = [binary, "-p", str(home), "-c", str(config), "-e", str(home / "error.log")]
    try:
        with running(command, port, home / "nginx.out") as proxy:
            yield proxy
    finally:
        error = home / "error.log"
        if error.exists():
            print(error.read_text(errors="replace")[-4000:])  # shown when the test fails
        shutil.rmtree(home, ignore_errors=True)
