"""The Operations of the admin endpoints under /podium/v1, for the OpenAPI document."""

from __future__ import annotations

from typing import Final

from podium.api import (
    admin,
    answers,
)
from podium.api.errors import (
    Conflict,
    NotPermitted,
    Unavailable,
    UnknownIdentity,
)
from podium.api.openapi import Follow, Handler, Operation
from podium.api.operation_params import (
    ADMIN_ERRORS,
    NAME,
)

_USER_LINKS: Final = (
    Follow("disable", admin.disable_user, {"login": "$response.body#/login"}),
    Follow("token", admin.issue_token, body={"user": "$response.body#/login"}),
)
_ROLE_LINKS: Final = tuple(
    Follow(name, handler, {"name": "$response.body#/name"})
    for name, handler in (
        ("grant", admin.grant),
        ("revoke", admin.revoke),
        ("assign", admin.assign),
    )
)
ADMIN: Final[dict[Handler, Operation]] = {
    admin.list_users: Operation("Every user (users:edit:*)", answers.UserList, errors=ADMIN_ERRORS),
    admin.create_user: Operation(
        "Make a user (users:edit:*)",
        answers.User,
        (201,),
        body=admin.NewUser,
        errors=(NotPermitted, Conflict, Unavailable),
        follow=_USER_LINKS,
    ),
    admin.disable_user: Operation(
        "Disable a user: its tokens stop working (users:edit:*)",
        answers.User,
        path={"login": NAME},
        errors=(NotPermitted, UnknownIdentity, Conflict, Unavailable),
    ),
    admin.list_roles: Operation("Every role (users:edit:*)", answers.RoleList, errors=ADMIN_ERRORS),
    admin.create_role: Operation(
        "Make a role with permissions (users:edit:*)",
        answers.Role,
        (201,),
        body=admin.NewRole,
        errors=(NotPermitted, Conflict, Unavailable),
        follow=_ROLE_LINKS,
    ),
    admin.grant: Operation(
        "Grant a role permissions (users:edit:*)",
        answers.Role,
        body=admin.Permissions,
        path={"name": NAME},
        errors=(NotPermitted, UnknownIdentity, Unavailable),
    ),
    admin.revoke: Operation(
        "Take permissions from a role; the admin role keeps all of them (users:edit:*)",
        answers.Role,
        body=admin.Permissions,
        path={"name": NAME},
        errors=(NotPermitted, UnknownIdentity, Conflict, Unavailable),
    ),
    admin.assign: Operation(
        "Add users to a role (users:edit:*)",
        answers.Role,
        body=admin.Members,
        path={"name": NAME},
        errors=(NotPermitted, UnknownIdentity, Unavailable),
    ),
    admin.list_tokens: Operation(
        "Every token, by id, never the token itself (tokens:issue:*)",
        answers.TokenList,
        errors=ADMIN_ERRORS,
    ),
    admin.issue_token: Operation(
        "Issue a token for a user: the answer is the only place it is shown (tokens:issue:*)",
        answers.IssuedToken,
        (201,),
        body=admin.NewToken,
        errors=(NotPermitted, UnknownIdentity, Conflict, Unavailable),
        follow=(Follow("revoke", admin.revoke_token, {"id": "$response.body#/id"}),),
    ),
    admin.revoke_token: Operation(
        "Revoke a token by its id (tokens:issue:*)",
        answers.Token,
        path={"id": {"type": "string", "pattern": "^[0-9a-f]{12}$"}},
        errors=(NotPermitted, UnknownIdentity, Unavailable),
    ),
}
