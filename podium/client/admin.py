"""`podium user add|list|disable`, `podium role add|list|grant|revoke|assign`, `podium token
issue|list|revoke`: each calls a running server's admin endpoints (/podium/v1) with an admin
token and prints what it did. A token issued is printed alone on stdout (for scripts); what was
done goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Final, TextIO

from podium.client.http import ApiClient, ApiError, ClientError, JsonObject

ADMIN: Final = "/podium/v1"
COMMANDS: Final = ("user", "role", "token")
DEFAULT_URL: Final = "http://127.0.0.1:8143"
DEFAULT_TOKEN_FILE: Final = Path("data/admin.token")
Action = Callable[[ApiClient, argparse.Namespace, TextIO, TextIO], Awaitable[None]]


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], environ: Mapping[str, str]
) -> None:
    """The three command groups, their `--url` and `--token-file` defaulting to PODIUM_URL and
    PODIUM_TOKEN_FILE."""
    user = _group(commands, "user", "users (needs users:edit)", environ)
    _action(user, "add", _user_add, "make a user").add_argument("login")
    user_add = user.choices["add"]
    user_add.add_argument("--display-name", default="")
    user_add.add_argument("--email", default="")
    _action(user, "list", _user_list, "list users")
    _action(user, "disable", _user_disable, "disable a user: its tokens stop working").add_argument(
        "login"
    )
    role = _group(commands, "role", "roles and their permissions (needs users:edit)", environ)
    role_add = _action(role, "add", _role_add, "make a role")
    role_add.add_argument("name")
    role_add.add_argument("--description", default="")
    _action(role, "list", _role_list, "list roles")
    for name, action, what in (
        ("grant", _role_grant, "grant permissions"),
        ("revoke", _role_revoke, "revoke permissions"),
    ):
        parser = _action(role, name, action, f"{what} (object_type:action:instance)")
        parser.add_argument("name")
        parser.add_argument("permissions", nargs="+", metavar="permission")
    assign = _action(role, "assign", _role_assign, "add users to a role")
    assign.add_argument("name")
    assign.add_argument("logins", nargs="+", metavar="login")
    token = _group(commands, "token", "tokens (needs tokens:issue)", environ)
    issue = _action(token, "issue", _token_issue, "issue a token; printed once, on stdout")
    issue.add_argument("--user", required=True)
    issue.add_argument("--lifetime", default="30d", help="e.g. 12h, 30d, 2w (default 30d)")
    issue.add_argument("--label", default="")
    _action(token, "list", _token_list, "list tokens (never the tokens themselves)")
    _action(token, "revoke", _token_revoke, "revoke a token by its id").add_argument("id")


def _group(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    environ: Mapping[str, str],
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    described = f"{help_text}, on a running server"
    parser = commands.add_parser(name, help=described, description=f"{described.capitalize()}.")
    url = environ.get("PODIUM_URL", DEFAULT_URL)
    token_file = environ.get("PODIUM_TOKEN_FILE", str(DEFAULT_TOKEN_FILE))
    parser.add_argument("--url", default=url, help=f"the server (env PODIUM_URL; default {url})")
    parser.add_argument(
        "--token-file",
        type=Path,
        default=Path(token_file),
        help=f"a file holding an admin's token (env PODIUM_TOKEN_FILE; default {token_file})",
    )
    return parser.add_subparsers(dest="action", required=True)


def _action(
    group: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    action: Action,
    help_text: str,
) -> argparse.ArgumentParser:
    parser = group.add_parser(name, help=help_text, description=f"{help_text.capitalize()}.")
    parser.set_defaults(run=action)
    return parser


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """0 when done; 1 when the server refused (its kind and message on stderr); 2 when it could
    not be asked."""
    where = f"podium {args.command} {args.action}"
    try:
        token = args.token_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        print(f"{where}: cannot read the token file {args.token_file}: {exc.strerror}", file=err)
        return 2
    try:
        asyncio.run(_call(args, token, out, err))
    except ClientError as exc:
        print(f"{where}: {exc}", file=err)
        return 1 if isinstance(exc, ApiError) else 2
    return 0


async def _call(args: argparse.Namespace, token: str, out: TextIO, err: TextIO) -> None:
    async with ApiClient.open(args.url, token) as client:
        await args.run(client, args, out, err)


async def _user_add(client: ApiClient, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    body = {"login": args.login, "display_name": args.display_name, "email": args.email}
    user = await client.post(f"{ADMIN}/users", body)
    print(f"user {user['login']} added (id {user['id']})", file=err)


async def _user_list(client: ApiClient, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    for user in (await client.get(f"{ADMIN}/users"))["items"]:
        state = "disabled" if user["is_revoked"] else "active"
        print(f"{user['login']}\t{state}\t{','.join(user['roles']) or '-'}\t{user['id']}", file=out)


async def _user_disable(
    client: ApiClient, args: argparse.Namespace, out: TextIO, err: TextIO
) -> None:
    user = await client.post(f"{ADMIN}/users/{args.login}/disable", {})
    print(f"user {user['login']} disabled: its tokens no longer work", file=err)


async def _role_add(client: ApiClient, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    role = await client.post(f"{ADMIN}/roles", {"name": args.name, "description": args.description})
    print(f"role {role['name']} added (id {role['id']})", file=err)


async def _role_list(client: ApiClient, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    for role in (await client.get(f"{ADMIN}/roles"))["items"]:
        print(
            f"{role['name']}\t{' '.join(role['permissions']) or '-'}\t{','.join(role['users'])}",
            file=out,
        )


async def _role_grant(
    client: ApiClient, args: argparse.Namespace, out: TextIO, err: TextIO
) -> None:
    role = await client.post(f"{ADMIN}/roles/{args.name}/grant", {"permissions": args.permissions})
    _said_permissions(role, err)


async def _role_revoke(
    client: ApiClient, args: argparse.Namespace, out: TextIO, err: TextIO
) -> None:
    role = await client.post(f"{ADMIN}/roles/{args.name}/revoke", {"permissions": args.permissions})
    _said_permissions(role, err)


def _said_permissions(role: JsonObject, err: TextIO) -> None:
    print(f"role {role['name']} now has: {' '.join(role['permissions']) or 'nothing'}", file=err)


async def _role_assign(
    client: ApiClient, args: argparse.Namespace, out: TextIO, err: TextIO
) -> None:
    role = await client.post(f"{ADMIN}/roles/{args.name}/assign", {"users": args.logins})
    print(f"role {role['name']} now has the users: {', '.join(role['users'])}", file=err)


async def _token_issue(
    client: ApiClient, args: argparse.Namespace, out: TextIO, err: TextIO
) -> None:
    body = {"user": args.user, "lifetime": args.lifetime, "label": args.label}
    token = await client.post(f"{ADMIN}/tokens", body)
    print(f"token {token['id']} issued to {token['user']}, expires {token['expires']}", file=err)
    print(token["token"], file=out)


async def _token_list(
    client: ApiClient, args: argparse.Namespace, out: TextIO, err: TextIO
) -> None:
    for token in (await client.get(f"{ADMIN}/tokens"))["items"]:
        state = "revoked" if token["revoked"] else f"expires {token['expires'] or 'never'}"
        print(f"{token['id'] or '-'}\t{token['user']}\t{state}\t{token['label']}", file=out)


async def _token_revoke(
    client: ApiClient, args: argparse.Namespace, out: TextIO, err: TextIO
) -> None:
    token = await client.post(f"{ADMIN}/tokens/{args.id}/revoke", {})
    print(f"token {token['id']} of {token['user']} revoked", file=err)
