"""The admin endpoints under /podium/v1: users, roles and their permissions, tokens.

Each change is an event on the log, so every api replica applies it at once. Users and roles
need `users:edit:*`, tokens `tokens:issue:*`. A token is shown once, in the answer that issues
it; the log keeps its SHA-256 and the answer's `id` names it from then on. The built-in admin
user cannot be disabled, nor the admin role lose a permission.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated, Final

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from podium.api.bodies import parse_body
from podium.api.errors import Conflict, UnknownIdentity, ValidationError
from podium.api.keys import CLOCK, PROJECTOR, USER
from podium.api.permits import require
from podium.api.submit import submit
from podium.api.views import owner
from podium.auth import new_token, token_sha256
from podium.events.model import (
    Event,
    Permission,
    PermissionGranted,
    PermissionRevoked,
    RoleCreated,
    TokenIssued,
    TokenRevoked,
    UserAddedToRole,
    UserCreated,
    UserDisabled,
)
from podium.events.render import iso
from podium.events.state import Role, State, TokenRecord, User
from podium.jsontypes import Json
from podium.rbac.builtin import ADMIN_ID, ADMIN_ROLE
from podium.rbac.lifetime import LIFETIME_PATTERN, BadLifetime, parse_lifetime
from podium.rbac.permissions import (
    TOKENS_ISSUE,
    USERS_EDIT,
    BadPermission,
    parse_permission,
    permission_pattern,
)

ADMIN: Final = "/podium/v1"
NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
# Checked by parse_permission (one error naming each bad one); the document states the pattern.
PermissionText = Annotated[str, Field(json_schema_extra={"pattern": permission_pattern()})]


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class NewUser(_Body):
    login: Name
    display_name: str = ""
    email: str = ""


class NewRole(_Body):
    name: Name
    description: str = ""
    permissions: list[PermissionText] = []


class Permissions(_Body):
    permissions: list[PermissionText]


class Members(_Body):
    users: list[str]


class NewToken(_Body):
    user: str
    lifetime: Annotated[str, Field(json_schema_extra={"pattern": LIFETIME_PATTERN})] = "30d"
    label: str = ""


# Users


async def list_users(request: web.Request) -> web.Response:
    state = _editor(request)
    return web.json_response({"items": [user_item(state, u) for u in state.users.values()]})


async def create_user(request: web.Request) -> web.Response:
    state = _editor(request)
    body = parse_body(NewUser, await request.read())
    if body.login in state.logins:
        raise Conflict(f"A user with login {body.login} exists already", login=body.login)
    event = UserCreated(
        at=request.app[CLOCK](),
        user_id=str(uuid.uuid4()),
        login=body.login,
        display_name=body.display_name,
        email=body.email,
        by=request[USER],
    )
    await submit(request, event)
    if state.logins.get(body.login) != event.user_id:  # another replica made it first
        raise Conflict(f"A user with login {body.login} exists already", login=body.login)
    return web.json_response(user_item(state, state.users[event.user_id]), status=201)


async def disable_user(request: web.Request) -> web.Response:
    state = _editor(request)
    user = _user(state, request.match_info["login"])
    if user.id == ADMIN_ID:
        raise Conflict("The built-in admin user cannot be disabled", login=user.login)
    if not user.disabled:
        await submit(
            request, UserDisabled(at=request.app[CLOCK](), user_id=user.id, by=request[USER])
        )
    return web.json_response(user_item(state, user))


def user_item(state: State, user: User) -> dict[str, Json]:
    return {**owner(state, user.id), "roles": list(user.roles)}


# Roles


async def list_roles(request: web.Request) -> web.Response:
    state = _editor(request)
    return web.json_response({"items": [role_item(state, r) for r in state.roles.values()]})


async def create_role(request: web.Request) -> web.Response:
    state = _editor(request)
    body = parse_body(NewRole, await request.read())
    if body.name in state.roles:
        raise Conflict(f"A role named {body.name} exists already", role=body.name)
    at, by = request.app[CLOCK](), request[USER]
    events: list[Event] = [RoleCreated(at=at, name=body.name, description=body.description, by=by)]
    events += [
        PermissionGranted(at=at, role=body.name, permission=p, by=by)
        for p in _permissions(body.permissions)
    ]
    await submit(request, *events)
    return web.json_response(role_item(state, state.roles[body.name]), status=201)


async def grant(request: web.Request) -> web.Response:
    return await _change_permissions(request, granting=True)


async def revoke(request: web.Request) -> web.Response:
    return await _change_permissions(request, granting=False)


async def _change_permissions(request: web.Request, *, granting: bool) -> web.Response:
    state = _editor(request)
    role = _role(state, request.match_info["name"])
    if role.name == ADMIN_ROLE and not granting:
        raise Conflict("The built-in admin role keeps every permission", role=role.name)
    permissions = _permissions(parse_body(Permissions, await request.read()).permissions)
    at, by = request.app[CLOCK](), request[USER]
    change = PermissionGranted if granting else PermissionRevoked
    events = [change(at=at, role=role.name, permission=p, by=by) for p in permissions]
    if events:
        await submit(request, *events)
    return web.json_response(role_item(state, role))


async def assign(request: web.Request) -> web.Response:
    state = _editor(request)
    role = _role(state, request.match_info["name"])
    logins = parse_body(Members, await request.read()).users
    users = [_user(state, login) for login in logins]
    at, by = request.app[CLOCK](), request[USER]
    events = [UserAddedToRole(at=at, user_id=u.id, role=role.name, by=by) for u in users]
    if events:
        await submit(request, *events)
    return web.json_response(role_item(state, role))


def role_item(state: State, role: Role) -> dict[str, Json]:
    return {
        "id": role.id,
        "name": role.name,
        "description": role.description,
        "permissions": [str(p) for p in role.permissions],
        "users": [u.login for u in state.users.values() if role.name in u.roles],
    }


# Tokens


async def list_tokens(request: web.Request) -> web.Response:
    state = _issuer(request)
    return web.json_response({"items": [token_item(state, t) for t in state.tokens.values()]})


async def issue_token(request: web.Request) -> web.Response:
    """The token is in this answer and nowhere else: the log keeps its SHA-256."""
    state = _issuer(request)
    body = parse_body(NewToken, await request.read())
    try:
        lifetime_s = parse_lifetime(body.lifetime)
    except BadLifetime as exc:
        raise ValidationError(
            f"Invalid request: lifetime: {exc}", errors=[{"field": "lifetime", "message": str(exc)}]
        ) from exc
    user = _user(state, body.user)
    if user.disabled:
        raise Conflict(f"User {user.login} is disabled: no token is issued for it", user=user.login)
    token, at = new_token(), request.app[CLOCK]()
    event = TokenIssued(
        at=at,
        token_sha256=token_sha256(token),
        user_id=user.id,
        login=user.login,
        token_id=secrets.token_hex(6),
        expires_at=at + lifetime_s,
        label=body.label,
        by=request[USER],
    )
    await submit(request, event)
    item = token_item(state, state.tokens[event.token_sha256])
    return web.json_response({**item, "token": token}, status=201)


async def revoke_token(request: web.Request) -> web.Response:
    state = _issuer(request)
    token_id = request.match_info["id"]
    found = next(
        ((sha, t) for sha, t in state.tokens.items() if t.token_id and t.token_id == token_id),
        None,
    )
    if found is None:
        raise UnknownIdentity(f"No token with id {token_id}", token=token_id)
    sha, record = found
    if record.revoked_at is None:
        await submit(
            request, TokenRevoked(at=request.app[CLOCK](), token_sha256=sha, by=request[USER])
        )
    return web.json_response(token_item(state, record))


def token_item(state: State, token: TokenRecord) -> dict[str, Json]:
    user = state.users.get(token.user_id)
    return {
        "id": token.token_id or None,  # tokens of the first start have none
        "user": user.login if user else token.user_id,
        "label": token.label,
        "issued": iso(token.issued_at),
        "expires": iso(token.expires_at),
        "revoked": iso(token.revoked_at),
    }


# Shared steps


def _editor(request: web.Request) -> State:
    state = request.app[PROJECTOR].state
    require(state, request[USER], USERS_EDIT, "manage users and roles")
    return state


def _issuer(request: web.Request) -> State:
    state = request.app[PROJECTOR].state
    require(state, request[USER], TOKENS_ISSUE, "manage tokens")
    return state


def _user(state: State, login: str) -> User:
    user_id = state.logins.get(login)
    if user_id is None:
        raise UnknownIdentity(f"No user with login {login}", login=login)
    return state.users[user_id]


def _role(state: State, name: str) -> Role:
    role = state.roles.get(name)
    if role is None:
        raise UnknownIdentity(f"No role named {name}", role=name)
    return role


def _permissions(texts: list[str]) -> list[Permission]:
    """Raises one ValidationError naming every permission that does not parse."""
    parsed, errors = [], []
    for index, text in enumerate(texts):
        try:
            parsed.append(parse_permission(text))
        except BadPermission as exc:
            errors.append({"field": f"permissions.{index}", "message": str(exc)})
    if errors:
        summary = "; ".join(str(e["message"]) for e in errors)
        raise ValidationError(f"Invalid request: {summary}", errors=errors)
    return list(dict.fromkeys(parsed))


ADMIN_ROUTES: Final = [
    web.get(f"{ADMIN}/users", list_users),
    web.post(f"{ADMIN}/users", create_user),
    web.post(f"{ADMIN}/users/{{login}}/disable", disable_user),
    web.get(f"{ADMIN}/roles", list_roles),
    web.post(f"{ADMIN}/roles", create_role),
    web.post(f"{ADMIN}/roles/{{name}}/grant", grant),
    web.post(f"{ADMIN}/roles/{{name}}/revoke", revoke),
    web.post(f"{ADMIN}/roles/{{name}}/assign", assign),
    web.get(f"{ADMIN}/tokens", list_tokens),
    web.post(f"{ADMIN}/tokens", issue_token),
    web.post(f"{ADMIN}/tokens/{{id}}/revoke", revoke_token),
]
