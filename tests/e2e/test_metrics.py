"""End to end: the worker's metrics file and `sipas-admin status`.

A real worker and collector take valid responses and a few refused ones
(an unknown unit, an out-of-range answer); then:
- the worker's Prometheus textfile (STORE/sipas-worker.prom by default)
  holds the same counts as the acks the client read, with every rejection
  code registered (zeros included), the commit histogram consistent
  (cumulative buckets, +Inf = count), the map gauges, sipas_up 1;
- every line is Prometheus text format (HELP/TYPE/series);
- `sipas-admin status` prints them and exits 0 while the worker runs;
  after SIGTERM the file says sipas_up 0 and status exits 1 ("stopped");
- --metrics-file none writes no file; --metrics-file PATH writes there.
"""
import os
import re
import subprocess
import time

from harness import SRC, load_definition, program, response, run, test

SONLA = os.path.join(SRC, "examples/sonla-2024.json")
SERIES = re.compile(r'^([a-z_]+)(\{[^}]*\})? (\S+)$')


def parse(path):
    """{(name, labels): value} of a Prometheus text file; asserts that
    every line is a comment, a HELP/TYPE line or a series."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# HELP ") or line.startswith("# TYPE "):
                continue
            m = SERIES.match(line)
            assert m, "not Prometheus text: %r" % line
            out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def value(series, name, **labels):
    """The value of the series name{...labels...} (program label aside)."""
    for (n, lab), v in series.items():
        if n != name:
            continue
        got = dict(re.findall(r'([a-z_]+)="([^"]*)"', lab))
        got.pop("program", None)
        if got == labels:
            return v
    raise AssertionError("no series %s %s" % (name, labels))


def feed(env, defn, n):
    """n valid responses, one of an unknown unit, one out of range."""
    c = env.client()
    acks = []
    for i in range(n):
        acks.append(c.call(response(defn, i)))
    bad = response(defn, n, unit="NO-SUCH-UNIT")
    acks.append(c.call(bad))
    crit = response(defn, n + 1)
    first = next(iter(crit["items"]))
    crit["items"][first] = 9
    acks.append(c.call(crit))
    c.close()
    return acks


@test
def worker_file_and_status(env):
    defn = load_definition(SONLA)
    env.define(SONLA)
    w = env.worker("--metrics-interval-s", "1")
    env.collector()
    acks = feed(env, defn, 200)
    counts = {}
    for a in acks:
        counts[a["status"]] = counts.get(a["status"], 0) + 1
    assert counts == {"accepted": 200, "rejected": 2}, counts
    path = os.path.join(env.store, "sipas-worker.prom")
    deadline = time.time() + 10
    while True:
        s = parse(path) if os.path.exists(path) else {}
        if s and value(s, "sipas_responses_total", status="accepted") == 200:
            break
        assert time.time() < deadline, "metrics file not updated: %s" % s
        time.sleep(0.2)
    assert value(s, "sipas_up") == 1
    assert value(s, "sipas_received_total") == 202
    assert value(s, "sipas_responses_total", status="rejected") == 2
    assert value(s, "sipas_responses_total", status="busy") == 0
    assert value(s, "sipas_rejected_total", code="unknown_unit") == 1
    assert value(s, "sipas_rejected_total", code="out_of_range") == 1
    # Every code is there from the start, at zero.
    assert value(s, "sipas_rejected_total", code="conflict") == 0
    assert value(s, "sipas_quarantined_total") == 0
    used = value(s, "sipas_lmdb_map_used_bytes")
    assert 0 < used <= value(s, "sipas_lmdb_map_size_bytes"), s
    # The histogram: cumulative buckets, +Inf equal to the count.
    buckets = sorted(((float(re.search(r'le="([^"]+)"', lab).group(1)), v)
                      for (n, lab), v in s.items()
                      if n == "sipas_commit_seconds_bucket"))
    assert buckets and buckets[-1][0] == float("inf"), buckets
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), buckets
    count = value(s, "sipas_commit_seconds_count")
    assert count >= 1 and buckets[-1][1] == count, (buckets, count)
    assert value(s, "sipas_commit_seconds_sum") > 0

    p = env.admin("status", check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "running" in p.stdout and "accepted            200" in p.stdout, \
        p.stdout
    assert "unknown_unit 1" in p.stdout, p.stdout

    w.stop()
    s = parse(path)
    assert value(s, "sipas_up") == 0, s
    p = env.admin("status", check=False)
    assert p.returncode == 1 and "stopped" in p.stdout, p.stdout + p.stderr
    # A file that is not there is named.
    p = env.admin("status", os.path.join(env.dir, "nothing.prom"),
                  check=False)
    assert p.returncode == 1 and "nothing.prom" in p.stderr, p.stderr


@test
def file_where_asked_or_none(env):
    env.define(SONLA)
    elsewhere = os.path.join(env.dir, "textfile", "sipas-worker.prom")
    os.makedirs(os.path.dirname(elsewhere))
    w = env.worker("--metrics-file", elsewhere, "--metrics-interval-s", "1")
    deadline = time.time() + 5
    while not os.path.exists(elsewhere):
        assert time.time() < deadline, "no file at --metrics-file"
        time.sleep(0.1)
    assert oct(os.stat(elsewhere).st_mode & 0o777) == "0o644"
    w.stop()
    assert not os.path.exists(os.path.join(env.store, "sipas-worker.prom"))
    w = env.worker("--metrics-file", "none", "--metrics-interval-s", "1")
    time.sleep(1.5)
    w.stop()
    assert not os.path.exists(os.path.join(env.store, "sipas-worker.prom"))
    p = subprocess.run([program("sipas-admin"), "--store", env.store,
                        "status"], capture_output=True, text=True)
    assert p.returncode == 1, p.stdout


@test
def collector_file(env):
    """The collector's file beside its spool: the acks its clients were
    sent (a malformed request refused by the collector itself included),
    labelled with its source; status reads it with the worker's."""
    defn = load_definition(SONLA)
    env.define(SONLA)
    env.worker("--metrics-interval-s", "1")
    spool = os.path.join(env.dir, "spool")
    col = env.collector("--spool", spool, "--metrics-interval-s", "1")
    acks = feed(env, defn, 50)
    c = env.client()
    c.send_raw(b"\xc1")  # not msgpack: refused by the collector
    junk = c.recv()
    c.close()
    assert junk["status"] == "rejected" and junk["code"] == "malformed"
    assert sum(a["status"] == "accepted" for a in acks) == 50
    path = os.path.join(spool, "sipas-collector.prom")
    deadline = time.time() + 10
    while True:
        s = parse(path) if os.path.exists(path) else {}
        if s and value(s, "sipas_responses_total", status="rejected",
                       source="test") == 3:
            break
        assert time.time() < deadline, "collector file not updated: %s" % s
        time.sleep(0.2)
    assert all('source="test"' in lab for (_, lab) in s), s
    assert value(s, "sipas_responses_total", status="accepted",
                 source="test") == 50
    assert value(s, "sipas_rejected_total", code="malformed",
                 source="test") == 1
    assert value(s, "sipas_rejected_total", code="unknown_unit",
                 source="test") == 1
    assert value(s, "sipas_received_total", source="test") == 52
    assert value(s, "sipas_spool_depth", source="test") >= 0
    p = env.admin("status", path, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "sipas-collector" in p.stdout and "sipas-worker" in p.stdout
    col.stop()
    assert value(parse(path), "sipas_up", source="test") == 0


if __name__ == "__main__":
    run()
