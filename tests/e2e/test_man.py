"""The manual pages in man/ against the programs they describe.

For each program, man/<program>.<section> must:
- render with `man --warnings -l` without a word on stderr and exit 0, both
  as UTF-8 (LC_ALL=C.UTF-8, -E UTF-8) and in the C locale (ASCII output,
  where a character groff cannot show is a warning too);
- carry a .TH line naming the file: name (any case) and section;
- have the sections NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS and
  SEE ALSO, and for the daemons (sipas-worker, sipas-collector) also
  FILES, ENVIRONMENT and SIGNALS;
- list in OPTIONS every long option the program's --help prints, and in
  EXIT STATUS every status its --help names;
and man/CMakeLists.txt must install every page of man/ to man<section>.

The checker is tried first on copies of a page that must fail it: a bad
macro, a non-ASCII letter groff cannot show in the C locale, a wrong .TH
name and section, an option taken out of OPTIONS, an exit status taken
out, a section taken out.
"""
import glob
import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor

from harness import SRC, program, run, test

MAN_DIR = os.path.join(SRC, "man")
PAGES = {"sipas-worker": 8, "sipas-collector": 8, "sipas-admin": 8,
         "sipas-submit": 1, "sipas-snapshot": 1}
DAEMONS = {"sipas-worker", "sipas-collector"}
COMMON = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS",
          "SEE ALSO"]
DAEMON_ONLY = ["FILES", "ENVIRONMENT", "SIGNALS"]
# groff's hyphen and minus glyphs, read as the ASCII hyphen they stand for.
DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2212": "-"})


def page_of(name):
    return os.path.join(MAN_DIR, "%s.%d" % (name, PAGES[name]))


def man(path, utf8=True):
    """Render a page as a reader would: (status, stdout text, stderr)."""
    env = dict(os.environ, MANWIDTH="80",
               LC_ALL="C.UTF-8" if utf8 else "C",
               # man-db's own sandbox only costs time here (a third).
               MAN_DISABLE_SECCOMP="1")
    # Options from the environment must not change what is checked.
    for k in ("MANOPT", "MAN_KEEP_FORMATTING", "MANROFFOPT"):
        env.pop(k, None)
    args = ["man", "--warnings"] + (["-E", "UTF-8"] if utf8 else []) + \
        ["-l", path]
    p = subprocess.run(args, env=env, capture_output=True, timeout=30)
    return (p.returncode, p.stdout.decode("utf-8", "replace").translate(DASHES),
            p.stderr.decode("utf-8", "replace"))


def render(jobs):
    """{(path, utf8): man(path, utf8)} for every job, run side by side (each
    man run is a pipeline of several processes)."""
    if shutil.which("man") is None:
        raise AssertionError("man (Debian package man-db) is not installed")
    with ThreadPoolExecutor(max_workers=4) as ex:
        return dict(zip(jobs, ex.map(lambda j: man(*j), jobs)))


def sections(text):
    """Rendered page -> {SECTION HEADING: its text}."""
    out, name = {}, None
    for line in text.split("\n"):
        if re.fullmatch(r"[A-Z][A-Z ]*[A-Z]", line):
            name = line
            out[name] = ""
        elif name is not None:
            out[name] += line + "\n"
    return out


def help_of(name):
    p = subprocess.run([program(name), "--help"], capture_output=True,
                       text=True, timeout=30)
    if p.returncode != 0 or not p.stdout:
        raise AssertionError("%s --help: status %d" % (name, p.returncode))
    return p.stdout


def long_options(help_text):
    return sorted(set(re.findall(r"--[a-z][a-z-]*[a-z]", help_text)))


def exit_statuses(help_text):
    """The numbers of the 'Exit status: 0 ..., 1 ..., 2 ...' paragraph."""
    m = re.search(r"Exit status:(.*?)(\n\n|\Z)", help_text, re.S)
    if m is None:
        raise AssertionError("no 'Exit status:' paragraph in --help")
    return re.findall(r"(?:^|[:,])\s+(\d+)\s", m.group(1))


def problems(path, name, help_text, rendered):
    """Every way page `path` fails to describe program `name`; `rendered`
    holds its renderings (render())."""
    out = []
    base = os.path.basename(path)
    for utf8 in (True, False):
        if (path, utf8) not in rendered:
            continue
        rc, text, err = rendered[(path, utf8)]
        where = "man -E UTF-8" if utf8 else "man (LC_ALL=C)"
        if rc != 0 or err.strip():
            out.append("%s: %s: status %d: %s" % (base, where, rc,
                                                   err.strip()))
    if (path, True) not in rendered:
        return out
    text = rendered[(path, True)][1]

    with open(path, encoding="utf-8") as f:
        th = next((l for l in f if l.startswith(".TH ")), None)
    stem, _, ext = base.rpartition(".")
    words = th.split() if th else []
    if len(words) < 3 or words[1].lower() != stem or words[2] != ext:
        out.append("%s: .TH %r does not name %s(%s)" % (base, th, stem, ext))

    secs = sections(text)
    want = COMMON + (DAEMON_ONLY if name in DAEMONS else [])
    out += ["%s: no %s section" % (base, s) for s in want if s not in secs]

    opts = secs.get("OPTIONS", "")
    for o in long_options(help_text):
        if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(o), opts):
            out.append("%s: %s is not in OPTIONS" % (base, o))
    status = secs.get("EXIT STATUS", "")
    for n in exit_statuses(help_text):
        if not re.search(r"^\s+%s(\s|$)" % n, status, re.M):
            out.append("%s: exit status %s is not in EXIT STATUS" % (base, n))
    return out


def mutate(src, dst, old, new):
    with open(src, encoding="utf-8") as f:
        text = f.read()
    if old not in text:
        raise AssertionError("mutation: %r not in %s" % (old, src))
    with open(dst, "w", encoding="utf-8") as f:
        f.write(text.replace(old, new, 1))


@test
def checker_fails_on_broken_pages(env):
    """Each check catches the fault it is there for."""
    name = "sipas-collector"
    src, helptext = page_of(name), help_of(name)
    tmp = tempfile.mkdtemp(prefix="man.", dir=env.dir)
    cases = [
        (".SH DESCRIPTION\n", ".SH DESCRIPTION\n.XX bad macro\n",
         "macro 'XX' not defined"),
        ("Run one per source.", "Run one per source (\u1ea5).",
         "man (LC_ALL=C)"),
        (".TH SIPAS-COLLECTOR 8", ".TH SIPAS-WORKER 1", ".TH"),
        (".BI \\-\\-give\\-up\\-ms", ".BI \\-\\-give\\-up\\-mss",
         "--give-up-ms is not in OPTIONS"),
        (".SH EXIT STATUS\n.TP\n.B 0\n", ".SH EXIT STATUS\n.TP\n.B 9\n",
         "exit status 0 is not in EXIT STATUS"),
        (".SH SIGNALS\n", ".SH SIGNAL\n", "no SIGNALS section"),
    ]
    bad = []
    for i, (old, new, _) in enumerate(cases):
        os.mkdir(os.path.join(tmp, str(i)))
        bad.append(os.path.join(tmp, str(i), "%s.8" % name))
        mutate(src, bad[i], old, new)
    # Each case rendered as it needs: only case 1 is about the C locale.
    rendered = render([(b, i != 1) for i, b in enumerate(bad)])
    for i, (_, new, expect) in enumerate(cases):
        found = problems(bad[i], name, helptext, rendered)
        # The fault is found, and nothing else is reported.
        if not found or not all(expect in p for p in found):
            raise AssertionError("case %d (%s): expected only %r, got %r"
                                 % (i, new.strip(), expect, found))


@test
def pages_describe_the_programs(env):
    """Every program's page renders cleanly and matches its --help."""
    found = []
    names = [n for n in PAGES if os.path.exists(page_of(n))]
    found += ["%s: missing" % page_of(n) for n in PAGES if n not in names]
    rendered = render([(page_of(n), u) for n in names for u in (True, False)])
    for name in names:
        helptext = help_of(name)
        if len(long_options(helptext)) < 4 or not exit_statuses(helptext):
            raise AssertionError("%s --help: options or statuses not parsed"
                                 % name)
        found += problems(page_of(name), name, helptext, rendered)
    if found:
        raise AssertionError("\n".join(found))


def installed(cmake_text):
    """{page: section of the man folder it is installed to}."""
    out = {}
    for files, sec in re.findall(
            r"install\(FILES\s([^)]*?)\s*DESTINATION\s+"
            r"\$\{CMAKE_INSTALL_MANDIR\}/man(\d)\s*\)", cmake_text):
        for f in files.split():
            out[f] = sec
    return out


@test
def every_page_is_installed(env):
    """man/CMakeLists.txt installs each page of man/ to man<its section>."""
    with open(os.path.join(MAN_DIR, "CMakeLists.txt"), encoding="utf-8") as f:
        got = installed(f.read())
    want = {os.path.basename(p): p[-1]
            for p in glob.glob(os.path.join(MAN_DIR, "*.[1-9]"))}
    if got != want:
        raise AssertionError("man/CMakeLists.txt installs %s; man/ holds %s"
                             % (sorted(got.items()), sorted(want.items())))


if __name__ == "__main__":
    run()
