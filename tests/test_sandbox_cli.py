"""`crm-elt sandbox` serves both emulators standalone, for manual runs against them."""
from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys

import requests


def free_port() -> int:
    """A port free together with the next one (the command serves HotProfile on port + 1)."""
    while True:
        with socket.socket() as first, socket.socket() as second:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port


def test_sandbox_command_serves_both_apis_until_interrupted():
    port = free_port()
    command = [shutil.which("crm-elt") or sys.executable, "sandbox", "--port", str(port), "--deals", "20",
               "--clients", "30"]
    if not shutil.which("crm-elt"):
        command = [sys.executable, "-c", "from pipelines.cli import main; main()", *command[1:]]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = [server.stdout.readline() for _ in range(3)]
        assert "SOURCES__PIPEDRIVE__BASE_URL=http://127.0.0.1:" in lines[0]
        token = lines[0].split("SOURCES__PIPEDRIVE__API_TOKEN=")[1].split()[0]
        key = lines[1].split("SOURCES__HOTPROFILE__API_KEY=")[1].split()[0]
        deals = requests.get(f"http://127.0.0.1:{port}/api/v2/deals", headers={"x-api-token": token}, timeout=5)
        assert deals.status_code == 200 and 0 < len(deals.json()["data"]) <= 20     # archived ones are apart
        clients = requests.post(f"http://127.0.0.1:{port + 1}/rest_api/v1/clients/get_entry_list_flow",
                                params={"api_key": key, "page[display_number]": 100}, timeout=5)
        assert clients.status_code == 200 and len(clients.json()["clients"]) == 30
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=10) == 0
