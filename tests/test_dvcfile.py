"""A big dvc.lock/dvc.yaml read a stage at a time (gitreg.lineage.dvcfile): what it gives is what
the whole parse gives, and every file outside DVC's plain form is parsed whole, errors and all."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from gitreg.errors import InvalidCard
from gitreg.lineage import dvcfile
from gitreg.lineage.pipeline import Pipeline
from gitreg.store import yamlio

BIG = 1 << 24


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def lock_doc(n: int) -> dict:
    stages: dict = {
        "prepare": {
            "cmd": "python src/prepare.py",
            "deps": [{"path": "data/raw.csv", "hash": "md5", "md5": md5("raw"), "size": 10}],
            "outs": [{"path": "data/prepared", "hash": "md5", "md5": md5("p") + ".dir", "nfiles": 2}],
        }
    }
    for k in range(n):
        stages[f"train-m{k:04d}"] = {
            "cmd": f"python src/train.py m{k:04d} && echo done",
            "deps": [
                {"path": "data/prepared", "hash": "md5", "md5": md5("p") + ".dir", "nfiles": 2},
                {"path": "src/train.py", "hash": "md5", "md5": md5("t"), "size": 99},
            ],
            "params": {"params.yaml": {"train": {"epochs": 10 + k, "rate": 0.1}}},
            "outs": [
                {"path": f"models/m{k:04d}.pkl", "hash": "md5", "md5": md5(f"m{k}"), "size": 400 + k},
                {"path": f"metrics/m{k:04d}.json", "hash": "md5", "md5": md5(f"x{k}"), "size": 40},
            ],
        }
    return {"schema": "2.0", "stages": stages}


def dump_indented(value: dict) -> str:
    """The same YAML with lists indented under their key, as ruamel (DVC's writer) may write them."""

    class Indented(yaml.SafeDumper):
        def increase_indent(self, flow: bool = False, indentless: bool = False):
            return super().increase_indent(flow, False)

    return yaml.dump(value, Dumper=Indented, sort_keys=False, default_flow_style=False, width=100)


def both(text: str) -> tuple[dict, dict]:
    data = text.encode()
    assert len(data) >= dvcfile.LAZY_MIN_BYTES, "the test file must be big enough to be split"
    return dvcfile.load(data, "dvc.lock", max_bytes=BIG), yamlio.load_mapping(data, "dvc.lock", max_bytes=BIG)


def same(lazy: dict, whole: dict) -> None:
    assert list(lazy) == list(whole)
    for key, value in lazy.items():
        if isinstance(value, dvcfile.Section):
            assert list(value) == list(whole[key]) and len(value) == len(whole[key])
            assert {k: value[k] for k in value} == whole[key]
        else:
            assert value == whole[key]


@pytest.mark.parametrize("dump", [yamlio.dump, dump_indented], ids=["pyyaml", "indented-lists"])
def test_a_plain_lock_is_split_and_gives_what_the_whole_parse_gives(dump):
    text = dump(lock_doc(150))
    lazy, whole = both(text)
    assert isinstance(lazy["stages"], dvcfile.Section)
    same(lazy, whole)


def test_comments_blank_lines_and_a_top_level_list_keep_the_split_and_the_values():
    text = "# written by dvc\nschema: '2.0'\nmetrics:\n- a.json\n- b.json\n" + yamlio.dump(
        {"stages": lock_doc(150)["stages"]}
    ).replace("  train-m0003:\n", "  # a note\n\n  train-m0003:\n    # inside\n")
    lazy, whole = both(text)
    assert isinstance(lazy["stages"], dvcfile.Section) and lazy["metrics"] == ["a.json", "b.json"]
    same(lazy, whole)


def test_having_finds_every_stage_whose_outs_name_the_path_however_it_is_spelled():
    doc = lock_doc(150)
    doc["stages"]["train-m0040"]["outs"][0]["path"] = "./models//m0040.pkl"
    doc["stages"]["train-m0041"]["outs"][0]["path"] = "models\\m0041.pkl"
    text = yamlio.dump(doc).replace("path: models/m0042.pkl", "path: 'models/m0042.pkl'")
    lazy = dvcfile.load(text.encode(), "dvc.lock", max_bytes=BIG)
    pipe = Pipeline("c" * 40, "t" * 40, {}, lazy, "digest")
    assert isinstance(pipe.stages, dvcfile.Section)
    for k in (40, 41, 42, 7):
        out = pipe.find_out(f"models/m{k:04d}.pkl")
        assert out is not None and out.stage == f"train-m{k:04d}" and out.md5 == md5(f"m{k}")
    assert pipe.producer("data/prepared") == "prepare"
    assert pipe.upstream("train-m0100") == ["prepare", "train-m0100"]
    assert len(pipe.consumers("data/prepared")) == 150
    assert pipe.find_dep("src/train.py") is not None and pipe.find_out("models/nothing.pkl") is None
    # What the search narrowed to: one stage parsed for one model's out, not 151.
    assert list(lazy["stages"].having("m0007.pkl", "outs")) == ["train-m0007"]


def test_a_numeric_or_boolean_leaf_is_looked_up_in_every_stage():
    doc = lock_doc(150)
    doc["stages"]["train-m0009"]["outs"].append({"path": True, "md5": md5("t"), "hash": "md5"})
    text = yamlio.dump(doc).replace("path: true", "path: yes")
    pipe = Pipeline("c" * 40, "t" * 40, {}, dvcfile.load(text.encode(), "dvc.lock", max_bytes=BIG), "d")
    assert isinstance(pipe.stages, dvcfile.Section)
    out = pipe.find_out("True")  # YAML reads `yes` as true: no text search can find it as "True"
    assert out is not None and out.stage == "train-m0009"


# Each edit puts a construct in the m0005 block that the split must not be trusted with.
HOSTILE = {
    "flow mapping": ("    cmd: python src/train.py m0005 && echo done\n", "    cmd: {a: 1}\n"),
    "flow list swallowing the next key": (
        "    cmd: python src/train.py m0005 && echo done\n",
        "    cmd: [python,\n  train-m0006:\n   x]\n",
    ),
    "double quotes": ("    cmd: python src/train.py m0005 && echo done\n", '    cmd: "python"\n'),
    "multi-line single quote": (
        "    cmd: python src/train.py m0005 && echo done\n",
        "    cmd: 'python\n  train-m0006:\n    x'\n",
    ),
    "block scalar": ("    cmd: python src/train.py m0005 && echo done\n", "    cmd: |\n      python\n"),
    "anchor": ("    cmd: python src/train.py m0005 && echo done\n", "    cmd: &c python\n"),
    "alias": ("    cmd: python src/train.py m0005 && echo done\n", "    cmd: *c\n"),
    "tag": ("    cmd: python src/train.py m0005 && echo done\n", "    cmd: !!str python\n"),
    "complex key": ("    cmd: python src/train.py m0005 && echo done\n", "    ? cmd\n    : python\n"),
    "duplicate stage": ("  train-m0006:\n", "  train-m0005:\n"),
    "numeric stage name": ("  train-m0006:\n", "  1_000:\n"),
    "boolean stage name": ("  train-m0006:\n", "  yes:\n"),
    "quoted stage name": ("  train-m0006:\n", "  'train-m0006':\n"),
    "value on the key line": ("  train-m0006:\n", "  train-m0006: {}\n"),
    "mapping at indent 6": ("  train-m0005:\n    cmd:", "  train-m0005:\n\n      cmd:"),
    "indent 3": ("    cmd: python src/train.py m0005 && echo done\n", "   cmd: python\n"),
    "tab": ("    cmd: python src/train.py m0005 && echo done\n", "    cmd:\tpython\n"),
    "a line separator hiding a stage": (
        "    cmd: python src/train.py m0005 && echo done\n",
        "    cmd: python\u2028  hidden:\u2028    cmd: evil\n",
    ),
    "next line hiding a stage": (
        "    cmd: python src/train.py m0005 && echo done\n",
        "    cmd: python\x85  hidden:\x85    cmd: evil\n",
    ),
    "a second stages key": ("schema: '2.0'\n", "schema: '2.0'\nstages:\n  x:\n    cmd: y\n"),
    "document marker": ("schema: '2.0'\n", "---\nschema: '2.0'\n"),
}


@pytest.mark.parametrize("edit", list(HOSTILE.values()), ids=list(HOSTILE))
def test_anything_outside_the_plain_form_is_parsed_whole(edit):
    old, new = edit
    text = yamlio.dump(lock_doc(150))
    assert old in text
    text = text.replace(old, new, 1)
    data = text.encode()
    try:
        whole = yamlio.load_mapping(data, "dvc.lock", max_bytes=BIG)
    except InvalidCard as exc:
        with pytest.raises(InvalidCard) as lazy_exc:
            dvcfile.load(data, "dvc.lock", max_bytes=BIG)
        assert lazy_exc.value.message == exc.message  # the same error, at the same place
        return
    lazy = dvcfile.load(data, "dvc.lock", max_bytes=BIG)
    assert not any(isinstance(v, dvcfile.Section) for v in lazy.values())
    assert lazy == whole


def test_an_error_in_a_block_that_is_read_names_its_line_in_the_file():
    text = yamlio.dump(lock_doc(150)).replace(
        "    cmd: python src/train.py m0100 && echo done\n",
        "    cmd: python src/train.py m0100 && echo done\n    cmd: twice\n",
    )
    line = text.split("\n").index("    cmd: twice") + 1
    lazy = dvcfile.load(text.encode(), "dvc.lock at abc", max_bytes=BIG)
    assert isinstance(lazy["stages"], dvcfile.Section)
    assert lazy["stages"]["train-m0099"]["cmd"].startswith("python")  # its neighbours read fine
    with pytest.raises(InvalidCard) as exc:
        lazy["stages"]["train-m0100"]
    assert "duplicate key 'cmd'" in exc.value.message and f"line {line}," in exc.value.message


def test_a_small_file_is_parsed_whole():
    text = yamlio.dump(lock_doc(3))
    assert len(text) < dvcfile.LAZY_MIN_BYTES
    lazy = dvcfile.load(text.encode(), "dvc.lock", max_bytes=BIG)
    assert isinstance(lazy["stages"], dict) and lazy == yaml.safe_load(text)
