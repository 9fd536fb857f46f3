"""Start-up loading of the functions folder: failures reported, SDK scripts skipped,
duplicate names refused, and each function typed in /openapi.json."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import openapi_spec_validator
import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import TestUser
from tests.functions.helpers import SEED_EXAMPLE, write_module
from tinybase.api.app import create_app
from tinybase.functions.errors import DuplicateFunctionError
from tinybase.functions.loader import is_sdk_script, load_functions
from tinybase.settings import Config

GOOD = """
    from tinybase.functions import register

    @register(name="ping", auth="public")
    def ping(ctx) -> dict:
        return {"pong": True}
"""
BROKEN = """
    import a_module_that_does_not_exist
"""
SDK_SCRIPT = """
    # /// script
    # dependencies = ["tinybase-sdk"]
    # ///
    from tinybase_sdk import register

    @register(name="isolated")
    def isolated(client, payload: dict) -> dict:
        return payload
"""


@pytest.fixture
def function_modules() -> dict[str, str]:
    return {"good": GOOD, "broken": BROKEN, "isolated": SDK_SCRIPT, "orders": SEED_EXAMPLE}


def test_a_module_that_fails_to_import_is_listed_for_admins_and_the_rest_loads(
    client: TestClient, admin: TestUser, functions_dir: Path
) -> None:
    assert client.post("/api/functions/ping").json() == {"pong": True}
    response = client.get("/api/admin/functions", headers=admin.headers)
    assert response.status_code == 200
    body = response.json()
    assert {item["name"] for item in body["functions"]} >= {"ping", "create_order"}
    (failure,) = body["failures"]
    assert failure["file"] == str(functions_dir / "broken.py")
    assert failure["error"] == "ModuleNotFoundError: No module named 'a_module_that_does_not_exist'"
    assert "Traceback" in failure["traceback"]


def test_the_admin_list_is_for_admins_only(client: TestClient, make_user: Any) -> None:
    assert client.get("/api/admin/functions").status_code == 401
    assert client.get("/api/admin/functions", headers=make_user().headers).status_code == 403
    assert client.get("/api/admin/functions/calls").status_code == 401


def test_sdk_scripts_are_left_to_the_isolated_runner(client: TestClient) -> None:
    functions = client.app.state.tinybase.functions
    assert "isolated" not in [spec.name for spec in functions.load.specs]
    deadline = time.monotonic() + 10
    while not functions.isolated.entries and time.monotonic() < deadline:
        time.sleep(0.05)
    (entry,) = functions.isolated.entries.values()
    assert (entry.origin, entry.path.name) == ("folder", "isolated.py")
    assert is_sdk_script("# /// script\n# dependencies = []\n# ///\n")
    assert not is_sdk_script("x = '# /// script'\n")


def test_every_function_is_typed_in_openapi(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    openapi_spec_validator.validate(document)
    operation = document["paths"]["/api/functions/create_order"]["post"]
    request = operation["requestBody"]["content"]["application/json"]["schema"]
    response = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert request == {"$ref": "#/components/schemas/OrderInput"}
    assert response == {"$ref": "#/components/schemas/OrderOutput"}
    schemas = document["components"]["schemas"]
    assert schemas["OrderInput"]["properties"]["quantity"]["maximum"] == 100
    assert set(schemas["OrderOutput"]["properties"]) == {"order_id", "total"}
    assert operation["security"] == [{"HTTPBearer": []}]
    ping = document["paths"]["/api/functions/ping"]["post"]
    assert ping["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PingOutput"
    }
    assert ping["security"] == [{"HTTPBearer": []}, {}]


def test_two_functions_with_one_name_stop_the_start_naming_both(
    app_config: Config, functions_dir: Path
) -> None:
    write_module(functions_dir, "again", GOOD)
    with pytest.raises(DuplicateFunctionError) as raised, TestClient(create_app(app_config)):
        pass
    message = str(raised.value)
    assert "'ping'" in message
    assert str(functions_dir / "good.py") in message and str(functions_dir / "again.py") in message


def test_loading_one_folder_twice_registers_each_function_once(tmp_path: Path) -> None:
    write_module(tmp_path, "good", GOOD)
    first, second = load_functions(tmp_path), load_functions(tmp_path)
    assert [spec.name for spec in first.specs] == ["ping"]
    assert first.specs == second.specs
    assert load_functions(tmp_path / "missing").specs == []
