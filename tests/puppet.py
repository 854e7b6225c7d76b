"""Real Puppet servers for the tests: puppetserver and PuppetDB from Debian's packages, set up in a
temporary directory for one test session and stopped at its end.

Each gets ports of its own on loopback; a CA and certificates are made for the session
(`puppetserver ca setup`, 2048-bit keys to keep it quick), agents' included; PuppetDB keeps its
data in a PostgreSQL database and role of its own (on 127.0.0.1:5432), dropped afterwards;
puppetserver sends facts, catalogs and reports to PuppetDB, and its environment path is a
directory the tests fill. Agents run as this user with a configuration directory of their own,
under the certnames made for them (`certnames`).

Both are JVMs that spend most of their start compiling Clojure (tests/clojure_cache.py keeps the
compiled classes between sessions): `start` launches them and returns at once, `ready` waits for
both (and for one warm-up agent run, the server's slowest), so the suite can start them early
and do other work meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pytest

from podium.jsontypes import Json
from tests.clojure_cache import ClojureCache, cache_for
from tests.sshd import free_port, missing

PUPPET: Final = Path("/usr/bin/puppet")
PUPPETSERVER: Final = Path("/usr/share/puppetserver")
PUPPETSERVER_CA: Final = PUPPETSERVER / "cli/apps/ca"
PUPPETSERVER_SERVICES: Final = Path("/etc/puppet/puppetserver/services.d")
PUPPETSERVER_AUTH: Final = Path("/etc/puppet/puppetserver/conf.d")  # auth.conf, web-routes.conf
PUPPETDB_JAR: Final = Path("/usr/share/puppetdb/puppetdb.jar")
PUPPETDB_CONF: Final = Path("/etc/puppetdb")  # bootstrap.cfg, conf.d/auth.conf
JAVA: Final = Path("/usr/bin/java")
PSQL: Final = Path("/usr/bin/psql")
# A session that is killed (not stopped) must not leave its servers running: the kernel kills a
# server when the process that started it dies (util-linux's setpriv; Popen runs in pytest's
# main thread, whose end is the process's).
DIE_WITH_PARENT: Final = ("/usr/bin/setpriv", "--pdeathsig", "KILL", "--")
POSTGRES: Final = ("127.0.0.1", 5432)
# PuppetDB's pools hold 25 connections each by default: two PuppetDBs would take all of
# PostgreSQL's 100, and test sessions run side by side on a shared machine.
WRITE_CONNECTIONS: Final = 4
READ_CONNECTIONS: Final = 2
PACKAGES: Final = "puppet-agent, puppetserver, puppetdb and puppet-terminus-puppetdb"
SERVER_CERTNAME: Final = "podium-puppetserver"
PUPPETDB_CERTNAME: Final = "podium-puppetdb"
CLIENT_CERTNAME: Final = "podium-client"  # Podium's certificate for PuppetDB's API
WARM_UP_CERTNAME: Final = "podium-warmup"
# Agents' certificates are made with the CA, before the server starts: signing a request through
# the running CA costs an agent's first run about 30 s here (the certificate's download waits).
AGENT_CERTNAMES: Final = tuple(f"agent-{n:02d}" for n in range(1, 17))
START_TIMEOUT_S: Final = 420.0  # two JVMs compiling at once on a busy two-core machine
# Small heaps: the machine is shared, and a test session asks little of either server.
# C1 alone: a test session is too short for C2's optimisations to repay their compiling.
SERVER_JAVA_ARGS: Final = ("-Xms256m", "-Xmx768m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
PUPPETDB_JAVA_ARGS: Final = ("-Xms64m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")


class PuppetStackError(RuntimeError):
    """Raised when a server cannot be set up or does not come up; the message has its log."""


def missing_parts() -> list[str]:
    """What this machine lacks to run the servers (empty when all is there)."""
    wanted = [PUPPET, PUPPETSERVER / "puppetserver.jar", PUPPETSERVER_CA, PUPPETDB_JAR, JAVA, PSQL]
    wanted.append(Path(DIE_WITH_PARENT[0]))
    terminus = Path("/usr/lib/ruby/vendor_ruby/puppet/indirector/facts/puppetdb.rb")
    return [str(path) for path in [*wanted, terminus] if not path.exists()]


@dataclass(frozen=True, slots=True)
class PuppetServers:
    """Where the running servers answer and how agents reach them."""

    root: Path
    environments: Path  # puppetserver's environmentpath, and Podium's --environments
    server_port: int
    puppetdb_port: int
    ca: Path
    client_cert: Path
    client_key: Path
    agent_confdir: Path
    started_s: float  # how long both took to answer, warm-up run included
    certnames: tuple[str, ...] = AGENT_CERTNAMES  # agents whose certificates are ready

    @property
    def puppetdb_url(self) -> str:
        return f"https://127.0.0.1:{self.puppetdb_port}"

    def agent_command(self, certname: str) -> list[str]:
        """`puppet agent` as a deploy runs it, as `certname`, against these servers."""
        return [
            str(PUPPET), "agent", "--test", "--detailed-exitcodes",
            "--confdir", str(self.agent_confdir), "--certname", certname,
        ]  # fmt: skip

    def query(self, query: Json) -> list[Json]:
        """PuppetDB's rows for a query (AST or PQL), asked over TLS with Podium's certificate."""
        context = ssl.create_default_context(cafile=str(self.ca))
        context.load_cert_chain(str(self.client_cert), str(self.client_key))
        request = urllib.request.Request(
            f"{self.puppetdb_url}/pdb/query/v4",
            data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, context=context, timeout=30) as answer:
            rows: list[Json] = json.loads(answer.read())
        return rows

    def wait_for(self, query: Json, count: int = 1, timeout_s: float = 60.0) -> list[Json]:
        """The query's rows once there are `count` of them: PuppetDB stores what agents send
        a moment after it answers them."""
        deadline = time.monotonic() + timeout_s
        while len(rows := self.query(query)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"PuppetDB has {len(rows)} rows for {query}, not {count}")
            time.sleep(0.2)
        return rows

    def run_agent(
        self, certname: str, environment: str, facts: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """One agent run straight from the test (not through Podium), with extra facts given
        the way Facter takes them from the environment (FACTER_<name>)."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root)}
        env.update({f"FACTER_{name}": value for name, value in (facts or {}).items()})
        return subprocess.run(
            [*self.agent_command(certname), "--environment", environment],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


@dataclass
class _Server:
    name: str
    process: subprocess.Popen[bytes]
    restart_file: Path  # trapperkeeper writes 1 here once every service has started
    log: Path
    cache: ClojureCache
    was_started: bool = False  # every service up: what it compiled on the way is complete

    def started(self) -> bool:
        if self.process.poll() is not None:
            raise PuppetStackError(
                f"{self.name} exited with {self.process.returncode}: {_tail(self.log)}"
            )
        self.was_started = self.restart_file.read_text().strip() not in ("", "0")
        return self.was_started

    def cpu_s(self) -> float:
        """The CPU time the server has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """SIGTERM (the JVM's shutdown hooks run, and exit 143), SIGKILL after 30 s."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        clean = self.was_started and self.process.returncode in (0, 143)
        self.cache.keep(stopped_cleanly=clean)


@dataclass
class StartingServers:
    """Both servers launched; `ready` waits for them, `stop` ends them and drops the database."""

    root: Path
    database: str
    server_port: int
    puppetdb_port: int
    began: float
    password: str = field(default_factory=lambda: uuid.uuid4().hex)  # the database role's
    servers: list[_Server] = field(default_factory=list)
    started_s: float | None = None
    cpu_s: dict[str, float] = field(default_factory=dict)  # each server's, once both were ready
    _ready: PuppetServers | None = None

    def ready(self, timeout_s: float = START_TIMEOUT_S) -> PuppetServers:
        if self._ready is not None:
            return self._ready
        deadline = time.monotonic() + timeout_s
        for server in self.servers:
            while not server.started():
                if time.monotonic() > deadline:
                    raise PuppetStackError(
                        f"{server.name} did not start within {timeout_s:g} s: {_tail(server.log)}"
                    )
                time.sleep(0.25)
        servers = self._servers(0.0)
        warm_up = self.root / "environments" / "warmup"
        (warm_up / "manifests").mkdir(parents=True, exist_ok=True)
        (warm_up / "manifests" / "site.pp").write_text("node default { }\n")
        run = servers.run_agent(WARM_UP_CERTNAME, "warmup")
        if run.returncode != 0:
            raise PuppetStackError(f"the warm-up agent run failed: {run.stdout}{run.stderr}")
        self.started_s = time.monotonic() - self.began
        self.cpu_s = {server.name: server.cpu_s() for server in self.servers}
        self._ready = self._servers(self.started_s)
        return self._ready

    def _servers(self, started_s: float) -> PuppetServers:
        ssl = self.root / "server" / "ssl"
        return PuppetServers(
            root=self.root,
            environments=self.root / "environments",
            server_port=self.server_port,
            puppetdb_port=self.puppetdb_port,
            ca=ssl / "certs" / "ca.pem",
            client_cert=ssl / "certs" / f"{CLIENT_CERTNAME}.pem",
            client_key=ssl / "private_keys" / f"{CLIENT_CERTNAME}.pem",
            agent_confdir=self.root / "agent",
            started_s=started_s,
        )

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        _psql(f'DROP DATABASE IF EXISTS "{self.database}"', check=False)
        _psql(f'DROP ROLE IF EXISTS "{self.database}"', check=False)


def start(root: Path) -> StartingServers:
    """Set everything up under `root` and launch both servers. Raises PuppetStackError."""
    began = time.monotonic()
    database = f"podium_test_{uuid.uuid4().hex[:12]}"  # PuppetDB's role has the same name
    starting = StartingServers(root, database, free_port(), free_port(), began)
    _psql(f"CREATE ROLE \"{database}\" LOGIN PASSWORD '{starting.password}'")
    try:
        _psql(f'CREATE DATABASE "{database}" OWNER "{database}"')
        _psql("CREATE EXTENSION IF NOT EXISTS pg_trgm", database=database)
        (root / "environments").mkdir(parents=True)
        _configure_server(root / "server", starting)
        _make_certificates(root / "server")
        _configure_puppetdb(root / "puppetdb", root / "server" / "ssl", starting)
        _configure_agent(root / "agent", root / "server" / "ssl", starting.server_port)
        starting.servers = [
            _launch_puppetdb(root / "puppetdb"),
            _launch_puppetserver(root / "server"),
        ]
    except BaseException:
        starting.stop()
        raise
    return starting


def _configure_server(home: Path, starting: StartingServers) -> None:
    etc, conf = home / "etc", home / "conf.d"
    for directory in (etc, conf, home / "var", home / "run", home / "log", home / "code"):
        directory.mkdir(parents=True)
    (etc / "puppet.conf").write_text(
        f"[main]\ncertname = {SERVER_CERTNAME}\nkeylength = 2048\n"
        f"vardir = {home}/var\nlogdir = {home}/log\nrundir = {home}/run\n"
        f"ssldir = {home}/ssl\ncodedir = {home}/code\n"
        f"[server]\ncadir = {home}/ca\nenvironmentpath = {starting.root}/environments\n"
        "autosign = true\nstoreconfigs = true\nstoreconfigs_backend = puppetdb\n"
        "reports = puppetdb\n"
    )
    (etc / "puppetdb.conf").write_text(
        f"[main]\nserver_urls = https://127.0.0.1:{starting.puppetdb_port}\n"
        "soft_write_failure = false\n"
    )
    (etc / "routes.yaml").write_text("server:\n  facts:\n    terminus: puppetdb\n    cache: yaml\n")
    for name in ("auth.conf", "web-routes.conf"):
        shutil.copyfile(PUPPETSERVER_AUTH / name, conf / name)
    (conf / "global.conf").write_text(f"global: {{ logging-config: {home}/logback.xml }}\n")
    (conf / "metrics.conf").write_text(
        "metrics: { server-id: podium-test, registries: { puppetserver: "
        "{ reporters: { jmx: { enabled: false } } } } }\n"
    )
    (conf / "webserver.conf").write_text(
        "webserver: { client-auth: want, ssl-host: 127.0.0.1, "
        f"ssl-port: {starting.server_port} }}\n"
    )
    (conf / "puppetserver.conf").write_text(
        "jruby-puppet: {\n"
        "  ruby-load-path: [/usr/lib/puppetserver/ruby/vendor_ruby]\n"
        f"  gem-home: {home}/var/jruby-gems\n"
        '  gem-path: [${jruby-puppet.gem-home}, "/usr/lib/puppetserver/vendored-jruby-gems"]\n'
        f"  server-conf-dir: {etc}\n  server-code-dir: {home}/code\n"
        f"  server-var-dir: {home}/var\n  server-run-dir: {home}/run\n"
        f"  server-log-dir: {home}/log\n  max-active-instances: 1\n"
        "  compile-mode: off\n"  # JRuby's JIT does not repay itself in a test session
        "}\nhttp-client: {}\nprofiler: {}\n"
    )
    _logback(home / "logback.xml", home / "puppetserver.log")


def _make_certificates(home: Path) -> None:
    """The CA, puppetserver's certificate, and offline-signed ones for PuppetDB, Podium and the
    agents."""
    config = str(home / "etc" / "puppet.conf")
    _run(
        [str(PUPPETSERVER_CA), "setup", "--config", config, "--certname", SERVER_CERTNAME,
         "--subject-alt-names", "localhost,IP:127.0.0.1"],
    )  # fmt: skip
    _run(
        [str(PUPPETSERVER_CA), "generate", "--ca-client", "--force", "--config", config,
         "--certname", ",".join([PUPPETDB_CERTNAME, CLIENT_CERTNAME, WARM_UP_CERTNAME,
                                 *AGENT_CERTNAMES]),
         "--subject-alt-names", "localhost,IP:127.0.0.1"],
    )  # fmt: skip


def _configure_puppetdb(home: Path, ssl: Path, starting: StartingServers) -> None:
    conf = home / "conf.d"
    conf.mkdir(parents=True)
    (home / "var").mkdir()
    host, port = POSTGRES
    database = (
        f"subname = //{host}:{port}/{starting.database}\n"
        f"username = {starting.database}\npassword = {starting.password}\n"
    )
    (conf / "config.ini").write_text(
        f"[global]\nvardir = {home}/var\nlogging-config = {home}/logback.xml\n"
        f"[database]\n{database}maximum-pool-size = {WRITE_CONNECTIONS}\n"
        f"[read-database]\n{database}maximum-pool-size = {READ_CONNECTIONS}\n"
        f"[jetty]\nssl-host = 127.0.0.1\nssl-port = {starting.puppetdb_port}\n"
        f"ssl-key = {ssl}/private_keys/{PUPPETDB_CERTNAME}.pem\n"
        f"ssl-cert = {ssl}/certs/{PUPPETDB_CERTNAME}.pem\n"
        f"ssl-ca-cert = {ssl}/certs/ca.pem\n"
        "[command-processing]\nthreads = 1\n"
        "[puppetdb]\ndisable-update-checking = true\n"
    )
    shutil.copyfile(PUPPETDB_CONF / "conf.d" / "auth.conf", conf / "auth.conf")
    _logback(home / "logback.xml", home / "puppetdb.log")


def _configure_agent(confdir: Path, server_ssl: Path, server_port: int) -> None:
    """The agents' settings, and the certificates made for them in their SSL directory."""
    for directory in ("certs", "private_keys"):
        (confdir / "ssl" / directory).mkdir(parents=True)
    shutil.copyfile(server_ssl / "certs" / "ca.pem", confdir / "ssl" / "certs" / "ca.pem")
    shutil.copyfile(server_ssl / "crl.pem", confdir / "ssl" / "crl.pem")
    for certname in (WARM_UP_CERTNAME, *AGENT_CERTNAMES):
        for directory in ("certs", "private_keys"):
            source = server_ssl / directory / f"{certname}.pem"
            shutil.copyfile(source, confdir / "ssl" / directory / source.name)
    (confdir / "puppet.conf").write_text(
        f"[main]\nserver = localhost\nserverport = {server_port}\nkeylength = 2048\n"
        f"vardir = {confdir}/var\nlogdir = {confdir}/log\nrundir = {confdir}/run\n"
        f"ssldir = {confdir}/ssl\ncodedir = {confdir}/code\npublicdir = {confdir}/public\n"
    )


def _launch_puppetserver(home: Path) -> _Server:
    cache = cache_for("puppetserver", PUPPETSERVER / "puppetserver.jar")
    argv = [
        str(JAVA), *SERVER_JAVA_ARGS, "-Djruby.lib=/usr/share/jruby/lib",
        "-XX:+CrashOnOutOfMemoryError", *cache.jvm_args(PUPPETSERVER / "puppetserver.jar"),
        "-m", "puppetlabs.trapperkeeper.main",
        "--config", str(home / "conf.d"), "--bootstrap-config", str(PUPPETSERVER_SERVICES),
    ]  # fmt: skip
    return _launch("puppetserver", home, argv, PUPPETSERVER, cache)


def _launch_puppetdb(home: Path) -> _Server:
    cache = cache_for("puppetdb", PUPPETDB_JAR)
    argv = [
        str(JAVA), *PUPPETDB_JAVA_ARGS, "-Djava.security.egd=/dev/urandom",
        *cache.jvm_args(PUPPETDB_JAR), "-m", "puppetlabs.puppetdb.core", "services",
        "--config", str(home / "conf.d"),
        "--bootstrap-config", str(PUPPETDB_CONF / "bootstrap.cfg"),
    ]  # fmt: skip
    return _launch("puppetdb", home, argv, home, cache)


def _launch(name: str, home: Path, argv: list[str], cwd: Path, cache: ClojureCache) -> _Server:
    restart_file = home / "restart"
    restart_file.write_text("0")
    output = home / f"{name}.out"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [*DIE_WITH_PARENT, *argv, "--restart-file", str(restart_file)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,  # its own process group: stopped whole
        )
    return _Server(name, process, restart_file, home / f"{name}.log", cache)


def _logback(path: Path, log: Path) -> None:
    path.write_text(
        "<configuration>\n"
        '  <appender name="F" class="ch.qos.logback.core.FileAppender">\n'
        f"    <file>{log}</file>\n"
        "    <encoder><pattern>%d %-5p [%c{2}] %m%n</pattern></encoder>\n"
        "  </appender>\n"
        '  <root level="info"><appender-ref ref="F"/></root>\n'
        "</configuration>\n"
    )


def _psql(sql: str, database: str = "postgres", check: bool = True) -> None:
    """`sql` as PostgreSQL's superuser: over TCP (trust auth), else, as root, through the
    socket as the postgres user (Debian's peer auth)."""
    host, port = POSTGRES
    argv = [str(PSQL), "-p", str(port), "-U", "postgres", "-d", database, "-qc", sql]
    done = subprocess.run([*argv, "-h", host], capture_output=True, text=True, check=False)
    if done.returncode != 0 and "authentication" in done.stderr and os.geteuid() == 0:
        peer = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(peer, capture_output=True, text=True, check=False, cwd="/")
    if check and done.returncode != 0:
        raise PuppetStackError(f"PostgreSQL on {host}:{port} refused {sql!r}: {done.stderr}")


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PuppetStackError(f"{' '.join(argv)} failed: {done.stdout}{done.stderr}")


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {log})"


@dataclass
class Launch:
    """The servers as the session launched them, or why it could not: `problem` when parts are
    missing (skip, or fail under CI), `error` when they would not start (the tests fail)."""

    root: Path
    starting: StartingServers | None = None
    problem: str | None = None
    error: str | None = None

    def servers(self) -> PuppetServers:
        if self.problem is not None:
            missing(self.problem)
        if self.error is None and self.starting is not None:
            try:
                return self.starting.ready()
            except PuppetStackError as exc:
                self.error = str(exc)
        pytest.fail(f"the Puppet servers did not start: {self.error}")

    def stop(self) -> None:
        if self.starting is not None:
            self.starting.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def summary(self) -> str | None:
        """How long the servers took to start, for the session's report."""
        if self.starting is None or self.starting.started_s is None:
            return None
        cpu = ", ".join(f"{name} {used:.0f} s" for name, used in self.starting.cpu_s.items())
        started_s = self.starting.started_s
        return (
            f"Puppet servers ready {started_s:.0f} s after launch, warm-up run included ({cpu} CPU)"
        )


def launch(root: Path) -> Launch:
    """Start both servers under `root` in the background, if this machine has what they need."""
    lacking = missing_parts()
    if lacking:
        return Launch(
            root,
            problem=f"{', '.join(lacking)} missing: `make test` installs {PACKAGES} (as root), "
            "or apt-get install them",
        )
    host, port = POSTGRES
    try:
        socket.create_connection((host, port), timeout=2.0).close()
    except OSError:
        return Launch(root, problem=f"PuppetDB needs PostgreSQL on {host}:{port} (trust auth)")
    try:
        return Launch(root, start(root))
    except PuppetStackError as exc:
        return Launch(root, error=str(exc))
