"""Extension hooks: code that runs when things happen (``seeds/tinybase-python-api.md``,
"Extensions Module"), plus ``before`` record hooks that may change or refuse a write."""

from tinybase.extensions.events import (
    FunctionCallEvent,
    FunctionCompleteEvent,
    RecordCreateEvent,
    RecordDeleteEvent,
    RecordUpdateEvent,
    UserLoginEvent,
    UserRegisterEvent,
)
from tinybase.extensions.hooks import (
    before_record_create,
    before_record_delete,
    before_record_update,
    on_function_call,
    on_function_complete,
    on_record_create,
    on_record_delete,
    on_record_update,
    on_shutdown,
    on_startup,
    on_user_login,
    on_user_register,
)

__all__ = [
    "FunctionCallEvent",
    "FunctionCompleteEvent",
    "RecordCreateEvent",
    "RecordDeleteEvent",
    "RecordUpdateEvent",
    "UserLoginEvent",
    "UserRegisterEvent",
    "before_record_create",
    "before_record_delete",
    "before_record_update",
    "on_function_call",
    "on_function_complete",
    "on_record_create",
    "on_record_delete",
    "on_record_update",
    "on_shutdown",
    "on_startup",
    "on_user_login",
    "on_user_register",
]
