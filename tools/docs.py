"""The documentation: `README.md` from `nbs/index.ipynb`, and the site in `_site/`.

    python tools/docs.py readme           # write README.md from nbs/index.ipynb
    python tools/docs.py readme --check   # exit 1 if README.md is not what nbs/index.ipynb gives
    python tools/docs.py build            # stage the notebooks into _docs/, then `mkdocs build` into _site/

nbdev renders both with Quarto, whose PyPI package downloads its binary when installed; these use PyPI packages only
(mkdocs-material, mkdocs-jupyter, mkdocstrings: the `docs` extra). Why this stack: mkdocs-jupyter renders a notebook
with its stored outputs as it is, with no kernel and no conversion step of ours; one YAML file configures the site;
Material's search runs in the browser, offline; and mkdocstrings reads the API from the source without importing it.
Sphinx with myst-nb would do as well at the cost of a conf.py and toctrees; Jupyter Book 2 is built on mystmd, which
needs Node.js. Material for MkDocs is in maintenance until May 2027 (its authors' successor, Zensical, reads the same
mkdocs.yml). The staging does what nbdev's own processing
does for its site: cells marked `#| hide` are left out, `#| ...` directives are removed from the code shown, and the
pages (the index, `nbs/results/`) are executed, so that they show the committed tables and figures. Module notebooks
are shown as they are stored. Links are rewritten for where each file lands: to a page, a figure, or the
repository on GitHub.
"""
from __future__ import annotations

import argparse, json, os, re, shutil, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS, FIGURES = ROOT/"nbs", ROOT/"figures"
STAGE, SITE = ROOT/"_docs", ROOT/"_site"
REPO_URL = "https://github.com/rebeca-recsys/rebeca"
SITE_URL = "https://rebeca-recsys.github.io/rebeca/"           # where .github/workflows/docs.yaml publishes _site/
EXECUTED = ("index.ipynb", "command_line.ipynb", "results/*.ipynb")   # pages run at build time (they read committed files: seconds)
README_MAX_LINES = 150                                    # a front page, not a results log
LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))|(<img [^>]*src=\")([^\"]+)(\")")


def notebooks() -> list[Path]:
    "Every notebook of `nbs/`, as the package ships them (no `_` or `.` folders)."
    return sorted(p for p in NBS.rglob("*.ipynb")
                  if not any(s.startswith((".", "_")) for s in p.relative_to(NBS).parts))


def directives(src: str) -> dict:
    "The `#| key: value` directives of a cell's source."
    out = {}
    for line in src.splitlines():
        m = re.match(r"\s*#\|\s*([\w-]+):?\s*(.*)", line)
        if m: out[m.group(1)] = m.group(2).strip()
    return out


def page_name(rel: Path) -> Path:
    "Where the notebook `rel` (under `nbs/`) is staged: nbdev's page name, without the number (`11_recommend` -> `recommend`)."
    return rel.with_name(re.sub(r"^\d+[a-zA-Z0-9]*_", "", rel.name.lower()))


def page_url(rel: Path) -> Path:
    """The page of the notebook `rel`, as nbdev names it (`11_recommend.ipynb` at `recommend.html`), so that the "Docs:"
    line nbdev writes into every module's docstring (`recommend.html.md`, the page as Markdown) points into this site."""
    return page_name(rel).with_suffix(".html")


def relink(text: str, src: Path, dest_dir: Path, staged: bool) -> str:
    """Rewrite the relative links of `text`, written for the file `src`, for a page served from `dest_dir`.

    In the README (`dest_dir` the repository root) a link to a notebook points at its page on the published site, which
    shows its outputs, and any other link at the file. On the site (`staged`, `dest_dir` a
    folder of the site) a link to a notebook points at its page (`page_url`), one to a figure at its copy, and one to any other
    file of the repository at it on GitHub, since the site holds only the pages."""
    def target(url: str) -> str:
        if re.match(r"^[a-z]+:|^#|^/", url): return url
        path, _, frag = url.partition("#")
        p = (src.parent/path).resolve()
        try: rel = p.relative_to(ROOT)
        except ValueError: raise SystemExit(f"{src.relative_to(ROOT)}: the link {url!r} leaves the repository")
        if not p.exists(): raise SystemExit(f"{src.relative_to(ROOT)}: the link {url!r} points at nothing ({rel})")
        if not staged:                        # the README: a notebook's page on the site (with its outputs), else the file
            if rel.parts[0] == "nbs" and p.suffix == ".ipynb":
                return f"{SITE_URL}{page_url(p.relative_to(NBS)).as_posix()}" + (f"#{frag}" if frag else "")
            return os.path.relpath(p, dest_dir).replace(os.sep, "/") + (f"#{frag}" if frag else "")
        if rel.parts[0] == "nbs" and p.suffix == ".ipynb": new = page_url(p.relative_to(NBS))
        elif rel.parts[0] == "figures": new = rel
        else: return f"{REPO_URL}/{'tree' if p.is_dir() else 'blob'}/main/{rel.as_posix()}" + (f"#{frag}" if frag else "")
        return os.path.relpath(STAGE/new, STAGE/dest_dir).replace(os.sep, "/") + (f"#{frag}" if frag else "")
    def sub(m):
        if m.group(1): return m.group(1) + target(m.group(2)) + m.group(3)
        return m.group(4) + target(m.group(5)) + m.group(6)
    return LINK.sub(sub, text)


def cell_source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


# ---------------------------------------------------------------------------------------------------- the README
def readme_text() -> str:
    "README.md: the markdown cells of `nbs/index.ipynb`, links rewritten for the repository root."
    src = NBS/"index.ipynb"
    nb = json.loads(src.read_text())
    parts = []
    for cell in nb["cells"]:
        text = cell_source(cell)
        if cell["cell_type"] == "markdown": parts.append(relink(text, src, ROOT, staged=False))
        elif "hide" not in directives(text):
            raise SystemExit(f"{src.relative_to(ROOT)}: a code cell that is not `#| hide`; the README has no outputs")
    head = "<!-- Generated from nbs/index.ipynb by `python tools/docs.py readme`: edit the notebook, not this file. -->\n\n"
    text = head + "\n\n".join(p.strip("\n") for p in parts) + "\n"
    if (n := len(text.splitlines())) >= README_MAX_LINES:
        raise SystemExit(f"{src.relative_to(ROOT)} makes a README of {n} lines: keep it under {README_MAX_LINES}, "
                         "and put results in nbs/results/")
    if "<!-- ci: test command -->" not in text:
        raise SystemExit(f"{src.relative_to(ROOT)}: the marker `<!-- ci: test command -->` that .ci/run reads is missing")
    return text


def readme(check: bool = False) -> int:
    text, path = readme_text(), ROOT/"README.md"
    if check:
        if path.read_text() != text:
            print("README.md is not what nbs/index.ipynb gives: run `python tools/docs.py readme`", file=sys.stderr)
            return 1
        print("README.md matches nbs/index.ipynb")
        return 0
    path.write_text(text)
    print(f"wrote README.md ({len(text.splitlines())} lines)")
    return 0


# ---------------------------------------------------------------------------------------------------- the site
def title(nb: dict, fallback: str) -> str:
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            m = re.search(r"^#\s+(.+)$", cell_source(cell), re.M)
            if m: return m.group(1).strip()
    return fallback


def execute(nb: dict, src: Path) -> dict:
    "Run the notebook `nb` (read from `src`) in its own folder, keeping its outputs; stop at the first error."
    from fastcore.nbio import dict2nb, nb2dict
    from execnb.shell import CaptureShell
    here = Path.cwd()
    os.chdir(src.parent)
    try:
        shell, book = CaptureShell(), dict2nb(nb)
        shell.run_all(book, exc_stop=True)
    except Exception as e:
        raise SystemExit(f"{src.relative_to(ROOT)} failed while building the site: {e}")
    finally: os.chdir(here)
    return nb2dict(book)


def stage_notebook(src: Path) -> tuple[Path, str]:
    "Copy the notebook `src` into the staging folder, as nbdev's docs show it; the page's path and title."
    rel = src.relative_to(NBS)
    dest = STAGE/page_name(rel)
    nb = json.loads(src.read_text())
    if any(rel.match(p) for p in EXECUTED): nb = execute(nb, src)
    cells = []
    for cell in nb["cells"]:
        text = cell_source(cell)
        cell.get("metadata", {}).pop("execution", None)   # execnb's timings, which nbformat's schema refuses
        if cell["cell_type"] == "code":
            d = directives(text)
            if "hide" in d or "default_exp" in d: continue
            if "echo" in d and d["echo"].lower() == "false" or "hide_input" in d: text = ""
            text = "\n".join(l for l in text.splitlines() if not re.match(r"\s*#\|", l)).strip("\n")
            if not text and not cell.get("outputs"): continue
            if not text: cell.setdefault("metadata", {}).setdefault("tags", []).append("hide_code")
        else:
            text = relink(text, src, page_url(rel).parent, staged=True)
            # mkdocs' table of contents slugs a heading without its code spans, nbconvert with them: drop the backticks
            text = re.sub(r"^(#+ .*)$", lambda m: m.group(1).replace("`", ""), text, flags=re.M)
        cell["source"] = text
        cells.append(cell)
    nb["cells"] = cells
    nb.setdefault("metadata", {})["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(nb, indent=1))
    return dest.relative_to(STAGE), title(nb, rel.stem)


def api_pages() -> list[tuple[str, str]]:
    "One reference page per module of the package, from its docstrings (mkdocstrings)."
    pages = []
    for py in sorted((ROOT/"rebeca").rglob("*.py")):
        mod = ".".join(py.relative_to(ROOT).with_suffix("").parts)
        if py.name.startswith("_"): continue
        page = Path("api")/(mod + ".md")
        (STAGE/page).parent.mkdir(parents=True, exist_ok=True)
        (STAGE/page).write_text(f"# `{mod}`\n\n::: {mod}\n")
        pages.append((str(page), mod))
    return pages


SECTIONS = [(None, ["index.ipynb"]),                  # a section of None: its pages at the top level
            ("Results", ["results/*.ipynb"]),
            ("The paper's modules", ["0[0-8]*.ipynb"]),
            ("Running it", ["09*.ipynb", "10_*.ipynb"]),
            ("Your own catalog", ["1[1-9]*.ipynb"]),
            ("The shapes world", ["shapes/*.ipynb"]),
            (None, ["command_line.ipynb"])]


ORDER = {"results/shapes.ipynb": 0, "results/catalogs.ipynb": 1, "results/tried.ipynb": 2, "results/paper.ipynb": 3}


def nav(pages: dict) -> list:
    "The site's navigation: the notebooks `pages` (their path under `nbs/`: (staged page, title)) by section, in order."
    out, used = [], set()
    for section, patterns in SECTIONS:
        hits = [nb for nb in sorted(pages, key=lambda nb: (ORDER.get(nb, 0), nb)) if nb not in used
                and any(Path(nb).match(p) and Path(nb).parent == Path(p).parent for p in patterns)]
        used |= set(hits)
        items = [{pages[nb][1]: pages[nb][0]} for nb in hits]
        out += items if section is None else [{section: items}] if items else []
    if left := [p for p in pages if p not in used]: raise SystemExit(f"notebooks in no section of the site: {left}")
    return out


def markdown_copies(pages: dict):
    "Each page also as Markdown, at `<page>.html.md`, where nbdev 3 puts it and module docstrings point (images beside it)."
    import nbformat
    from nbconvert import MarkdownExporter
    for page, _ in pages.values():
        nb = nbformat.read(STAGE/page, as_version=4)
        md, res = MarkdownExporter().from_notebook_node(nb, resources={"unique_key": Path(page).stem})
        out = SITE/Path(page).with_suffix(".html.md")
        out.write_text(md)
        for name, data in res.get("outputs", {}).items(): (out.parent/name).write_bytes(data)


def docs_lines_missing() -> list[str]:
    "The `Docs:` URLs of the package's module docstrings (written by nbdev-export) that the built site does not serve."
    import ast
    missing = []
    for py in sorted((ROOT/"rebeca").rglob("*.py")):
        doc = ast.get_docstring(ast.parse(py.read_text())) or ""
        for url in re.findall(r"^Docs: (\S+)$", doc, re.M):
            if not url.startswith(SITE_URL) or not (SITE/url.removeprefix(SITE_URL)).is_file():
                missing.append(f"{py.relative_to(ROOT)}: {url}")
    return missing


def build(strict: bool = True) -> int:
    import yaml
    t0 = time.time()
    if STAGE.exists(): shutil.rmtree(STAGE)
    STAGE.mkdir()
    shutil.copytree(FIGURES, STAGE/"figures")
    shutil.copy(ROOT/"tools"/"site.css", STAGE/"extra.css")
    pages = {}
    for src in notebooks():
        rel = src.relative_to(NBS).as_posix()
        if clash := [nb for nb, (page, _) in pages.items() if page == page_name(Path(rel)).as_posix()]:
            raise SystemExit(f"nbs/{rel} and nbs/{clash[0]} would be the same page, {page_url(Path(rel))}: rename one")
        path, name = stage_notebook(src)
        pages[rel] = (path.as_posix(), "Home" if rel == "index.ipynb" else name)
        print(f"  staged nbs/{rel} as {path}", flush=True)
    api = api_pages()
    config = yaml.safe_load((ROOT/"mkdocs.yml").read_text())
    config |= {"docs_dir": str(STAGE), "site_dir": str(SITE),
               "nav": nav(pages) + [{"API reference": [{m: p} for p, m in api]}]}
    (ROOT/"_docs.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    cmd = [sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(ROOT/"_docs.yml")] + (["--strict"] if strict else [])
    r = subprocess.run(cmd, cwd=ROOT)
    if r.returncode: return r.returncode
    markdown_copies(pages)
    if missing := docs_lines_missing(): raise SystemExit("module docstrings point at pages the site lacks:\n  " + "\n  ".join(missing))
    print(f"built {SITE.relative_to(ROOT)}/: {len(pages)} notebooks (each also as Markdown) and {len(api)} API pages ({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["readme", "build"])
    ap.add_argument("--check", action="store_true", help="readme: only check that README.md is up to date")
    ap.add_argument("--no-strict", action="store_true", help="build: let mkdocs' warnings pass")
    a = ap.parse_args()
    sys.exit(readme(a.check) if a.what == "readme" else build(not a.no_strict))
