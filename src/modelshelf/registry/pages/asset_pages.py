"""The pages of one asset: the asset (``/a/NAME``), a version (``/a/NAME/-/v/VERSION``), a diff
(``/a/NAME/-/diff/A...B``), and the JSON twins that the API did not have yet
(``/api/v1/assets/NAME/-/overview``, ``/api/v1/assets/NAME/-/diff/A...B``).

A name holds ``/``, so it ends at ``/-/`` as in the API. These pages read the asset live
(versions, aliases, notes) before rendering; manifests and cards come from the catalog's
caches (they never change).
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from modelshelf import trust
from modelshelf.errors import InvalidInputError, ObjectNotFoundError
from modelshelf.manifest import Manifest
from modelshelf.registry.auth import Caller
from modelshelf.registry.context import Principal
from modelshelf.registry.pages._views import (
    file_tree,
    model_rows,
    read_asset_view,
    source_rows,
)
from modelshelf.registry.pages.browse_routes import catalog_of
from modelshelf.registry.pages.catalog import Catalog
from modelshelf.registry.pages.render import (
    SECURITY_HEADERS,
    asset_url,
    guarded,
    page,
    shown_error,
    url,
)
from modelshelf.registry.pages.session import local_user, page_principal
from modelshelf.spec import validate_alias
from modelshelf.store.http_protocol import API

if TYPE_CHECKING:
    from modelshelf.shelf.diff import VersionDiff

__all__ = ["MAX_DIFF_ROWS", "api_router", "capped_diff", "router"]

MAX_DIFF_ROWS = 1000
"""The most rows of each file table of a diff page (and its twin); ``modelshelf diff --json``
lists them all."""

router = APIRouter(include_in_schema=False)
api_router = APIRouter(tags=["pages"])

_DIFF_IN_NAME = re.compile(r"^(?P<name>.+)/diff/(?P<pair>[^/]+\.\.\.[^/]+)$")


def _name(name: str) -> str:
    try:
        return trust.check_name(name)
    except ValueError as exc:
        raise ObjectNotFoundError(f"there is no asset {trust.show(name)}: {exc}") from None


def _version(version: str) -> str:
    try:
        return trust.check_version(version)
    except ValueError as exc:
        raise ObjectNotFoundError(f"there is no version {trust.show(version)}: {exc}") from None


def _readable(principal: Principal, name: str) -> str:
    name = _name(name)
    principal.require("read", name)
    return name


# -- an asset ------------------------------------------------------------------------------------
@router.get("/a/{name:path}/-/diff")
def diff_form(request: Request, name: str) -> Response:
    """The diff form's GET (no script builds the path): redirect to the diff's own URL."""
    a = request.query_params.get("a", "")[:100]
    b = request.query_params.get("b", "")[:100]
    return guarded(
        request,
        lambda: RedirectResponse(
            asset_url(_name(name), "diff", f"{_version(a)}...{_version(b)}"), 303
        ),
    )


@router.get("/a/{name:path}/-/v/{version}")
def version_page(request: Request, name: str, version: str) -> Response:
    def build() -> Response:
        principal = page_principal(request)
        found = _readable(principal, name)
        catalog = catalog_of(request)
        manifest = catalog.manifest(found, _version(version))
        aliases = sorted(
            a for a, r in catalog.store.aliases(found).items() if r.version == manifest.version
        )
        notes = catalog.store.read_notes(found, manifest.version)
        tree, shown = file_tree(manifest.files)
        pull, snippet = _use(request, manifest)
        return page(
            request, "version.html", title=f"{found}:{manifest.version}", principal=principal,
            twin=url(f"{API}/assets/{found}/-/versions/{manifest.version}"),
            manifest=manifest, aliases=aliases, labels=dict(notes.labels),
            version_description=notes.description, notes_seq=notes.seq,
            labels_text=labels_text(notes.labels), can_write=principal.can("write", found),
            tree=tree, tree_shown=shown, tree_cut=shown < len(manifest.files),
            manifest_twin=url(f"{API}/assets/{found}/-/versions/{manifest.version}"),
            model_lines=model_rows(manifest), source_lines=source_rows(manifest),
            card_text=catalog.card(manifest), pull_command=pull, python_snippet=snippet,
            pushed_by=catalog.pushers(found).get(manifest.version, manifest.author),
            progress=None,
        )  # fmt: skip

    return guarded(request, build)


def _use(request: Request, manifest: Manifest) -> tuple[str, str]:
    """The pull command and Python snippet of a version, for this registry (or, under
    ``modelshelf ui``, the store it serves)."""
    spec = f"{manifest.name}:{manifest.version}"
    if local_user(request) is not None:
        where = request.app.state.catalog.store.url
    else:
        where = str(request.base_url).rstrip("/")
    command = f"modelshelf --store {where} pull {spec}"
    snippet = (
        "from modelshelf import Shelf\n\n"
        f"shelf = Shelf({where!r})  # a registry's token: MODELSHELF_TOKEN\n"
        f"path = shelf.pull({spec!r})"
    )
    return command, snippet


@router.get("/a/{name:path}/-/diff/{pair}")
def diff_page(request: Request, name: str, pair: str) -> Response:
    def build() -> Response:
        principal = page_principal(request)
        found = _readable(principal, name)
        a, b = _pair(pair)
        diff, left_out = capped_diff(_diff(catalog_of(request), found, a, b))
        return page(
            request, "diff.html", title=f"{found}: {a} → {b}", principal=principal,
            twin=url(f"{API}/assets/{found}/-/diff/{a}...{b}"), name=found, a=a, b=b, diff=diff,
            left_out=left_out, whole_diff=whole_diff_command(found, a, b),
        )  # fmt: skip

    return guarded(request, build)


def _pair(pair: str) -> tuple[str, str]:
    a, sep, b = pair.partition("...")
    if not sep:
        raise InvalidInputError(f"a diff is VERSION...VERSION, not {trust.show(pair)}")
    return _version(a), _version(b)


def capped_diff(
    diff: VersionDiff, limit: int = MAX_DIFF_ROWS
) -> tuple[VersionDiff, dict[str, int]]:
    """``diff`` with at most ``limit`` rows a table (added, removed, changed, moved), and how
    many rows of each were left out."""
    left_out = {
        "added": max(0, len(diff.added) - limit),
        "removed": max(0, len(diff.removed) - limit),
        "changed": max(0, len(diff.changed) - limit),
        "moved": max(0, len(diff.moved) - limit),
    }
    cut = dataclasses.replace(
        diff, added=diff.added[:limit], removed=diff.removed[:limit],
        changed=diff.changed[:limit], moved=diff.moved[:limit],
    )  # fmt: skip
    return cut, left_out


def whole_diff_command(name: str, a: str, b: str) -> str:
    """The command that shows every row of a diff the page cut."""
    return f"modelshelf diff {name}:{a} {name}:{b} --json"


def _diff(catalog: Catalog, name: str, a: str, b: str) -> Any:
    from modelshelf.shelf.diff import diff_versions

    manifest_a, manifest_b = catalog.manifest(name, a), catalog.manifest(name, b)
    return diff_versions(manifest_a, manifest_b, catalog.card(manifest_a), catalog.card(manifest_b))


@router.get("/a/{name:path}")
def asset_page(request: Request, name: str) -> Response:
    def build() -> Response:
        principal = page_principal(request)
        moved = _DIFF_IN_NAME.match(name)
        # The scope first: for a name the caller may not read, the store is never asked
        # whether it exists (the redirect's target checks its own scope).
        if moved and not (principal.can("read", name) and _is_asset(request, name)):
            target = asset_url(moved.group("name"), "diff", moved.group("pair"))
            return RedirectResponse(target, status_code=308, headers=SECURITY_HEADERS)
        found = _readable(principal, name)
        view = read_asset_view(catalog_of(request), found, shown_error(request))
        summary = view.summary
        return page(
            request, "asset.html", title=found, principal=principal,
            twin=url(f"{API}/assets/{found}/-/overview"), asset=summary, notes=view.notes,
            history=view.history, history_cut=view.history_cut, card_text=view.card_text,
            card_version=view.card_version,
            pushed_by=catalog_of(request).pushers(found),
            can_write=principal.can("write", found),
            expected_aliases=",".join(f"{a}={v}" for a, v in sorted(summary.aliases.items())),
            labels_text=labels_text(summary.labels), warnings=view.warnings,
            notes_readable=view.notes_readable,
        )  # fmt: skip

    return guarded(request, build)


def labels_text(labels: dict[str, str]) -> str:
    """Labels as the notes form takes them: one ``KEY`` or ``KEY=VALUE`` a line."""
    return "\n".join(f"{k}={v}" if v else k for k, v in sorted(labels.items()))


def _is_asset(request: Request, name: str) -> bool:
    return trust.is_name(name) and bool(request.app.state.catalog.store.versions(name))


# -- JSON twins ----------------------------------------------------------------------------------
@api_router.get(f"{API}/assets/{{name:path}}/-/overview", summary="An asset's page as JSON")
def overview(request: Request, name: str, principal: Caller) -> dict[str, Any]:
    found = _readable(principal, name)
    return read_asset_view(catalog_of(request), found, shown_error(request)).to_json()


@api_router.get(f"{API}/assets/{{name:path}}/-/diff/{{pair}}", summary="Two versions compared")
def diff_json(request: Request, name: str, pair: str, principal: Caller) -> dict[str, Any]:
    found = _readable(principal, name)
    a, b = _pair(pair)
    diff, left_out = capped_diff(_diff(catalog_of(request), found, a, b))
    result: dict[str, Any] = diff.to_json()
    if any(left_out.values()):
        result["left_out"] = left_out
        result["whole_diff"] = whole_diff_command(found, a, b)
    return result


def check_alias(alias: str) -> str:
    validate_alias(alias)
    return alias
