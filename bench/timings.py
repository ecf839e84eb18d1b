"""Where the time goes, before and after, side by side in one run.

Three sections, each measured on two versions of the code: `--before REV` (a git revision, checked out into a
worktree under the system temp folder) and the working tree as it is now (its commit, plus a hash of uncommitted
changes). Both run with this interpreter and its packages; only the `rebeca` they import differs (PYTHONPATH).

  stages     `rebeca reproduce --profile shapes` into an empty folder: wall seconds, peak memory, and each pipeline
             notebook's seconds (papermill's own record in the executed notebooks; one notebook runs one stage);
  notebooks  the README's test command after its install (`nbdev-test ...`, read from that version's README):
             wall seconds and each notebook's seconds (`--timing`);
  fit        `bench/fit_speed.py` of the working tree, which times `fit`'s phases and `recommend` on MovieLens-100k,
             its own before and after (pass its arguments after `--fit-args`).

Each measurement is kept as JSON in bench/results/ under its section and version, so a second run measures only what
changed (`--fresh` measures again). The machine has 2 cores: run it with nothing else running; the load average
at the start and the end of each measurement is printed beside it.

    python bench/timings.py --before e355a76
    python bench/timings.py --before e355a76 --sections stages notebooks
    python bench/timings.py --sections fit --fit-args --recbole-wheel recbole-1.2.1-py3-none-any.whl
"""
import argparse, hashlib, json, os, re, resource, shlex, subprocess, sys, tempfile, time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT/"bench"/"results"
SECTIONS = ("stages", "notebooks", "fit")


def git(*args, cwd=ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def version(rev):
    "(folder, label) of a version: the working tree (rev None) or a worktree of `rev`."
    if rev is None:
        sha, diff = git("rev-parse", "--short=12", "HEAD"), git("diff", "HEAD", "--", "nbs", "rebeca", "pyproject.toml", "README.md")
        return ROOT, sha + (f"+{hashlib.sha256(diff.encode()).hexdigest()[:8]}" if diff else "")
    sha = git("rev-parse", "--short=12", rev)
    folder = Path(tempfile.gettempdir())/"rebeca-bench"/sha
    if not (folder/".git").exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        git("worktree", "add", "--detach", "--force", str(folder), sha)
    return folder, sha


def environment(tree: Path) -> dict:
    "This interpreter's environment with `tree`'s rebeca first on the path (a papermill kernel inherits it)."
    return os.environ | {"PYTHONPATH": os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}


def timed(cmd, cwd, env, log: Path) -> dict:
    "Run `cmd`; wall seconds, its children's peak memory, the load before and after, and the exit status."
    load0, t0 = os.getloadavg()[0], time.perf_counter()
    with open(log, "w") as f: rc = subprocess.run(cmd, cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT).returncode
    return dict(wall_s=round(time.perf_counter() - t0, 1), peak_gb=round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20, 2),
                load_before=round(load0, 2), load_after=round(os.getloadavg()[0], 2), rc=rc, log=str(log))


def measure_stages(tree: Path, work: Path) -> dict:
    out = work/"run"
    cli = "import sys; from rebeca.cli import main; sys.exit(main())"
    r = timed([sys.executable, "-c", cli, "reproduce", "--profile", "shapes", "--out", str(out), "--quiet"], tree, environment(tree), work/"stages.log")
    seconds = {}
    for nb in sorted((out/"notebooks").rglob("*.ipynb")):
        pm = json.loads(nb.read_text()).get("metadata", {}).get("papermill", {})
        if pm.get("duration") is not None: seconds[str(nb.relative_to(out/"notebooks").with_suffix(""))] = round(pm["duration"], 1)
    return r | dict(parts=seconds)


def test_command(tree: Path) -> list:
    "The nbdev-test part of `tree`'s README test command, run with this interpreter's nbdev-test."
    readme = (tree/"README.md").read_text()
    line = re.search(r"<!-- ci: test command -->\s*```bash\n(.*?)\n```", readme, re.S).group(1)
    words = shlex.split(line.split("&&")[-1])
    return [str(Path(sys.executable).parent/"nbdev-test"), *words[1:]]


def measure_notebooks(tree: Path, work: Path) -> dict:
    cmd = test_command(tree)
    r = timed(cmd, tree, environment(tree), work/"notebooks.log")
    text = Path(r["log"]).read_text()
    parts = {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\S+\.ipynb): (\d+) secs$", text, re.M)}
    return r | dict(command=" ".join(cmd[1:]), parts=parts, passed="Success." in text)


def measure(section: str, rev, fresh: bool) -> dict:
    tree, label = version(rev)
    path = RESULTS/f"timings-{section}-{label}.json"
    if path.is_file() and not fresh: return json.loads(path.read_text()) | dict(cached=True)
    work = Path(tempfile.mkdtemp(prefix=f"rebeca-{section}-"))
    print(f"measuring {section} of {label} in {tree} (logs in {work}) ...", flush=True)
    result = dict(section=section, version=label, when=time.strftime("%Y-%m-%d %H:%M"), cpus=os.cpu_count())
    result |= (measure_stages if section == "stages" else measure_notebooks)(tree, work)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    return result | dict(cached=False)


def side_by_side(before: dict, after: dict) -> pd.DataFrame:
    "One row per part (and the total) with seconds before, after and the ratio."
    names = list(dict.fromkeys([*before["parts"], *after["parts"]]))
    rows = [dict(part=n, before_s=before["parts"].get(n), after_s=after["parts"].get(n)) for n in names]
    rows.append(dict(part="wall (total)", before_s=before["wall_s"], after_s=after["wall_s"]))
    t = pd.DataFrame(rows).set_index("part")
    t["after/before"] = (t.after_s / t.before_s).round(2)
    return t


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", default="e355a76", help="the git revision to compare with (default: %(default)s)")
    p.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    p.add_argument("--fresh", action="store_true", help="measure again even where a result is kept in bench/results/")
    p.add_argument("--fit-args", nargs=argparse.REMAINDER, default=[], help="arguments for bench/fit_speed.py")
    a = p.parse_args()
    for section in a.sections:
        if section == "fit":
            print("\n## fit (bench/fit_speed.py)", flush=True)
            subprocess.run([sys.executable, str(ROOT/"bench"/"fit_speed.py"), *a.fit_args], cwd=ROOT, check=False)
            continue
        before, after = measure(section, a.before, a.fresh), measure(section, None, a.fresh)
        print(f"\n## {section}: before {before['version']}, after {after['version']}")
        for name, r in (("before", before), ("after", after)):
            print(f"- {name}: {r['wall_s']:.0f} s wall, peak {r['peak_gb']} GB, exit {r['rc']}, load {r['load_before']} -> {r['load_after']}, "
                  f"measured {r['when']}{' (kept from an earlier run)' if r['cached'] else ''}"
                  + (f"; `{r['command']}`" if "command" in r else "") + (f"; {r['source']}" if r.get("source") else ""))
        print(side_by_side(before, after).to_markdown(floatfmt=".1f"), flush=True)


if __name__ == "__main__":
    main()
