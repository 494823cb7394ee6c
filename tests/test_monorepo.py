"""A monorepo with one DVC stage per model (300 of them, a dvc.lock big enough to be read a stage
at a time): a registration speaks for its own stage, with its own metrics, and is judged on them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from helpers import git, gitreg, snapshot
from registry_helpers import forge, judge

from gitreg.lineage import dvcfile, pipeline, provenance
from gitreg.registry import Registry
from gitreg.store import yamlio
from gitreg.store.gitstore import Ident

N = 300
TRAIN = "import sys\nprint('training', sys.argv[1])\n"
PREPARE = "print('preparing')\n"


def md5(data: str | bytes) -> str:
    return hashlib.md5(data.encode() if isinstance(data, str) else data).hexdigest()


def name(k: int) -> str:
    return f"model-{k:04d}"


def metrics(k: int) -> str:
    return json.dumps({"accuracy": round(0.5 + k / 1000, 4), "loss": round(1 - k / 1000, 4)}) + "\n"


def write_monorepo(root: Path, epochs: int = 10) -> None:
    """What `dvc repro` leaves in a monorepo of N models, written out (DVC is not needed to read it)."""
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "metrics").mkdir(exist_ok=True)
    (root / "src/train.py").write_text(TRAIN)
    (root / "src/prepare.py").write_text(PREPARE)
    (root / "params.yaml").write_text(f"train:\n  epochs: {epochs}\n")
    prepared = {"path": "data/prepared", "hash": "md5", "md5": md5("prepared") + ".dir", "nfiles": 2}
    lock: dict = {
        "prepare": {
            "cmd": "python src/prepare.py",
            "deps": [
                {"path": "data/raw.csv", "hash": "md5", "md5": md5("raw"), "size": 3},
                {"path": "src/prepare.py", "hash": "md5", "md5": md5(PREPARE), "size": len(PREPARE)},
            ],
            "outs": [prepared],
        }
    }
    spec: dict = {
        "prepare": {
            "cmd": "python src/prepare.py",
            "deps": ["src/prepare.py", "data/raw.csv"],
            "outs": ["data/prepared"],
        }
    }
    artifacts = {}
    for k in range(N):
        n = name(k)
        text = metrics(k)
        (root / f"metrics/{n}.json").write_text(text)
        spec[f"train-{n}"] = {
            "cmd": f"python src/train.py {n}",
            "deps": ["src/train.py", "data/prepared"],
            "params": ["train"],
            "outs": [f"models/{n}.pkl"],
            "metrics": [{f"metrics/{n}.json": {"cache": False}}],
        }
        lock[f"train-{n}"] = {
            "cmd": f"python src/train.py {n}",
            "deps": [
                dict(prepared),
                {"path": "src/train.py", "hash": "md5", "md5": md5(TRAIN), "size": len(TRAIN)},
            ],
            "params": {"params.yaml": {"train": {"epochs": epochs}}},
            "outs": [
                {"path": f"models/{n}.pkl", "hash": "md5", "md5": md5(f"{n}/{epochs}"), "size": 400 + k},
                {"path": f"metrics/{n}.json", "hash": "md5", "md5": md5(text), "size": len(text)},
            ],
        }
        artifacts[n] = {"path": f"models/{n}.pkl", "type": "model"}
    (root / "dvc.yaml").write_text(yamlio.dump({"stages": spec, "artifacts": artifacts}))
    (root / "dvc.lock").write_text(yamlio.dump({"schema": "2.0", "stages": lock}))


@pytest.fixture
def monorepo(tmp_path) -> Path:
    root = tmp_path / "mono"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write_monorepo(root)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "train every model")
    assert gitreg(root, "init").returncode == 0
    return root


def test_the_lock_is_big_enough_to_be_read_a_stage_at_a_time(monorepo):
    pipe = pipeline.read(Registry.open(monorepo).store, git(monorepo, "rev-parse", "main"))
    assert isinstance(pipe.stages, dvcfile.Section) and len(pipe.stages) == N + 1
    assert isinstance(pipe.dvc_yaml["artifacts"], dvcfile.Section)


def test_a_model_is_registered_with_its_own_stage_and_its_own_metrics(monorepo, card_file):
    proc = gitreg(monorepo, "register", name(123), "--card", str(card_file), "--no-sign")
    assert proc.returncode == 0, proc.stderr
    card = Registry.open(monorepo).view().card(name(123), "1.0.0")
    prov = card["provenance"]
    assert prov["pipeline"]["stage"] == f"train-{name(123)}"
    assert prov["pipeline"]["stages"] == ["prepare", f"train-{name(123)}"]
    assert prov["artifact"]["md5"] == md5(f"{name(123)}/10")
    assert prov["params"] == {"params.yaml": {"train": {"epochs": 10}}}
    got = {m["source"]["key"]: (m["value"], m["source"]["file"]) for m in card["evaluation"][0]["metrics"]}
    # Not the first model's numbers: without --metrics, the metrics of the model's own stage.
    assert got == {
        "accuracy": (0.623, f"metrics/{name(123)}.json"),
        "loss": (0.877, f"metrics/{name(123)}.json"),
    }
    check = gitreg(monorepo, "check", "--base", "gitreg~1", "--head", "gitreg")
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_stale_stage_holds_up_its_own_model_and_no_other(monorepo, card_file):
    metrics_7 = monorepo / f"metrics/{name(7)}.json"
    metrics_7.write_text(json.dumps({"accuracy": 0.999, "loss": 0.0}) + "\n")  # edited by hand
    git(monorepo, "commit", "-qam", "better numbers for model 7")
    before = snapshot(monorepo)
    proc = gitreg(monorepo, "register", name(7), "--card", str(card_file), "--no-sign")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"dvc.lock is stale for stage train-{name(7)}" in proc.stderr
    assert snapshot(monorepo) == before
    proc = gitreg(monorepo, "register", name(8), "--card", str(card_file), "--no-sign")
    assert proc.returncode == 0, proc.stderr


def test_a_forged_card_is_judged_against_the_stage_it_names(monorepo, card_file):
    """A card that claims another model's artifact md5 for its own stage is found, though the lock
    is read a stage at a time."""
    assert gitreg(monorepo, "register", name(5), "--card", str(card_file), "--no-sign").returncode == 0
    reg = Registry.open(monorepo)
    card = reg.view().card(name(5), "1.0.0")
    card["provenance"]["artifact"]["md5"] = md5(f"{name(6)}/10")
    card["version"] = "1.0.1"
    head = forge(reg, card, "1.0.1")
    rules = {f.rule for f in judge(reg, head).findings}
    assert "lineage.artifact" in rules


def test_the_split_read_and_the_whole_read_give_the_same_evidence(monorepo, monkeypatch):
    store = Registry.open(monorepo).store
    commit = git(monorepo, "rev-parse", "main")
    ident = Ident("Ada", "ada@example.com", 1_700_000_000, 0)

    def evidence(model: str) -> tuple:
        found = provenance.collect(
            store, model, commit, artifact=None, metrics_file=None, image=None, ident=ident
        )
        return found.provenance, found.metrics, found.key_index(), found.files()

    split = [evidence(name(k)) for k in (0, 42, N - 1)]
    monkeypatch.setattr(dvcfile, "LAZY_MIN_BYTES", 1 << 30)  # every file parsed whole, as before
    assert not isinstance(pipeline.read(store, commit).stages, dvcfile.Section)
    assert [evidence(name(k)) for k in (0, 42, N - 1)] == split


def test_a_card_cannot_dodge_its_stale_stage_by_naming_a_fresh_one(monorepo, card_file):
    """Freshness covers the stages a card names. A teammate whose model's stage is stale forges a
    card that names another model's fresh stage: the stage its artifact and metrics come from is
    still judged (and the claimed stage does not make the artifact)."""
    assert gitreg(monorepo, "register", name(8), "--card", str(card_file), "--no-sign").returncode == 0
    reg = Registry.open(monorepo)
    honest = reg.view().card(name(8), "1.0.0")
    metrics_7 = monorepo / f"metrics/{name(7)}.json"
    metrics_7.write_text(json.dumps({"accuracy": 0.999, "loss": 0.0}) + "\n")  # edited by hand
    git(monorepo, "commit", "-qam", "better numbers for model 7")
    stale = git(monorepo, "rev-parse", "HEAD")
    forged = json.loads(json.dumps(honest).replace(name(8), name(7)))
    forged["provenance"]["source"] = {
        "commit": stale,
        "tree": git(monorepo, "rev-parse", f"{stale}^{{tree}}"),
    }
    forged["provenance"]["pipeline"]["stage"] = f"train-{name(8)}"  # the fresh stage, named instead
    forged["provenance"]["pipeline"]["stages"] = ["prepare", f"train-{name(8)}"]
    for metric in forged["evaluation"][0]["metrics"]:
        metric["value"] = {"accuracy": 0.999, "loss": 0.0}[metric["source"]["key"]]
    rules = {f.rule for f in judge(reg, forge(reg, forged, "1.0.0", source=stale)).findings}
    assert "lineage.fresh" in rules  # train-model-0007 writes the metrics: its staleness is found
    assert rules & {"lineage.artifact", "lineage.pipeline"}  # and the named stage is not the artifact's
