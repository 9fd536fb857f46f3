"""Script metadata, the environment script uv prepares, and the bundled SDK wheel."""

from __future__ import annotations

import tomllib
import zipfile
from pathlib import Path

import pytest
import tinybase_sdk

from tinybase.functions.scripts import ScriptError, environment_script, script_metadata
from tinybase.functions.sdk_bundle import REQUIRES, sdk_wheel

SDK_PYPROJECT = Path(__file__).resolve().parents[3] / "sdk" / "pyproject.toml"

SCRIPT = """\
# /// script
# requires-python = ">=3.11"
# dependencies = ["Tinybase_SDK", "six>=1"]
# [tool.uv]
# exclude-newer = "2026-01-01T00:00:00Z"
# [tool.uv.sources]
# tinybase-sdk = { index = "evil" }
# ///
print("hi")
"""


def test_environment_script_points_the_sdk_at_the_bundled_wheel(tmp_path: Path) -> None:
    wheel = sdk_wheel(tmp_path)
    text = environment_script(script_metadata(SCRIPT), wheel)
    assert text.startswith("# /// script\n") and text.endswith("# ///\n")
    body = "".join(line[2:] + "\n" for line in text.splitlines()[1:-1])
    metadata = tomllib.loads(body)
    assert metadata["dependencies"] == ["Tinybase_SDK", "six>=1"]
    assert metadata["requires-python"] == ">=3.11"
    assert metadata["tool"]["uv"]["exclude-newer"] == "2026-01-01T00:00:00Z"
    # Whatever the script says, the SDK comes from the wheel bundled with this TinyBase.
    assert metadata["tool"]["uv"]["sources"] == {"tinybase-sdk": {"path": str(wheel)}}
    assert "print" not in text


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("print(1)\n", "no '# /// script' metadata block"),
        ("# /// script\n# dependencies = [\n# ///\n", "not valid TOML"),
        ("# /// script\n# dependencies = ['six']\n# ///\n", "must name 'tinybase-sdk'"),
        ("# /// script\n# dependencies = 'tinybase-sdk'\n# ///\n", "list of strings"),
    ],
)
def test_bad_metadata_is_refused(source: str, message: str) -> None:
    with pytest.raises(ScriptError, match=message):
        script_metadata(source)


def test_sdk_wheel_holds_the_bundled_sdk_and_its_requirements(tmp_path: Path) -> None:
    wheel = sdk_wheel(tmp_path)
    assert wheel.name == f"tinybase_sdk-{tinybase_sdk.__version__}-py3-none-any.whl"
    assert sdk_wheel(tmp_path) == wheel  # built once per content
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"tinybase_sdk-{tinybase_sdk.__version__}.dist-info/METADATA")
    assert {"tinybase_sdk/__init__.py", "tinybase_sdk/worker.py"} <= names
    assert b"Name: tinybase-sdk" in metadata
    declared = tomllib.loads(SDK_PYPROJECT.read_text())["project"]["dependencies"]
    assert sorted(declared) == sorted(REQUIRES)
    for requirement in REQUIRES:
        assert f"Requires-Dist: {requirement}".encode() in metadata
