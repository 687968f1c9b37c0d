"""End to end: `sipas-snapshot --format html` opened in a real browser.

The Sơn La example campaign is fed through real daemons (sipas-submit ->
collector -> worker); the page is written in English and with --locale vi
and opened in headless Chromium (Debian's chromium package).

Checked for each page: it is well-formed (every element closed in order,
as Python's html.parser reads it); its chart has one bar per unit with an
index in the JSON snapshot, and the overall index shown is the JSON's,
rounded; Chromium logs no console message at all (a script error, a
failed load would log one); it asks nothing of the network (Chromium's
proxy is a listener of the test, which counts requests); the screenshot
is not blank: mostly white paper, with both block colours of the bars.

The checker is tried on pages that must fail it first: a blank page, a
page with a script error, a page that loads an image from the network.
"""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
from html.parser import HTMLParser

from PIL import Image

from harness import SRC, program, run, test

SONLA = os.path.join(SRC, "examples/sonla-2024.json")
GEN = os.path.join(SRC, "scripts/gen_responses.py")
N = 1500
VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col",
        "embed", "source", "track", "wbr"}
# The first two block colours of store/report_html.c's palette.
BLOCK_COLOURS = [(0x1f, 0x77, 0xb4), (0xff, 0x7f, 0x0e)]


class Structure(HTMLParser):
    """Collects the problems of nesting, and the chart's bars."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
        self.problems = []
        self.bars = 0
        self.in_svg = False
        self.last = None

    def handle_starttag(self, tag, attrs):
        if tag == "svg":
            self.in_svg = True
        if self.in_svg and tag in ("rect", "line"):
            self.last = tag  # SVG shapes may be self-closed or closed
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        pass  # <rect .../>: opened and closed

    def handle_endtag(self, tag):
        if self.in_svg and tag == "title" and self.stack[-2:] == ["rect",
                                                                 "title"]:
            self.bars += 1
        if tag == "svg":
            self.in_svg = False
        if not self.stack or self.stack[-1] != tag:
            self.problems.append("</%s> closes <%s>" % (
                tag, self.stack[-1] if self.stack else "nothing"))
            return
        self.stack.pop()

    def close(self):
        super().close()
        if self.stack:
            self.problems.append("never closed: %s" % self.stack)


class Proxy:
    """A loopback listener given to Chromium as its proxy: every request
    the page makes to the network arrives here and is counted."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.requests = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(2)
            try:
                self.requests.append(conn.recv(200).split(b"\r\n")[0])
            except OSError:
                self.requests.append(b"?")
            conn.close()

    def close(self):
        self.sock.close()


def browse(page, tmp):
    """Open page in headless Chromium: (console lines, network requests,
    screenshot path)."""
    shot = os.path.join(tmp, os.path.basename(page) + ".png")
    profile = tempfile.mkdtemp(prefix="chromium.", dir=tmp)
    proxy = Proxy()
    try:
        p = subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
             "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
             "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync",
             "--user-data-dir=" + profile,
             "--proxy-server=127.0.0.1:%d" % proxy.port,
             "--proxy-bypass-list=<-loopback>",
             "--window-size=1100,1400", "--screenshot=" + shot,
             "file://" + page],
            capture_output=True, text=True, timeout=120)
    finally:
        proxy.close()
        shutil.rmtree(profile, ignore_errors=True)
    if not os.path.exists(shot):
        raise AssertionError("chromium made no screenshot (%d): %s"
                             % (p.returncode, p.stderr[-2000:]))
    console = [line for line in p.stderr.splitlines() if ":CONSOLE" in line]
    return console, [r for r in proxy.requests if not browser_own(r)], shot


# Chromium calls its own update, clock and account services whatever the
# flags; those requests are the browser's, not the page's.
BROWSER_HOSTS = re.compile(
    rb"^(GET|POST|CONNECT) (http://)?[a-z0-9.-]*\.(google\.com|googleapis\.com"
    rb"|gvt1\.com)[:/ ]")


def browser_own(request):
    return BROWSER_HOSTS.match(request) is not None


def near(a, b):
    return all(abs(x - y) <= 6 for x, y in zip(a, b))


def picture_problems(shot):
    """Why the screenshot is not a rendered report, or []."""
    img = Image.open(shot).convert("RGB")
    w, h = img.size
    colours = img.getcolors(maxcolors=w * h)
    total = w * h
    white = sum(n for n, c in colours if min(c) >= 245)
    problems = []
    if white > 0.98 * total:
        problems.append("blank: %.2f %% white" % (100.0 * white / total))
    if white < 0.4 * total:
        problems.append("not a page on white: %.2f %% white"
                        % (100.0 * white / total))
    for want in BLOCK_COLOURS:
        n = sum(k for k, c in colours if near(c, want))
        if n < 1000:
            problems.append("block colour #%02x%02x%02x: %d pixels"
                            % (want + (n,)))
    return problems


def page_problems(page, tmp, want_bars=None, want_index=None):
    """Everything wrong with the page, the empty list when nothing is."""
    with open(page, encoding="utf-8") as f:
        text = f.read()
    s = Structure()
    s.feed(text)
    s.close()
    problems = list(s.problems)
    if want_bars is not None and s.bars != want_bars:
        problems.append("%d bars in the chart, want %d" % (s.bars, want_bars))
    if want_index is not None and want_index not in text:
        problems.append("overall index %s not shown" % want_index)
    console, requests, shot = browse(page, tmp)
    problems += ["console: " + line for line in console]
    problems += ["network: %r" % r for r in requests]
    problems += picture_problems(shot)
    return problems


def write(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


@test
def checker_refuses_broken_pages(env):
    """Each of these must fail the checker, or the checker proves nothing."""
    bars = ("<svg width='600' height='200'>"
            "<rect x='0' y='0' width='500' height='90' fill='#1f77b4'/>"
            "<rect x='0' y='100' width='500' height='90' fill='#ff7f0e'/>"
            "</svg>")
    ok = write(env.dir, "ok.html", "<!DOCTYPE html><html><body>%s"
               "</body></html>" % bars)
    assert page_problems(ok, env.dir) == [], page_problems(ok, env.dir)
    cases = {
        "blank.html": ("<!DOCTYPE html><html><body></body></html>",
                       "blank"),
        "script.html": ("<!DOCTYPE html><html><body>%s<script>nothing();"
                        "</script></body></html>" % bars, "console"),
        "network.html": ("<!DOCTYPE html><html><body>%s<img src="
                         "'http://sipas.invalid/x.png'></body></html>" % bars,
                         "network"),
    }
    for name, (html, why) in cases.items():
        problems = page_problems(write(env.dir, name, html), env.dir)
        assert any(why in p for p in problems), (name, problems)
    # Nesting needs no browser.
    s = Structure()
    s.feed("<!DOCTYPE html><html><body><table><tr><td>x</table>"
           "</body></html>")
    s.close()
    assert any("closes" in p for p in s.problems), s.problems


@test
def report_page_renders(env):
    env.define(SONLA)
    env.worker()
    env.collector()
    responses = os.path.join(env.dir, "responses.jsonl")
    with open(responses, "w") as f:
        subprocess.run(["/usr/bin/python3", GEN, SONLA, str(N)], stdout=f,
                       check=True)
    p = subprocess.run([program("sipas-submit"), "--endpoint",
                        env.collector_ep, responses],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    snap = env.snapshot()
    assert snap["counts"]["accepted"] == N, snap["counts"]
    with_index = sum(1 for u in snap["units"] if u["index"] is not None)
    assert with_index == 32, with_index
    shown = "%.2f" % snap["index"]
    for locale, index in (("en", shown), ("vi", shown.replace(".", ","))):
        page = os.path.join(env.dir, "report-%s.html" % locale)
        p = subprocess.run([program("sipas-snapshot"), "--store", env.store,
                            "--format", "html", "--locale", locale,
                            "-o", page], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        problems = page_problems(page, env.dir, want_bars=with_index,
                                 want_index="<b>%s</b>" % index)
        assert problems == [], (locale, problems)
        with open(page, encoding="utf-8") as f:
            text = f.read()
        assert re.search(r'<html lang="%s">' % locale, text), text[:200]
        if locale == "vi":
            assert "Chỉ số chung" in text


if __name__ == "__main__":
    run()
