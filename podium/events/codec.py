"""msgpack encoding of event batches and work messages: one encoder, typed decoders built once.

A batch decodes to `list[Event]` or fails loudly: an unknown event type or a malformed field is a
`msgspec.ValidationError`, never a silently dropped event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec

from podium.events.model import Event
from podium.events.work import StopNotice, WorkItem

_encoder: Final = msgspec.msgpack.Encoder()
_batch_decoder: Final = msgspec.msgpack.Decoder(list[Event])
_work_decoder: Final = msgspec.msgpack.Decoder(list[WorkItem])
_stop_decoder: Final = msgspec.msgpack.Decoder(StopNotice)

DecodeError = msgspec.DecodeError


def encode_batch(batch: Sequence[Event]) -> bytes:
    return _encoder.encode(batch)


def decode_batch(data: bytes | memoryview) -> list[Event]:
    return _batch_decoder.decode(data)


def encode_work(items: Sequence[WorkItem]) -> bytes:
    return _encoder.encode(items)


def decode_work(data: bytes | memoryview) -> list[WorkItem]:
    return _work_decoder.decode(data)


def encode_stop(notice: StopNotice) -> bytes:
    return _encoder.encode(notice)


def decode_stop(data: bytes | memoryview) -> StopNotice:
    return _stop_decoder.decode(data)
