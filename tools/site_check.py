"""Check the built site in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`) through
Selenium, reading `_site/` from a local HTTP server on 127.0.0.1.

    python tools/site_check.py [--self-test] [--site _site] [--shots _shots]

With `--self-test` it first checks itself on a tiny site with a broken image, a broken link and a missing anchor.

Every page reachable from the home page is opened. Each must render (a title, and text in its article), every `img`
on it must have loaded (`complete` and a natural width), and every link into the site must reach a page that the
server has, with the `#anchor` it names. Screenshots of the home page, the first results page and one module page
go to `--shots`. The last line says how many pages, images and links were checked; the exit status is 1 on any
failure, each listed with its page.
"""
from __future__ import annotations

import argparse, functools, http.server, shutil, sys, tempfile, threading, time
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

ROOT = Path(__file__).resolve().parent.parent
SHOTS = {"home": "", "results": "results/shapes.html#tables-1-and-2", "module": "prior.html"}


def serve(site: Path):
    "A quiet HTTP server of `site` on 127.0.0.1 and a free port, in a thread; its base URL."
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/"


def browser(profile: str):
    "Headless Chromium, with the flags a machine without network needs (no background requests, no sandbox as root)."
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    chromium = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), "/usr/bin/chromium")
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    for exe, pkg in ((chromium, "chromium"), (driver, "chromium-driver")):
        if not Path(exe).exists(): raise SystemExit(f"{exe} not found: install Debian's {pkg} (apt-get install {pkg})")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,900", f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=driver), options=opts)


PAGE_STATE = """
const art = document.querySelector('article') || document.body;
return {title: document.title,
        text: art.innerText.length,
        imgs: [...document.images].map(i => [i.getAttribute('src').slice(0, 80), i.complete && i.naturalWidth > 0]),
        links: [...document.querySelectorAll('a[href]')].map(a => a.href),
        ids: [...document.querySelectorAll('[id]')].map(e => e.id).concat([...document.querySelectorAll('a[name]')].map(a => a.name))};
"""


def settled(drv, timeout: float = 20):
    "The page's state once it has loaded, its text has stopped changing and its images have decoded."
    last, t0 = None, time.time()
    while time.time() - t0 < timeout:
        if drv.execute_script("return document.readyState") == "complete":
            s = drv.execute_script(PAGE_STATE)
            if last and s["text"] == last["text"] and len(s["ids"]) == len(last["ids"]) and all(ok for _, ok in s["imgs"]):
                return s
            last = s
        time.sleep(0.2)
    return last or drv.execute_script(PAGE_STATE)


def check(site: Path, shots: Path, shown: dict = SHOTS) -> int:
    server, base = serve(site)
    profile = tempfile.mkdtemp(prefix="chromium-")
    drv = browser(profile)
    drv.set_page_load_timeout(60)
    errors, seen, todo, states, broken = [], set(), [base], {}, set()
    n_img = n_link = 0
    try:
        while todo:
            url = todo.pop(0)
            if url in seen: continue
            seen.add(url)
            drv.get(url)
            s = settled(drv)
            states[url] = s
            page = url.removeprefix(base) or "(home)"
            if "404" in s["title"] or not s["title"].strip(): errors.append(f"{page}: no title, or a 404 page ({s['title']!r})")
            if s["text"] < 200: errors.append(f"{page}: the article holds {s['text']} characters: did it render?")
            n_img += len(s["imgs"])
            errors += [f"{page}: broken image {src}" for src, ok in s["imgs"] if not ok]
            for link in s["links"]:
                if not link.startswith(base): continue
                n_link += 1
                target, _ = urldefrag(link)
                path = site/urlparse(target).path.removeprefix(urlparse(base).path)
                if not (path.is_file() or (path/"index.html").is_file()):
                    if link not in broken: errors.append(f"{page}: broken link {link}"); broken.add(link)
                elif target.endswith("/") or target.endswith(".html"): todo.append(target)
        for url, s in states.items():                             # every link to a page: an anchor that page has
            page = url.removeprefix(base) or "(home)"
            for link in s["links"]:
                target, frag = urldefrag(link)
                if frag and target in states and frag not in states[target]["ids"]:
                    errors.append(f"{page}: link to a missing anchor {link}")
        shots.mkdir(parents=True, exist_ok=True)
        drv.set_window_size(1280, 1400)
        for name, rel in shown.items():
            drv.get(urljoin(base, rel))
            settled(drv)
            drv.save_screenshot(str(shots/f"{name}.png"))
            if urldefrag(urljoin(base, rel))[0] not in states: errors.append(f"{rel}: the {name} page is not reachable from the home page")
    finally:
        drv.quit(); server.shutdown(); shutil.rmtree(profile, ignore_errors=True)
    for e in errors: print("site check:", e)
    print(f"site check: {len(states)} pages, {n_img} images, {n_link} internal links; "
          f"{len(errors)} problems; screenshots in {shots}")
    return 1 if errors else 0


def self_test() -> int:
    "The check must fail where it should: a tiny site with a broken image, a broken link and a missing anchor."
    site, text = Path(tempfile.mkdtemp(prefix="site-")), "words " * 60
    (site/"a").mkdir()
    (site/"index.html").write_text(f'<title>Home</title><article><p>{text}</p><a href="a/">a</a> <a href="b/">b</a> '
                                   f'<a href="a/#there">there</a> <a href="a/#nowhere">nowhere</a><img src="none.png"></article>')
    (site/"a"/"index.html").write_text(f'<title>A</title><article><h2 id="there">A</h2><p>{text}</p></article>')
    from contextlib import redirect_stdout
    import io
    with redirect_stdout(io.StringIO()) as out: rc = check(site, site/"shots", {"home": ""})
    found = out.getvalue()
    expected = ["broken image none.png", "broken link http://127.0.0.1", "missing anchor http://127.0.0.1"]
    missed = [e for e in expected if e not in found]
    ok = rc == 1 and not missed and "3 problems" in found and "#there" not in found
    print(f"site check, self-test: {'passed' if ok else 'FAILED'} (a broken image, a broken link, a missing anchor found"
          f"{'' if not missed else '; missed: ' + ', '.join(missed)})")
    shutil.rmtree(site, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site", type=Path, default=ROOT/"_site")
    ap.add_argument("--shots", type=Path, default=ROOT/"_shots")
    ap.add_argument("--self-test", action="store_true", help="check the checker on a tiny broken site first")
    a = ap.parse_args()
    if a.self_test and self_test(): sys.exit(1)
    if not (a.site/"index.html").exists(): raise SystemExit(f"{a.site}/index.html not found: run `python tools/docs.py build` first")
    sys.exit(check(a.site, a.shots))
