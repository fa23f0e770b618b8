"""Who may see and change hiccup's Grafana folder, and which of its
dashboards may be shared publicly: what provisioning files cannot hold.

The access is a small document, committed as ``ops/grafana/access.json``,
and ``apply_access`` makes a Grafana match it through the HTTP API:

- the folder is created when it is missing;
- its permissions are replaced when they differ. Grafana's API sets all of
  them at once, so the document lists every grant the folder should have,
  and applying removes the Admin permission Grafana gives whoever creates
  the folder: the token needs its admin rights from elsewhere, such as the
  Admin role;
- a public dashboard of the folder that the document does not list is
  disabled (not deleted, so that re-enabling it keeps its address). None
  is ever created: listing a dashboard only allows sharing it.

A ``user`` grant names a login. The lookup Grafana offers to folder admins
(``/api/org/users/lookup``) answers with logins, not emails, and the user
API that finds either (``/api/users/lookup``) takes a server admin's basic
auth, which a service account token never is.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from .._exceptions import HiccupError
from ._grafana import FOLDER_TITLE, FOLDER_UID
from ._http import ApiError, Change, Send, call_json

__all__ = [
    "DEFAULT_GRANTS",
    "Access",
    "AccessDocumentError",
    "Change",
    "GrafanaError",
    "Grant",
    "UnknownSubjectError",
    "access_document",
    "access_from_document",
    "apply_access",
    "http_sender",
    "read_document",
]

Role = Literal["Viewer", "Editor"]
Permission = Literal["View", "Edit", "Admin"]

#: The roles a grant may name; Admins may do anything in every folder already.
ROLES: tuple[str, ...] = get_args(Role)
#: The permissions a grant may give.
PERMISSIONS: tuple[str, ...] = get_args(Permission)
#: How Grafana's folder permissions API numbers them.
LEVELS: Mapping[str, int] = {"View": 1, "Edit": 2, "Admin": 4}
#: Results asked for per call when listing; Grafana's own default page.
PAGE_SIZE = 1000

# Grafana's short UIDs: at most 40 letters, digits, '-' or '_'.
_UID = re.compile(r"[A-Za-z0-9_-]{1,40}")
_SUBJECTS = ("role", "team", "user")


class AccessDocumentError(HiccupError, ValueError):
    """Raised when an access document is not JSON or not of the expected shape."""


class GrafanaError(ApiError):
    """Raised when Grafana answers a call with an error status."""


class UnknownSubjectError(HiccupError, LookupError):
    """Raised when a grant names a team or user that Grafana does not show."""


def _choices(names: tuple[str, ...]) -> str:
    quoted = [repr(name) for name in names]

    return f"{', '.join(quoted[:-1])} or {quoted[-1]}" if len(quoted) > 1 else quoted[0]


def _grant_problem(grant: Grant) -> str | None:
    named = [kind for kind in _SUBJECTS if getattr(grant, kind) is not None]
    if not named:
        return f"names no one; give one of {_choices(_SUBJECTS)}"
    if len(named) > 1:
        return f"names both {named[0]!r} and {named[1]!r}; give only one"
    if grant.role is not None and grant.role not in ROLES:
        return f"role {grant.role!r} is not {_choices(ROLES)} (Admins may do anything)"
    if getattr(grant, named[0]) == "":
        return f"{named[0]} is empty"
    if grant.permission not in PERMISSIONS:
        return f"permission {grant.permission!r} is not {_choices(PERMISSIONS)}"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Grant:
    """One permission on the folder, for a role, a team or a user.

    Exactly one of ``role``, ``team`` (a team's name) or ``user`` (a login)
    is given.

    Raises:
        AccessDocumentError: none or several of them are given, or a value
            is not one Grafana takes.
    """

    permission: Permission
    role: Role | None = None
    team: str | None = None
    user: str | None = None

    def __post_init__(self) -> None:
        problem = _grant_problem(self)
        if problem is not None:
            raise AccessDocumentError(problem)

    @property
    def subject(self) -> tuple[str, str]:
        """Return whom the grant is for: ``("team", "sre")``, say."""
        kind = next(kind for kind in _SUBJECTS if getattr(self, kind) is not None)

        return kind, str(getattr(self, kind))


#: Everyone in the organisation views the folder; team "sre" administers it.
DEFAULT_GRANTS = (
    Grant(role="Viewer", permission="View"),
    # Dashboards and alert rules are code: Editors change them through the
    # generator and review, so in Grafana they only view.
    Grant(role="Editor", permission="View"),
    Grant(team="sre", permission="Admin"),
)


def _access_problem(access: Access) -> str | None:
    if not _UID.fullmatch(access.folder_uid):
        return (
            f"folder.uid {access.folder_uid!r} is not 1 to 40 letters, digits,"
            " '-' or '_'"
        )
    if not access.folder_title.strip():
        return "folder.title is empty"
    first: dict[tuple[str, str], int] = {}
    for index, grant in enumerate(access.grants):
        seen = first.setdefault(grant.subject, index)
        if seen != index:
            kind, name = grant.subject
            return f"grants[{index}] is for {kind} {name!r} again, as grants[{seen}] is"
    return None


@dataclass(frozen=True, slots=True)
class Access:
    """Who may do what in hiccup's Grafana folder, and which of its
    dashboards may be public.

    Attributes:
        folder_uid: the folder's UID, which the dashboards' provider names.
        folder_title: its title, used when creating it.
        grants: every permission the folder should have.
        public_dashboards: UIDs of the folder's dashboards that may be
            shared publicly; any other must have no enabled public dashboard.

    Raises:
        AccessDocumentError: the UID is not one Grafana takes, the title is
            empty, or two grants are for the same role, team or user.
    """

    folder_uid: str = FOLDER_UID
    folder_title: str = FOLDER_TITLE
    grants: tuple[Grant, ...] = DEFAULT_GRANTS
    public_dashboards: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problem = _access_problem(self)
        if problem is not None:
            raise AccessDocumentError(problem)


def access_document(access: Access) -> dict[str, Any]:
    """Return the document that holds ``access``, as committed."""
    grants = []
    for grant in access.grants:
        kind, name = grant.subject
        grants.append({kind: name, "permission": grant.permission})

    return {
        "folder": {"uid": access.folder_uid, "title": access.folder_title},
        "grants": grants,
        "public_dashboards": list(access.public_dashboards),
    }


_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "true or false"),
    ((int, float), "a number"),
    (str, "a string"),
    (list, "a list"),
    (dict, "an object"),
)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return next(name for types, name in _KINDS if isinstance(value, types))


def _object(
    value: object, where: str, keys: tuple[str, ...], required: tuple[str, ...]
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AccessDocumentError(f"{where} is {_kind(value)}, expected an object")
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise AccessDocumentError(
            f"{where}: unknown key {unknown[0]!r}; expected {_choices(keys)}"
        )
    missing = [key for key in required if key not in value]
    if missing:
        raise AccessDocumentError(f"{where}: no {missing[0]!r}")
    return value


def _typed(value: object, where: str, expected: type[str] | type[list[Any]]) -> Any:
    if not isinstance(value, expected):
        # An empty value of the expected type names that type as _kind does.
        name = _kind(expected())
        raise AccessDocumentError(f"{where} is {_kind(value)}, expected {name}")
    return value


def _grant(value: object, where: str) -> Grant:
    entry = _object(value, where, (*_SUBJECTS, "permission"), ("permission",))
    for key, given in entry.items():
        _typed(given, f"{where}.{key}", str)
    try:
        return Grant(**entry)
    except AccessDocumentError as exc:
        raise AccessDocumentError(f"{where}: {exc}") from None


def access_from_document(document: object) -> Access:
    """Return the access a parsed document holds.

    Raises:
        AccessDocumentError: naming the first part that is malformed, such
            as ``grants[2]: permission 'Write' is not ...``.
    """
    keys = ("folder", "grants", "public_dashboards")
    top = _object(document, "the document", keys, keys[:2])
    folder = _object(top["folder"], "folder", ("uid", "title"), ("uid", "title"))
    grants = _typed(top["grants"], "grants", list)
    public = _typed(top.get("public_dashboards", []), "public_dashboards", list)

    return Access(
        folder_uid=_typed(folder["uid"], "folder.uid", str),
        folder_title=_typed(folder["title"], "folder.title", str),
        grants=tuple(_grant(each, f"grants[{i}]") for i, each in enumerate(grants)),
        public_dashboards=tuple(
            _typed(uid, f"public_dashboards[{i}]", str) for i, uid in enumerate(public)
        ),
    )


def read_document(text: str) -> Access:
    """Return the access the JSON ``text`` of a document holds.

    Raises:
        AccessDocumentError: the text is not JSON (with the line and column
            where it stops being so) or the document is malformed.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AccessDocumentError(
            f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    return access_from_document(document)


def _quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def _team_id(name: str, send: Send) -> int:
    query = urllib.parse.urlencode({"name": name})
    answer = send("GET", f"/api/teams/search?{query}", None)
    for team in answer.get("teams") or []:
        if team.get("name") == name:
            return int(team["id"])
    raise UnknownSubjectError(
        f"a grant names team {name!r}, but Grafana shows this token no team"
        " of that name; create it, or correct the document"
    )


def _user_id(login: str, send: Send) -> int:
    query = urllib.parse.urlencode({"query": login})
    # The query matches any part of a login, email or name: keep the exact login.
    for user in send("GET", f"/api/org/users/lookup?{query}", None):
        if user.get("login") == login:
            return int(user["userId"])
    raise UnknownSubjectError(
        f"a grant names user {login!r}, but the organisation has no user with"
        " that login; name users by login, not email"
    )


def _item(grant: Grant, send: Send) -> dict[str, Any]:
    kind, name = grant.subject
    level = LEVELS[grant.permission]
    if kind == "role":
        return {"role": name, "permission": level}
    if kind == "team":
        return {"teamId": _team_id(name, send), "permission": level}
    return {"userId": _user_id(name, send), "permission": level}


def _describe(grant: Grant) -> str:
    kind, name = grant.subject

    return f"{kind} {name!r} {grant.permission}"


def _key(item: Mapping[str, Any]) -> tuple[str, object, int]:
    """Return what makes an entry of the folder's permissions the same as
    another: its subject, by role or ID, and its level."""
    if item.get("role"):
        return "role", item["role"], int(item["permission"])
    if item.get("teamId"):
        return "teamId", int(item["teamId"]), int(item["permission"])
    return "userId", int(item.get("userId") or 0), int(item["permission"])


def _folder_exists(uid: str, send: Send) -> bool:
    try:
        send("GET", f"/api/folders/{_quote(uid)}", None)
    except GrafanaError as exc:
        # Only a missing folder is created: one the token may not read
        # (403) may well exist.
        if exc.status == 404:
            return False
        raise
    return True


def _apply_folder(access: Access, exists: bool, send: Send, dry_run: bool) -> Change:
    what = f"folder {access.folder_uid!r} ({access.folder_title})"
    if exists:
        return Change("keep", what)
    if not dry_run:
        body = {"uid": access.folder_uid, "title": access.folder_title}
        send("POST", "/api/folders", body)
    return Change("create", what)


def _apply_permissions(
    access: Access,
    items: list[dict[str, Any]],
    readable: bool,
    send: Send,
    dry_run: bool,
) -> Change:
    path = f"/api/folders/{_quote(access.folder_uid)}/permissions"
    listed = ", ".join(_describe(grant) for grant in access.grants) or "none"
    what = f"permissions of folder {access.folder_uid!r}: {listed}"
    # Entries inherited from a parent folder are set there, not here.
    current = (
        {_key(item) for item in send("GET", path, None) if not item.get("inherited")}
        if readable
        else None
    )
    if current == {_key(item) for item in items}:
        return Change("keep", what)
    if not dry_run:
        send("POST", path, {"items": items})
    return Change("update", what)


def _folder_dashboards(uid: str, send: Send) -> set[str]:
    found: set[str] = set()
    page = 1
    while True:
        query = {"folderUIDs": uid, "type": "dash-db", "limit": PAGE_SIZE, "page": page}
        hits = send("GET", f"/api/search?{urllib.parse.urlencode(query)}", None)
        found.update(hit["uid"] for hit in hits)
        if len(hits) < PAGE_SIZE:
            return found
        page += 1


def _public_dashboards(send: Send) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        query = urllib.parse.urlencode({"perpage": PAGE_SIZE, "page": page})
        answer = send("GET", f"/api/dashboards/public-dashboards?{query}", None)
        batch = answer.get("publicDashboards") or []
        found += batch
        if not batch or len(found) >= answer.get("totalCount", 0):
            return found
        page += 1


def _apply_sharing(access: Access, send: Send, dry_run: bool) -> list[Change]:
    ours = _folder_dashboards(access.folder_uid, send)
    shared = [
        public
        for public in _public_dashboards(send)
        if public["dashboardUid"] in ours and public.get("isEnabled")
    ]
    changes = []
    for public in shared:
        dashboard = public["dashboardUid"]
        what = f"public dashboard of {dashboard!r} ({public.get('title', '')})"
        if dashboard in access.public_dashboards:
            changes.append(Change("keep", what))
            continue
        if not dry_run:
            path = f"/api/dashboards/uid/{_quote(dashboard)}/public-dashboards/"
            send("PATCH", path + _quote(public["uid"]), {"isEnabled": False})
        changes.append(Change("disable", what))
    return changes


def apply_access(
    document: Access | Mapping[str, Any],
    send: Send,
    *,
    dry_run: bool = False,
) -> list[Change]:
    """Make the folder, its permissions and its sharing match the document.

    Every team and user is looked up before anything is written, so that a
    misnamed one changes nothing.

    Args:
        document: the access, or the parsed document that holds it.
        send: makes one call, ``(method, path, body)`` with the path from
            ``/api/``, and returns the parsed answer; raises
            ``GrafanaError`` for an error status.
        dry_run: make only GET calls; return what would change.

    Returns:
        One change for the folder, one for its permissions, and one for
        each enabled public dashboard of the folder.

    Raises:
        AccessDocumentError: the document is malformed.
        UnknownSubjectError: a grant names a team or user Grafana does not
            show.
        GrafanaError: Grafana refused a call.
    """
    access = (
        document if isinstance(document, Access) else access_from_document(document)
    )
    items = [_item(grant, send) for grant in access.grants]
    exists = _folder_exists(access.folder_uid, send)

    changes = [_apply_folder(access, exists, send, dry_run)]
    readable = exists or not dry_run
    changes.append(_apply_permissions(access, items, readable, send, dry_run))
    if exists:
        changes += _apply_sharing(access, send, dry_run)

    return changes


def http_sender(base_url: str, token: str) -> Send:
    """Return a ``send`` for the Grafana at ``base_url``, authenticated by a
    service account token."""
    root = base_url.rstrip("/")

    def send(method: str, path: str, body: object | None) -> Any:
        return call_json(method, root + path, body, token, GrafanaError)

    return send
