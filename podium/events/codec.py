"""msgpack encoding of event batches and work messages: one encoder, typed decoders built once.

A batch decodes to `list[Event]` or fails loudly: an unknown event type or a malformed field is a
`msgspec.ValidationError`, never a silently dropped event. A batch of an old log that holds
events of an old shape decodes through `legacy`, which turns each into its current shape; a
batch of current shapes pays nothing for that.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec

from podium.events.legacy import LegacyEvent, upcast
from podium.events.model import Event
from podium.events.work import StopNotice, WorkItem

_encoder: Final = msgspec.msgpack.Encoder()
_batch_decoder: Final = msgspec.msgpack.Decoder(list[Event])
_old_batch_decoder: Final = msgspec.msgpack.Decoder(list[Event | LegacyEvent])
_work_decoder: Final = msgspec.msgpack.Decoder(list[WorkItem])
_stop_decoder: Final = msgspec.msgpack.Decoder(StopNotice)

DecodeError = msgspec.DecodeError


def encode_batch(batch: Sequence[Event]) -> bytes:
    return _encoder.encode(batch)


def decode_batch(data: bytes | memoryview) -> list[Event]:
    try:
        return _batch_decoder.decode(data)
    except msgspec.ValidationError:
        old = _old_batch_decoder.decode(data)  # raises too when it is not an old shape either
    return [upcast(event) for event in old]


def encode_work(items: Sequence[WorkItem]) -> bytes:
    return _encoder.encode(items)


def decode_work(data: bytes | memoryview) -> list[WorkItem]:
    return _work_decoder.decode(data)


def encode_stop(notice: StopNotice) -> bytes:
    return _encoder.encode(notice)


def decode_stop(data: bytes | memoryview) -> StopNotice:
    return _stop_decoder.decode(data)
