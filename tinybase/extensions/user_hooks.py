"""User hooks: ``on_user_register`` for every user that comes to exist, ``on_user_login``
after each password login, wired into the auth services' listener seams at start-up.

Both only queue the event for the hook runner (:meth:`Hooks.run_later`): a registration or a
login never waits for a hook. A new user's event is queued once the insert has committed (a
rolled-back creation fires nothing).
"""

from __future__ import annotations

from tinybase.auth.service import AuthService
from tinybase.auth.users import UserRecord
from tinybase.extensions.dispatch import Hooks
from tinybase.extensions.events import UserLoginEvent, UserRegisterEvent
from tinybase.extensions.hooks import HookKind
from tinybase.extensions.record_hooks import as_uuid

__all__ = ["connect_user_hooks"]


def connect_user_hooks(hooks: Hooks, auth: AuthService) -> None:
    """Fire ``hooks``' user hooks from ``auth`` (nothing is added when there are none)."""
    if hooks.has(HookKind.USER_REGISTER):

        def registered(user: UserRecord) -> None:
            event = UserRegisterEvent(as_uuid(user.id), user.email)
            hooks.run_later(HookKind.USER_REGISTER, event)

        auth.users.created_listeners.append(registered)
    if hooks.has(HookKind.USER_LOGIN):

        def logged_in(user: UserRecord) -> None:
            event = UserLoginEvent(as_uuid(user.id), user.email, user.is_admin)
            hooks.run_later(HookKind.USER_LOGIN, event)

        auth.login_listeners.append(logged_in)
