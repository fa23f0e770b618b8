"""The access document of hiccup's Grafana folder, and the command that
applies it, against a local stand-in for Grafana's HTTP API."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from servers import JsonHandler, loopback_http

from hiccup.cli import main
from hiccup.ops._grafana_access import (
    Access,
    Grant,
    access_document,
    apply_access,
    http_sender,
    read_document,
)

TOKEN = "glsa_test_0123456789"
NOW = "2024-05-02T10:00:00Z"
#: The service account the token belongs to: Grafana makes it admin of
#: each folder it creates.
CREATOR = {"userId": 99, "login": "sa-1-hiccup-ops"}
NAMES = {1: "View", 2: "Edit", 4: "Admin"}


@dataclass
class GrafanaApi:
    """One organisation of a Grafana, served as its HTTP API serves it."""

    url: str = ""
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    permissions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    inherited: list[dict[str, Any]] = field(default_factory=list)
    unreadable: set[str] = field(default_factory=set)
    teams: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    dashboards: list[dict[str, Any]] = field(default_factory=list)
    public: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def add_team(self, name: str) -> int:
        team_id = len(self.teams) + 7
        self.teams.append(
            {
                "id": team_id,
                "uid": f"team-{team_id}",
                "orgId": 1,
                "name": name,
                "email": "",
                "avatarUrl": "/avatar/3f49c15916554246daa714b9bd0ee398",
                "memberCount": 3,
            }
        )
        return team_id

    def add_user(self, login: str) -> int:
        user_id = len(self.users) + 20
        self.users.append({"userId": user_id, "login": login, "email": login})
        return user_id

    def add_folder(self, uid: str, title: str) -> None:
        self.folders[uid] = {
            "id": len(self.folders) + 1,
            "uid": uid,
            "title": title,
            "url": f"/dashboards/f/{uid}/{title.lower()}",
            "hasAcl": False,
            "canSave": True,
            "canEdit": True,
            "canAdmin": True,
            "canDelete": True,
            "createdBy": CREATOR["login"],
            "created": NOW,
            "updatedBy": CREATOR["login"],
            "updated": NOW,
            "version": 1,
        }
        # What Grafana gives a new folder.
        self.permissions[uid] = [
            {"role": "Editor", "teamId": 0, "userId": 0, "permission": 2},
            {"role": "Viewer", "teamId": 0, "userId": 0, "permission": 1},
            {"teamId": 0, "userId": CREATOR["userId"], "permission": 4},
        ]

    def add_dashboard(self, uid: str, folder: str, *, public: bool = False) -> None:
        self.dashboards.append(
            {
                "id": len(self.dashboards) + 1,
                "uid": uid,
                "title": uid.replace("-", " ").title(),
                "type": "dash-db",
                "tags": [],
                "isStarred": False,
                "folderUid": folder,
                "folderTitle": folder.title(),
            }
        )
        if public:
            self.public.append(
                {
                    "uid": f"pub-{uid}",
                    "accessToken": f"{len(self.public):032x}",
                    "title": uid.replace("-", " ").title(),
                    "dashboardUid": uid,
                    "isEnabled": True,
                }
            )

    def granted(self, uid: str) -> set[tuple[str | None, int, int, int]]:
        return {
            (item.get("role"), item["teamId"], item["userId"], item["permission"])
            for item in self.permissions[uid]
        }

    def writes(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path in self.calls if method != "GET"]

    def enabled(self) -> dict[str, bool]:
        return {each["dashboardUid"]: each["isEnabled"] for each in self.public}


Answer = tuple[int, object]
Query = dict[str, list[str]]


def _missing(what: str) -> Answer:
    return 404, {"message": f"{what} not found", "statusCode": 404}


def _get_folder(api: GrafanaApi, uid: str, query: Query, body: Any) -> Answer:
    if uid in api.unreadable:
        return 403, {"message": "Access denied", "statusCode": 403}
    if uid not in api.folders:
        return _missing("folder")
    return 200, api.folders[uid]


def _create_folder(api: GrafanaApi, _: str, query: Query, body: Any) -> Answer:
    if body["uid"] in api.folders:
        return 409, {"message": "a folder with the same uid already exists"}
    api.add_folder(body["uid"], body["title"])
    return 200, api.folders[body["uid"]]


def _acl_entry(api: GrafanaApi, folder: dict[str, Any], item: dict[str, Any]) -> Any:
    team = next((t for t in api.teams if t["id"] == item["teamId"]), {})
    login = CREATOR["login"] if item["userId"] == CREATOR["userId"] else ""
    entry = {
        "folderId": folder["id"],
        "created": NOW,
        "updated": NOW,
        "userId": item["userId"],
        "userLogin": login,
        "userEmail": "",
        "teamId": item["teamId"],
        "team": team.get("name", ""),
        "permission": item["permission"],
        "permissionName": NAMES[item["permission"]],
        "uid": folder["uid"],
        "title": folder["title"],
        "slug": "",
        "isFolder": True,
        "url": folder["url"],
        "inherited": False,
    }
    # Grafana leaves the role out of entries for a team or a user.
    if item.get("role"):
        entry["role"] = item["role"]
    return entry


def _get_permissions(api: GrafanaApi, uid: str, query: Query, body: Any) -> Answer:
    if uid not in api.folders:
        return _missing("folder")
    own = [_acl_entry(api, api.folders[uid], item) for item in api.permissions[uid]]
    return 200, own + api.inherited


def _valid_item(api: GrafanaApi, item: dict[str, Any]) -> str | None:
    named = [k for k in ("role", "teamId", "userId") if item.get(k)]
    if len(named) != 1:
        return "One of role, teamId or userId is required"
    if item.get("permission") not in NAMES:
        return "Invalid permission"
    known = {t["id"] for t in api.teams}
    if item.get("teamId") and item["teamId"] not in known:
        return "Team not found"
    return None


def _set_permissions(api: GrafanaApi, uid: str, query: Query, body: Any) -> Answer:
    if uid not in api.folders:
        return _missing("folder")
    for item in body["items"]:
        problem = _valid_item(api, item)
        if problem:
            return 400, {"message": problem}
    api.permissions[uid] = [
        {"teamId": 0, "userId": 0, **item} for item in body["items"]
    ]
    return 200, {"message": "Folder permissions updated"}


def _search_teams(api: GrafanaApi, _: str, query: Query, body: Any) -> Answer:
    # By name, Grafana answers 200 with no teams when none has that name,
    # and on MySQL, whose default collation ignores case, with "SRE" for "sre".
    name = query.get("name", [""])[0].lower()
    teams = [t for t in api.teams if t["name"].lower() == name]
    return 200, {"totalCount": len(teams), "teams": teams, "page": 1, "perPage": 1000}


def _lookup_users(api: GrafanaApi, _: str, query: Query, body: Any) -> Answer:
    text = query.get("query", [""])[0].lower()
    # Any part of a login or email matches; the answer shows logins only.
    return 200, [
        {
            "userId": user["userId"],
            "uid": f"u{user['userId']}",
            "login": user["login"],
            "avatarUrl": "/avatar/46d229b033af06a191ff2267bca9ae56",
        }
        for user in api.users
        if text in user["login"].lower() or text in user["email"].lower()
    ]


def _page(items: list[Any], size: str, page: str) -> list[Any]:
    start = (int(page) - 1) * int(size)
    return items[start : start + int(size)]


def _search(api: GrafanaApi, _: str, query: Query, body: Any) -> Answer:
    folders = set(query.get("folderUIDs", []))
    hits = [
        d
        for d in api.dashboards
        if d["folderUid"] in folders and query.get("type") == [d["type"]]
    ]
    return 200, _page(hits, query["limit"][0], query["page"][0])


def _list_public(api: GrafanaApi, _: str, query: Query, body: Any) -> Answer:
    size, page = query["perpage"][0], query["page"][0]
    return 200, {
        "publicDashboards": _page(api.public, size, page),
        "totalCount": len(api.public),
        "page": int(page),
        "perPage": int(size),
    }


def _update_public(api: GrafanaApi, uids: str, query: Query, body: Any) -> Answer:
    dashboard, _, public_uid = uids.partition("/public-dashboards/")
    for each in api.public:
        if (each["dashboardUid"], each["uid"]) == (dashboard, public_uid):
            each["isEnabled"] = body["isEnabled"]
            return 200, {**each, "timeSelectionEnabled": False, "share": "public"}
    return 404, {
        "statusCode": 404,
        "messageId": "publicdashboards.notFound",
        "message": "Public dashboard not found",
    }


Route = Callable[[GrafanaApi, str, Query, Any], Answer]
ROUTES: list[tuple[str, re.Pattern[str], Route]] = [
    ("GET", re.compile(r"/api/folders/([^/]+)"), _get_folder),
    ("POST", re.compile(r"/api/folders()"), _create_folder),
    ("GET", re.compile(r"/api/folders/([^/]+)/permissions"), _get_permissions),
    ("POST", re.compile(r"/api/folders/([^/]+)/permissions"), _set_permissions),
    ("GET", re.compile(r"/api/teams/search()"), _search_teams),
    ("GET", re.compile(r"/api/org/users/lookup()"), _lookup_users),
    ("GET", re.compile(r"/api/search()"), _search),
    ("GET", re.compile(r"/api/dashboards/public-dashboards()"), _list_public),
    (
        "PATCH",
        re.compile(r"/api/dashboards/uid/([^/]+/public-dashboards/[^/]+)"),
        _update_public,
    ),
]


@pytest.fixture
def api() -> Iterator[GrafanaApi]:
    state = GrafanaApi()
    state.add_team("sre")

    class Handler(JsonHandler):
        def _serve(self) -> None:
            state.calls.append((self.command, self.path))
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self.answer(401, {"message": "Invalid API key", "statusCode": 401})
                return
            url = urlsplit(self.path)
            for method, pattern, route in ROUTES:
                match = pattern.fullmatch(url.path)
                if method == self.command and match:
                    self.answer(*route(state, match[1], parse_qs(url.query), body))
                    return
            self.answer(404, {"message": "Not found"})

        do_GET = do_POST = do_PATCH = _serve

    with loopback_http(Handler) as url:
        state.url = url
        yield state


@pytest.fixture
def access_file(tmp_path: Path) -> Callable[..., Path]:
    def write(access: Access | None = None, *, text: str | None = None) -> Path:
        path = tmp_path / "access.json"
        document = access_document(access or Access())
        path.write_text(text if text is not None else json.dumps(document, indent=2))
        return path

    return write


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)


def apply(api: GrafanaApi, access: Path, *extra: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = ["ops", "grafana-apply", "--url", api.url, "--access", str(access)]
    status = main([*args, *extra], out, err)
    return status, out.getvalue(), err.getvalue()


PERMISSIONS_LINE = (
    "permissions of folder 'hiccup': role 'Viewer' View, role 'Editor' View,"
    " team 'sre' Admin"
)


def test_the_default_document_lets_editors_only_view() -> None:
    assert access_document(Access()) == {
        "folder": {"uid": "hiccup", "title": "Hiccup"},
        "grants": [
            {"role": "Viewer", "permission": "View"},
            {"role": "Editor", "permission": "View"},
            {"team": "sre", "permission": "Admin"},
        ],
        "public_dashboards": [],
    }


@pytest.mark.parametrize(
    "access",
    [
        Access(),
        Access(
            folder_uid="ops-2",
            folder_title="Ops, second",
            grants=(
                Grant(user="ana@example.com", permission="Edit"),
                Grant(team="platform", permission="View"),
            ),
            public_dashboards=("hiccup-overview",),
        ),
    ],
    ids=["default", "every-field"],
)
def test_a_document_reads_back_as_the_access_it_holds(access: Access) -> None:
    assert read_document(json.dumps(access_document(access))) == access


def test_the_first_apply_creates_the_folder_and_sets_exactly_the_grants(
    api: GrafanaApi, access_file: Callable[..., Path]
) -> None:
    status, out, err = apply(api, access_file())

    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "did create: folder 'hiccup' (Hiccup)",
        f"did update: {PERMISSIONS_LINE}",
    ]
    assert api.folders["hiccup"]["title"] == "Hiccup"
    # Grafana's defaults, the creator's Admin among them, are all replaced.
    assert api.granted("hiccup") == {
        ("Viewer", 0, 0, 1),
        ("Editor", 0, 0, 1),
        (None, 7, 0, 4),
    }
    assert api.writes() == [
        ("POST", "/api/folders"),
        ("POST", "/api/folders/hiccup/permissions"),
    ]


def test_a_second_apply_keeps_everything_and_writes_nothing(
    api: GrafanaApi, access_file: Callable[..., Path]
) -> None:
    path = access_file()
    apply(api, path)
    api.add_dashboard("hiccup-overview", "hiccup")
    api.calls.clear()

    status, out, _ = apply(api, path)

    assert status == 0
    assert out.splitlines() == [
        "did keep: folder 'hiccup' (Hiccup)",
        f"did keep: {PERMISSIONS_LINE}",
    ]
    assert api.writes() == []


def test_permissions_inherited_from_a_parent_folder_are_not_compared(
    api: GrafanaApi, access_file: Callable[..., Path]
) -> None:
    path = access_file()
    apply(api, path)
    parent_edit = {"role": "Editor", "teamId": 0, "userId": 0, "permission": 2}
    api.inherited.append({**parent_edit, "inherited": True, "uid": "parent"})
    api.calls.clear()

    status, out, _ = apply(api, path)

    assert status == 0
    assert out.splitlines()[1] == f"did keep: {PERMISSIONS_LINE}"
    assert api.writes() == []


def test_a_permission_changed_by_hand_is_set_back(
    api: GrafanaApi, access_file: Callable[..., Path]
) -> None:
    path = access_file()
    apply(api, path)
    api.permissions["hiccup"][1]["permission"] = 2  # Editors given Edit in the UI

    status, out, _ = apply(api, path)

    assert status == 0
    assert out.splitlines()[1] == f"did update: {PERMISSIONS_LINE}"
    assert ("Editor", 0, 0, 1) in api.granted("hiccup")


def test_a_dry_run_on_a_new_grafana_only_reads(
    api: GrafanaApi, access_file: Callable[..., Path]
) -> None:
    status, out, _ = apply(api, access_file(), "--dry-run")

    assert status == 0
    assert out.splitlines() == [
        "would create: folder 'hiccup' (Hiccup)",
        f"would update: {PERMISSIONS_LINE}",
    ]
    assert {method for method, _ in api.calls} == {"GET"}
    assert api.folders == {}


def test_a_dry_run_reports_the_changes_it_would_make(
    api: GrafanaApi, access_file: Callable[..., Path]
) -> None:
    api.add_folder("hiccup", "Hiccup")
    api.add_dashboard("hiccup-overview", "hiccup", public=True)

    status, out, _ = apply(api, access_file(), "--dry-run")

    assert status == 0
    assert out.splitlines() == [
        "would keep: folder 'hiccup' (Hiccup)",
        f"would update: {PERMISSIONS_LINE}",
        "would disable: public dashboard of 'hiccup-overview' (Hiccup Overview)",
    ]
    assert {method for method, _ in api.calls} == {"GET"}
    assert api.enabled() == {"hiccup-overview": True}
    assert (None, 0, 99, 4) in api.granted("hiccup")


def test_only_unlisted_public_dashboards_of_the_folder_are_disabled(
    api: GrafanaApi, access_file: Callable[..., Path]
) -> None:
    api.add_folder("hiccup", "Hiccup")
    api.add_dashboard("hiccup-overview", "hiccup", public=True)
    api.add_dashboard("hiccup-slo", "hiccup", public=True)
    api.add_dashboard("hiccup-errors", "hiccup")
    api.add_dashboard("billing", "finance", public=True)
    access = Access(public_dashboards=("hiccup-slo",))

    status, out, _ = apply(api, access_file(access))

    assert status == 0
    assert out.splitlines()[2:] == [
        "did disable: public dashboard of 'hiccup-overview' (Hiccup Overview)",
        "did keep: public dashboard of 'hiccup-slo' (Hiccup Slo)",
    ]
    assert api.enabled() == {
        "hiccup-overview": False,
        "hiccup-slo": True,
        "billing": True,
    }
    assert [call for call in api.writes() if call[0] == "PATCH"] == [
        (
            "PATCH",
            "/api/dashboards/uid/hiccup-overview/public-dashboards/pub-hiccup-overview",
        )
    ]
    assert len(api.public) == 3  # none created, none deleted


def test_every_page_of_dashboards_and_public_dashboards_is_read(
    api: GrafanaApi, access_file: Callable[..., Path]
) -> None:
    api.add_folder("hiccup", "Hiccup")
    for index in range(1000):
        api.add_dashboard(f"team-{index}", "teams", public=True)
        api.add_dashboard(f"hiccup-{index}", "hiccup")
    api.add_dashboard("hiccup-last", "hiccup", public=True)

    status, out, _ = apply(api, access_file())

    assert status == 0
    assert out.splitlines()[2:] == [
        "did disable: public dashboard of 'hiccup-last' (Hiccup Last)"
    ]
    assert api.enabled()["hiccup-last"] is False
    assert api.enabled()["team-0"] is True


def test_a_user_is_found_by_exact_login(
    api: GrafanaApi, access_file: Callable[..., Path]
) -> None:
    api.add_user("joanna")
    ana = api.add_user("ana")
    access = Access(grants=(Grant(user="ana", permission="Edit"),))

    status, out, _ = apply(api, access_file(access))

    assert status == 0
    assert (
        out.splitlines()[1]
        == "did update: permissions of folder 'hiccup': user 'ana' Edit"
    )
    assert api.granted("hiccup") == {(None, 0, ana, 2)}


def test_a_missing_team_is_named_and_nothing_changes(
    api: GrafanaApi, access_file: Callable[..., Path]
) -> None:
    api.teams.clear()

    status, out, err = apply(api, access_file())

    assert (status, out) == (1, "")
    assert err.strip() == (
        "a grant names team 'sre', but Grafana shows this token no team of that"
        " name; create it, or correct the document"
    )
    assert api.writes() == []
    assert api.folders == {}


def test_a_team_named_in_another_case_is_not_taken(
    api: GrafanaApi, access_file: Callable[..., Path]
) -> None:
    api.teams[0]["name"] = "SRE"

    status, _, err = apply(api, access_file())

    assert status == 1
    assert err.startswith("a grant names team 'sre', but Grafana shows")
    assert api.writes() == []


def test_a_missing_user_is_named(
    api: GrafanaApi, access_file: Callable[..., Path]
) -> None:
    api.add_user("ana.b@example.com")
    access = Access(grants=(Grant(user="ana", permission="View"),))

    status, _, err = apply(api, access_file(access))

    assert status == 1
    assert "user 'ana'" in err
    assert "name users by login" in err
    assert api.writes() == []


def test_a_refused_token_is_reported(
    api: GrafanaApi, access_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAFANA_TOKEN", "glsa_revoked")

    status, _, err = apply(api, access_file())

    assert status == 1
    assert err.startswith(f"GET {api.url}/api/teams/search?name=sre: 401 ")
    assert "Invalid API key" in err
    assert api.writes() == []


def test_a_folder_the_token_may_not_read_is_not_created(
    api: GrafanaApi, access_file: Callable[..., Path]
) -> None:
    api.unreadable.add("hiccup")

    status, _, err = apply(api, access_file())

    assert status == 1
    assert err.startswith(f"GET {api.url}/api/folders/hiccup: 403 ")
    assert api.writes() == []


def test_without_a_token_nothing_is_sent(
    api: GrafanaApi, access_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GRAFANA_TOKEN")

    status, _, err = apply(api, access_file())

    assert status == 2
    assert "GRAFANA_TOKEN" in err
    assert "admin of the folder" in err
    assert api.calls == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            '{"folder": {"uid": "hiccup", "title": "Hiccup"},\n  "grants": [,]}',
            "line 2, column 14: Expecting value",
            id="not-json",
        ),
        pytest.param("[]", "the document is a list, expected an object", id="list"),
        pytest.param(
            '{"folder": {"uid": "hiccup", "title": "Hiccup"}, "grant": []}',
            "the document: unknown key 'grant'; expected 'folder', 'grants' or"
            " 'public_dashboards'",
            id="unknown-key",
        ),
        pytest.param(
            '{"folder": {"uid": "hiccup", "title": "Hiccup"}}',
            "the document: no 'grants'",
            id="no-grants",
        ),
        pytest.param(
            '{"folder": {"uid": "hiccup"}, "grants": []}',
            "folder: no 'title'",
            id="no-title",
        ),
        pytest.param(
            '{"folder": {"uid": "hic cup", "title": "Hiccup"}, "grants": []}',
            "folder.uid 'hic cup' is not 1 to 40 letters, digits, '-' or '_'",
            id="bad-uid",
        ),
        pytest.param(
            '{"folder": {"uid": "hiccup", "title": " "}, "grants": []}',
            "folder.title is empty",
            id="empty-title",
        ),
        pytest.param(
            '{"folder": {"uid": "hiccup", "title": "Hiccup"}, "grants": {}}',
            "grants is an object, expected a list",
            id="grants-object",
        ),
        pytest.param(
            '{"folder": {"uid": "hiccup", "title": "Hiccup"}, "grants": ["sre"]}',
            "grants[0] is a string, expected an object",
            id="grant-string",
        ),
        pytest.param(
            '{"folder": {"uid": "hiccup", "title": "Hiccup"},'
            ' "grants": [{"team": "sre", "permission": "Write"}]}',
            "grants[0]: permission 'Write' is not 'View', 'Edit' or 'Admin'",
            id="unknown-permission",
        ),
        pytest.param(
            '{"folder": {"uid": "hiccup", "title": "Hiccup"},'
            ' "grants": [{"team": "sre"}]}',
            "grants[0]: no 'permission'",
            id="no-permission",
        ),
        pytest.param(
            '{"folder": {"uid": "hiccup", "title": "Hiccup"},'
            ' "grants": [{"role": "Viewer", "permission": "View"},'
            ' {"permission": "View"}]}',
            "grants[1]: names no one; give one of 'role', 'team' or 'user'",
            id="no-subject",
        ),
        pytest.param(
            '{"folder": {"uid": "hiccup", "title": "Hiccup"},'
            ' "grants": [{"role": "Editor", "team": "sre", "permission": "View"}]}',
            "grants[0]: names both 'role' and 'team'; give only one",
            id="two-subjects",
        ),
        pytest.param(
            '{"folder": {"uid": "hiccup", "title": "Hiccup"},'
            ' "grants": [{"role": "Admin", "permission": "Admin"}]}',
            "grants[0]: role 'Admin' is not 'Viewer' or 'Editor' (Admins may do"
            " anything)",
            id="admin-role",
        ),
        pytest.param(
            '{"folder": {"uid": "hiccup", "title": "Hiccup"},'
            ' "grants": [{"user": "", "permission": "View"}]}',
            "grants[0]: user is empty",
            id="empty-user",
        ),
        pytest.param(
            '{"folder": {"uid": "hiccup", "title": "Hiccup"},'
            ' "grants": [{"team": 7, "permission": "View"}]}',
            "grants[0].team is a number, expected a string",
            id="team-number",
        ),
        pytest.param(
            '{"folder": {"uid": "hiccup", "title": "Hiccup"},'
            ' "grants": [{"team": "sre", "permission": "View"},'
            ' {"team": "sre", "permission": "Admin"}]}',
            "grants[1] is for team 'sre' again, as grants[0] is",
            id="same-team-twice",
        ),
        pytest.param(
            '{"folder": {"uid": "hiccup", "title": "Hiccup"}, "grants": [],'
            ' "public_dashboards": ["hiccup-overview", null]}',
            "public_dashboards[1] is null, expected a string",
            id="public-null",
        ),
        pytest.param(
            '{"folder": {"uid": "hiccup", "title": true}, "grants": []}',
            "folder.title is true or false, expected a string",
            id="title-boolean",
        ),
    ],
)
def test_a_malformed_document_is_reported_precisely(
    api: GrafanaApi, access_file: Callable[..., Path], text: str, message: str
) -> None:
    path = access_file(text=text)

    status, out, err = apply(api, path)

    assert (status, out) == (1, "")
    assert err == f"{path}: {message}\n"
    assert api.calls == []


def test_a_missing_document_is_reported(api: GrafanaApi, tmp_path: Path) -> None:
    status, _, err = apply(api, tmp_path / "absent.json")

    assert status == 1
    assert "No such file or directory" in err
    assert api.calls == []


def test_apply_access_takes_the_document_as_committed(api: GrafanaApi) -> None:
    document = access_document(
        Access(grants=(Grant(role="Viewer", permission="View"),))
    )

    changes = apply_access(document, http_sender(api.url, TOKEN))

    assert [change.action for change in changes] == ["create", "update"]
    assert api.granted("hiccup") == {("Viewer", 0, 0, 1)}
