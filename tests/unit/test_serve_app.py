"""The app in process (Starlette's TestClient): both faces, the error body, limits, metadata,
create_app's arguments and alias following through the load endpoint. The real server process
with real clients is tested in tests/serve/."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

from starlette.testclient import TestClient
from tests.models_fixtures import LinearRunner

from modelshelf import InvalidInputError, Runner, Shelf, register_model
from modelshelf.serve import ServeOptions, create_app


class Scaler:
    """A model object with a predict method, served without a runner."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def predict(self, data: Any) -> Any:
        if isinstance(data, str) and data == "boom":
            raise RuntimeError("the model broke")
        if isinstance(data, str) and data == "reject":
            raise ValueError("expected numbers")
        if isinstance(data, str) and data == "nan":
            return float("nan")
        return [self.factor * x for x in data]


class Gate(Runner):
    """Blocks in predict until released: requests pile up deterministically."""

    entered = threading.Event()
    release = threading.Event()

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        Gate.entered.set()
        Gate.release.wait(30)
        return data


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(model=Scaler(2.0), name="svc")) as test_client:
        yield test_client


def test_predict_json_in_json_out_with_version_and_request_id(client: TestClient) -> None:
    response = client.post("/predict", content=b"[1, 2.5]")
    assert response.status_code == 200
    assert response.json() == [2.0, 5.0]
    assert response.headers["x-model-version"] == "memory"
    assert len(response.headers["x-request-id"]) >= 8


def test_a_request_id_sent_by_the_client_is_kept(client: TestClient) -> None:
    response = client.post("/predict", content=b"[1]", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    hostile = client.post("/predict", content=b"[1]", headers={"X-Request-ID": "a\tb"})
    assert hostile.headers["x-request-id"] != "a\tb"


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"{bad", 400, "not JSON"),
        (b"\xff\xfe", 400, "not UTF-8"),
        (b'"reject"', 400, "expected numbers"),
        (b'"boom"', 500, "request id"),
        (b'"nan"', 500, "not JSON"),
    ],
)
def test_every_error_is_one_json_object_never_a_traceback(
    client: TestClient, body: bytes, status: int, needle: str
) -> None:
    response = client.post("/predict", content=body)
    assert response.status_code == status
    payload = response.json()
    assert needle in payload["error"]
    assert payload["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    # The server keeps serving.
    assert client.post("/predict", content=b"[1]").json() == [2.0]


def test_a_runner_failure_names_its_request_id_in_the_log(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = client.post("/predict", content=b'"boom"')
    rid = response.json()["request_id"]
    assert rid in response.json()["error"]
    assert any(rid in record.getMessage() for record in caplog.records)


def test_unknown_routes_and_methods_use_the_error_body(client: TestClient) -> None:
    missing = client.get("/nope")
    assert missing.status_code == 404 and "no route GET /nope" in missing.json()["error"]
    wrong = client.get("/predict")
    assert wrong.status_code == 405 and "error" in wrong.json()


def test_health_ready_metadata_docs(client: TestClient) -> None:
    assert client.get("/health").json() == {"live": True}
    assert client.get("/ready").json() == {"ready": True, "version": "memory"}
    meta = client.get("/metadata").json()
    assert meta["name"] == "svc" and meta["version"] == "memory"
    assert meta["last_swap_error"] is None and meta["following"] is False
    assert "/predict" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 200


def test_oip_health_and_server_metadata(client: TestClient) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json()["ready"] is True
    assert client.get("/v2").json()["name"] == "modelshelf"
    model = client.get("/v2/models/svc").json()
    assert model["name"] == "svc" and model["versions"] == ["memory"]
    assert client.get("/v2/models/svc/versions/memory/ready").json()["ready"] is True


@pytest.mark.parametrize(
    "path",
    [
        "/v2/models/other",
        "/v2/models/other/ready",
        "/v2/models/svc/versions/9.9",
        "/v2/models/svc/versions/9.9/ready",
    ],
)
def test_oip_unknown_model_or_version_is_404_with_error(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert set(response.json()) >= {"error"}


def test_oip_unknown_model_infer_is_404_even_with_a_bad_body(client: TestClient) -> None:
    response = client.post("/v2/models/other/infer", content=b"not json")
    assert response.status_code == 404
    assert "this server serves 'svc'" in response.json()["error"]


def test_oip_infer_without_content_type(client: TestClient) -> None:
    body = {"id": "r1", "inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "data": [1, 2]}]}
    response = client.post("/v2/models/svc/infer", content=json.dumps(body).encode())
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["model_name"] == "svc" and payload["model_version"] == "memory"
    assert payload["id"] == "r1"
    assert payload["outputs"][0]["data"] == [2.0, 4.0]


def test_oip_malformed_body_is_400_with_error(client: TestClient) -> None:
    for body in (b"{", b"[]", b'{"inputs": 3}'):
        response = client.post("/v2/models/svc/infer", content=body)
        assert response.status_code == 400, body
        assert "error" in response.json()
    bad_length = client.post(
        "/v2/models/svc/infer", content=b"{}", headers={"Inference-Header-Content-Length": "x"}
    )
    assert bad_length.status_code == 400


def test_a_body_over_the_limit_is_413_before_it_is_read() -> None:
    app = create_app(model=Scaler(1.0), options=ServeOptions(max_body_bytes=10))
    with TestClient(app) as client:
        response = client.post("/predict", content=b"[" + b"1," * 20 + b"1]")
        assert response.status_code == 413
        assert "--max-body-mb" in response.json()["error"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
            yield b"[1,1,1,1,"
            yield b"1,1,1,1]"

        assert client.post("/predict", content=chunks()).status_code == 413
        assert client.post("/predict", content=b"[1]").status_code == 200


def test_a_full_queue_is_429_with_retry_after_and_a_slow_request_504() -> None:
    Gate.entered.clear()
    Gate.release.clear()
    app = create_app(runner_cls=Gate, options=ServeOptions(max_queue=1, threads=1, timeout=60))
    with TestClient(app) as client:
        results: list[int] = []
        first = threading.Thread(
            target=lambda: results.append(client.post("/predict", content=b"[1]").status_code)
        )
        first.start()
        assert Gate.entered.wait(30)
        busy = client.post("/predict", content=b"[2]")
        assert busy.status_code == 429
        assert int(busy.headers["retry-after"]) >= 1
        assert "retry shortly" in busy.json()["error"]
        Gate.release.set()
        first.join()
        assert results == [200]
    Gate.entered.clear()
    Gate.release.clear()
    app = create_app(runner_cls=Gate, options=ServeOptions(timeout=0.05))
    with TestClient(app) as client:
        late = client.post("/predict", content=b"[1]")
        assert late.status_code == 504 and "no prediction within" in late.json()["error"]
        Gate.release.set()
        assert client.post("/predict", content=b"[1]").status_code == 200


def test_metrics_count_requests_and_batches(client: TestClient) -> None:
    client.post("/predict", content=b"[1]")
    client.post("/predict", content=b"{bad")
    text = client.get("/metrics").text
    assert 'modelshelf_requests_total{route="predict",status="200"} 1.0' in text
    assert 'modelshelf_requests_total{route="predict",status="400"} 1.0' in text
    assert "modelshelf_request_seconds_bucket" in text
    assert 'modelshelf_active_version{model="svc",version="memory"} 1.0' in text
    assert "modelshelf_batch_rows_count 1.0" in text


def test_create_app_arguments_are_checked() -> None:
    with pytest.raises(InvalidInputError, match="nothing to serve"):
        create_app()
    with pytest.raises(InvalidInputError, match="not both"):
        create_app("a/b", model=Scaler(1.0))
    with pytest.raises(InvalidInputError, match="subclass of modelshelf"):
        create_app("a/b", runner_cls=Scaler)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="no predict method"):
        create_app(model=object())
    with pytest.raises(InvalidInputError, match="usable in a URL"):
        create_app(model=Scaler(1.0), name="a/b")
    with pytest.raises(InvalidInputError, match="max_queue"):
        ServeOptions(max_queue=0)
    with pytest.raises(InvalidInputError, match="timeout"):
        ServeOptions(timeout=float("nan"))


def test_a_registered_alias_is_followed_through_the_load_endpoint(tmp_path: Path) -> None:
    shelf = Shelf((tmp_path / "store").as_uri(), cache_dir=tmp_path / "cache")
    register_model("team/svc", LinearRunner, {"x": 1.0, "bias": 0.0}, store=shelf)
    register_model("team/svc", LinearRunner, {"x": 2.0, "bias": 0.0}, store=shelf)
    shelf.set_alias("team/svc@prod", "1.0")
    app = create_app("team/svc@prod", store=shelf, options=ServeOptions(poll_interval=0))
    with TestClient(app) as client:
        assert client.get("/metadata").json()["version"] == "1.0"
        unchanged = client.post("/v2/repository/models/svc/load").json()
        assert unchanged == {"name": "svc", "version": "1.0", "swapped": False}
        shelf.set_alias("team/svc@prod", "1.1")
        moved = client.post("/v2/repository/models/svc/load").json()
        assert moved == {"name": "svc", "version": "1.1", "swapped": True}
        answer = client.post("/predict", content=b'[{"x": 1}, {"x": 2}]')
        assert answer.headers["x-model-version"] == "1.1"
        assert answer.json() == [2.0, 4.0]
        meta = client.get("/metadata").json()
        assert meta["asset"] == "team/svc" and meta["following"] is True
        assert meta["model"]["runner"].endswith(":LinearRunner")


def test_a_pinned_version_is_not_followed(tmp_path: Path) -> None:
    shelf = Shelf((tmp_path / "store").as_uri(), cache_dir=tmp_path / "cache")
    register_model("team/svc", LinearRunner, {"x": 1.0, "bias": 0.0}, store=shelf)
    app = create_app("team/svc:1.0", store=shelf)
    with TestClient(app) as client:
        assert client.get("/metadata").json()["following"] is False
        assert client.post("/v2/repository/models/svc/load").json()["version"] == "1.0"


def test_serve_refuses_a_path_inside_a_version(tmp_path: Path) -> None:
    shelf = Shelf((tmp_path / "store").as_uri(), cache_dir=tmp_path / "cache")
    with pytest.raises(InvalidInputError, match="not a file inside one"):
        create_app("team/svc@prod/model/x.bin", store=shelf)


class SlowLoad(Runner):
    """Its load waits for a gate; a gate set to fail makes the load raise."""

    gate = threading.Event()
    fail = False

    @staticmethod
    def load_model(props: dict[str, str] | None, artifacts: dict[str, Path]) -> Any:
        SlowLoad.gate.wait(30)
        if SlowLoad.fail:
            raise RuntimeError("weights are damaged")
        return 3

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        return [model * x for x in data]


def wait_for(condition: Any) -> None:
    event = threading.Event()
    for _ in range(3000):
        if condition():
            return
        event.wait(0.01)
    raise AssertionError("condition not met")


def test_a_background_load_is_live_and_not_ready_until_the_model_is_in(tmp_path: Path) -> None:
    SlowLoad.gate.clear()
    SlowLoad.fail = False
    shelf = Shelf((tmp_path / "store").as_uri(), cache_dir=tmp_path / "cache")
    (tmp_path / "w.txt").write_text("3")
    register_model("team/slow", SlowLoad, artifacts={tmp_path / "w.txt": "w.txt"}, store=shelf)
    with TestClient(create_app("team/slow", store=shelf, load="background")) as client:
        assert client.get("/health").json() == {"live": True}
        assert client.get("/v2/health/live").status_code == 200
        not_ready = client.get("/v2/health/ready")
        assert not_ready.status_code == 503 and not_ready.json()["ready"] is False
        assert client.get("/v2/models/slow/ready").status_code == 503
        assert client.post("/predict", content=b"[1]").status_code == 503
        SlowLoad.gate.set()
        wait_for(lambda: client.get("/ready").status_code == 200)
        assert client.post("/predict", content=b"[1]").json() == [3]


def test_a_failed_background_load_is_reported_and_never_ready(tmp_path: Path) -> None:
    SlowLoad.gate.set()
    SlowLoad.fail = True
    shelf = Shelf((tmp_path / "store").as_uri(), cache_dir=tmp_path / "cache")
    (tmp_path / "w.txt").write_text("3")
    register_model("team/slow", SlowLoad, artifacts={tmp_path / "w.txt": "w.txt"}, store=shelf)
    failures: list[BaseException] = []
    app = create_app("team/slow", store=shelf, load="background", on_load_error=failures.append)
    with TestClient(app) as client:
        wait_for(lambda: bool(failures))
        assert "weights are damaged" in str(failures[0])
        assert client.get("/ready").status_code == 503
        assert "weights are damaged" in client.get("/metadata").json()["last_swap_error"]
    SlowLoad.fail = False


class FolderSum(Runner):
    """Runs any pushed folder: its model is the number in n.txt."""

    engine = "folder-sum"

    @staticmethod
    def load_model(props: dict[str, str] | None, artifacts: dict[str, Path]) -> Any:
        return float((artifacts["model"] / "n.txt").read_text())

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        return [model + x for x in data]


def test_a_spec_served_with_a_runner_given_here(tmp_path: Path) -> None:
    shelf = Shelf((tmp_path / "store").as_uri(), cache_dir=tmp_path / "cache")
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "n.txt").write_text("10")
    shelf.push(folder, "team/plain")  # no model section: a folder any tool could have pushed
    app = create_app("team/plain", store=shelf, runner_cls=FolderSum)
    with TestClient(app) as client:
        assert client.post("/predict", content=b"[1, 2]").json() == [11.0, 12.0]
        meta = client.get("/metadata").json()
        assert meta["version"] == "1.0" and meta["model"]["engine"] == "folder-sum"


def test_load_model_with_a_runner_given_here(tmp_path: Path) -> None:
    from modelshelf import load_model

    (tmp_path / "n.txt").write_text("5")
    loaded = load_model(tmp_path, runner=FolderSum)
    assert loaded.predict([1]) == [6.0]
    assert loaded.metadata["engine"] == "folder-sum"
    with pytest.raises(InvalidInputError, match="not both"):
        load_model(tmp_path, runner=FolderSum, loader="json:loads")


def test_a_followed_spec_has_its_follower_before_it_answers_ready(tmp_path: Path) -> None:
    """Ready means a ``/load`` now checks the alias: the follower exists before the first
    version is active (it used to be made just after, and a ``/load`` in between answered
    ``swapped: false`` without looking, losing the error of a version that fails to load)."""
    SlowLoad.gate.set()
    SlowLoad.fail = False
    shelf = Shelf((tmp_path / "store").as_uri(), cache_dir=tmp_path / "cache")
    (tmp_path / "w.txt").write_text("3")
    manifest = register_model(
        "team/slow", SlowLoad, artifacts={tmp_path / "w.txt": "w.txt"}, store=shelf
    )
    shelf.set_alias("team/slow@prod", manifest.version)
    app = create_app("team/slow@prod", store=shelf, load="background")
    state = app.state.serve
    seen: list[bool] = []
    state.slot.on_swap = lambda old, new: seen.append(state.follower is not None)
    with TestClient(app) as client:
        wait_for(lambda: client.get("/ready").status_code == 200)
    assert seen == [True]
