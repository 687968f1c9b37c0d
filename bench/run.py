#!/usr/bin/python3
"""sipas against PostgreSQL, side by side, on the same corpus and disk.

    bench/run.py [--n 200000] [--n-large 1000000] [--runs 3] [--work DIR]
                 [--build DIR] [--shared DIR] [--skip-pg] [--skip-large]

What one run does (docs/benchmark.md explains each figure):
  1. generates the corpus with ../shared/bench/gen.py (N_LARGE responses;
     the first N of them are the N-response corpus, as gen.py guarantees);
  2. sipas ingest, RUNS times on a fresh store: sipas-worker and
     sipas-collector on loopback tcp, sipas-load sends the corpus (a DEALER
     keeping thousands of responses in flight) and times every ack;
  3. ack latency at half the best measured rate (paced sends);
  4. sipas-snapshot --format json, RUNS times; worker restart to READY;
     store size; resident memory of both daemons;
  5. the same at N_LARGE responses (one ingest);
  6. the PostgreSQL peer of ../shared/bench: a private cluster on loopback
     (durable settings), `pg_peer ingest` RUNS times, `pg_peer snapshot`
     at N and at N_LARGE;
  7. prints the table: medians, ratios, and whether each target is met.
Every RESULT line of every tool is kept in WORK/results.txt.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTOR_PORT = 7380
WORKER_PORT = 7381
PG_PORT = 54329


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def result(line_prefix, out):
    """The key=value pairs of the first `RESULT <prefix>` line of out."""
    for line in out.splitlines():
        if line.startswith("RESULT " + line_prefix + " "):
            return dict(kv.split("=", 1) for kv in line.split()[2:] if "=" in kv)
    raise RuntimeError("no RESULT %s line in:\n%s" % (line_prefix, out))


class Bench:
    def __init__(self, args):
        self.a = args
        self.work = os.path.abspath(args.work)
        self.build = os.path.abspath(args.build)
        self.shared = os.path.abspath(args.shared)
        self.results = open(os.path.join(self.work, "results.txt"), "a")
        self.procs = []

    def bin(self, name):
        sub = {"sipas-worker": "worker", "sipas-collector": "ingest",
               "sipas-admin": "store", "sipas-snapshot": "store",
               "sipas-load": "bench"}[name]
        return os.path.join(self.build, sub, name)

    def run(self, argv, **kw):
        """Run argv to completion; its stdout (RESULT lines are logged)."""
        p = subprocess.run(argv, stdout=subprocess.PIPE, text=True, **kw)
        for line in p.stdout.splitlines():
            if line.startswith("RESULT "):
                self.results.write(line + "\n")
                self.results.flush()
        if p.returncode != 0:
            raise RuntimeError("%s exited %d" % (" ".join(argv), p.returncode))
        return p.stdout

    # ---- daemons ----

    def start(self, argv, logname):
        """Start a daemon and wait for its READY=1 on our own NOTIFY_SOCKET
        (as systemd would); returns (Popen, seconds to ready)."""
        path = tempfile.mktemp(prefix="notify-", dir=self.work)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(0.2)
        err = open(os.path.join(self.work, logname), "ab")
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stderr=err, stdout=subprocess.DEVNULL,
                             env=dict(os.environ, NOTIFY_SOCKET=path))
        try:
            while True:
                try:
                    msg = sock.recv(4096).decode()
                except socket.timeout:
                    msg = ""
                if "READY=1" in msg.split("\n"):
                    ready = time.monotonic() - t0
                    break
                if p.poll() is not None or time.monotonic() - t0 > 60:
                    raise RuntimeError("%s did not get ready (see %s)"
                                       % (argv[0], logname))
        finally:
            sock.close()
            os.unlink(path)
        self.procs.append(p)
        return p, ready

    def stop(self, p):
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
        self.procs.remove(p)

    def stop_all(self):
        for p in list(self.procs):
            self.stop(p)

    def worker(self, store):
        return self.start([self.bin("sipas-worker"), "--store", store,
                           "--bind", "tcp://127.0.0.1:%d" % WORKER_PORT,
                           "--log-level", "notice"], "worker.log")

    def collector(self):
        return self.start([self.bin("sipas-collector"), "--bind",
                           "tcp://127.0.0.1:%d" % COLLECTOR_PORT,
                           "--worker", "tcp://127.0.0.1:%d" % WORKER_PORT,
                           "--source", "bench", "--log-level", "notice"],
                          "collector.log")

    @staticmethod
    def memory(p):
        """Resident memory of a process in KiB: anonymous, file-backed
        (pages of the mapped store), and the peak of the total."""
        out = {}
        with open("/proc/%d/status" % p.pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("RssAnon", "RssFile", "RssShmem", "VmHWM", "VmRSS"):
                    out[k] = int(v.split()[0])
        return out

    @staticmethod
    def cpu(p):
        with open("/proc/%d/stat" % p.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    # ---- sipas ----

    def fresh_store(self, name, definition):
        store = os.path.join(self.work, name)
        shutil.rmtree(store, ignore_errors=True)
        self.run([self.bin("sipas-admin"), "--store", store, "define",
                  definition], stderr=subprocess.DEVNULL)
        return store

    def ingest(self, corpus, n, definition, name, rate=0):
        """One ingest of the first n responses into a fresh store; the
        load client's figures plus the daemons' CPU and memory after it."""
        store = self.fresh_store(name, definition)
        w, _ = self.worker(store)
        c, _ = self.collector()
        argv = [self.bin("sipas-load"), "--endpoint",
                "tcp://127.0.0.1:%d" % COLLECTOR_PORT, "--window",
                str(self.a.window), "--array", str(self.a.array), "--limit",
                str(n), corpus]
        if rate:
            argv[1:1] = ["--rate", str(int(rate))]
        r = result("sipas_ingest", self.run(argv))
        r["worker_cpu"] = self.cpu(w)
        r["collector_cpu"] = self.cpu(c)
        r["worker_mem"] = self.memory(w)
        r["collector_mem"] = self.memory(c)
        self.stop(c)
        self.stop(w)
        if int(r["accepted"]) != n:
            raise RuntimeError("only %s of %d accepted" % (r["accepted"], n))
        return r, store

    def snapshot(self, store, runs):
        """Median seconds of `sipas-snapshot --format json` (the whole
        document written to a file), and the document of the last run."""
        out = os.path.join(self.work, "sipas_snapshot.json")
        secs = []
        for _ in range(runs):
            with open(out, "w") as f:
                t0 = time.monotonic()
                subprocess.run([self.bin("sipas-snapshot"), "--store", store,
                                "--format", "json"], stdout=f, check=True)
                secs.append(time.monotonic() - t0)
        with open(out) as f:
            doc = json.load(f)
        self.results.write("RESULT sipas_snapshot runs=%d secs=%.3f all=%s "
                           "json_bytes=%d accepted=%d index=%r\n" % (
                               runs, statistics.median(secs),
                               ",".join("%.3f" % s for s in secs),
                               os.path.getsize(out),
                               doc["counts"]["accepted"], doc["index"]))
        self.results.flush()
        return statistics.median(secs), doc

    def restart(self, store, runs):
        """Median seconds from exec to READY=1 of a worker on a full store."""
        secs = []
        for _ in range(runs):
            w, ready = self.worker(store)
            self.stop(w)
            secs.append(ready)
        return statistics.median(secs)

    @staticmethod
    def store_bytes(store):
        return os.path.getsize(os.path.join(store, "data.mdb"))

    # ---- PostgreSQL ----

    def pg(self, cmd, *args):
        db = "host=127.0.0.1 port=%d user=postgres dbname=postgres" % PG_PORT
        return self.run([self.pg_peer, cmd, "--db", db] + list(args))

    def pg_start(self):
        # The cluster goes beside the sipas stores (same file system) when
        # the user `postgres`, who owns it when we run as root, can reach
        # the work folder; otherwise under /tmp.
        parent = self.work
        if os.getuid() == 0 and not traversable(self.work):
            parent = "/tmp"
        self.pg_dir = tempfile.mkdtemp(prefix="pg-", dir=parent)
        os.chmod(self.pg_dir, 0o755)
        same = os.stat(self.pg_dir).st_dev == os.stat(self.work).st_dev
        log("PostgreSQL cluster in %s (%s file system as the sipas stores)"
            % (self.pg_dir, "same" if same else "NOT the same"))
        subprocess.run([os.path.join(self.shared, "bench", "pg.sh"), "start",
                        os.path.join(self.pg_dir, "data"), str(PG_PORT)],
                       check=True, stdout=subprocess.DEVNULL)

    def pg_stop(self):
        if getattr(self, "pg_dir", None):
            subprocess.run([os.path.join(self.shared, "bench", "pg.sh"),
                            "stop", os.path.join(self.pg_dir, "data")])
            shutil.rmtree(self.pg_dir, ignore_errors=True)
            self.pg_dir = None


def traversable(path):
    """Whether every folder down to path lets other users through."""
    path = os.path.abspath(path)
    while True:
        if not os.stat(path).st_mode & 0o001:
            return False
        if path == "/":
            return True
        path = os.path.dirname(path)


def corpus_prefix(src, dst, n):
    """The first n records of a gen.py corpus (u32 LE length + msgpack)."""
    with open(src, "rb") as f, open(dst, "wb") as out:
        for _ in range(n):
            head = f.read(4)
            if len(head) < 4:
                raise RuntimeError("%s holds fewer than %d responses" % (src, n))
            out.write(head + f.read(int.from_bytes(head, "little")))
    return os.path.getsize(dst) - 4 * n  # msgpack bytes alone


def med(rows, key):
    return statistics.median(float(r[key]) for r in rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200000)
    ap.add_argument("--n-large", type=int, default=1000000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--window", type=int, default=8000)
    ap.add_argument("--array", type=int, default=100)
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench-work"))
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    ap.add_argument("--skip-pg", action="store_true")
    ap.add_argument("--skip-large", action="store_true")
    a = ap.parse_args()
    if a.skip_large:
        a.n_large = a.n
    os.makedirs(a.work, exist_ok=True)
    b = Bench(a)
    try:
        report(b, a)
    finally:
        b.stop_all()
        b.pg_stop()


def report(b, a):
    gen = os.path.join(b.shared, "bench", "gen.py")
    big = os.path.join(b.work, "corpus-%d" % a.n_large)
    if not os.path.exists(os.path.join(big, "corpus.bin")):
        log("generating %d responses (gen.py -s 42)" % a.n_large)
        subprocess.run(["/usr/bin/python3", gen, "-n", str(a.n_large), "-s",
                        "42", "--out", big], check=True)
    definition = os.path.join(big, "definition.json")
    corpus_big = os.path.join(big, "corpus.bin")
    corpus = os.path.join(b.work, "corpus-%d.bin" % a.n)
    raw = corpus_prefix(corpus_big, corpus, a.n)
    with open(os.path.join(big, "corpus.json")) as f:
        raw_big = json.load(f)["msgpack_bytes"]

    rows = []
    for i in range(a.runs):
        log("sipas ingest %d/%d (%d responses)" % (i + 1, a.runs, a.n))
        r, store = b.ingest(corpus, a.n, definition, "store")
        rows.append(r)
        log("  %s responses/s, p99 %s ms" % (r["rate"], r["p99_ms"]))
    best = max(float(r["rate"]) for r in rows)
    log("sipas ack latency at half the best rate (%.0f/s)" % (best / 2))
    half, _ = b.ingest(corpus, a.n, definition, "store-half", rate=best / 2)
    log("sipas snapshot and restart at %d" % a.n)
    snap, doc = b.snapshot(store, a.runs)
    restart = b.restart(store, a.runs)
    size = b.store_bytes(store)
    large = None
    if a.n_large != a.n:
        log("sipas ingest of %d responses" % a.n_large)
        lr, lstore = b.ingest(corpus_big, a.n_large, definition, "store-large")
        lsnap, ldoc = b.snapshot(lstore, a.runs)
        large = dict(ingest=lr, snap=lsnap, doc=ldoc,
                     restart=b.restart(lstore, a.runs),
                     size=b.store_bytes(lstore))

    pg = None
    if not a.skip_pg:
        pg = run_pg(b, a, definition, corpus, corpus_big)

    print_table(a, rows, half, snap, doc, restart, size, raw, large, raw_big,
                pg)


def run_pg(b, a, definition, corpus, corpus_big):
    b.pg_peer = os.path.join(b.build, "pg_peer")
    b.pg_start()
    out = {"ingest": []}
    for i in range(a.runs):
        log("PostgreSQL ingest %d/%d (%d responses)" % (i + 1, a.runs, a.n))
        b.pg("setup", definition)
        out["ingest"].append(result("pg_ingest", b.pg("ingest", corpus)))
    log("PostgreSQL snapshot at %d" % a.n)
    out["snap"] = result("pg_snapshot", b.pg(
        "snapshot", "--vacuum", "--runs", str(a.runs), "--out",
        os.path.join(b.work, "pg_snapshot.json")))
    if a.n_large != a.n:
        log("PostgreSQL ingest and snapshot at %d" % a.n_large)
        b.pg("setup", definition)
        out["large_ingest"] = result("pg_ingest", b.pg("ingest", corpus_big))
        out["large_snap"] = result("pg_snapshot", b.pg(
            "snapshot", "--vacuum", "--runs", str(a.runs)))
    b.pg_stop()
    return out


def print_table(a, rows, half, snap, doc, restart, size, raw, large, raw_big,
                pg):
    mib = 1024.0
    lines = []

    def row(what, ours, theirs="", ratio="", target="", met=None):
        mark = "" if met is None else ("yes" if met else "NO")
        lines.append((what, ours, theirs, ratio, target, mark))

    rate = med(rows, "rate")
    pg_rate = statistics.median(float(r["rows_s"]) for r in pg["ingest"]) if pg else None
    row("ingest %d, responses/s (median of %d)" % (a.n, len(rows)),
        "%.0f" % rate, "%.0f" % pg_rate if pg else "",
        "%.2fx" % (rate / pg_rate) if pg else "", ">= 2x",
        rate >= 2 * pg_rate if pg else None)
    row("  sipas runs", ", ".join("%.0f" % float(r["rate"]) for r in rows),
        ", ".join(r["rows_s"] for r in pg["ingest"]) if pg else "")
    row("ack latency at full load p50 / p99, ms",
        "%.1f / %.1f" % (med(rows, "p50_ms"), med(rows, "p99_ms")))
    row("ack latency at %s/s (half) p50 / p99, ms" % half["offered"],
        "%s / %s" % (half["p50_ms"], half["p99_ms"]), "", "", "p99 <= 20",
        float(half["p99_ms"]) <= 20)
    pg_snap = float(pg["snap"]["secs"]) if pg else None
    row("snapshot json %d, s" % a.n, "%.3f" % snap,
        "%.3f" % pg_snap if pg else "",
        "%.1fx" % (pg_snap / snap) if pg else "", ">= 10x",
        pg_snap >= 10 * snap if pg else None)
    if large:
        lrate = float(large["ingest"]["rate"])
        pg_lrate = float(pg["large_ingest"]["rows_s"]) if pg else None
        row("ingest %d, responses/s" % a.n_large, "%.0f" % lrate,
            "%.0f" % pg_lrate if pg else "",
            "%.2fx" % (lrate / pg_lrate) if pg else "")
        pg_lsnap = float(pg["large_snap"]["secs"]) if pg else None
        row("snapshot json %d, s" % a.n_large, "%.3f" % large["snap"],
            "%.3f" % pg_lsnap if pg else "",
            "%.1fx" % (pg_lsnap / large["snap"]) if pg else "", ">= 30x",
            pg_lsnap >= 30 * large["snap"] if pg else None)
        row("snapshot growth %d -> %d" % (a.n, a.n_large),
            "%.2fx" % (large["snap"] / snap),
            "%.2fx" % (pg_lsnap / pg_snap) if pg else "", "", "flat",
            large["snap"] / snap < 1.5)
    last = large["ingest"] if large else rows[-1]
    n_last = a.n_large if large else a.n
    for who in ("worker", "collector"):
        m = last[who + "_mem"]
        row("%s RSS after %d, MiB (anon + file)" % (who, n_last),
            "%.1f (%.1f + %.1f)" % (m["VmRSS"] / mib, m["RssAnon"] / mib,
                                   m["RssFile"] / mib),
            "", "", "<= 64", m["VmRSS"] <= 64 * mib)
        m0 = rows[-1][who + "_mem"]
        row("  %s RSS after %d, MiB" % (who, a.n), "%.1f" % (m0["VmRSS"] / mib))
    row("worker restart to READY with %d stored, s" % n_last,
        "%.3f" % (large["restart"] if large else restart), "", "", "<= 1",
        (large["restart"] if large else restart) <= 1)
    row("store size / raw msgpack at %d" % a.n,
        "%.1f / %.1f MiB = %.2fx" % (size / mib / mib, raw / mib / mib,
                                     size / raw), "", "", "<= 1.5x",
        size <= 1.5 * raw)
    if large:
        row("store size / raw msgpack at %d" % a.n_large,
            "%.1f / %.1f MiB = %.2fx" % (large["size"] / mib / mib,
                                         raw_big / mib / mib,
                                         large["size"] / raw_big), "", "",
            "<= 1.5x", large["size"] <= 1.5 * raw_big)
    row("CPU s per 100k responses: worker / collector",
        "%.2f / %.2f" % (med(rows, "worker_cpu") * 1e5 / a.n,
                         med(rows, "collector_cpu") * 1e5 / a.n))
    if pg:
        same = int(pg["snap"]["accepted"]) == doc["counts"]["accepted"] and \
            abs(float(pg["snap"]["index"]) - doc["index"]) < 1e-6
        row("same snapshot (accepted, overall index)",
            "%d, %.6f" % (doc["counts"]["accepted"], doc["index"]),
            "%s, %.6f" % (pg["snap"]["accepted"], float(pg["snap"]["index"])),
            "", "equal", same)

    head = ("measurement", "sipas", "PostgreSQL", "ratio", "target", "met")
    widths = [max(len(str(r[i])) for r in lines + [head]) for i in range(6)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in lines:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")
    print("\nsettings: window %d, array %d; RESULT lines in %s" % (
        a.window, a.array, os.path.join(a.work, "results.txt")))


if __name__ == "__main__":
    main()
