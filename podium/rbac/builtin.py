"""The built-in `admin` user and `admin` role, which holds every permission of the catalog.

The api appends whatever of them the log lacks when it starts (the first start's admin token
belongs to this user); the fold keeps the first of each, so replicas doing it at once agree.
"""

from __future__ import annotations

import uuid
from typing import Final

from podium.events.model import (
    IdentityEvent,
    PermissionGranted,
    RoleCreated,
    UserAddedToRole,
    UserCreated,
)
from podium.events.state import State
from podium.rbac.permissions import ADMIN_PERMISSIONS

ADMIN_LOGIN: Final = "admin"
ADMIN_ID: Final = str(uuid.uuid5(uuid.NAMESPACE_URL, "podium:user/admin"))
ADMIN_ROLE: Final = "admin"


def builtin_events(state: State, at: float) -> list[IdentityEvent]:
    """What the log lacks of the admin user, the admin role and its permissions."""
    events: list[IdentityEvent] = []
    if ADMIN_ID not in state.users:
        events.append(UserCreated(at=at, user_id=ADMIN_ID, login=ADMIN_LOGIN, display_name="Admin"))
    role = state.roles.get(ADMIN_ROLE)
    if role is None:
        events.append(RoleCreated(at=at, name=ADMIN_ROLE, description="Every permission"))
    held = set(role.permissions) if role is not None else set()
    events += [
        PermissionGranted(at=at, role=ADMIN_ROLE, permission=p)
        for p in ADMIN_PERMISSIONS
        if p not in held
    ]
    admin = state.users.get(ADMIN_ID)
    if admin is None or ADMIN_ROLE not in admin.roles:
        events.append(UserAddedToRole(at=at, user_id=ADMIN_ID, role=ADMIN_ROLE))
    return events
