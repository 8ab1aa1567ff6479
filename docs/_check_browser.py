"""Open the built documentation in headless Chromium and check what a reader sees.

Run after the docs build, from the repository root::

    python docs/_check_browser.py [docs/_build/html]

The site is served from ``http.server`` on 127.0.0.1 and driven through the Chrome
DevTools protocol (``websocket-client``, in the ``docs`` extra).  Every page is loaded,
MathJax is waited for, and the page fails on:

* raw math left in the visible text (``$...$``, ``\\(``, ``\\[``, ``\\begin{``);
* Markdown table syntax in the visible text (``|---|``, a line of ``| a | b |``);
* a MathJax error, or a ``math`` element that MathJax did not typeset;
* a broken image;
* a console error, an uncaught exception, a failed request, or a request that leaves
  127.0.0.1 (the site must work offline: MathJax is served from ``_static``);
* a screenshot (scrolled to the first formula) showing no rendered math on a page that
  has math.

Screenshots go to ``<build>/../browser-check/`` (``docs/_build/browser-check``), with a
``report.txt``.  Exit status 0 when every page passes, 1 when one fails, and 0 with a
``SKIP`` line when no Chromium is installed (``QERROR_REQUIRE_BROWSER=1`` makes that a
failure).
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

DOCS = Path(__file__).resolve().parent
# pages that must exist and be checked (every other page of the site is checked too)
REQUIRED = ["index", "getting_started", "conventions", "errata", "proofs", "benchmarks",
            "api", "derivations", "network"] + [
    f"notebooks/{p.stem}" for p in sorted((DOCS.parent / "notebooks").glob("*.ipynb"))]
SKIP_PAGES = {"genindex", "search", "py-modindex"}  # generated indexes, no content
PAGE_TIMEOUT = 30.0  # seconds for one page to load and typeset

# Runs in the page once it has loaded: waits for MathJax, then reports what is visible.
PROBE = r"""
(async () => {
  const t0 = Date.now();
  const hasMath = document.querySelector('.math') !== null;
  // Sphinx defines window.MathJax as a config object; the loaded library adds startup
  while (hasMath && !(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
    if (Date.now() - t0 > 15000) break;
    await new Promise(r => setTimeout(r, 50));
  }
  let mathjax = null;
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
    mathjax = MathJax.version || 'loaded';
  }
  const clone = document.body.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, textarea, mjx-container, .math, '
    + '.highlight, .MathJax_Preview, [hidden], [style*="display: none"]')
    .forEach(e => e.remove());
  const text = clone.textContent;
  const found = [];
  const raw = [[/\$[^$\n]{1,200}\$/, 'raw $...$'], [/\\\(|\\\)/, 'raw \\( \\)'],
               [/\\\[|\\\]/, 'raw \\[ \\]'], [/\\begin\{/, 'raw \\begin{'],
               [/\\(frac|alpha|sigma|Delta|le|ge|int|sum|mathbb)\b/, 'raw TeX command'],
               [/\|\s*:?-{3,}:?\s*\|/, 'Markdown table delimiter |---|'],
               [/(^|\n)[ \t]*\|[^\n|]+\|[^\n|]+\|[ \t]*(\n|$)/,
                'Markdown table row | a | b |']];
  for (const [re, what] of raw) {
    const m = text.match(re);
    if (m) {
      const i = Math.max(0, m.index - 40);
      found.push(what + ': ...' + text.slice(i, m.index + m[0].length + 40)
                 .replace(/\s+/g, ' ') + '...');
    }
  }
  const mathEls = Array.from(document.querySelectorAll('span.math, div.math'));
  const bare = mathEls.filter(e => !e.querySelector('mjx-container'));
  const untypeset = bare.length;
  const bareText = bare.slice(0, 3).map(e => e.textContent.slice(0, 80));
  const errors = Array.from(document.querySelectorAll('mjx-merror, [data-mjx-error]'))
    .map(e => e.getAttribute('data-mjx-error') || e.textContent).slice(0, 5);
  const broken = Array.from(document.images)
    .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);
  const first = document.querySelector('mjx-container') || mathEls[0];
  if (first) first.scrollIntoView({block: 'center'});
  else window.scrollTo(0, 0);
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const inView = Array.from(document.querySelectorAll('mjx-container')).filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < innerHeight;
  }).length;
  return {hasMath, mathjax, mathCount: mathEls.length, untypeset, bareText, errors, broken,
          found, inView, images: document.images.length,
          rendered: document.querySelectorAll('mjx-container').length};
})()
"""


class CDP:
    """A minimal Chrome DevTools protocol client over one page's websocket."""

    def __init__(self, ws_url: str):
        import websocket  # websocket-client

        self.ws = websocket.create_connection(ws_url, timeout=PAGE_TIMEOUT,
                                              suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, timeout: float = PAGE_TIMEOUT, **params) -> dict:
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)
        raise TimeoutError(method)

    def wait_event(self, name: str, timeout: float = PAGE_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == name for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(name)
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            self.events.append(json.loads(self.ws.recv()))
        self.ws.settimeout(PAGE_TIMEOUT)

    def close(self) -> None:
        self.ws.close()


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/"


def start_browser(exe: str, profile: str) -> tuple[subprocess.Popen, str]:
    args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-extensions",
            "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
            f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0", "--window-size=1280,900", "about:blank"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    port_file = Path(profile) / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{exe} exited with status {proc.returncode}")
        if port_file.exists() and port_file.read_text().count("\n") >= 1:
            port = port_file.read_text().split("\n")[0].strip()
            if port:
                return proc, f"http://127.0.0.1:{port}"
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{exe} did not open its DevTools port within 30 s")


def page_socket(devtools: str) -> str:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with urllib.request.urlopen(devtools + "/json/list", timeout=5) as resp:
            for target in json.load(resp):
                if target.get("type") == "page" and "webSocketDebuggerUrl" in target:
                    return target["webSocketDebuggerUrl"]
        time.sleep(0.2)
    raise RuntimeError("no page target in the browser")


def pages(build: Path) -> list[str]:
    out = []
    for html in sorted(build.rglob("*.html")):
        rel = html.relative_to(build).with_suffix("").as_posix()
        if rel.split("/")[0].startswith("_") or rel in SKIP_PAGES:
            continue
        out.append(rel)
    return out


def check_page(cdp: CDP, base: str, page: str, shots: Path) -> tuple[list[str], dict]:
    cdp.events.clear()
    cdp.send("Page.navigate", url=base + page + ".html")
    cdp.wait_event("Page.loadEventFired")
    res = cdp.send("Runtime.evaluate", expression=PROBE, awaitPromise=True,
                   returnByValue=True)
    if "exceptionDetails" in res:
        return [f"probe failed: {res['exceptionDetails']}"], {}
    info = res["result"]["value"]
    shot = cdp.send("Page.captureScreenshot", format="png")
    path = shots / (page.replace("/", "__") + ".png")
    path.write_bytes(base64.b64decode(shot["data"]))
    time.sleep(0.05)  # let late console messages arrive
    cdp.send("Runtime.evaluate", expression="0")
    problems = list(info["found"])
    if info["hasMath"] and not info["mathjax"]:
        problems.append("MathJax did not load")
    if info["untypeset"]:
        problems.append(f"{info['untypeset']} of {info['mathCount']} math elements "
                        f"not typeset by MathJax, e.g. {info['bareText']}")
    problems += [f"MathJax error: {e}" for e in info["errors"]]
    problems += [f"broken image: {src}" for src in info["broken"]]
    if info["hasMath"] and info["inView"] == 0:
        problems.append(f"screenshot {path.name} shows no rendered math")
    host = base.rstrip("/")
    for ev in cdp.events:
        method, p = ev.get("method"), ev.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", "")))
                            for a in p.get("args", []))
            problems.append(f"console error: {args[:300]}")
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            desc = d.get("exception", {}).get("description", d.get("text"))
            problems.append(f"uncaught exception: {str(desc)[:300]}")
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            e = p["entry"]
            if e.get("url", "").endswith("/favicon.ico"):
                continue  # the browser's own request; the theme declares no icon
            problems.append(f"console error: {e.get('text', '')[:200]} {e.get('url', '')}")
        elif method == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if not url.startswith((host, "data:", "blob:", "about:")):
                problems.append(f"request leaves the local site: {url}")
        elif method == "Network.loadingFailed" and not p.get("canceled"):
            problems.append(f"request failed: {p.get('errorText')}")
    return problems, info


def main(argv: list[str]) -> int:
    build = Path(argv[1]) if len(argv) > 1 else DOCS / "_build" / "html"
    build = build.resolve()
    if not (build / "index.html").exists():
        print(f"browser check: no built site at {build} (run sphinx-build first)")
        return 1
    exe = find_chromium()
    if exe is None:
        msg = ("browser check: SKIP, no Chromium found (Debian: apt-get install chromium); "
               "the built site was not opened in a browser")
        print(msg)
        return 1 if os.environ.get("QERROR_REQUIRE_BROWSER") == "1" else 0
    try:
        import websocket  # noqa: F401
    except ImportError:
        print("browser check: websocket-client is missing (pip install '.[docs]')")
        return 1
    shots = build.parent / "browser-check"
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    todo = pages(build)
    missing = [p for p in REQUIRED if p not in todo]
    t0 = time.monotonic()
    httpd, base = serve(build)
    profile = tempfile.mkdtemp(prefix="qerror-chromium-")
    proc = None
    failures: dict[str, list[str]] = {}
    lines = []
    try:
        proc, devtools = start_browser(exe, profile)
        cdp = CDP(page_socket(devtools))
        for domain in ("Page", "Runtime", "Log", "Network"):
            cdp.send(f"{domain}.enable")
        cdp.send("Emulation.setDeviceMetricsOverride", width=1280, height=900,
                 deviceScaleFactor=1, mobile=False)
        for page in todo:
            t = time.monotonic()
            try:
                problems, info = check_page(cdp, base, page, shots)
            except (TimeoutError, RuntimeError) as exc:
                problems, info = [f"{type(exc).__name__}: {exc}"], {}
            line = (f"{'FAIL' if problems else 'ok  '} {page:45s} "
                    f"math {info.get('rendered', 0):4d}/{info.get('mathCount', 0):<4d} "
                    f"images {info.get('images', 0):3d}  {time.monotonic() - t:5.2f} s")
            print(line, flush=True)
            lines.append(line)
            if problems:
                failures[page] = problems
                for pr in problems[:12]:
                    print(f"       {pr}")
                    lines.append(f"       {pr}")
        cdp.close()
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        httpd.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
    for p in missing:
        failures[p] = ["required page is missing from the build"]
        lines.append(f"FAIL {p}: required page is missing from the build")
        print(lines[-1])
    summary = (f"browser check: {len(todo)} pages, {len(failures)} failing, "
               f"{time.monotonic() - t0:.1f} s; screenshots in {shots}")
    print(summary)
    (shots / "report.txt").write_text("\n".join(lines + [summary]) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
