#!/usr/bin/env bash
# The main job end to end on the embedded local store: push, push again, alias, pull, verify.
# Everything lives under ./.demo so that the demo never touches your own store or cache.
set -euo pipefail
root="$(pwd)/.demo"
rm -rf "$root"
mkdir -p "$root/model/tokenizer"
export MODELSHELF_STORE="file://$root/store"
export MODELSHELF_CACHE_DIR="$root/cache"

run() { printf '\n$ %s\n' "$*"; "$@"; }

# A small stand-in model: weights, config and a tokenizer folder.
python - "$root/model" <<'PY'
import json, os, sys
root = sys.argv[1]
with open(os.path.join(root, "weights.bin"), "wb") as f:
    f.write(os.urandom(4 * 1024 * 1024))
with open(os.path.join(root, "config.json"), "w") as f:
    json.dump({"labels": ["negative", "positive"], "hidden": 128}, f)
with open(os.path.join(root, "tokenizer", "vocab.txt"), "w") as f:
    f.write("\n".join(["[PAD]", "[UNK]", "good", "bad", "movie"]) + "\n")
PY

run modelshelf push "$root/model" nlp/sentiment -m "first model" --meta dataset=imdb
echo "retrained" > "$root/model/NOTES.txt"
run modelshelf push "$root/model" nlp/sentiment -m "with notes"
run modelshelf ls
run modelshelf versions nlp/sentiment
run modelshelf alias set nlp/sentiment@production 1.0
run modelshelf show nlp/sentiment@production
snapshot=$(modelshelf pull nlp/sentiment:1 --quiet)
run modelshelf pull nlp/sentiment:1
run modelshelf pull nlp/sentiment@production -o "$root/checkout"
run modelshelf pull nlp/sentiment:1.0/tokenizer/vocab.txt
run modelshelf diff nlp/sentiment:1.0 nlp/sentiment:1.1
run modelshelf label set nlp/sentiment team=nlp stage=candidate --description "Sentiment of movie reviews."
run modelshelf label ls nlp/sentiment
run modelshelf log nlp/sentiment

printf '\n$ diff -r model <pulled latest>  (byte-for-byte check)\n'
diff -r "$root/model" "$snapshot"
echo "identical"
run modelshelf verify nlp/sentiment@production
printf '\n$ rm -rf <pulled latest> && modelshelf pull nlp/sentiment:1   (a warm pull heals it)\n'
rm -rf "$snapshot"
modelshelf pull nlp/sentiment:1
diff -r "$root/model" "$snapshot" && echo "healed, identical"
run modelshelf cache ls
run modelshelf cache verify
printf '\n$ MODELSHELF_OFFLINE=1 modelshelf pull nlp/sentiment@production\n'
MODELSHELF_OFFLINE=1 modelshelf pull nlp/sentiment@production
printf '\n$ modelshelf push model nlp/sentiment:1.0   (must fail: versions never change)\n'
if modelshelf push "$root/model" nlp/sentiment:1.0; then
  echo "BUG: overwrote an existing version" >&2; exit 1
fi
# A model: a runner class in an importable module, registered, then loaded and asked.
mkdir -p "$root/code"
cat > "$root/code/demo_runners.py" <<'PY'
import json
from pathlib import Path

import modelshelf


class Linear(modelshelf.Runner):
    """y = a*x + b, its weights saved as JSON."""

    engine = "linear-json"

    @staticmethod
    def save_model(model, folder: Path):
        (folder / "weights.json").write_text(json.dumps(model))
        return {"weights": "weights.json"}

    @staticmethod
    def load_model(props, artifacts):
        return json.loads((artifacts["model"] / props["weights"]).read_text())

    @staticmethod
    def predict(model, rows):
        return [model["a"] * x + model["b"] for x in rows]
PY
export PYTHONPATH="$root/code${PYTHONPATH:+:$PYTHONPATH}"
register='import modelshelf, demo_runners; m = modelshelf.register_model("demo/linear", demo_runners.Linear, {"a": 2, "b": 1}); print(f"{m.name}:{m.version}")'
run python -c "$register"
echo "[1, 2, 3]" > "$root/rows.json"
# A store names the runner; modelshelf imports it only from a package that requires modelshelf
# or that you allow: demo_runners is a plain module, so it is refused until allowed.
printf '\n$ modelshelf predict demo/linear --input rows.json   (must fail: demo_runners is not allowed yet)\n'
if modelshelf predict demo/linear --input "$root/rows.json"; then
  echo "BUG: imported a runner from a package nobody allowed" >&2; exit 1
fi
printf '\n$ export MODELSHELF_ALLOWED_HOOK_PACKAGES=demo_runners\n'
export MODELSHELF_ALLOWED_HOOK_PACKAGES=demo_runners
run modelshelf predict demo/linear --input "$root/rows.json"
predicted=$(modelshelf predict demo/linear --input "$root/rows.json" | tr -d ' \n')
[ "$predicted" = "[3,5,7]" ] || { echo "BUG: expected [3,5,7], got $predicted" >&2; exit 1; }

# Serve it over HTTP (our JSON face and the Open Inference Protocol), ask it, stop it.
port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf '\n$ modelshelf serve demo/linear --port %s &\n' "$port"
modelshelf serve demo/linear --port "$port" --no-access-log 2>"$root/serve.log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
python - "$port" <<'PY'
import json, sys, time, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
for _ in range(300):
    try:
        urllib.request.urlopen(base + "/ready", timeout=1)
        break
    except OSError:
        time.sleep(0.1)
def post(path, body):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read()), response.headers
answer, headers = post("/predict", [1, 2, 3])
print(f"$ POST /predict [1, 2, 3]  ->  {answer}  (version {headers['X-Model-Version']})")
assert answer == [3, 5, 7], answer
tensor = {"inputs": [{"name": "x", "shape": [3], "datatype": "FP32", "data": [1, 2, 3]}]}
answer, _ = post("/v2/models/linear/infer", tensor)
print(f"$ POST /v2/models/linear/infer  ->  {answer['outputs'][0]['data']}"
      f"  (model {answer['model_name']}, version {answer['model_version']})")
assert answer["outputs"][0]["data"] == [3, 5, 7], answer
PY
kill -TERM "$server" && wait "$server" || true
trap - EXIT

printf '\ndemo finished: store in %s, cache in %s\n' "$root/store" "$root/cache"
