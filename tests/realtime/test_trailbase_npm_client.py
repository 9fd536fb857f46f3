"""The npm ``trailbase`` client's subscriptions (SSE and WebSocket) against TinyBase.

Node 20 has a global ``WebSocket`` only with ``--experimental-websocket`` (22 has it always).

``tests/js/trailbase_realtime.mjs`` runs in node with the client that
``tests/api/test_trailbase_client.py`` installs (its ``trailbase_js`` fixture).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.api.test_trailbase_client import JS_DIR, trailbase_js
from tests.realtime.conftest import Instance
from tests.realtime.helpers import ADMIN, PASSWORD

__all__ = ["trailbase_js"]

SCRIPT = "trailbase_realtime.mjs"


def test_npm_client_sees_changes_only_where_the_rules_allow(
    instance: Instance, trailbase_js: Path
) -> None:
    shutil.copy(JS_DIR / SCRIPT, trailbase_js / SCRIPT)
    arguments = [instance.base, instance.alice.email, instance.bob.email, ADMIN, PASSWORD]
    result = subprocess.run(
        ["node", "--experimental-websocket", SCRIPT, *arguments],
        cwd=trailbase_js,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["all"] == [
        ["Insert", "a1", 1],
        ["Insert", "from admin", 2],
        ["Update", "a1 changed", 3],
        ["Insert", "wanted", 4],
        ["Delete", "a1 changed", 5],
    ]
    assert seen["record"] == [["Update", "a1 changed", 1], ["Delete", "a1 changed", 2]]
    # Anyone may read public_notes: bob's writes reach alice there.
    assert seen["public"] == [
        ["Insert", "bob's", 1],
        ["Insert", "from admin", 2],
        ["Update", "a1 changed", 3],
        ["Update", "bob's changed", 4],
        ["Insert", "wanted", 5],
        ["Delete", "a1 changed", 6],
        ["Delete", "bob's changed", 7],
    ]
    assert seen["filtered"] == [["Insert", "wanted", 1]]
    assert seen["ws"] == [["Insert", "over ws", None]]
