"""The api's settings: the part of the settings tree the api role reads. A module of its own,
so that the assembly builds the tree without loading the API."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ApiSettings:
    port: int = 8143
    watch_s: float = 2.0  # how often the inventory and node-groups files are checked; 0: never
    public_url: str | None = None  # e.g. https://orch.example.com:8143; else from the request
    submit_timeout_s: float = 10.0
    max_body_bytes: int = 1024 * 1024
    request_timeout_s: float = 30.0  # a body (or headers) not all there by then: cut off
    allowed_hosts: tuple[str, ...] = ()  # Host headers trusted for links, beside our address


@dataclass(frozen=True, slots=True)
class PuppetDbSettings:
    url: str  # e.g. https://puppetdb.example.com:8081
    cert: Path | None = None  # client certificate and key, for PuppetDB's certificate auth
    key: Path | None = None
    ca: Path | None = None  # the CA that signed PuppetDB's certificate
    timeout_s: float = 10.0
    max_answer_bytes: int = 64 * 1024 * 1024  # read no more of an answer than this
