#!/usr/bin/env python3
"""Build a synthetic gitreg registry of M models x V versions, fast, for benchmarks.

    python benchmarks/make_registry.py M V DIR [--batch N] [--validate] [--verify-pack] [--repack]

DIR becomes a git + DVC-style monorepo:

- `main`: V + 1 source commits. Commit i retrains every model (dvc.yaml with one
  `train-NAME` stage per model, dvc.lock with md5s, params.yaml, committed
  metrics/NAME.json). Version i of every model was registered from commit i;
  the last commit is trained but not registered (register benchmarks use it).
- `gitreg`: the registry branch as `gitreg register` and promotions write it:
  registry.yaml (the default policy), models/NAME/model.yaml, versions/X.yaml
  cards (valid against the card and the production card schemas; one is
  compared byte for byte with what `register` builds), versions/X.tag
  records, stages.yaml. History: one commit per batch of registrations, and
  promotions as a proposal commit merged into the branch.
- Tags: an annotated registration tag NAME@vX.Y.Z on each source commit whose
  message carries the card digest as gitreg writes it, and GTO stage tags
  NAME#STAGE#N for every stage assignment, so GTO sees the same registry.

Speed: objects are made in memory and written straight into one pack
(objects.py), grouped by type as git writes a pack; each version of a card,
of a versions/ tree, of the models/ tree and of dvc.lock is stored as a delta
against the next one, the newest whole, as a gc'ed repository stores them. So
no `git index-pack` or `repack -adf` runs: the pack's index is written here
too (tests compare it with git's byte for byte and run `git fsck --full`;
`--verify-pack` has git index the pack again and compares). Refs go into one
packed-refs file; YAML and JSON of repeated shapes are dumped once per shape
and filled in (fastyaml.py; samples are checked against yamlio). 10,000 x 25
(1.7 million objects, a 380 MB pack) builds in about 2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from fastyaml import CanonicalTemplate, NeedsFullDump, Template  # noqa: E402
from objects import BLOB_MODE, TREE_MODE, ObjectWriter, Tree, write_file  # noqa: E402
from synthetic import (  # noqa: E402
    CARD_LEAVES,
    DOMAINS,
    ENGINEERS,
    LOCK_LEAVES,
    MODEL_LEAVES,
    RAW_MD5,
    RAW_SIZE,
    SOURCE_FILES,
    STAGE_KEY,
    T0,
    WEEK,
    md5,
    narrative,
    version_of,
)

from gitreg.model import card as cards  # noqa: E402
from gitreg.model.policy import DEFAULT_POLICY  # noqa: E402
from gitreg.ops.register import (  # noqa: E402
    ALLOWED_SIGNERS_HEADER,
    REGISTRY_README,
    TAG_TRAILER,
    model_meta,
)
from gitreg.store import layout, yamlio  # noqa: E402
from gitreg.store.gitstore import format_time  # noqa: E402

CHECKED = 50  # models whose dvc.yaml and dvc.lock text is compared with yamlio.dump


def blob(oid: str) -> tuple[str, str]:
    return (BLOB_MODE, oid)


def tree(oid: str) -> tuple[str, str]:
    return (TREE_MODE, oid)


class Builder:
    def __init__(self, m: int, v: int, batch: int, pack_dir: Path):
        self.m, self.v, self.batch = m, v, batch
        self.w = ObjectWriter(pack_dir)
        self.names = [f"{DOMAINS[k % len(DOMAINS)][0]}-{k:04d}" for k in range(m)]
        self.index = {n: k for k, n in enumerate(self.names)}
        self.clock = T0
        self.refs: dict[str, tuple[str, str | None]] = {}  # ref -> (oid, peeled commit)
        self.sources: list[dict] = []
        self.samples: list[tuple[dict, str, str]] = []  # card, text, digest: checked against yamlio

    def tick(self, seconds: int = 60) -> int:
        self.clock += seconds
        return self.clock

    # --- main: the source commits -------------------------------------------------------

    def source_commits(self) -> None:
        w = self.w
        dirs: dict[str, dict] = {}
        top: dict[str, tuple[str, str]] = {}
        for path, text in SOURCE_FILES.items():
            d, _, f = path.rpartition("/")
            (dirs.setdefault(d, {}) if d else top)[f] = blob(w.blob(text))
        for d, entries in dirs.items():
            top[d] = tree(w.tree(entries))
        top["dvc.yaml"] = blob(w.blob(self.dvc_yaml(self.names)))
        train_src = SOURCE_FILES["src/train.py"]
        lock_tpl = None
        first = b""
        parent: list[str] = []
        for i in range(self.v + 1):
            params = {
                "prepare": {"seed": 7, "test_fraction": 0.25},
                "train": {
                    "epochs": 100 + 10 * i,
                    "learning_rate": round(0.05 + 0.01 * (i % 5), 3),
                    "l2": 0.001,
                },
            }
            prepared = {
                "path": "data/prepared",
                "hash": "md5",
                "md5": md5(f"prep{i}") + ".dir",
                "size": 174994 + i,
                "nfiles": 2,
            }
            prepare = {
                "cmd": "python src/prepare.py",
                "deps": [
                    {"path": "data/raw.csv", "hash": "md5", "md5": RAW_MD5, "size": RAW_SIZE},
                    {
                        "path": "src/prepare.py",
                        "hash": "md5",
                        "md5": md5(SOURCE_FILES["src/prepare.py"]),
                        "size": len(SOURCE_FILES["src/prepare.py"]),
                    },
                ],
                "params": {"params.yaml": {"prepare": dict(params["prepare"])}},
                "outs": [dict(prepared)],
            }
            lock_parts = [yamlio.dump({"schema": "2.0", "stages": {"prepare": prepare}}).encode()]
            metric_files: dict[str, tuple[str, str]] = {}
            outs = {}
            # The fast text is compared with yamlio.dump for the first models of the first run.
            full_lock = {"schema": "2.0", "stages": {"prepare": prepare}} if i == 0 else None
            for k, n in enumerate(self.names):
                metrics = {
                    "accuracy": round(0.80 + ((k * 7 + i * 3) % 17) / 100, 4),
                    "fairness": {"demographic_parity_gap": round(0.01 + (k + i) % 5 / 100, 4)},
                    "roc_auc": round(0.85 + ((k * 3 + i * 5) % 13) / 100, 4),
                }
                mtext = metrics_json(metrics)
                if i == 0 and mtext != json.dumps(metrics, indent=2) + "\n":
                    raise SystemExit("fast metrics JSON differs from json.dumps")
                metric_files[f"{n}.json"] = blob(w.blob(mtext))
                art = {
                    "path": f"models/{n}.json",
                    "hash": "md5",
                    "md5": md5(f"{n}/{i}"),
                    "size": 400 + (k + i) % 300,
                }
                outs[n] = (art, metrics)
                mpath, mmd5 = f"metrics/{n}.json", md5(mtext)
                leaves = [f"python src/train.py {n}", prepared["md5"], prepared["size"]]
                leaves += [params["train"]["epochs"], params["train"]["learning_rate"]]
                leaves += [art["path"], art["md5"], art["size"], mpath, mmd5, len(mtext)]
                if lock_tpl is None or (full_lock is not None and k < CHECKED):
                    stage = {
                        "cmd": f"python src/train.py {n}",
                        "deps": [
                            dict(prepared),
                            {
                                "path": "src/train.py",
                                "hash": "md5",
                                "md5": md5(train_src),
                                "size": len(train_src),
                            },
                        ],
                        "params": {"params.yaml": {"train": dict(params["train"])}},
                        "outs": [art, {"path": mpath, "hash": "md5", "md5": mmd5, "size": len(mtext)}],
                    }
                    value = {"stages": {STAGE_KEY: stage}}
                    if lock_tpl is None:
                        lock_tpl = Template(value, [("stages", STAGE_KEY, *p) for p in LOCK_LEAVES])
                        # The text before the first leaf, without 'stages:' and the stage's key.
                        first = lock_tpl.parts[0].split(b"\n", 1)[1][len(STAGE_KEY) + 3 :]
                    if typed(lock_tpl.leaves(value)) != typed(leaves):
                        raise SystemExit(f"the dvc.lock leaves of {n} are not what its stage holds")
                    if full_lock is not None:
                        full_lock["stages"][f"train-{n}"] = stage
                # One stage block, as it sits under 'stages:'.
                pieces = lock_tpl.pieces(leaves)
                pieces[0] = b"  train-%s:%s" % (n.encode(), first)
                lock_parts.append(b"".join(pieces))
            lock_text = b"".join(lock_parts)
            if full_lock is not None and b"".join(lock_parts[: CHECKED + 1]).decode() != yamlio.dump(
                full_lock
            ):
                raise SystemExit("fast dvc.lock differs from yamlio.dump")
            entries = dict(top)
            entries["dvc.lock"] = blob(w.blob(lock_text, chain="dvc.lock"))
            entries["params.yaml"] = blob(w.blob(yamlio.dump(params)))
            entries["metrics"] = tree(w.tree(metric_files, chain="metrics"))
            root = w.tree(entries)
            commit = w.commit(
                root, parent, ENGINEERS[i % 2], T0 + i * WEEK, f"Retrain all models (run {i + 1})\n"
            )
            parent = [commit]
            self.sources.append(
                {
                    "commit": commit,
                    "tree": root,
                    "params": params,
                    "lock_digest": hashlib.sha256(lock_text).hexdigest(),
                    "prepared": prepared,
                    "outs": outs,
                }
            )
        self.refs["refs/heads/main"] = (parent[0], None)

    def dvc_yaml(self, names: list[str]) -> str:
        """The monorepo's dvc.yaml: a train stage and an artifact per model. PyYAML takes seconds
        for 10,000 of each: each block is dumped once per shape with a stand-in name, and the
        text for the first models is compared with yamlio.dump."""
        prepare = {
            "cmd": "python src/prepare.py",
            "deps": ["src/prepare.py", "data/raw.csv"],
            "params": ["prepare"],
            "outs": ["data/prepared"],
        }

        def stage(n: str) -> dict:
            return {
                "cmd": f"python src/train.py {n}",
                "deps": ["src/train.py", "data/prepared"],
                "params": ["train"],
                "outs": [f"models/{n}.json"],
                "metrics": [{f"metrics/{n}.json": {"cache": False}}],
            }

        def artifact(n: str) -> dict:
            desc = DOMAINS[self.index[n] % len(DOMAINS)][1].rstrip(".")
            return {"path": f"models/{n}.json", "type": "model", "desc": desc}

        def block(key: str, value: dict) -> str:  # 'key:' and its value, as under a section
            return yamlio.dump({"section": {key: value}}).split("\n", 1)[1]

        mark = "zqnamezq"
        train = block(f"train-{mark}", stage(mark))
        artifacts = {
            desc: block(mark, artifact(n) | {"path": f"models/{mark}.json"})
            for n in names[:10]
            for desc in [artifact(n)["desc"]]
        }

        def fast(names: list[str]) -> str:
            return "".join(
                [
                    "stages:\n",
                    block("prepare", prepare),
                    *[train.replace(mark, n) for n in names],
                    "artifacts:\n",
                    *[artifacts[artifact(n)["desc"]].replace(mark, n) for n in names],
                ]
            )

        head = names[:CHECKED]
        full = {"stages": {"prepare": prepare, **{f"train-{n}": stage(n) for n in head}}}
        full["artifacts"] = {n: artifact(n) for n in head}
        if fast(head) != yamlio.dump(full):
            raise SystemExit("fast dvc.yaml differs from yamlio.dump")
        return fast(names)

    # --- gitreg: the registry branch -----------------------------------------------------

    def card(self, name: str, i: int, who: tuple[str, str], when: int) -> dict:
        src = self.sources[i]
        art, metrics = src["outs"][name]
        stage = f"train-{name}"
        flat = {
            "accuracy": metrics["accuracy"],
            "fairness.demographic_parity_gap": metrics["fairness"]["demographic_parity_gap"],
            "roc_auc": metrics["roc_auc"],
        }
        card = {"name": name, "version": version_of(i), **narrative(self.index[name])}
        card["evaluation"] = [
            {
                "task": {"type": "model"},
                "metrics": [
                    {"type": key, "value": value, "source": {"file": f"metrics/{name}.json", "key": key}}
                    for key, value in flat.items()
                ],
            }
        ]
        prep = src["prepared"]
        requirements = hashlib.sha256(SOURCE_FILES["requirements.txt"].encode()).hexdigest()
        card["provenance"] = {
            "source": {"commit": src["commit"], "tree": src["tree"]},
            "pipeline": {
                "tool": "dvc",
                "lock_digest": src["lock_digest"],
                "stage": stage,
                "stages": ["prepare", stage],
            },
            "artifact": {
                "path": art["path"],
                "md5": art["md5"],
                "hash": "md5",
                "size": art["size"],
                "stage": stage,
            },
            "data": [
                {"path": "data/raw.csv", "md5": RAW_MD5, "hash": "md5", "size": RAW_SIZE, "stage": "prepare"},
                {
                    "path": prep["path"],
                    "md5": prep["md5"],
                    "hash": "md5",
                    "size": prep["size"],
                    "nfiles": prep["nfiles"],
                    "stage": stage,
                },
            ],
            "params": {
                "params.yaml": {
                    "prepare": dict(src["params"]["prepare"]),
                    "train": dict(src["params"]["train"]),
                }
            },
            "environment": {
                "python": "3.11",
                "pins": [{"path": "requirements.txt", "kind": "pip", "sha256": requirements}],
                "lock_file": {"path": "requirements.txt", "sha256": requirements},
            },
            "registered_by": {"name": who[0], "email": who[1]},
            "registered_at": format_time(when, 0),
        }
        return card

    def leaves(self, name: str, i: int, who: tuple[str, str], when: int) -> list:
        """What card() holds at CARD_LEAVES, without building the card (compared with card() for
        each model's first card and for samples)."""
        src = self.sources[i]
        art, metrics = src["outs"][name]
        prep, train = src["prepared"], src["params"]["train"]
        return [
            version_of(i),
            metrics["accuracy"],
            metrics["fairness"]["demographic_parity_gap"],
            metrics["roc_auc"],
            src["commit"],
            src["tree"],
            src["lock_digest"],
            art["md5"],
            art["size"],
            prep["md5"],
            prep["size"],
            train["epochs"],
            train["learning_rate"],
            who[0],
            who[1],
            format_time(when, 0),
            name,
            *[f"metrics/{name}.json"] * 3,
            f"train-{name}",
            f"train-{name}",
            art["path"],
            f"train-{name}",
            f"train-{name}",
        ]

    def registry(self) -> None:
        w = self.w
        self.root_entries = {
            layout.POLICY_PATH: blob(w.blob(DEFAULT_POLICY)),
            "README.md": blob(w.blob(REGISTRY_README)),
            "signers": tree(w.tree({"allowed_signers": blob(w.blob(ALLOWED_SIGNERS_HEADER))})),
        }
        self.models = Tree({".gitkeep": blob(w.blob(b""))})  # models/
        self.versions = {n: Tree() for n in self.names}  # models/NAME/versions/
        self.model_yaml: dict[str, str] = {}
        self.stage_blob: dict[str, str] = {}
        self.stages: dict[str, dict[str, list[str]]] = {n: {} for n in self.names}
        self.gto_counter = dict.fromkeys(self.names, 0)
        # Cards and model.yaml of one domain differ only in leaves: one template per domain.
        self.shape = {n: repr(narrative(self.index[n])) for n in self.names}
        self.card_tpl: dict[str, tuple[Template, CanonicalTemplate]] = {}
        self.meta_tpl: dict[str, Template] = {}
        self.round_of = {version_of(i): i for i in range(self.v)}
        self.clock = T0 + 1800
        self.head = w.commit(
            self.root(),
            [],
            ENGINEERS[0],
            self.clock,
            f"Initialize the gitreg registry\n\n{TAG_TRAILER}-format: {layout.FORMAT_VERSION}\n",
        )
        for i in range(self.v):
            self.clock = max(self.clock, T0 + i * WEEK + 3600)
            self.register_round(i)
            if i % 4 == 3:
                self.promote_round(i, "production")
            if i % 2 == 1 or i == self.v - 1:
                self.promote_round(i, "staging")
        self.refs[layout.branch_ref(layout.DEFAULT_BRANCH)] = (self.head, None)

    def root(self) -> str:
        return self.w.tree({**self.root_entries, "models": tree(self.w.tree(self.models, chain="models"))})

    def update_models(self, changed: list[str]) -> None:
        for n in changed:
            entries = {
                "model.yaml": blob(self.model_yaml[n]),
                "versions": tree(self.w.tree(self.versions[n], chain=f"versions/{n}")),
            }
            if n in self.stage_blob:
                entries["stages.yaml"] = blob(self.stage_blob[n])
            self.models.set(n, TREE_MODE, self.w.tree(entries))

    def register_round(self, i: int) -> None:
        ver = version_of(i)
        for start in range(0, self.m, self.batch):
            batch = self.names[start : start + self.batch]
            who = ENGINEERS[(i + start) % len(ENGINEERS)]
            trailers = []
            for name in batch:
                when = self.tick(5)
                leaves = self.leaves(name, i, who, when)
                new = name not in self.model_yaml
                sample = len(self.samples) < 40 or (i in (self.v // 2, self.v - 1) and name == batch[-1])
                card = self.card(name, i, who, when) if new or sample else None
                shape = self.shape[name]
                tpl = self.card_tpl.get(shape)
                if tpl is None:
                    tpl = self.card_tpl[shape] = (
                        Template(card, CARD_LEAVES),
                        CanonicalTemplate(card, CARD_LEAVES),
                    )
                if card is not None and typed(tpl[0].leaves(card)) != typed(leaves):
                    raise SystemExit(f"leaves() of {name}@{version_of(i)} is not what card() holds")
                try:  # the card as pieces: the text between its leaves, and the leaves
                    pieces = tpl[0].pieces(leaves)
                    canonical = b"".join(tpl[1].pieces(leaves))
                except NeedsFullDump:
                    card = card or self.card(name, i, who, when)
                    pieces = yamlio.dump(card).encode().splitlines(keepends=True)
                    canonical = yamlio.canonical(card)
                digest = hashlib.sha256(canonical).hexdigest()
                if sample:
                    self.samples.append((card, b"".join(pieces).decode(), digest))
                tag = layout.tag_name(name, ver)
                source = self.sources[i]["commit"]
                tag_id = self.w.tag(
                    tag,
                    source,
                    who,
                    when,
                    cards.tag_message(name, ver, digest),
                )
                self.refs[f"refs/tags/{tag}"] = (tag_id, source)
                versions = self.versions[name]
                versions.set(f"{ver}.yaml", BLOB_MODE, self.w.add("blob", pieces, chain=f"card/{name}"))
                versions.set(f"{ver}.tag", BLOB_MODE, self.w.blob(f"tag: {tag}\nobject: {tag_id}\n"))
                if new:  # model.yaml, from the model's first card
                    meta = model_meta(name, card)
                    meta_tpl = self.meta_tpl.get(shape)
                    if meta_tpl is None:
                        meta_tpl = self.meta_tpl[shape] = Template(meta, MODEL_LEAVES)
                    text = meta_tpl.dump(meta)
                    if sample and text != yamlio.dump(meta):
                        raise SystemExit(f"fast model.yaml of {name} differs")
                    self.model_yaml[name] = self.w.blob(text)
                trailers.append(f"{TAG_TRAILER}: {tag} {tag_id}")
            self.update_models(batch)
            self.head = self.w.commit(
                self.root(),
                [self.head],
                who,
                self.tick(),
                f"Register {len(batch)} versions ({batch[0]}..{batch[-1]} v{ver})\n\n"
                + "\n".join(trailers)
                + "\n",
            )

    def promote_round(self, i: int, stage: str) -> None:
        ver = version_of(i)
        for start in range(0, self.m, self.batch):
            changed, assigned = [], []
            for name in self.names[start : start + self.batch]:
                st = self.stages[name]
                if stage == "staging":
                    for old in st.pop("staging", []):
                        st.setdefault("archived", []).append(old)
                        assigned.append((name, old, "archived"))
                    st["staging"] = [ver]
                    assigned.append((name, ver, "staging"))
                else:
                    if self.index[name] % 7 == 6 or not st.get("staging"):
                        continue  # some models never reach production
                    candidate = st["staging"].pop()
                    if not st["staging"]:
                        del st["staging"]
                    for old in st.pop("production", []):
                        st.setdefault("archived", []).append(old)
                        assigned.append((name, old, "archived"))
                    st["production"] = [candidate]
                    assigned.append((name, candidate, "production"))
                ordered = {s: st[s] for s in ("staging", "production", "archived") if st.get(s)}
                self.stages[name] = ordered
                text = "".join(f"{s}:\n" + "".join(f"- {v}\n" for v in vs) for s, vs in ordered.items())
                self.stage_blob[name] = self.w.blob(text)
                changed.append(name)
            if not changed:
                continue
            who = ENGINEERS[(i + start + 1) % 3]
            self.update_models(changed)
            root = self.root()
            proposal = self.w.commit(
                root,
                [self.head],
                who,
                self.tick(),
                f"Promote {len(changed)} models to {stage} ({changed[0]}..{changed[-1]})\n",
            )
            approver = ENGINEERS[3]
            self.head = self.w.commit(
                root,
                [self.head, proposal],
                approver,
                self.tick(),
                f"Merge proposal: {len(changed)} models to {stage}\n",
            )
            for name, v, st_name in assigned:
                self.gto_counter[name] += 1
                target = self.sources[self.round_of[v]]["commit"]
                tag = f"{name}#{st_name}#{self.gto_counter[name]}"
                tag_id = self.w.tag(
                    tag,
                    target,
                    approver,
                    self.clock,
                    f"Assigning stage '{st_name}' to artifact '{name}' version 'v{v}'\n",
                )
                self.refs[f"refs/tags/{tag}"] = (tag_id, target)

    def write_refs(self, git_dir: Path) -> None:
        lines = ["# pack-refs with: peeled fully-peeled sorted \n"]
        for ref in sorted(self.refs, key=lambda r: r.encode()):
            oid, peeled = self.refs[ref]
            lines.append(f"{oid} {ref}\n")
            if peeled:
                lines.append(f"^{peeled}\n")
        write_file(git_dir / "packed-refs", "".join(lines).encode())


def typed(values: list) -> list[tuple[type, object]]:
    return [(v.__class__, v) for v in values]


def metrics_json(metrics: dict) -> str:
    """json.dumps(metrics, indent=2) + newline, for the one shape the benchmark writes."""
    return (
        f'{{\n  "accuracy": {metrics["accuracy"]!r},\n  "fairness": {{\n'
        f'    "demographic_parity_gap": {metrics["fairness"]["demographic_parity_gap"]!r}\n  }},\n'
        f'  "roc_auc": {metrics["roc_auc"]!r}\n}}\n'
    )


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


def build(
    m: int,
    v: int,
    root: Path,
    *,
    batch: int | None = None,
    repack: bool = False,
    validate: bool = False,
    verify_pack: bool = False,
    say=print,
) -> dict:
    t0 = time.perf_counter()
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    for key, value in (
        ("user.name", ENGINEERS[0][0]),
        ("user.email", ENGINEERS[0][1]),
        ("gc.auto", "0"),
        ("core.logAllRefUpdates", "false"),
    ):
        git(root, "config", key, value)
    b = Builder(m, v, batch or max(10, m // 10), root / ".git" / "objects" / "pack")
    phases: dict[str, float] = {}

    def phase(name: str, since: float) -> float:
        now = time.perf_counter()
        phases[name] = now - since
        return now

    b.source_commits()
    t = phase("source", t0)
    b.registry()
    t = phase("registry", t)
    pack = b.w.finish()
    b.write_refs(root / ".git")
    t = phase("pack", t)
    if verify_pack:  # git reads every object again and must write the same index
        theirs = pack.with_name("verify.idx")
        git(root, "index-pack", "--threads=2", "-o", str(theirs), str(pack))
        same = theirs.read_bytes() == pack.with_suffix(".idx").read_bytes()
        theirs.unlink()
        if not same:
            raise SystemExit(f"git index-pack writes another index for {pack}")
        t = phase("verify-pack", t)
    if repack:  # git's own deltas instead, to compare with
        git(root, "repack", "-adfq", "--window=10", "--depth=50")
        t = phase("repack", t)
    git(root, "reset", "-q", "--hard", "main")
    t = phase("checkout", t)
    self_check(root, b, validate)
    phase("self-check", t)
    tags = sum(1 for r in b.refs if r.startswith("refs/tags/"))
    say(
        f"built {m}x{v} in {root}: {len(b.w)} objects ({b.w.deltas} deltas), {tags} tags; "
        + ", ".join(f"{k} {val:.1f} s" for k, val in phases.items())
        + f"; total {time.perf_counter() - t0:.1f} s"
    )
    production = [n for n in b.names if b.stages[n].get("production")]
    return {
        "models": m,
        "versions": v,
        "tags": tags,
        "names": b.names,
        "model": (production or b.names)[len(production or b.names) // 2],
        "stages": b.stages,
        "latest": version_of(v - 1),
    }


def self_check(root: Path, b: Builder, validate_all: bool) -> None:
    """The synthetic cards must be what `gitreg register` writes, and schema-valid."""
    from gitreg.lineage import provenance
    from gitreg.model.view import RegistryView
    from gitreg.store import schemas
    from gitreg.store.gitstore import GitStore, Ident

    store = GitStore.discover(root)
    for card, text, digest in b.samples:
        if yamlio.dump(card) != text or yamlio.digest(card) != digest:
            raise SystemExit(f"fast card dump or digest of {card['name']}@{card['version']} differs")
    card = b.samples[0][0]
    name, prov = card["name"], card["provenance"]
    ident = Ident(prov["registered_by"]["name"], prov["registered_by"]["email"], 0, 0)
    evidence = provenance.collect(
        store,
        name,
        prov["source"]["commit"],
        artifact=None,
        metrics_file=f"metrics/{name}.json",
        image=None,
        ident=ident,
    )
    real = cards.build(name, card["version"], narrative(b.index[name]), evidence)
    real["provenance"]["registered_at"] = prov["registered_at"]
    if yamlio.dump(real) != yamlio.dump(card):
        raise SystemExit(
            f"the synthetic card of {name} is not what register writes:\n"
            f"{yamlio.dump(real)}\n!=\n{yamlio.dump(card)}"
        )
    view = RegistryView(store, store.commit_tree(b.head), b.head)
    if view.card(name, card["version"]) != card:
        raise SystemExit("the card read back from the registry differs")
    samples = [c for c, _, _ in b.samples]
    if validate_all:
        samples = [view.card(n, ver) for n in b.names for ver in view.versions(n)]
    for c in samples:
        for kind in ("default", "production"):
            errs = schemas.errors(schemas.card_schema_for(kind), c)
            if errs:
                raise SystemExit(
                    f"synthetic card {c['name']}@{c['version']} is not a valid {kind} card: {errs}"
                )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("models", type=int)
    ap.add_argument("versions", type=int)
    ap.add_argument("dir", type=Path)
    ap.add_argument("--batch", type=int, help="registrations per registry commit (default M/10)")
    ap.add_argument(
        "--repack", action="store_true", help="let git repack -adf it after (slow; to compare with)"
    )
    ap.add_argument("--validate", action="store_true", help="validate every card (slow)")
    ap.add_argument(
        "--verify-pack", action="store_true", help="have git index the pack again, compare (30 s at 10,000)"
    )
    args = ap.parse_args(argv)
    if args.models < 1 or args.versions < 2:
        ap.error("need at least 1 model and 2 versions")
    build(
        args.models,
        args.versions,
        args.dir,
        batch=args.batch,
        repack=args.repack,
        validate=args.validate,
        verify_pack=args.verify_pack,
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("GIT_CONFIG_NOSYSTEM", "1")
    sys.exit(main())
