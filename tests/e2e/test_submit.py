"""test_submit.py - sipas-submit end to end: JSON Lines and CSV through a
real collector and worker, its output lines, summary and exit status.

Run as: /usr/bin/python3 test_submit.py BUILD_DIR SOURCE_DIR
"""
import json
import os
import re
import subprocess
import time

import harness
from harness import test

SONLA = os.path.join(harness.SRC, "examples", "sonla-2024.json")
SUMMARY = re.compile(r"^(\d+) accepted, (\d+) duplicate, (\d+) rejected, "
                     r"(\d+) unacknowledged$")


def submit(env, *args, endpoint=None, stdin=None, timeout=120, cwd=None,
           extra_env=None):
    """Run sipas-submit; returns (exit status, stdout lines, stderr)."""
    cmd = [harness.program("sipas-submit"),
           "--endpoint", endpoint or env.collector_ep] + list(args)
    p = subprocess.run(cmd, input=stdin, capture_output=True,
                       timeout=timeout, cwd=cwd or env.dir,
                       env=dict(os.environ, **(extra_env or {})))
    out = p.stdout.decode("utf-8", errors="replace").splitlines()
    return p.returncode, out, p.stderr.decode("utf-8", errors="replace")


def summary(lines):
    m = SUMMARY.match(lines[-1]) if lines else None
    assert m, "no summary line: %r" % lines[-3:]
    return tuple(int(x) for x in m.groups())


def write_jsonl(path, records):
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write((r if isinstance(r, str)
                     else json.dumps(r, ensure_ascii=False)) + "\n")


def start(env):
    env.worker()
    env.collector()
    env.define(SONLA)
    return harness.load_definition(SONLA)


def records(defn, n, first=0):
    """n valid responses with multi items, respondents and comments."""
    out = []
    for i in range(first, first + n):
        r = harness.response(defn, i)
        if i % 3 == 0:
            r["items"]["expect"] = [1 + i % 2, 3 + i % 2]
        if i % 4 == 0:
            r["respondent"] = {"kind": "person", "gender": "f", "age": 20 + i % 50}
        if i % 5 == 0:
            r["comment"] = "Cán bộ nhiệt tình, \"tốt\"\nlần %d" % i
        out.append(r)
    return out


@test
def test_submit_jsonl_then_resubmit(env):
    defn = start(env)
    path = os.path.join(env.dir, "in.jsonl")
    recs = records(defn, 2000)
    write_jsonl(path, recs)

    rc, out, err = submit(env, path)
    assert rc == 0, (rc, out[-5:], err)
    assert out == ["2000 accepted, 0 duplicate, 0 rejected, 0 unacknowledged"], out[-5:]
    snap = env.snapshot()
    assert snap["counts"]["accepted"] == 2000, snap["counts"]

    # again: every record is a duplicate (a line each), exit status 0
    rc, out, err = submit(env, path)
    assert rc == 0, (rc, err)
    assert summary(out) == (0, 2000, 0, 0), out[-1]
    assert len(out) == 2001
    for n, line in enumerate(out[:-1], 1):
        assert line.startswith("line %d: %s: duplicate" % (n, recs[n - 1]["id"])), line
    # --quiet: no line per duplicate
    rc, out, err = submit(env, "--quiet", path)
    assert rc == 0 and out == ["0 accepted, 2000 duplicate, 0 rejected, 0 unacknowledged"], out[-3:]
    assert env.snapshot()["counts"]["accepted"] == 2000


@test
def test_submit_stdin_and_several_files(env):
    defn = start(env)
    recs = records(defn, 30)
    text = "".join(json.dumps(r) + "\n" for r in recs[:10])
    rc, out, err = submit(env, stdin=text.encode())
    assert rc == 0 and summary(out) == (10, 0, 0, 0), (out, err)
    rc, out, err = submit(env, "-", stdin=text.encode())
    assert rc == 0 and summary(out) == (0, 10, 0, 0), (out, err)

    a, b = os.path.join(env.dir, "a.jsonl"), os.path.join(env.dir, "b.data")
    write_jsonl(a, recs[10:20])
    write_jsonl(b, recs[20:30] + ["{oops"])   # no extension: sniffed as JSON
    rc, out, err = submit(env, a, b)
    assert rc == 1, (rc, out, err)
    assert summary(out) == (20, 0, 1, 0), out
    assert out[0].startswith("%s: line 11: : malformed: " % b), out


def csv_text(defn, recs, crlf=True):
    """recs as CSV: every item column of every form, multi as 1;4."""
    multi, cols = set(), []
    for f in defn["forms"]:
        for c in harness.criteria_of(f):
            if c not in cols:
                cols.append(c)
        for it in f.get("items", []):
            if it["id"] not in cols:
                cols.append(it["id"])
            if it["kind"] == "multi":
                multi.add(it["id"])
    head = ["id", "campaign", "unit", "form", "channel", "ts"] + cols + \
        ["comment", "respondent.kind", "respondent.gender", "respondent.age"]
    nl = "\r\n" if crlf else "\n"

    def cell(v):
        s = str(v)
        if any(ch in s for ch in ",\"\r\n"):
            s = '"' + s.replace('"', '""') + '"'
        return s

    rows = [",".join(head)]
    for i, r in enumerate(recs):
        ts = r["ts"]
        # alternate unix seconds, a date-time at +07:00 and one with Z
        if i % 3 == 1:
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(r["ts"] + 7 * 3600))
        elif i % 3 == 2:
            ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(r["ts"]))
        row = [r["id"], r["campaign"], r["unit"], r["form"], r["channel"], ts]
        for c in cols:
            v = r["items"].get(c)
            row.append("" if v is None else
                       ";".join(str(x) for x in v) if isinstance(v, list) else v)
        resp = r.get("respondent", {})
        row += [r.get("comment", ""), resp.get("kind", ""),
                resp.get("gender", ""), resp.get("age", "")]
        rows.append(",".join(cell(x) for x in row))
    return "\ufeff" + nl.join(rows) + nl


@test
def test_submit_csv(env):
    defn = start(env)
    recs = records(defn, 600)
    for r in recs[::7]:
        if "expect" in r["items"]:
            r["items"]["expect"] = [3]   # one code: still a list
    path = os.path.join(env.dir, "in.csv")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(csv_text(defn, recs))

    # the definition comes from the store
    rc, out, err = submit(env, "--store", env.store, path)
    assert rc == 0, (rc, out[-5:], err)
    assert out == ["600 accepted, 0 duplicate, 0 rejected, 0 unacknowledged"], out[-5:]

    # the same content as JSON Lines: every record is a duplicate, so the
    # CSV reading gave exactly the JSON records (same content hash)
    jpath = os.path.join(env.dir, "same.jsonl")
    write_jsonl(jpath, recs)
    rc, out, err = submit(env, "--quiet", jpath)
    assert rc == 0 and summary(out) == (0, 600, 0, 0), (out[-3:], err)

    # or from a definition file; --format overrides the extension
    txt = os.path.join(env.dir, "in.txt")
    os.rename(path, txt)
    rc, out, err = submit(env, "--quiet", "--format", "csv", "--definition", SONLA, txt)
    assert rc == 0 and summary(out) == (0, 600, 0, 0), (out[-3:], err)

    # without any definition (a clerk's machine far from the store): a
    # multi cell of one code is sent as an integer, the service answers
    # bad_type, and the record goes again as a list; later rows of that
    # item are sent as lists at once
    more = records(defn, 300, first=5000)
    for r in more:
        r["items"]["expect"] = [1 + r["ts"] % 3]
    other = os.path.join(env.dir, "more.csv")
    with open(other, "w", encoding="utf-8", newline="") as f:
        f.write(csv_text(defn, more))
    empty = os.path.join(env.dir, "nowhere")
    os.mkdir(empty)
    rc, out, err = submit(env, other, cwd=empty, extra_env={"SIPAS_HOME": empty})
    assert rc == 0, (rc, out[-5:], err)
    assert out == ["300 accepted, 0 duplicate, 0 rejected, 0 unacknowledged"], out[-5:]
    assert "learnt" in err, err
    # a --store that is not there cannot be read
    rc, out, err = submit(env, "--store", empty, other)
    assert rc == 2 and out == [], (rc, out, err)


@test
def test_submit_csv_bad_cells(env):
    defn = start(env)
    recs = records(defn, 4, first=1)     # no comment spanning lines
    text = csv_text(defn, recs, crlf=False).splitlines()
    head = text[0].split(",")
    a1 = head.index("A1")
    bad = text[2].split(",")
    bad[a1] = "abc"
    text[2] = ",".join(bad)
    text.append("x-1,SL-2024,SNV")             # too few cells
    path = os.path.join(env.dir, "bad.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(text) + "\n")
    rc, out, err = submit(env, "--definition", SONLA, path)
    assert rc == 1, (rc, out, err)
    assert summary(out) == (3, 0, 2, 0), out
    assert out[0] == 'line 3: %s: bad_value items.A1: Item A1 must be an ' \
        'integer, not "abc".' % recs[1]["id"], out
    assert out[1].startswith("line 6: : malformed: "), out


@test
def test_submit_refusal_codes(env):
    """One record per refusal code: that code on its line."""
    defn = start(env)
    base = records(defn, 40)
    good = base[0]
    unit_form = {u["id"]: u["forms"] for u in defn["units"]}
    other_form = next(f["id"] for f in defn["forms"]
                      if f["id"] not in unit_form[good["unit"]])
    crit = harness.criteria_of(next(f for f in defn["forms"] if f["id"] == good["form"]))

    def variant(i, **change):
        r = json.loads(json.dumps(base[i]))
        for k, v in change.items():
            if v is None:
                r.pop(k, None)
            else:
                r[k] = v
        return r

    cases = []      # (line text, code, field or None)
    cases.append((json.dumps(good), None, None))
    cases.append(("this is not json", "malformed", None))
    cases.append((json.dumps(variant(1, comment="x" * 2001)), "too_large", "comment"))
    cases.append((json.dumps(variant(2, ts=None)), "missing_field", "ts"))
    r = variant(3)
    r["items"][crit[0]] = 4.5
    cases.append((json.dumps(r), "bad_type", "items." + crit[0]))
    cases.append((json.dumps(variant(4, channel="fax")), "bad_value", "channel"))
    cases.append((json.dumps(variant(5, v=2)), "bad_value", "v"))
    cases.append((json.dumps(variant(6, extra=1)), "unknown_field", "extra"))
    cases.append((json.dumps(variant(7, campaign="XX-1999")), "unknown_campaign", None))
    cases.append((json.dumps(variant(8, unit="NO-SUCH-UNIT")), "unknown_unit", None))
    r = harness.response(defn, 9, unit=good["unit"], form=other_form)
    cases.append((json.dumps(r), "form_not_allowed", None))
    r = variant(10)
    r["items"]["Z99"] = 1
    cases.append((json.dumps(r), "unknown_item", "items.Z99"))
    r = variant(11)
    del r["items"][crit[1]]
    cases.append((json.dumps(r), "missing_item", "items." + crit[1]))
    r = variant(12)
    r["items"][crit[2]] = 9
    cases.append((json.dumps(r), "out_of_range", "items." + crit[2]))
    cases.append((json.dumps(variant(13, ts=86400)), "outside_window", "ts"))
    cases.append((json.dumps(variant(14, comment="@@")).replace("@@", "\udcff"),
                  "bad_utf8", "comment"))
    cases.append((json.dumps(variant(15, id="bad id!")), "bad_value", "id"))
    cases.append(('{"v":1,"id":"dup-key","id":"dup-key"}', "malformed", None))
    cases.append((json.dumps(variant(16, items=[1, 2])), "bad_type", "items"))
    r = variant(0)
    r["items"][crit[3]] = (r["items"][crit[3]] % 5) + 1  # same id, other content
    cases.append((json.dumps(r), "conflict", None))

    path = os.path.join(env.dir, "codes.jsonl")
    with open(path, "wb") as f:
        for text, _, _ in cases:
            f.write(text.encode("utf-8", errors="surrogateescape") + b"\n")
    rc, out, err = submit(env, path)
    assert rc == 1, (rc, out, err)
    refused = [c for c in cases if c[1]]
    assert summary(out) == (1, 0, len(refused), 0), out
    lines = out[:-1]
    assert len(lines) == len(refused), lines
    for line, (n, (text, code, field)) in zip(
            lines, [(n, c) for n, c in enumerate(cases, 1) if c[1]]):
        m = re.match(r"^line (\d+): ([^:]*): (\S+)(?: (\S+))?: (.+)$", line)
        assert m, line
        assert int(m.group(1)) == n, (line, n)
        assert m.group(3) == code, (line, code)
        if field is not None:
            assert m.group(4) == field, (line, field)
        try:
            rid = json.loads(text)["id"]
        except ValueError:
            rid = ""
        if code not in ("malformed", "bad_utf8") and rid != "bad id!":
            assert m.group(2) == rid, (line, rid)


@test
def test_submit_busy_tiny_bound(env):
    """A collector with room for 2 responses: busy answers are retried
    until everything is in."""
    defn = harness.load_definition(SONLA)
    env.worker()
    env.collector("--max-inflight", "2")
    env.define(SONLA)
    path = os.path.join(env.dir, "in.jsonl")
    write_jsonl(path, records(defn, 1500))
    rc, out, err = submit(env, path)
    assert rc == 0, (rc, out[-5:], err)
    assert out == ["1500 accepted, 0 duplicate, 0 rejected, 0 unacknowledged"], out[-5:]
    assert env.snapshot()["counts"]["accepted"] == 1500


@test
def test_submit_worker_restart(env):
    """The worker is killed mid-stream and started again: submit keeps
    retrying (busy or silence) and every record ends up counted once."""
    defn = start(env)
    path = os.path.join(env.dir, "in.jsonl")
    n = 40000
    write_jsonl(path, records(defn, n))
    p = subprocess.Popen([harness.program("sipas-submit"), "--quiet",
                          "--endpoint", env.collector_ep, "--timeout", "60", path],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.3)
    worker = next(d for d in env.daemons if d.name == "sipas-worker")
    worker.kill()
    assert p.poll() is None, "submit ended before the worker was killed"
    time.sleep(1.5)
    env.worker()
    out, err = p.communicate(timeout=120)
    lines = out.decode().splitlines()
    a, d, rj, un = summary(lines)
    assert p.returncode == 0, (p.returncode, lines[-3:], err)
    assert rj == 0 and un == 0 and a + d == n, lines[-1]
    assert env.snapshot()["counts"]["accepted"] == n


@test
def test_submit_no_collector(env):
    recs = records(harness.load_definition(SONLA), 50)
    path = os.path.join(env.dir, "in.jsonl")
    write_jsonl(path, recs + ["[1]"])
    t0 = time.time()
    rc, out, err = submit(env, "--timeout", "1", path,
                          endpoint="ipc://%s/nobody.sock" % env.dir)
    assert rc == 1, (rc, out, err)
    assert summary(out) == (0, 0, 1, 50), out[-1]
    assert time.time() - t0 < 10
    assert out[0].startswith("line 1: %s: unacknowledged: " % recs[0]["id"]), out[0]
    assert out[50].startswith("line 51: : malformed: "), out[50]


@test
def test_submit_usage(env):
    exe = harness.program("sipas-submit")

    def run(*args):
        p = subprocess.run([exe] + list(args), capture_output=True, text=True,
                           cwd=env.dir)
        return p.returncode, p.stdout, p.stderr

    rc, out, err = run("--help")
    assert rc == 0 and "--endpoint" in out and "--utc-offset" in out, out
    rc, out, err = run("--version")
    assert rc == 0 and out.startswith("sipas-submit "), out
    assert run("--no-such-option")[0] == 1
    assert run("--format", "xml")[0] == 1
    assert run("--utc-offset", "7")[0] == 1
    assert run("--window", "0")[0] == 1
    rc, out, err = run("does-not-exist.jsonl")
    assert rc == 2 and "does-not-exist.jsonl" in err and out == "", (rc, out, err)
    # an unusable CSV header refuses that file
    bad = os.path.join(env.dir, "dup.csv")
    with open(bad, "w") as f:
        f.write("id,campaign,unit,form,channel,ts,A1,A1\n")
    rc, out, err = run("--definition", SONLA, "--timeout", "1",
                       "--endpoint", "ipc://%s/nobody.sock" % env.dir, bad)
    assert rc == 1 and "A1 appears twice" in err, (rc, out, err)
    assert out.splitlines()[-1] == "0 accepted, 0 duplicate, 0 rejected, 0 unacknowledged"


if __name__ == "__main__":
    harness.run()
