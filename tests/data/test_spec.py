"""The MiniDataAPI spec's examples, in order, with its printed outputs as exact assertions.

Runs on SQLite in memory, SQLite on a file and PostgreSQL. The only difference the spec allows:
PostgreSQL sequences never reuse an id, so the todo inserted after deleting id 3 gets id 4.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tinybase.data import UNSET, Database, NotFoundError

BRADEN = "[email protected]"
ALMA = "[email protected]"
CHARLIE = "[email protected]"
JOHN = "[email protected]"


def user_repr(name: str, email: str, year: int, pwd: str = "None") -> str:
    return f"User(name='{name}', email='{email}', year_started={year}, pwd={pwd})"


def todo_repr(id: int, title: str, status: str, name: str) -> str:
    return f"Todo(id={id}, title='{title}', detail=None, status='{status}', name='{name}')"


T1 = todo_repr(1, "Write MiniDataAPI spec", "open", "Braden")
T2 = todo_repr(2, "Implement SSE in FastHTML", "open", "Alma")
T3 = todo_repr(3, "Finish development of FastHTML", "closed", "Charlie")
U_BRADEN = user_repr("Braden", BRADEN, 2018)
U_ALMA = user_repr("Alma", ALMA, 2019)
U_CHARLIE = user_repr("Charlie", CHARLIE, 2018)


def spec_class(class_name: str, /, **fields: type) -> type:
    """``class Name: field: type; ...`` as the spec writes it at the top level of a notebook."""
    return type(class_name, (), {"__annotations__": fields, "__qualname__": class_name})


def test_spec_examples(any_raw_db: Database) -> None:
    db = any_raw_db

    # Creating tables
    User = spec_class("User", name=str, email=str, year_started=int)
    users = db.create(User, pk="name")
    assert repr(users) == "<Table user (name, email, year_started)>"
    users = db.create(User, pk="name")
    assert repr(users) == "<Table user (name, email, year_started)>"

    Todo = dataclass(spec_class("Todo", id=int, title=str, detail=str, status=str, name=str))
    todos = db.create(Todo)
    assert repr(todos) == "<Table todo (id, title, detail, status, name)>"

    # Compound primary keys
    Publication = spec_class("Publication", authors=str, year=int, title=str)
    publications = db.create(Publication, pk=("authors", "year"))

    # Transforming tables
    User = spec_class("User", name=str, email=str, year_started=int, pwd=str)
    users = db.create(User, pk="name", transform=True)
    assert repr(users) == "<Table user (name, email, year_started, pwd)>"

    # .insert()
    assert repr(users.insert(User(name="Braden", email=BRADEN, year_started=2018))) == U_BRADEN
    assert repr(users.insert(name="Alma", email=ALMA, year_started=2019)) == U_ALMA
    inserted = users.insert({"name": "Charlie", "email": CHARLIE, "year_started": 2018})
    assert repr(inserted) == U_CHARLIE

    todos.insert(Todo(title="Write MiniDataAPI spec", status="open", name="Braden"))
    todos.insert(title="Implement SSE in FastHTML", status="open", name="Alma")
    todo = todos.insert(
        dict(title="Finish development of FastHTML", status="closed", name="Charlie")
    )
    assert repr(todo) == T3

    publications.insert(Publication(authors="Alma", year=2019, title="FastHTML"))
    publications.insert(authors="Alma", year=2030, title="FastHTML and beyond")
    publication = publications.insert(
        dict(authors="Alma", year=2035, title="FastHTML, the early years")
    )
    assert repr(publication) == (
        "Publication(authors='Alma', year=2035, title='FastHTML, the early years')"
    )

    # Square bracket search []
    user = users["Alma"]
    assert repr(user) == U_ALMA
    with pytest.raises(NotFoundError):
        users["David"]
    assert repr(todos[1]) == T1
    assert repr(publications[["Alma", 2019]]) == (
        "Publication(authors='Alma', year=2019, title='FastHTML')"
    )
    assert repr(publications["Alma", 2030]) == (
        "Publication(authors='Alma', year=2030, title='FastHTML and beyond')"
    )

    # Parentheses search ()
    assert repr(users()) == f"[{U_BRADEN}, {U_ALMA}, {U_CHARLIE}]"
    assert repr(users(order_by="name")) == f"[{U_ALMA}, {U_BRADEN}, {U_CHARLIE}]"
    assert repr(users(where="name='Alma'")) == f"[{U_ALMA}]"
    assert repr(users("name=?", ("Alma",))) == f"[{U_ALMA}]"
    assert repr(users(limit=1)) == f"[{U_BRADEN}]"
    assert repr(users(limit=5, offset=1)) == f"[{U_ALMA}, {U_CHARLIE}]"

    # .update()
    assert repr(user) == U_ALMA
    user.year_started = 2099
    assert repr(users.update(user)) == user_repr("Alma", ALMA, 2099)
    updated = users.update(dict(name="Alma", year_started=2199, email=ALMA))
    assert repr(updated) == user_repr("Alma", ALMA, 2199)
    assert repr(users.update(name="Alma", year_started=2149)) == user_repr("Alma", ALMA, 2149)
    with pytest.raises(NotFoundError):
        users.update(User(name="John", year_started=2024, email=JOHN))
    assert "John" not in users

    # .delete()
    assert repr(users.delete("Charlie")) == "<Table user (name, email, year_started, pwd)>"
    with pytest.raises(NotFoundError):
        users.delete("Charlies")
    with pytest.raises(NotFoundError):
        users.delete("John")
    assert repr(publications.delete(["Alma", 2035])) == "<Table publication (authors, year, title)>"

    # `in` keyword
    assert ("Alma" in users, "John" in users) == (True, False)
    assert ["Alma", 2019] in publications
    assert ("John", 1967) not in publications

    # .xtra()
    assert repr(todos()) == f"[{T1}, {T2}, {T3}]"
    assert todos.xtra(name="Charlie") is None
    assert repr(todos()) == f"[{T3}]"
    ct = todos[3]
    assert repr(ct) == T3
    assert ct.id in todos
    assert (1 in todos, 2 in todos) == (False, False)
    with pytest.raises(NotFoundError):
        todos[2]
    with pytest.raises(NotFoundError):
        todos.update(Todo(id=1, title="Finish MiniDataAPI Spec", status="closed", name="Braden"))
    assert (
        repr(
            todos.update(
                Todo(
                    id=3,
                    title="Finish development of FastHTML",
                    detail=None,
                    status="closed",
                    name="Charlie",
                )
            )
        )
        == T3
    )
    with pytest.raises(NotFoundError):
        todos.delete(1)
    assert repr(todos.delete(ct.id)) == "<Table todo (id, title, detail, status, name)>"

    new_id = 4 if db.dialect == "postgresql" else 3  # PostgreSQL sequences never reuse ids
    ct = todos.insert(Todo(title="Rewrite personal site in FastHTML", status="open"))
    rewrite = todo_repr(new_id, "Rewrite personal site in FastHTML", "open", "Charlie")
    assert repr(ct) == rewrite
    ct.name = "Braden"
    assert repr(todos.update(ct)) == rewrite

    # Braden's todo was never touched through the filtered table.
    assert repr(db.t.todo[1]) == T1

    # SQL-first design
    users = None
    User = None
    users = db.t.user
    assert repr(users) == "<Table user (name, email, year_started, pwd)>"
    User = users.dataclass()
    assert repr(User(name="Braden", email=BRADEN, year_started=2018)) == (
        f"User(name='Braden', email='{BRADEN}', year_started=2018, pwd=UNSET)"
    )
    assert User().name is UNSET
