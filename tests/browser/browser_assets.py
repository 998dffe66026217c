"""The generated assets the browser tests look at, pushed through the registry they browse.

Every write goes through the registry's API with a token (pushes, aliases, notes), so the
audit log names the tokens, as it would for people. What is there:

- ``nlp/sentiment``: five versions (1.0-1.4) of a torch model; a README.md card with a table
  and a hostile part (a script, an ``<img onerror>``, a ``javascript:`` link), and a hostile
  part in its description too; ``production``
  on 1.2 and ``candidate`` on 1.4; labels ``team=nlp`` and ``gpu``; 1.3 -> 1.4 adds, removes,
  changes and moves a file.
- ``nlp/intent``: two versions, ``production`` on 1.0: the write tests move it and edit its
  notes (nothing else looks at it, so the order of tests does not matter).
- ``vision/resnet``: an onnx model in folders (``model/``, ``model/config/``, ``data/``),
  label ``team=vision``.
- ``team/private/fraud-model``: only the admin and the editor may read it; its message,
  label and card hold the word :data:`PRIVATE_WORD`, which must appear on no page the reader
  sees.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from tests.servers.registry import RegistryProcess

from modelshelf import Shelf
from modelshelf.store.bucket import Store

SENTIMENT = "nlp/sentiment"
INTENT = "nlp/intent"
RESNET = "vision/resnet"
PRIVATE = "team/private/fraud-model"
PRIVATE_WORD = "quetzalcoatl"
"""A word only the private asset holds (message, label value, card, description)."""
TEXT_WORD = "distillation"
"""A word in one message of nlp/sentiment (1.3) and nowhere else: the text search finds it."""

HOSTILE_CARD = """# Sentiment classifier

Classifies product reviews as positive or negative.

| split | accuracy | f1 |
|---|---|---|
| dev | 0.912 | 0.905 |
| test | 0.897 | 0.893 |

<script>window.__card_script_ran = 1; alert("card script")</script>

<img src="x" onerror="window.__card_img_ran = 1; alert('onerror')">

[click me](javascript:alert(1))

[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)

<a href="https://example.invalid/" onclick="alert(2)">raw link</a>

See the [docs](https://example.invalid/docs) for the label set.
"""

HOSTILE_DESCRIPTION = """<script>window.__card_script_ran = 1</script>

<img src="x" onerror="window.__card_img_ran = 1">

[click me](javascript:alert(1))
"""
"""The hostile part of nlp/sentiment's description: a description is Markdown like a card."""

TORCH_MODEL = {
    "format": 1,
    "engine": "torch",
    "runner": "modelshelf.models.engines.torch_runner:TorchRunner",
    "requirements": ["torch>=2.3"],
}
ONNX_MODEL = {
    "format": 1,
    "engine": "onnx",
    "runner": "modelshelf.models.engines.onnx_runner:OnnxRunner",
    "requirements": ["onnxruntime>=1.17"],
}


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def _sentiment_files(i: int) -> dict[str, bytes]:
    files = {
        "model.pt": f"weights of sentiment {i}\n".encode() * (200 + 50 * i),
        "config.json": json.dumps({"layers": 4 + i, "labels": ["neg", "pos"]}).encode(),
        "README.md": HOSTILE_CARD.replace("0.912", f"0.9{i}").encode(),
        "tokenizer/vocab.txt": b"[PAD]\n[UNK]\ngood\nbad\n",
    }
    if i >= 3:  # 1.3 has the old tokenizer notes and the eval file at the root
        files["eval.csv"] = b"split,accuracy\ndev,0.9\n"
        files["tokenizer/NOTES.txt"] = b"the vocabulary of 2025\n"
    if i == 4:  # 1.4: eval.csv moved, NOTES removed, metrics added, model.pt changed
        files["reports/eval.csv"] = files.pop("eval.csv")
        del files["tokenizer/NOTES.txt"]
        files["metrics.json"] = b'{"accuracy": 0.94}'
    return files


def _messages() -> list[str]:
    return [
        "first cut on the review set",
        "more data: 40k reviews",
        "tuned thresholds",
        f"{TEXT_WORD} from the large teacher",
        "smaller tokenizer, metrics",
    ]


@dataclass(frozen=True)
class BrowserSite:
    """The registry under test: its URL, its tokens and the bucket store behind it."""

    url: str
    admin: str
    editor: str
    reader: str
    store: Store
    process: RegistryProcess


class AssetFiller:
    """Pushes the assets above through ``url`` with ``token`` (an ``admin:*`` one)."""

    def __init__(self, url: str, token: str, workdir: Path) -> None:
        self.url = url
        self.token = token
        self.workdir = workdir
        self._pushed = 0
        self.shelf = Shelf(url, cache_dir=workdir / "cache", token=token)
        self.api = httpx.Client(
            base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def close(self) -> None:
        self.api.close()
        close = getattr(self.shelf.store, "close", None)
        if close is not None:
            close()

    def push(self, name: str, files: dict[str, bytes], message: str, model: dict[str, Any]) -> str:
        self._pushed += 1
        root = self.workdir / "trees" / str(self._pushed)
        manifest = self.shelf.push(
            _tree(root, files), name, message=message, progress=False, sections={"model": model}
        )
        return str(manifest.version)

    def put_notes(
        self, name: str, labels: dict[str, str], description: str, version: str | None = None
    ) -> dict[str, Any]:
        """Write notes through the registry's API (spec section 2), first record."""
        path = f"/assets/{name}/-/notes"
        if version is not None:
            path = f"/assets/{name}/-/versions/{version}/notes"
        answer = self.api.put(
            path, json={"labels": labels, "description": description, "expected_seq": 0}
        )
        answer.raise_for_status()
        record: dict[str, Any] = answer.json()
        return record

    def fill(self) -> None:
        for i, message in enumerate(_messages()):
            self.push(SENTIMENT, _sentiment_files(i), message, TORCH_MODEL)
        self.shelf.set_alias(f"{SENTIMENT}@production", "1.2")
        self.shelf.set_alias(f"{SENTIMENT}@candidate", "1.4")
        self.put_notes(
            SENTIMENT,
            {"team": "nlp", "gpu": ""},
            "Sentiment of product reviews, **English** only.\n\n" + HOSTILE_DESCRIPTION,
        )
        self.put_notes(SENTIMENT, {"stage": "candidate"}, "The release candidate.", version="1.4")

        for i in range(2):
            files = {"model.pt": f"intent {i}\n".encode() * 100, "README.md": b"# Intent\n"}
            self.push(INTENT, files, f"intent model {i}", TORCH_MODEL)
        self.shelf.set_alias(f"{INTENT}@production", "1.0")

        for i in range(2):
            files = {
                "model/model.onnx": f"onnx graph {i}\n".encode() * 500,
                "model/config/preprocess.json": b'{"resize": 256, "crop": 224}',
                "model/config/postprocess.json": b'{"top_k": 5}',
                "data/labels.txt": b"tench\ngoldfish\nwhite shark\n",
                "README.md": b"# ResNet-50\n\nImageNet classes, **onnx** export.\n",
            }
            self.push(RESNET, files, f"resnet export {i}", ONNX_MODEL)
        self.put_notes(RESNET, {"team": "vision"}, "Image classifier.")

        files = {
            "model.pt": b"private weights\n" * 100,
            "README.md": f"# Fraud\n\nCodename {PRIVATE_WORD}.\n".encode(),
        }
        self.push(PRIVATE, files, f"{PRIVATE_WORD} first model", TORCH_MODEL)
        self.shelf.set_alias(f"{PRIVATE}@production", "1.0")
        self.put_notes(PRIVATE, {"team": PRIVATE_WORD}, f"The {PRIVATE_WORD} model.")
