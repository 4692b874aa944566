"""Extras install alone: with the server's (and the console's) dependencies missing, the
client and core import and work, and `growthkit` says which extra a command needs.

Each check runs in a fresh interpreter whose import system refuses the other extras'
packages, as an install without them would.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from growthkit.cli import SUBCOMMANDS

SERVER_ONLY = ["fastapi", "starlette", "uvicorn", "pydantic_settings", "limits", "redis",
               "ua_parser", "psycopg", "asgi_lifespan"]
CONSOLE_ONLY = ["PySide6", "shiboken6", "pyqtgraph", "keyring"]

BLOCKER = textwrap.dedent("""
    import importlib.abc, sys
    BLOCKED = set(sys.argv.pop(1).split(","))

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Refuse())
""")


def run(blocked: list[str], code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code),
                           ",".join(blocked), *args], capture_output=True, text=True,
                          timeout=120)


CLI = "from growthkit.cli import main\nmain(prog_name='growthkit')\n"


@pytest.mark.parametrize("backend", [("sqlite", "memory")], indirect=True)
def test_the_client_extra_works_without_the_server_and_console(live_server, tmp_path):
    app = live_server.create_app("Extras")
    live_server.track(app.public, {"fingerprint": "fp_1",
                                   "events": [{"eventName": "page_viewed"}]})
    out = run(SERVER_ONLY + CONSOLE_ONLY, """
        import pkgutil, sys, importlib
        import growthkit.core
        for mod in pkgutil.walk_packages(growthkit.core.__path__, "growthkit.core."):
            if ".migrations" not in mod.name:
                importlib.import_module(mod.name)
        from growthkit.api_client import Client, Tracker
        url, secret, public, queue = sys.argv[1:5]
        with Tracker(url, public, queue_path=queue) as tracker:
            tracker.track("fp_2", "signup")
            assert tracker.flush()
        client = Client(url, secret)
        print(client.stats().events, len(client.activities().to_frame()))
        assert not any(m.split(".")[0] in ("fastapi", "ua_parser", "PySide6")
                       for m in sys.modules)
    """, live_server.base_url, app.secret, app.public, str(tmp_path / "queue.sqlite3"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "2"]


@pytest.mark.parametrize("backend", [("sqlite", "memory")], indirect=True)
def test_the_client_extra_snapshots_and_opens_them_offline(live_server, tmp_path):
    app = live_server.create_app("Offline")
    live_server.track(app.public, {"fingerprint": "fp_1", "events": [
        {"eventName": "page_viewed"}, {"eventName": "signup"}]})
    path = tmp_path / "offline.gksnap"
    made = run(SERVER_ONLY + CONSOLE_ONLY, CLI, "snapshot", "--url", live_server.base_url,
               "--key", app.secret, "-o", str(path), "--quiet")
    assert made.returncode == 0, made.stderr
    assert "2 events" in made.stdout
    out = run(SERVER_ONLY + CONSOLE_ONLY, """
        import sys
        from growthkit.api_client.local import LocalSource
        with LocalSource(sys.argv[1]) as source:
            print(source.stats().events, source.lead("fp_1").events)
        assert not any(m.split(".")[0] in ("fastapi", "ua_parser", "PySide6")
                       for m in sys.modules)
    """, str(path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "2"]


def test_server_commands_without_the_server_extra_say_which_extra_to_install():
    listing = run(SERVER_ONLY, CLI, "--help")
    assert listing.returncode == 0, listing.stderr
    assert "serve" in listing.stdout and 'growthkit[server]' in listing.stdout
    serve = run(SERVER_ONLY, CLI, "serve", "--port", "9")
    assert serve.returncode == 2
    assert 'growthkit serve needs the server extra' in serve.stderr
    assert 'pip install "growthkit[server]"' in serve.stderr
    console = run(SERVER_ONLY, CLI, "console", "--help")  # the console extra is enough
    assert console.returncode == 0, console.stderr
    assert "--url" in console.stdout


def test_the_console_command_without_its_extra_says_so():
    out = run(SERVER_ONLY + CONSOLE_ONLY, CLI, "console", "--url", "http://x", "--key", "sk_x")
    assert out.returncode == 2
    assert 'pip install "growthkit[console]"' in out.stderr


def test_every_server_command_is_registered_lazily():
    from growthkit.server.cli import COMMANDS

    lazy = {name for name, (module, _, _) in SUBCOMMANDS.items()
            if module == "growthkit.server.cli"}
    assert lazy == {c.name for c in COMMANDS}
