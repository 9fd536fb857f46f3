"""Loading extensions: folders with a manifest, entry points of installed distributions, and
failures recorded with their file and error (the rest still loads)."""

from __future__ import annotations

from pathlib import Path

from tinybase.extensions.hooks import HookKind, collected_hooks
from tinybase.extensions.loader import load_extensions

AUDIT = """
    from tinybase.extensions import on_record_create, on_startup

    from audit_pkg.helpers import log


    @on_startup
    def ready():
        log("ready")


    @on_record_create(collection="orders")
    def created(event):
        log(event)
"""


def _hooks_of(report, name: str) -> list[tuple[str, str | None]]:
    (extension,) = [e for e in report.describe(collected_hooks())["loaded"] if e["name"] == name]
    return [(hook["kind"], hook["target"]) for hook in extension["hooks"]]


def test_a_folder_extension_is_imported_with_its_manifest(extension_dir) -> None:
    root = extension_dir(
        "audit",
        {
            "audit_pkg/__init__.py": AUDIT,
            "audit_pkg/helpers.py": "LOG = []\ndef log(x):\n    LOG.append(x)\n",
        },
        manifest="""
            name = "audit"
            version = "1.0.0"
            description = "Logs orders"
            module = "audit_pkg"
        """,
    )
    report = load_extensions(root)
    assert report.failed == []
    (audit,) = report.loaded
    assert (audit.name, audit.version, audit.description, audit.source, audit.module) == (
        "audit",
        "1.0.0",
        "Logs orders",
        "folder",
        "audit_pkg",
    )
    assert audit.location == str(root / "audit")
    assert _hooks_of(report, "audit") == [("startup", None), ("record_create", "orders")]
    described = report.describe(collected_hooks())["loaded"][0]["hooks"][1]
    assert described["handler"] == "audit_pkg.created"


def test_the_module_defaults_to_the_folder_name(extension_dir) -> None:
    root = extension_dir(
        "greeter",
        {"greeter.py": "from tinybase.extensions import on_shutdown\non_shutdown(print)\n"},
    )
    report = load_extensions(root)
    assert [(e.name, e.module, e.version) for e in report.loaded] == [("greeter", "greeter", None)]
    assert [spec.kind for spec in collected_hooks()] == [HookKind.SHUTDOWN]


def test_failures_are_recorded_with_their_file_and_the_rest_loads(extension_dir) -> None:
    extension_dir("no_manifest", {"no_manifest.py": "x = 1\n"}, manifest=None)
    extension_dir("bad_toml", {"bad_toml.py": ""}, manifest="name = \n")
    extension_dir("unknown_key", {"unknown_key.py": ""}, manifest='colour = "red"\n')
    extension_dir("missing", {}, manifest='module = "nowhere"\n')
    extension_dir(
        "half",
        {
            "half.py": """
                from tinybase.extensions import on_startup

                on_startup(print)
                raise RuntimeError("half-way")
            """
        },
    )
    extension_dir("syntax", {"syntax.py": "def broken(:\n"})
    root = extension_dir("works", {"works.py": "from tinybase.extensions import on_startup\n"})
    report = load_extensions(root)
    assert [e.name for e in report.loaded] == ["works"]
    failed = {f.name: f for f in report.failed}
    assert sorted(failed) == ["bad_toml", "half", "missing", "no_manifest", "syntax", "unknown_key"]
    assert failed["no_manifest"].error == f"_LoadError: no extension.toml in {root / 'no_manifest'}"
    assert failed["no_manifest"].file == str(root / "no_manifest" / "extension.toml")
    assert "bad_toml" in failed["bad_toml"].error and "Invalid value" in failed["bad_toml"].error
    assert "unknown keys ['colour']" in failed["unknown_key"].error
    assert "no module 'nowhere'" in failed["missing"].error
    half = failed["half"]
    assert (half.error, half.file, half.line) == (
        "RuntimeError: half-way",
        str(root / "half" / "half.py"),
        5,
    )
    syntax = failed["syntax"]
    assert syntax.error.startswith("SyntaxError") and syntax.file == str(
        root / "syntax" / "syntax.py"
    )
    assert syntax.line == 1
    # The hook `half` registered before failing was dropped: half an extension never runs.
    assert collected_hooks() == ()


def test_disabled_extensions_load_nothing(extension_dir) -> None:
    root = extension_dir("greeter", {"greeter.py": "raise SystemExit('must not be imported')\n"})
    report = load_extensions(root, enabled=False)
    assert (report.enabled, report.loaded, report.failed) == (False, [], [])


def test_a_missing_folder_is_no_extension(tmp_path: Path, no_hooks) -> None:
    report = load_extensions(tmp_path / "nothing here")
    assert (report.loaded, report.failed) == ([], [])


def test_entry_points_of_installed_distributions_are_loaded(installed, tmp_path: Path) -> None:
    installed(
        "tinybase-greeting",
        "tb_greeting",
        """
        from tinybase.extensions import on_user_register

        @on_user_register
        def welcome(event):
            pass
        """,
        {"greeting": "tb_greeting"},
    )
    installed(
        "tinybase-broken", "tb_broken", "import not_installed_anywhere\n", {"broken": "tb_broken"}
    )
    report = load_extensions(tmp_path / "no folder")
    (greeting,) = report.loaded
    assert (greeting.name, greeting.version, greeting.description, greeting.source) == (
        "greeting",
        "1.2.3",
        "tinybase-greeting for tests",
        "entry point",
    )
    assert greeting.location == "tinybase-greeting (tb_greeting)"
    assert _hooks_of(report, "greeting") == [("user_register", None)]
    (broken,) = report.failed
    assert broken.error == "ModuleNotFoundError: No module named 'not_installed_anywhere'"
    assert broken.file == str(tmp_path / "site" / "tb_broken" / "__init__.py")
    assert broken.line == 1
