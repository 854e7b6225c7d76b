"""Compiled Clojure for the Puppet servers of the tests, kept between test sessions.

Debian ships puppetserver's and PuppetDB's Clojure as source, compiled at every start: most of
the CPU either spends starting, on a machine several test sessions share. A server started
without a cache compiles as it loads (`*compile-files*`) into a directory of its own; once it
has stopped cleanly, that directory becomes the cache for its set of jars
(`~/.cache/podium-tests/clojure/<server>-<digest of the jars>`, any user's concurrent sessions
racing harmlessly: the first rename wins). Later sessions put the cache first on the classpath
and load classes instead, for about a third of the CPU. Any change to the jars makes a new cache.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

JARS: Final = Path("/usr/share/java")  # the libraries both servers' jars name in their manifests
STALE_S: Final = 24 * 3600.0  # a build left by a session that died is removed after this
COMPILE_EVERYTHING: Final = "(alter-var-root #'clojure.core/*compile-files* (constantly true))"


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "podium-tests" / "clojure"


@dataclass(frozen=True, slots=True)
class ClojureCache:
    """Where one server start loads compiled Clojure from, or compiles it to."""

    final: Path  # the cache for these jars, complete when it exists
    building: Path | None  # this start's own compile directory, when there is no cache yet

    def jvm_args(self, main_jar: Path) -> list[str]:
        """The JVM's options, classpath and Clojure's before `-m <namespace>`."""
        if self.building is None:
            return ["-cp", f"{self.final}:{main_jar}", "clojure.main"]
        return [
            f"-Dclojure.compile.path={self.building}",
            "-cp", f"{self.building}:{main_jar}", "clojure.main", "-e", COMPILE_EVERYTHING,
        ]  # fmt: skip

    def keep(self, stopped_cleanly: bool) -> None:
        """After the server has exited: a complete build becomes the cache; anything else
        (a server killed mid-write, or a cache another session made first) is removed."""
        if self.building is None:
            return
        if stopped_cleanly and not self.final.exists():
            try:
                self.building.rename(self.final)
                return
            except OSError:  # another session's build got there first
                pass
        shutil.rmtree(self.building, ignore_errors=True)


def cache_for(server: str, main_jar: Path) -> ClojureCache:
    root = cache_root()
    final = root / f"{server}-{_digest([main_jar, *sorted(JARS.glob('*.jar'))])}"
    if final.is_dir():
        return ClojureCache(final, None)
    root.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(root)
    building = root / f"{final.name}.building-{uuid.uuid4().hex[:8]}"
    building.mkdir()
    return ClojureCache(final, building)


def _digest(jars: Iterable[Path]) -> str:
    """Names, sizes and times of the jars: a package upgrade changes at least one."""
    digest = hashlib.sha256()
    for jar in jars:
        stat = jar.stat()
        digest.update(f"{jar}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _remove_stale_builds(root: Path) -> None:
    for build in root.glob("*.building-*"):
        try:
            if time.time() - build.stat().st_mtime > STALE_S:
                shutil.rmtree(build, ignore_errors=True)
        except OSError:
            continue  # removed meanwhile
