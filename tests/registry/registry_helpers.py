"""What the registry tests share: manifests and blobs put straight into the store, error bodies
read back as the client will."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from starlette.testclient import TestClient

from modelshelf.errors import ModelshelfError
from modelshelf.manifest import FileEntry, Manifest
from modelshelf.store.bucket import Store
from modelshelf.store.http_protocol import error_from_body
from modelshelf.transfer.verified_upload import HashedBytes

API = "/api/v1"
MakeClient = Callable[..., TestClient]


def asset(name: str, *rest: str) -> str:
    return "/".join((f"{API}/assets/{name}/-", *rest))


def put_blobs(store: Store, *contents: bytes) -> list[FileEntry]:
    """Store each content as a blob (as an upload would); its entry as ``f<i>.bin``."""
    entries = []
    for index, data in enumerate(contents):
        hashed = HashedBytes(data)
        store.put_blob(hashed.sha256, hashed)
        entries.append(FileEntry(f"f{index}.bin", len(data), hashed.sha256))
    return entries


def manifest_of(name: str, version: str, files: list[FileEntry], message: str = "") -> bytes:
    return Manifest(
        name=name,
        version=version,
        kind="directory",
        files=tuple(files),
        created="2026-12-07T00:00:00.000000Z",
        author="the client's claim@somewhere",
        message=message,
    ).to_json()


def pushed_through(client: TestClient, store: Store, name: str, versions: list[str]) -> None:
    """Push ``versions`` of ``name`` through the registry ``client`` talks to (one small file
    each, its blob put straight into ``store``)."""
    for version in versions:
        files = put_blobs(store, version.encode())
        body = manifest_of(name, version, files)
        assert client.put(asset(name, "versions", version), content=body).status_code == 201


def manifest_dict(name: str, version: str, files: list[FileEntry]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(manifest_of(name, version, files))
    return data


def error_of(response: httpx.Response) -> ModelshelfError:
    """The error the client would raise for ``response``."""
    return error_from_body(response.status_code, response.json(), "http://testserver")


def store_keys(store: Store) -> set[str]:
    """Every key of the store but the tokens' last-used times (each request may write one)."""
    keys = {meta.path for meta in store.backend.list("")}
    return {k for k in keys if not (k.startswith("registry/tokens/") and k.endswith(".used"))}
