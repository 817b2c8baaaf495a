from streamtape.sse import PayloadBatch, SSEFrame

class FastPath:
    """State and `feed_payloads` of the SSE parser's fast path (C)."""

    _offset: int
    last_offset: int
    _tail: bytearray
    _comments: list[str]
    _retry: int | None
    _special: bool
    def feed_payloads(self, data: bytes) -> list[SSEFrame | PayloadBatch | bytes]: ...
