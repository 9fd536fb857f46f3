"""Realtime: record changes pushed to subscribers over SSE and WebSocket.

Below the API layer, above records: :mod:`.service` (streams, fan-out), :mod:`.checks`
(who may read an event's row), :mod:`.matching` (filters in memory), :mod:`.topics`
(what a client may subscribe to), :mod:`.framing` (each family's frames), :mod:`.relay`
and :mod:`.postgres` (events between processes). See docs/realtime.md.
"""

from tinybase.realtime.service import EventRelay, RealtimeLimits, RealtimeService

__all__ = ["EventRelay", "RealtimeLimits", "RealtimeService"]
