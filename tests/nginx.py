"""deploy/nginx.conf run by the real nginx on loopback, serving a folder as its `root`.

Owns: starting nginx (as the Compose `nginx` service runs it) on a free port over any folder,
for the unit tests of the configuration (tests/unit/test_serve.py) and the system tests that
serve what the real command line published; stopping it afterwards. Skips where nginx is not
installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import REPO, unavailable


@contextmanager
def nginx_serving(root: Path, workdir: Path) -> Iterator[str]:
    """deploy/nginx.conf serving `root`, its own files (configuration, pid, logs, temporary
    files) in `workdir`: the base URL ("http://127.0.0.1:PORT") while it runs."""
    if shutil.which("nginx") is None:
        unavailable("nginx is not installed (apt-get install -y nginx-light)")
    workdir.mkdir(parents=True, exist_ok=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conf = (REPO / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{port};")
    conf = conf.replace("root /srv/syndication/public;", f"root {root};")
    (workdir / "site.conf").write_text(conf, encoding="utf-8")
    temp = workdir / "tmp"
    temp.mkdir(exist_ok=True)
    main = workdir / "nginx.conf"
    # Started by root, nginx's workers would be `nobody`, who cannot read pytest's folders.
    user = "user root;\n" if os.geteuid() == 0 else ""
    main.write_text(
        f"daemon off;\n{user}pid {workdir}/nginx.pid;\nerror_log {workdir}/error.log;\n"
        "events {}\nhttp {\n  include /etc/nginx/mime.types;\n  access_log off;\n"
        + "".join(f"  {kind}_temp_path {temp}/{kind};\n"
                  for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + f"  include {workdir}/site.conf;\n}}\n",
        encoding="utf-8",
    )  # fmt: skip
    server = subprocess.Popen(["nginx", "-p", str(workdir), "-c", str(main)],
                              stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stderr is not None:
            server.stderr.close()
