"""The Markdown report of a benchmark run: one table per size, targets marked, misses listed."""

from __future__ import annotations

import statistics
import time

# (operation, limit in seconds, applies to sizes with at most this many versions; None: all)
TARGETS = {
    "help": (0.3, None),
    "list": (0.6, 5000),
    "list_cached": (0.6, 5000),
    "show_version": (0.4, None),
    "which": (0.4, None),
    "check": (1.0, None),
    "register": (1.0, 5000),
}
# Past one team (issue 14): applies to sizes with more than 5,000 versions.
BIG_TARGETS = {"list_cached": 1.0, "register": 2.0, "promote": 2.0}
REMOTE_TARGETS = {"push": 3.0, "sync": 2.0, "hook": 0.5}  # at the largest sizes too
FLOOR_RATIO = 1.5  # `which` and `show NAME@VERSION` against the floor, paired
BIG_RSS_LIMIT_MB = 300
BUILD_LIMIT_S = 300  # make_registry.py at 10,000 x 25
INPROC_TARGETS = {"resolve": (5.0, None), "list_cold": (100.0, 5000)}  # milliseconds
RSS_LIMIT_MB = 150
GTO_RATIO = 100  # at 200 x 25 and up, on every operation but --help (a process start is ~50 ms)
GTO_RATIO_FROM = 5000


def dur(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.1f} s" if seconds < 100 else f"{seconds:.0f} s"


def cell(r: dict) -> str:
    if r.get("timed_out"):
        return f"> {dur(r['max'])} (cut)"
    text = dur(r["median"])
    if r["n"] > 1:
        text += f" ({dur(r['min'])}-{dur(r['max'])}, n={r['n']})"
    else:
        text += " (n=1)"
    if r["rc"] != 0:
        text += f" **exit {r['rc']}**"
    return text


def ms(values: list[float]) -> str:
    med = statistics.median(values)
    return (f"{med:.2f} ms" if med < 10 else f"{med:.0f} ms") + (
        f" ({min(values):.2f}-{max(values):.2f}, n={len(values)})"
        if med < 10
        else f" ({min(values):.0f}-{max(values):.0f}, n={len(values)})"
    )


def applies(limit_versions, m: int, v: int) -> bool:
    return limit_versions is None or m * v <= limit_versions


def markdown(info: dict, results: list[dict]) -> str:
    misses: list[str] = []
    out = [
        "## gitreg vs GTO" + (" and MLflow" if any("mlflow" in r for r in results) else ""),
        "",
        f"Run {time.strftime('%Y-%m-%d')} on {info['cores']} cores ({info['cpu']}), {info['os']}, "
        f"Python {info['python']}, {info['git']}, pygit2 {info['pygit2']}, GTO {info['gto']}. "
        f"Load average (1/5/15 min) {fmt_load(info['load_start'])} at the start, "
        f"{fmt_load(info['load_end'])} at the end. Whole-process wall time: median "
        f"(min-max, n runs); GTO runs once when a run takes 10 s or more. Writes run on a fresh "
        "copy of the registry each time; `register` does not sign (GTO cannot).",
        "",
    ]
    for r in results:
        m, v, meta = r["models"], r["versions"], r["meta"]
        out += [
            f"### {m} models x {v} versions ({m * v:,} versions, {meta['tags']:,} tags)",
            "",
            *build_line(r, misses),
            "| operation | gitreg | GTO | GTO / gitreg | target |",
            "|---|--:|--:|--:|---|",
        ]
        for key, row in r["ops"].items():
            mine = row["gitreg"]
            theirs = row.get("gto")
            ratio = "—"
            if theirs and theirs["rc"] == 0 and mine["rc"] == 0:
                x = theirs["median"] / mine["median"]
                ratio = (">" if theirs.get("timed_out") else "") + f"{x:.0f}x"
                if x < GTO_RATIO and m * v >= GTO_RATIO_FROM and key != "help":
                    misses.append(f"{r['size']} {key}: GTO / gitreg is {x:.0f}x (< {GTO_RATIO}x)")
            target = ""
            if key in BIG_TARGETS and m * v > 5000:
                limit = BIG_TARGETS[key]
                ok = mine["median"] <= limit and mine["rc"] == 0
                target = f"≤ {dur(limit)} {'✓' if ok else '✗'}"
                if not ok:
                    misses.append(f"{r['size']} {key}: {dur(mine['median'])} > {dur(limit)}")
            if key == "list" and m * v > 5000 and "list_cached" in r["ops"]:
                # "within 3 times of that": of the cached list's 1 s target; the ratio to the
                # cached run itself is printed too.
                limit = 3 * BIG_TARGETS["list_cached"]
                ok = mine["median"] <= limit
                times = mine["median"] / r["ops"]["list_cached"]["gitreg"]["median"]
                target = f"≤ {dur(limit)} {'✓' if ok else '✗'} ({times:.0f}x the cached run)"
                if not ok:
                    misses.append(f"{r['size']} list uncached: {dur(mine['median'])} > {dur(limit)}")
            if key in TARGETS and applies(TARGETS[key][1], m, v):
                limit = TARGETS[key][0]
                ok = mine["median"] <= limit and mine["rc"] == 0
                target = f"≤ {dur(limit)} {'✓' if ok else '✗'}"
                if not ok:
                    misses.append(f"{r['size']} {key}: {dur(mine['median'])} > {dur(limit)}")
            gto_text = cell(theirs) if theirs else row.get("gto_skipped", "—")
            out.append(f"| {row['label']} | {cell(mine)} | {gto_text} | {ratio} | {target} |")
        rss = max(r["ops"][k]["gitreg"]["rss_mb"] for k in ("list", "list_cached"))
        gto_rss = r["ops"]["list"].get("gto", {}).get("rss_mb")
        # Up to 5,000 versions `list` has its own 150 MB target; past that, every command has 300 MB.
        limit_mb = RSS_LIMIT_MB if m * v <= 5000 else BIG_RSS_LIMIT_MB
        if rss >= limit_mb:
            misses.append(f"{r['size']} peak RSS of gitreg list {rss:.0f} MB >= {limit_mb} MB")
        out += [
            "",
            f"Peak RSS of `gitreg list`: {rss:.0f} MB (target < {limit_mb} MB)"
            + (f"; `gto show`: {gto_rss:.0f} MB." if gto_rss else "."),
            "",
        ]
        out += scale_table(r, misses)
        out += inprocess_table(r, misses)
        out += [f"- {n}" for n in r["notes"]] + ([""] if r["notes"] else [])
    last = results[-1]
    if last.get("profile"):
        out += [
            f"### Where the time of `gitreg which` goes ({last['size']}, one run with "
            "`python -X importtime`)",
            "",
            "| part | ms |",
            "|---|--:|",
        ]
        out += [f"| {part} | {s * 1000:.0f} |" for part, s in last["profile"]]
        out += [""]
    if info.get("ci"):
        out += ci_table(info["ci"], misses)
    out += ["### Targets", ""]
    out += [f"- missed: {m}" for m in misses] if misses else ["Every target above holds in this run."]
    return "\n".join(out) + "\n"


def build_line(r: dict, misses: list[str]) -> list[str]:
    """How long make_registry.py took to build this size (when it was built)."""
    m, v, built = r["models"], r["versions"], r["meta"].get("build_s")
    if built is None:
        return []
    text = f"Built by `benchmarks/make_registry.py {m} {v}` in {dur(built)}"
    if m * v > 5000:
        ok = built <= BUILD_LIMIT_S
        text += f" (target < {dur(BUILD_LIMIT_S)} {'✓' if ok else '✗'})"
        if not ok:
            misses.append(f"{r['size']} make_registry: {dur(built)} > {dur(BUILD_LIMIT_S)}")
    return [text + ".", ""]


def scale_table(r: dict, misses: list[str]) -> list[str]:
    """The floor beside the hot reads, push and sync with the server hook, peak RSS of all."""
    out = []
    floor = r.get("floor") or {}
    if floor:
        out += [
            "| whole process, paired with the floor (A B A B ...) | gitreg | floor | gitreg / floor "
            "| target |",
            "|---|--:|--:|--:|---|",
        ]
        names = {"which": "`which NAME production`", "show_version": "`show NAME@VERSION`"}
        for key, p in floor.items():
            ok = p["ratio"] <= FLOOR_RATIO
            if not ok:
                misses.append(f"{r['size']} {key}: {p['ratio']:.2f}x the floor (> {FLOOR_RATIO}x)")
            out.append(
                f"| {names[key]} | {cell(p['a'])} | {cell(p['b'])} | {p['ratio']:.2f}x "
                f"({p['ratio_min']:.2f}-{p['ratio_max']:.2f}) | ≤ {FLOOR_RATIO}x {'✓' if ok else '✗'} |"
            )
        out += [
            "",
            "The floor: a Python process that imports pygit2 and PyYAML and reads and parses the "
            "same blob from the registry branch (benchmarks/floor.py).",
            "",
        ]
    remote = r.get("remote") or {}
    if remote:
        out += ["| remote, one new registration | gitreg | target |", "|---|--:|---|"]
        labels = {
            "push": "`push` to a bare remote holding the registry, server hook installed (all told)",
            "sync": "`sync` of it into a clone that synced before",
            "hook": "the pre-receive hook's own time in that push",
        }
        for key, label in labels.items():
            row = remote.get(key)
            if row is None:
                out.append(f"| {label} | not measured | |")
                continue
            text = cell({"rc": 0, **row}) if "rc" not in row else cell(row)
            limit = REMOTE_TARGETS[key]
            ok = row["median"] <= limit and row.get("rc", 0) == 0
            if not ok:
                misses.append(f"{r['size']} {key}: {dur(row['median'])} > {dur(limit)}")
            out.append(f"| {label} | {text} | ≤ {dur(limit)} {'✓' if ok else '✗'} |")
        out.append("")
    rss = [row["gitreg"]["rss_mb"] for row in r["ops"].values()]
    rss += [remote[k]["rss_mb"] for k in ("push", "sync") if k in remote]
    rss += [p["a"]["rss_mb"] for p in floor.values()]
    if rss and r["models"] * r["versions"] > 5000:
        ok = max(rss) < BIG_RSS_LIMIT_MB
        if not ok:
            misses.append(f"{r['size']} peak RSS {max(rss):.0f} MB >= {BIG_RSS_LIMIT_MB} MB")
        out += [
            f"Peak RSS of any gitreg command above: {max(rss):.0f} MB "
            f"(target < {BIG_RSS_LIMIT_MB} MB {'✓' if ok else '✗'}).",
            "",
        ]
    return out


def ci_table(ci: dict, misses: list[str]) -> list[str]:
    full, part = ci["full"], ci["partial"]
    mb = 1024 * 1024

    def total(side: dict) -> float:
        return side["clone"]["s"] + side["check"]["s"]

    out = [
        f"### CI: `check` of a one-model proposal from a fresh clone ({ci['size']}, file://, protocol v2)",
        "",
        "| clone | fetched (objects) | clone | check | all told | check's verdict |",
        "|---|--:|--:|--:|--:|---|",
        f"| full (`git clone`) | {full['bytes'] / mb:.1f} MB | {dur(full['clone']['s'])} | "
        f"{dur(full['check']['s'])} | {dur(total(full))} | exit {full['check']['rc']} |",
        f"| partial, the workflow's steps (one branch, no blobs, no tags) | {part['bytes'] / mb:.1f} MB "
        f"({part['bytes_clone'] / mb:.1f} MB before the check) | {dur(part['clone']['s'])} | "
        f"{dur(part['check']['s'])} | {dur(total(part))} | exit {part['check']['rc']} |",
        "",
    ]
    if full["check"]["rc"] != part["check"]["rc"]:
        misses.append("CI: the partial clone's verdict differs from the full clone's")
    return out


def inprocess_table(r: dict, misses: list[str]) -> list[str]:
    mine, theirs = r.get("inprocess", {}), r.get("mlflow")
    if "error" in mine:
        return [f"In process: gitreg failed: {mine['error'][-300:]}", ""]
    m, v = r["models"], r["versions"]
    head = "| in process | gitreg |" + (" MLflow (SQLite) | MLflow / gitreg |" if theirs else "")
    rows = [head + " target |", "|---|--:|" + ("--:|--:|" if theirs else "") + "---|"]
    labels = {
        "resolve": "resolve NAME@production",
        "list_cold": "list all models, no cache",
        "list": "list all models again (cached)",
        "check": "check one change",
    }
    for key, label in labels.items():
        if key not in mine:
            continue
        line = f"| {label} | {ms(mine[key])} |"
        if theirs:
            other = theirs.get("list" if key == "list_cold" else key) if "error" not in theirs else None
            if other is None or key == "list":
                line += " — | — |"
            else:
                x = statistics.median(other) / statistics.median(mine[key])
                line += f" {ms(other)} | {x:.1f}x |"
        target = ""
        if key in INPROC_TARGETS and applies(INPROC_TARGETS[key][1], m, v):
            limit = INPROC_TARGETS[key][0]
            ok = statistics.median(mine[key]) <= limit
            target = f"≤ {limit:g} ms {'✓' if ok else '✗'}"
            if not ok:
                misses.append(f"{r['size']} in-process {key}: {ms(mine[key])} > {limit:g} ms")
        rows.append(line + f" {target} |")
    rows += plugin_rows(r, theirs, misses)
    line = f"| import | {mine['import_ms']:.0f} ms (gitreg.registry) |"
    if theirs and "error" not in theirs:
        line += f" {theirs['import_ms']:.0f} ms (mlflow) | |"
    rows.append(line + " |")
    if theirs and "which_process" in theirs:
        mlf = theirs["which_process"]
        gr = r["ops"]["which"]["gitreg"]
        rows.append(
            f"| which, whole process | {dur(gr['median'])} | {dur(mlf['median'])} | "
            f"{mlf['median'] / gr['median']:.1f}x | |"
        )
    if theirs and "error" in theirs:
        rows.append("")
        rows.append(f"MLflow failed: {theirs['error'][-300:]}")
    return [*rows, ""]


PLUGIN_RATIO = 3.0  # issue 16: MLflow's client through the plugin within 3x gitreg's own resolve


def plugin_rows(r: dict, theirs: dict | None, misses: list[str]) -> list[str]:
    """MLflow's client reading gitreg through the plugin: version by alias, beside gitreg's resolve
    (timed in the same process) and MLflow's own SQLite store."""
    plugin = r.get("mlflow_plugin")
    if not plugin:
        return []
    if "error" in plugin:
        return [f"| MLflow client via the gitreg plugin: failed: {plugin['error'][-200:]} | |"]
    mine = plugin["plugin_by_alias"]
    line = f"| version by alias, MLflow's client via the gitreg plugin | {ms(mine)} |"
    if theirs:
        other = theirs.get("resolve") if "error" not in theirs else None
        line += (
            f" {ms(other)} | {statistics.median(other) / statistics.median(mine):.1f}x |"
            if other
            else " — | — |"
        )
    ratio = plugin["ratio"]
    ok = ratio <= PLUGIN_RATIO and plugin["resolved"] == plugin["expected"]
    if not ok:
        misses.append(f"{r['size']} plugin by alias: {ratio:.1f}x gitreg's resolve (> {PLUGIN_RATIO:g}x)")
    rows = [
        line + f" {ratio:.1f}x gitreg's resolve in that process, ≤ {PLUGIN_RATIO:g}x {'✓' if ok else '✗'} |"
    ]
    rows.append(
        f"| first call of a fresh plugin store (numbers every model: one history walk) | "
        f"{plugin['first_call_ms']:.1f} ms |" + (" | |" if theirs else "") + " |"
    )
    return rows


def fmt_load(load) -> str:
    return "/".join(f"{x:.1f}" for x in load)


def summary(info: dict, results: list[dict]) -> str:
    """The short form for the README: gitreg across sizes, GTO and MLflow beside it."""
    sizes = [r["size"] for r in results]
    with_gto = [r for r in results if any("gto" in row for row in r["ops"].values())]
    ref = next((r for r in reversed(with_gto) if r["models"] * r["versions"] <= 5000), None) or (
        with_gto[-1] if with_gto else None
    )
    head = "| gitreg, whole process | " + " | ".join(sizes) + " |"
    if ref:
        head += f" GTO at {ref['size']} | GTO / gitreg |"
    out = [
        f"{info['cores']} cores ({info['cpu']}), {info['os']}, Python {info['python']}, "
        f"{info['git']}, pygit2 {info['pygit2']}, GTO {info['gto']}; load average "
        f"{fmt_load(info['load_start'])} at the start, {fmt_load(info['load_end'])} at the end. "
        f"Medians of {info['rounds']} runs (GTO: of up to 3, one when a run takes 10 s or more).",
        "",
        head,
        "|---|" + "--:|" * (len(sizes) + (2 if ref else 0)),
    ]
    for key, row in results[0]["ops"].items():
        line = f"| {row['label']} |"
        for r in results:
            mine = r["ops"].get(key, {}).get("gitreg")
            line += f" {dur(mine['median'])} |" if mine else " — |"
        if ref:
            theirs = ref["ops"].get(key, {}).get("gto")
            mine = ref["ops"].get(key, {}).get("gitreg")
            if theirs and mine and theirs["rc"] == 0:
                line += f" {dur(theirs['median'])} | {theirs['median'] / mine['median']:.0f}x |"
            else:
                line += " — | — |"
        out.append(line)
    rss = [max(r["ops"][k]["gitreg"]["rss_mb"] for k in ("list", "list_cached")) for r in results]
    out.append(
        "| peak RSS of `gitreg list` | "
        + " | ".join(f"{x:.0f} MB" for x in rss)
        + " |"
        + (" | |" if ref else "")
    )
    out += [
        "",
        "| gitreg, in process | " + " | ".join(sizes) + " | MLflow (SQLite) at the same sizes |",
        "|---|" + "--:|" * len(sizes) + "---|",
    ]
    labels = {
        "resolve": "resolve NAME@production",
        "list_cold": "list all models (no cache)",
        "list": "list all models (cached)",
        "check": "check one change",
    }
    for key, label in labels.items():
        cells = []
        for r in results:
            mine = r.get("inprocess", {}).get(key)
            cells.append(ms(mine).split(" (")[0] if mine else "—")
        other = []
        for r in results:
            theirs = r.get("mlflow") or {}
            values = theirs.get({"list_cold": "list"}.get(key, key)) if key != "list" else None
            other.append(ms(values).split(" (")[0] if values else "—")
        out.append(f"| {label} | " + " | ".join(cells) + " | " + " / ".join(other) + " |")
    return "\n".join(out) + "\n"
