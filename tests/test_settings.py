"""Static ``config`` (env > tinybase.toml > defaults) and runtime ``settings`` (database)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from tinybase.data import Database, database
from tinybase.db.models import Setting
from tinybase.errors import ValidationError
from tinybase.settings import (
    SECRET_MASK,
    ConfigError,
    RuntimeSettings,
    SettingsStore,
    check_environment,
    environment_variable,
    flatten_toml,
    load_config,
    settings,
)

pytestmark = pytest.mark.usefixtures("clean_environment")

SEED_DEFAULTS = {
    "server_host": "0.0.0.0",
    "server_port": 8000,
    "debug": False,
    "log_level": "info",
    "db_url": "sqlite:///./tinybase.db",
    "auth_token_ttl_hours": 24,
    "functions_path": "./functions",
    "scheduler_enabled": True,
    "scheduler_interval_seconds": 5,
    "scheduler_token_cleanup_interval": 60,
    "cors_allow_origins": ["*"],
    "admin_static_dir": "builtin",
    "extensions_enabled": True,
    "extensions_path": "~/.tinybase/extensions",
}


def write_toml(folder: Path, text: str) -> Path:
    path = folder / "tinybase.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- static config -------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "default"), SEED_DEFAULTS.items())
def test_every_seed_property_has_its_default(name: str, default: object) -> None:
    assert getattr(load_config(), name) == default


def test_toml_overrides_defaults(clean_environment: Path) -> None:
    write_toml(clean_environment, '[server]\nport = 9001\n[database]\nurl = "sqlite:///x.db"\n')
    config = load_config()
    assert config.server_port == 9001
    assert config.db_url == "sqlite:///x.db"
    assert config.server_host == "0.0.0.0"


def test_environment_overrides_toml(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_toml(clean_environment, '[server]\nport = 9001\nhost = "127.0.0.1"\n')
    monkeypatch.setenv("TINYBASE_SERVER_PORT", "9002")
    config = load_config()
    assert config.server_port == 9002
    assert config.server_host == "127.0.0.1"  # from the file: the environment did not set it


def test_keyword_overrides_beat_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYBASE_DB_URL", "sqlite:///env.db")
    assert load_config(db_url="sqlite:///kw.db").db_url == "sqlite:///kw.db"


def test_environment_parses_lists_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYBASE_CORS_ALLOW_ORIGINS", '["https://a.example", "https://b.example"]')
    assert load_config().cors_allow_origins == ["https://a.example", "https://b.example"]


def test_config_file_named_by_tinybase_config(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = clean_environment / "elsewhere.toml"
    other.write_text("debug = true\n", encoding="utf-8")
    monkeypatch.setenv("TINYBASE_CONFIG", str(other))
    assert load_config().debug is True


def test_missing_config_file_named_by_tinybase_config_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TINYBASE_CONFIG", "/nonexistent/tinybase.toml")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config()


def test_unknown_toml_key_is_an_error(clean_environment: Path) -> None:
    write_toml(clean_environment, "[server]\nprot = 9001\n")
    with pytest.raises(ConfigError, match="server_prot"):
        load_config()


def test_unknown_toml_section_is_an_error() -> None:
    with pytest.raises(ConfigError, match="databse_url"):
        flatten_toml({"databse": {"url": "x"}})


def test_invalid_toml_is_an_error(clean_environment: Path) -> None:
    write_toml(clean_environment, "[server\n")
    with pytest.raises(ConfigError, match=r"tinybase\.toml"):
        load_config()


def test_wrong_type_in_toml_is_an_error(clean_environment: Path) -> None:
    write_toml(clean_environment, '[server]\nport = "eighty"\n')
    with pytest.raises(ConfigError, match="server_port"):
        load_config()


def test_unknown_environment_variable_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYBASE_SERVER_PROT", "9000")
    with pytest.raises(ConfigError, match="TINYBASE_SERVER_PROT"):
        load_config()


def test_unknown_environment_variable_is_caught_in_any_case() -> None:
    with pytest.raises(ConfigError, match="tinybase_dburl"):
        check_environment({"tinybase_dburl": "x"})


@pytest.mark.parametrize(
    ("variable", "meant"),
    [
        ("TINYBASE_DB_ULR", "TINYBASE_DB_URL"),
        ("TINYBASE_DATABASE_URL", "TINYBASE_DB_URL"),  # [database] url is db_url
        ("TINYBASE_SERVER_PROT", "TINYBASE_SERVER_PORT"),
        ("tinybase_log_levle", "TINYBASE_LOG_LEVEL"),
    ],
)
def test_unknown_environment_variable_names_the_one_probably_meant(
    variable: str, meant: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        check_environment({variable: "x"})
    assert (
        str(raised.value) == f"unknown environment variable(s): {variable} (did you mean {meant}?)"
    )


def test_unknown_environment_variables_are_all_named_each_with_its_guess() -> None:
    with pytest.raises(ConfigError) as raised:
        check_environment({"TINYBASE_ZZZ": "1", "TINYBASE_SMTP_PASS": "2"})
    assert str(raised.value) == (
        "unknown environment variable(s): TINYBASE_SMTP_PASS (did you mean "
        "TINYBASE_SMTP_PASSWORD?), TINYBASE_ZZZ"
    )


def test_unknown_toml_key_names_the_setting_probably_meant() -> None:
    with pytest.raises(ConfigError) as raised:
        flatten_toml({"server": {"prot": 9001}})
    assert str(raised.value) == (
        "tinybase.toml: unknown setting 'server_prot' (did you mean 'server_port'?)"
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("db_url", "sqlite:///env.db", "sqlite:///env.db"),
        ("server_port", "9005", 9005),
        ("smtp_host", "mail.example", "mail.example"),
        ("scheduler_enabled", "false", False),
    ],
)
def test_environment_variable_is_the_one_the_setting_is_read_from(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: object
) -> None:
    monkeypatch.setenv(environment_variable(name), value)
    assert getattr(load_config(), name) == expected


def test_environment_variable_of_the_database_url() -> None:
    assert environment_variable("db_url") == "TINYBASE_DB_URL"


@pytest.mark.parametrize(
    "name",
    [
        "TINYBASE_CONFIG",
        "TINYBASE_REQUIRE_PG",
        "TINYBASE_REQUIRE_BROWSER",
        "TINYBASE_REQUIRE_PYTHON313",
        "TINYBASE_PYTHON313",
        "TINYBASE_ADMIN_EMAIL",
        "TINYBASE_ADMIN_PASSWORD",
    ],
)
def test_non_setting_variables_are_allowed(name: str) -> None:
    check_environment({name: "x", "TINYBASE_DB_URL": "sqlite://", "OTHER_THING": "y"})


def test_bad_log_level_is_an_error() -> None:
    with pytest.raises(ConfigError, match="log_level"):
        load_config(log_level="loud")


# -- runtime settings ----------------------------------------------------------------------


@pytest.fixture
def store(migrated_db: Database) -> SettingsStore:
    return SettingsStore(migrated_db)


def stored_rows(store: SettingsStore) -> dict[str, object]:
    table = Setting.__table__
    with store._db.read() as connection:
        return dict(connection.execute(sa.select(table.c.key, table.c.value)).all())


def test_runtime_defaults_before_anything_is_stored(store: SettingsStore) -> None:
    store.load()
    assert store.instance_name == "TinyBase"
    assert store.allow_registration is True
    assert store.storage.enabled is False
    assert store.storage.backend == "local"
    assert store.storage.max_file_size_mb == 10
    assert stored_rows(store) == {}


def test_update_stores_only_the_changed_keys(store: SettingsStore) -> None:
    updated = store.update({"instance_name": "Acme", "storage": {"enabled": True}})
    assert updated.instance_name == "Acme"
    assert updated.storage.enabled is True
    assert updated.storage.backend == "local"
    assert stored_rows(store) == {"instance_name": "Acme", "storage.enabled": True}


def test_update_accepts_dotted_keys(store: SettingsStore) -> None:
    store.update({"storage.max_file_size_mb": 25})
    assert store.storage.max_file_size_mb == 25
    assert stored_rows(store) == {"storage.max_file_size_mb": 25}


def test_update_overwrites_an_existing_key(store: SettingsStore) -> None:
    store.update({"allow_registration": False})
    store.update({"allow_registration": True})
    assert stored_rows(store) == {"allow_registration": True}


@pytest.mark.parametrize(
    ("changes", "loc", "kind"),
    [
        ({"instance_nam": "x"}, ["body", "instance_nam"], "extra_forbidden"),
        ({"storage": {"bucket": "x"}}, ["body", "storage", "bucket"], "extra_forbidden"),
        ({"allow_registration": "yes"}, ["body", "allow_registration"], "bool_type"),
        ({"storage": {"max_file_size_mb": "10"}}, ["body", "storage", "max_file_size_mb"], None),
        ({"storage": {"backend": "ftp"}}, ["body", "storage", "backend"], "literal_error"),
        ({"storage": 5}, ["body", "storage"], None),
        ({"instance_name": ""}, ["body", "instance_name"], "string_too_short"),
    ],
)
def test_update_rejects_unknown_keys_and_wrong_types(
    store: SettingsStore, changes: dict, loc: list[str], kind: str | None
) -> None:
    with pytest.raises(ValidationError) as caught:
        store.update(changes)
    [error] = caught.value.detail
    assert error["loc"] == loc
    assert ".".join(loc[1:]) in error["msg"]
    if kind is not None:
        assert error["type"] == kind
    assert stored_rows(store) == {}


def test_secret_is_masked_and_the_mask_never_overwrites_it(store: SettingsStore) -> None:
    store.update({"storage": {"s3_secret_access_key": "s3cr3t"}})
    assert store.current.public()["storage"]["s3_secret_access_key"] == SECRET_MASK
    assert store.storage.s3_secret_access_key == "s3cr3t"
    store.update({"storage": {"s3_secret_access_key": SECRET_MASK, "s3_bucket": "b"}})
    assert stored_rows(store)["storage.s3_secret_access_key"] == "s3cr3t"
    assert store.storage.s3_bucket == "b"


def test_unset_secret_is_shown_as_null(store: SettingsStore) -> None:
    assert store.current.public()["storage"]["s3_secret_access_key"] is None


def test_second_process_sees_a_change_after_load(db_url: str, store: SettingsStore) -> None:
    other_db = database(db_url)
    try:
        other = SettingsStore(other_db)
        assert other.load() is False  # defaults on both sides
        store.update({"instance_name": "Changed elsewhere"})
        assert other.instance_name == "TinyBase"  # cached until the next poll
        assert other.load() is True
        assert other.instance_name == "Changed elsewhere"
        assert other.load() is False
    finally:
        other_db.engine.dispose()


def test_unknown_or_invalid_stored_values_fall_back_to_defaults(store: SettingsStore) -> None:
    with store._db.write() as connection:
        connection.execute(
            sa.insert(Setting.__table__),
            [
                {"key": "no_such_setting", "value": 1},
                {"key": "allow_registration", "value": "not a bool"},
                {"key": "instance_name", "value": "Kept"},
            ],
        )
    store.load()
    assert store.allow_registration is True
    assert store.instance_name == "Kept"


def test_module_settings_answer_defaults_until_bound(store: SettingsStore) -> None:
    settings.unbind()
    assert settings.instance_name == "TinyBase"
    assert settings.storage.enabled is False
    store.update({"storage": {"enabled": True}})
    settings.bind(store)
    try:
        assert settings.storage.enabled is True
        assert settings.current is store.current
    finally:
        settings.unbind(store)
    assert settings.storage.enabled is False


def test_unbind_leaves_another_binding_alone(store: SettingsStore) -> None:
    other = SettingsStore(store._db)
    settings.bind(store)
    try:
        settings.unbind(other)
        assert settings._store is store
    finally:
        settings.unbind()


def test_runtime_settings_model_defaults() -> None:
    assert RuntimeSettings().flat() == {
        "instance_name": "TinyBase",
        "allow_registration": True,
        "storage.enabled": False,
        "storage.backend": "local",
        "storage.local_path": "./data/files",
        "storage.s3_bucket": None,
        "storage.s3_region": None,
        "storage.s3_endpoint_url": None,
        "storage.s3_access_key_id": None,
        "storage.s3_secret_access_key": None,
        "storage.s3_prefix": "",
        "storage.s3_path_style": True,
        "storage.max_file_size_mb": 10,
    }
