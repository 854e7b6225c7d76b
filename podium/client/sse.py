"""Server-Sent Events decoded from the bytes of a stream, with no I/O: the caller feeds what it
reads, in chunks of any size, and gets the complete events back (the WHATWG rules for `id:`,
`event:`, `data:` and comments; a line may be longer than any read)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SseEvent:
    id: str | None
    type: str
    data: str


@dataclass(slots=True)
class SseDecoder:
    _pending: bytearray = field(default_factory=bytearray)
    _id: str | None = None
    _type: str = ""
    _data: list[str] = field(default_factory=list)

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """The events completed by this chunk, in order."""
        if b"\n" not in chunk:  # a long line coming in pieces
            self._pending += chunk
            return []
        *lines, rest = (bytes(self._pending) + chunk).split(b"\n")
        self._pending = bytearray(rest)
        events = []
        for raw in lines:
            event = self._line(raw.rstrip(b"\r").decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> SseEvent | None:
        if not line:  # a blank line dispatches what was gathered
            return self._dispatch()
        if line.startswith(":"):  # a comment: the server's keep-alive
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._type = value
        elif name == "id" and "\0" not in value:
            self._id = value
        return None

    def _dispatch(self) -> SseEvent | None:
        if not self._data:
            self._type = ""
            return None
        event = SseEvent(self._id, self._type or "message", "\n".join(self._data))
        self._type, self._data = "", []
        return event
