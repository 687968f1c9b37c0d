"""faults.py - the crash and power-cut fault harness.

A client streams numbered valid responses through a sipas-collector (with a
spool) to a sipas-worker and records every ack, while the harness kills the
daemons at random moments (SIGKILL) or cuts the power under them (LazyFS:
un-fsynced writes dropped) and restarts them on the same store and spool.
The client re-sends whatever was not answered `accepted` or `duplicate` and
keeps going. After a run the invariants are checked:

  1. every id ever acked `accepted` is stored and counted: the store's
     `responses` database (read with mdb_dump) holds every response once,
     and the stored copy of a response acked `accepted` reached a collector
     before that ack was read (a later copy would mean the acked one was
     lost and a re-send hid it);
  2. re-sending every response afterwards yields only `duplicate`;
  3. the snapshot equals the snapshot of a clean single run of the same
     responses into a fresh store (nothing lost, nothing counted twice).

Used by tests/e2e/test_crash.py and test_powercut.py (short runs in CI) and by
scripts/soak.sh (long runs), which calls this file directly:

    /usr/bin/python3 tests/e2e/faults.py BUILD_DIR SOURCE_DIR \\
        [--rounds N] [--cuts N] [--per-run N] [--seed S] [--rate R]

and exits 1 when an invariant failed.
"""
import argparse
import collections
import heapq
import os
import random
import re
import subprocess
import sys
import time

import msgpack
import zmq

import harness
from harness import Env, load_definition, response

SONLA = os.path.join(harness.SRC, "examples", "sonla-2024.json")
LAZYFS = os.path.join(harness.SRC, "..", "shared", "tools", "lazyfs")

# Statuses that end a response's journey: it is in the store (or in the
# spool, which delivers it) and must never be re-sent.
FINAL = ("accepted", "duplicate")


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def say(*args):
    print(*args)
    sys.stdout.flush()


class Stream:
    """A DEALER client that streams responses number 0, 1, 2, ... of a
    definition, pipelined (at most `window` unanswered), some as arrays, and
    records every ack. A response is re-sent after `busy` (after retry_ms),
    after `timeout` seconds of silence, or at once when the harness says the
    collector holding it died (`lost`). New numbers are issued at `rate` per
    second at most, so a run's size depends on its length, not on the
    machine's speed."""

    def __init__(self, zctx, endpoint, defn, seed=1, window=256, rate=1500.0,
                 timeout=3.0, array_share=0.15):
        self.rng = random.Random(seed)
        self.defn = defn
        self.zctx, self.endpoint = zctx, endpoint
        self.sock = self._socket()
        self.window, self.rate, self.timeout = window, rate, timeout
        self.array_share = array_share
        self.resp = []                  # response i, as sent
        self.todo = collections.deque()  # numbers to re-send, first
        self.retry = []                 # heap of (time, number) after busy
        self.out = {}                   # number -> time last sent
        self.done = set()               # numbers acked accepted or duplicate
        self.accepted = {}              # number -> ms its first `accepted`
                                        # ack was read
        self.re_accepted = 0            # `accepted` for a number already so
        self.acks = collections.Counter()  # status -> acks received
        self.copies = 0                 # responses sent, re-sends included
        self.requests = 0               # messages sent
        self.unexpected = []            # acks that a valid stream never gets
        self.t0 = time.time()
        self.paused = 0.0               # seconds new numbers were held back
        self.last_scan = 0.0

    def _socket(self):
        s = self.zctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(self.endpoint)
        return s

    @property
    def n(self):
        return len(self.resp)

    def number(self, rid):
        return int(rid[2:]) if rid.startswith("r-") else -1

    def _new(self):
        i = self.n
        self.resp.append(response(self.defn, i))
        return i

    def _ack(self, a):
        """Record one ack."""
        if not isinstance(a, dict):
            self.unexpected.append(a)
            return
        st = a.get("status")
        i = self.number(a.get("id", ""))
        self.acks[st] += 1
        if i < 0 or i >= self.n or st not in FINAL + ("busy",):
            self.unexpected.append(a)
            return
        if st == "accepted":
            if i in self.accepted:
                self.re_accepted += 1
            else:
                self.accepted[i] = time.time() * 1000.0
        if st in FINAL:
            self.done.add(i)
            self.out.pop(i, None)
            return
        # busy: nothing was stored; re-send after the suggested wait,
        # unless another copy is still out or already answered.
        if i in self.done:
            return
        self.out.pop(i, None)
        wait = a.get("retry_ms", 100) / 1000.0
        heapq.heappush(self.retry, (time.time() + min(wait, 0.5), i))

    def _recv_ready(self, wait_ms):
        if not self.sock.poll(wait_ms):
            return
        while True:
            try:
                frame = self.sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                obj = msgpack.unpackb(frame, raw=False)
            except Exception:  # noqa: BLE001 - a garbled ack is a finding
                self.unexpected.append(frame[:80])
                continue
            for a in (obj if isinstance(obj, list) else [obj]):
                self._ack(a)

    def _take(self, k, new_ok):
        """Up to k numbers to send: re-sends first, then new ones."""
        now = time.time()
        while self.retry and self.retry[0][0] <= now:
            self.todo.append(heapq.heappop(self.retry)[1])
        ids = []
        while self.todo and len(ids) < k:
            i = self.todo.popleft()
            if i not in self.done and i not in self.out and i not in ids:
                ids.append(i)
        if new_ok:
            budget = int(self.rate * (now - self.t0 - self.paused)) - self.n
            while len(ids) < k and budget > 0:
                ids.append(self._new())
                budget -= 1
        return ids

    def _send_some(self, new_ok=True):
        now = time.time()
        # Silence past the timeout: re-send (the collector forgot it, or
        # died with it).
        if now - self.last_scan > 0.25:
            self.last_scan = now
            late = [i for i, t in self.out.items() if now - t > self.timeout]
            for i in late:
                del self.out[i]
                self.todo.append(i)
        while len(self.out) < self.window:
            k = 1
            if self.rng.random() < self.array_share:
                k = self.rng.randint(2, 64)
            ids = self._take(k, new_ok)
            if not ids:
                return
            body = self.resp[ids[0]] if len(ids) == 1 and k == 1 else \
                [self.resp[i] for i in ids]
            try:
                self.sock.send(pack(body), zmq.NOBLOCK)
            except zmq.Again:
                # No collector to take it (its pipe is full): try later.
                self.todo.extendleft(reversed(ids))
                return
            self.requests += 1
            self.copies += len(ids)
            for i in ids:
                self.out[i] = now

    def pump(self, seconds, new_ok=True):
        """Stream for `seconds`, reading acks as they come."""
        end = time.time() + seconds
        while True:
            self._send_some(new_ok)
            left = end - time.time()
            if left <= 0:
                break
            self._recv_ready(int(min(left, 0.01) * 1000) + 1)

    def lost(self):
        """The collector died: whatever it held unanswered is re-sent. Acks
        it sent before it died are read first (a careful client does not
        re-send what it was told is accepted)."""
        self._recv_ready(20)
        self._recv_ready(0)
        for i in list(self.out):
            self.todo.append(i)
        self.out.clear()

    def finish(self, timeout=90.0):
        """Stop issuing numbers; send and re-send until every number issued
        has a final ack."""
        t = time.time()
        end = t + timeout
        while len(self.done) < self.n:
            if time.time() > end:
                raise AssertionError(
                    "%d of %d responses without a final ack after %.0f s"
                    % (self.n - len(self.done), self.n, timeout))
            self.pump(0.05, new_ok=False)
        self.paused += time.time() - t

    def close(self):
        self.sock.close(0)


def send_all(zctx, endpoint, resps, timeout=120.0, chunk=500):
    """Send every response (arrays of `chunk`) on a fresh DEALER, re-send
    `busy` ones; the final status of each, by number."""
    s = zctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    final = {}
    todo = list(range(len(resps)))
    end = time.time() + timeout
    try:
        while todo:
            again = []
            # At most 8 arrays out at a time: below any in-flight limit.
            for at in range(0, len(todo), chunk * 8):
                part = todo[at:at + chunk * 8]
                pending = 0
                for j in range(0, len(part), chunk):
                    s.send(pack([resps[i] for i in part[j:j + chunk]]))
                    pending += 1
                while pending:
                    left = end - time.time()
                    if left <= 0 or not s.poll(int(left * 1000)):
                        raise AssertionError(
                            "no answer to a re-send within %.0f s" % timeout)
                    for a in msgpack.unpackb(s.recv(), raw=False):
                        i = int(a["id"][2:])
                        if a["status"] == "busy":
                            again.append(i)
                        else:
                            final[i] = a["status"]
                    pending -= 1
            todo = sorted(again)
            if todo:
                time.sleep(0.1)
    finally:
        s.close(0)
    return final


def spool_drained(spool, timeout=60.0):
    """Wait until the collector has delivered its spool (no segment left)."""
    end = time.time() + timeout
    while time.time() < end:
        if not [f for f in os.listdir(spool) if f.endswith(".seg")]:
            return
        time.sleep(0.05)
    raise AssertionError("spool %s not delivered within %.0f s: %s" % (
        spool, timeout, sorted(os.listdir(spool))))


def stored_responses(store):
    """What the store counted: {response id: [received_ms of each stored
    copy]}, read from its `responses` database with mdb_dump (a read
    transaction; the worker may run). Values are laid out as
    store/store_priv.h says: version 2, received_ms i64 LE, source length
    u8, source, revision u32 LE, the raw msgpack map."""
    p = subprocess.run(["mdb_dump", "-s", "responses", store],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError("mdb_dump %s: %s" % (store, p.stderr))
    lines = p.stdout.splitlines()
    data = lines[lines.index("HEADER=END") + 1:lines.index("DATA=END")]
    out = collections.defaultdict(list)
    for val in data[1::2]:
        v = bytes.fromhex(val.strip())
        assert v[0] == 2, "unknown entry version %d" % v[0]
        ms = int.from_bytes(v[1:9], "little", signed=True)
        raw = v[10 + v[9] + 4:]
        out[msgpack.unpackb(raw, raw=False)["id"]].append(ms)
    return out


def comparable(snap):
    """A snapshot without what depends on the path taken: the time it was
    taken and the duplicates (re-sends) seen on the way."""
    s = dict(snap)
    s.pop("taken_at", None)
    s["counts"] = {k: v for k, v in s["counts"].items() if k != "duplicates"}
    return s


def differences(a, b, path="", out=None, limit=12):
    """Paths where two JSON values differ (at most `limit`)."""
    out = [] if out is None else out
    if len(out) >= limit:
        return out
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append("%s/%s: %r vs %r" % (path, k, a.get(k), b.get(k)))
            else:
                differences(a[k], b[k], "%s/%s" % (path, k), out, limit)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for k, (x, y) in enumerate(zip(a, b)):
            key = x.get("id", k) if isinstance(x, dict) else k
            differences(x, y, "%s[%s]" % (path, key), out, limit)
    elif a != b:
        out.append("%s: %r vs %r" % (path, a, b))
    return out


def clean_snapshot(resps):
    """The snapshot of the same responses sent once into a fresh store."""
    env = Env()
    try:
        env.define(SONLA)
        env.worker()
        env.collector()
        final = send_all(env.zctx, env.collector_ep, resps)
        bad = [i for i, st in final.items() if st != "accepted"]
        assert not bad, "clean run: %d not accepted, e.g. %s" % (
            len(bad), final[bad[0]])
        return env.snapshot()
    finally:
        env.close()


def check(env, rig, stream, figures):
    """The invariants after a run (the daemons up). Adds to `figures`;
    returns the list of failures (empty: all held)."""
    fails = []
    t0 = time.time()
    stream.finish()
    spool_drained(rig.spool)
    if stream.unexpected:
        fails.append("unexpected acks: %r" % stream.unexpected[:5])
    snap = env.snapshot()
    stored = stored_responses(env.store)
    clean = clean_snapshot(stream.resp)
    # Invariants 1 and 2: re-sending everything gets only `duplicate`. A
    # number acked `accepted` (or `duplicate`) that is accepted now was lost.
    # The re-send goes through a fresh collector without a spool, so that
    # every answer is the worker's, read from the store (a collector
    # remembers the ids it recently acked).
    stream.close()
    status = rig.c.stop()
    if status != 0:
        fails.append("collector exit status %d after SIGTERM" % status)
    rig.c = env.collector()
    final = send_all(env.zctx, env.collector_ep, stream.resp)
    not_dup = sorted(i for i in range(stream.n) if final.get(i) != "duplicate")
    acked_lost = [i for i in not_dup if i in stream.accepted]
    if not_dup:
        fails.append("%d re-sends not `duplicate` (%d of them acked "
                     "accepted), e.g. %s" % (
                         len(not_dup), len(acked_lost),
                         ["r-%06d: %s" % (i, final.get(i))
                          for i in not_dup[:8]]))
    # The store itself: each response stored once; and the copy stored of
    # a response acked `accepted` must have reached a collector before that
    # ack was read. One that came later means the acked copy was lost and a
    # re-sent copy was counted in its place (a loss the re-send hid).
    double = sum(len(v) - 1 for v in stored.values())
    absent = [i for i in range(stream.n) if stream.resp[i]["id"] not in stored]
    hidden = sorted(i for i, t in stream.accepted.items()
                    if stream.resp[i]["id"] in stored and
                    min(stored[stream.resp[i]["id"]]) > t)
    acked_lost += [i for i in absent if i in stream.accepted]
    acked_lost += hidden
    if double or absent or hidden:
        fails.append("store: %d stored twice or more, %d not stored, %d "
                     "acked accepted but stored from a later copy, e.g. %s"
                     % (double, len(absent), len(hidden), [
                         "r-%06d acked at %.0f, stored copy received at %s"
                         % (i, stream.accepted[i],
                            stored[stream.resp[i]["id"]])
                         for i in hidden[:5]]))
    # Invariant 3: the snapshot taken before the re-send equals a clean
    # run's (what was counted is exactly what a clean run counts).
    diff = differences(comparable(snap), comparable(clean))
    cu = {u["id"]: u["respondents"] for u in clean["units"]}
    missing = sum(max(0, cu.get(u["id"], 0) - u["respondents"])
                  for u in snap["units"])
    double = max(double, sum(max(0, u["respondents"] - cu.get(u["id"], 0))
                             for u in snap["units"]))
    if diff:
        fails.append("snapshot differs from a clean run (%d more, %d fewer "
                     "respondents): %s" % (double, missing, "; ".join(diff)))
    after = env.snapshot()
    if comparable(after) != comparable(snap):
        fails.append("the re-send changed the snapshot: %s" % "; ".join(
            differences(comparable(after), comparable(snap))))
    for k, v in (("responses", stream.n), ("copies_sent", stream.copies),
                 ("requests", stream.requests),
                 ("acked_accepted", len(stream.accepted)),
                 ("acked_lost", len(set(acked_lost))),
                 ("not_duplicate", len(not_dup)),
                 ("double_counted", double), ("missing", missing),
                 ("re_accepted", stream.re_accepted),
                 ("busy", stream.acks["busy"]),
                 ("duplicate_acks", stream.acks["duplicate"])):
        figures[k] = figures.get(k, 0) + v
    if fails:
        figures["failed_runs"] = figures.get("failed_runs", 0) + 1
    figures["check_s"] = figures.get("check_s", 0) + time.time() - t0
    return fails


class Rig:
    """A worker and a spooling collector on one store and spool, restarted
    at will."""

    def __init__(self, env, spool, collector_args=(), preload=None):
        self.env, self.spool = env, spool
        self.collector_args = ["--spool", spool, "--resend-ms", "300"] + \
            list(collector_args)
        self.preload = preload
        self.w = self.c = None

    def _start(self, fn, *args):
        # `preload`: a library put in the daemons' LD_PRELOAD (the harness's
        # own tests use one that turns fsync into a no-op, to show that the
        # power cuts catch it). Env passes os.environ on to the daemons.
        if not self.preload:
            return fn(*args)
        old = os.environ.get("LD_PRELOAD")
        os.environ["LD_PRELOAD"] = self.preload
        try:
            return fn(*args)
        finally:
            if old is None:
                del os.environ["LD_PRELOAD"]
            else:
                os.environ["LD_PRELOAD"] = old

    def start_worker(self):
        self.w = self._start(self.env.worker)

    def start_collector(self):
        self.c = self._start(self.env.collector, *self.collector_args)

    def start(self):
        self.start_worker()
        self.start_collector()

    def kill(self, which):
        (self.w if which == "worker" else self.c).kill()

    def down(self):
        for d in (self.w, self.c):
            if d is not None:
                d.kill()


def new_stream(env, seed, rate):
    return Stream(env.zctx, env.collector_ep, load_definition(SONLA),
                  seed=seed, rate=rate)


def kill_run(env, rounds, seed, figures, rate=1500.0, log=None):
    """`rounds` rounds of SIGKILL at random moments while a stream runs,
    then the invariants; returns the failures. A round kills the worker
    (2 in 5), the collector (2 in 5), or the worker and then, while it
    spools, the collector (1 in 5), and restarts them."""
    rng = random.Random(seed)
    spool = os.path.join(env.dir, "spool")
    env.define(SONLA)
    rig = Rig(env, spool)
    rig.start()
    stream = new_stream(env, seed, rate)
    kills = collections.Counter()
    try:
        for r in range(rounds):
            stream.pump(rng.uniform(0.02, 0.35))
            which = rng.choices(("worker", "collector", "both"),
                                (0.4, 0.4, 0.2))[0]
            if which in ("worker", "both"):
                rig.kill("worker")
                kills["worker"] += 1
                # Traffic while it is down: the collector spools it.
                stream.pump(rng.uniform(0.0, 0.15))
            if which in ("collector", "both"):
                # With the worker down too, the collector dies in the middle
                # of spooling and must read its spool back.
                rig.kill("collector")
                kills["collector"] += 1
                stream.lost()
                # Requests queue in the client meanwhile.
                stream.pump(rng.uniform(0.0, 0.15))
            # Mostly the worker first: a collector starting without one waits
            # 1.5 s for it before it says READY. In half the rounds that
            # killed both, the collector comes back first and reads its
            # spool back with no worker to deliver to.
            if which == "both" and rng.random() < 0.5:
                rig.start_collector()
                stream.pump(rng.uniform(0.0, 0.15))
                rig.start_worker()
            else:
                if which in ("worker", "both"):
                    rig.start_worker()
                if which in ("collector", "both"):
                    rig.start_collector()
            if log and (r + 1) % log == 0:
                say("  round %d: %d responses, %d acked accepted"
                    % (r + 1, stream.n, len(stream.accepted)))
        fails = check(env, rig, stream, figures)
    finally:
        stream.close()
    figures["rounds"] = figures.get("rounds", 0) + rounds
    figures["worker_kills"] = figures.get("worker_kills", 0) + kills["worker"]
    figures["collector_kills"] = figures.get("collector_kills", 0) + \
        kills["collector"]
    return fails


class LazyFS:
    """A LazyFS mount under `root` through the scripts in `tool`."""

    class CacheFull(AssertionError):
        pass

    def __init__(self, tool, root, cache_size):
        self.tool = os.path.abspath(tool)
        self.backing = os.path.join(root, "backing")
        self.mnt = os.path.join(root, "mnt")
        self.fifo = os.path.join(root, "faults.fifo")
        self.env = dict(os.environ, LAZYFS_CACHE_SIZE=cache_size,
                        LAZYFS_STATE_DIR=os.path.join(root, "lazyfs-state"))
        self.mounted = False

    def _run(self, script, *args):
        return subprocess.run([os.path.join(self.tool, script)] + list(args),
                              env=self.env, capture_output=True, text=True,
                              timeout=600)

    def build(self):
        p = self._run("build.sh")
        if p.returncode != 0:
            raise AssertionError("lazyfs build.sh failed:\n%s" % p.stderr)

    def mount(self):
        p = self._run("mount.sh", self.backing, self.mnt, self.fifo)
        if p.returncode != 0:
            raise AssertionError("cannot mount LazyFS (needs root and "
                                 "/dev/fuse; SIPAS_SKIP_POWERCUT=1 skips "
                                 "this test): %s%s" % (p.stdout, p.stderr))
        self.mounted = True

    def crash(self):
        p = self._run("crash.sh", self.fifo)
        if p.returncode == 3:
            raise LazyFS.CacheFull("LazyFS cache filled up, un-fsynced writes "
                                   "survived: the run proves nothing; raise "
                                   "the cache size: %s" % p.stderr)
        if p.returncode != 0:
            raise AssertionError("crash.sh failed: %s%s" % (p.stdout,
                                                            p.stderr))
        # "... cache usage was 12.5%)": the share of the cache that was used.
        m = re.search(r"cache usage was ([0-9.]+)%", p.stdout)
        return float(m.group(1)) if m else 0.0

    def umount(self):
        p = self._run("umount.sh", self.mnt)
        if p.returncode != 0:
            raise AssertionError("umount.sh failed: %s%s" % (p.stdout,
                                                            p.stderr))
        self.mounted = False

    def log(self):
        """The lazyfs log of this mount (for a failure report)."""
        state = self.env["LAZYFS_STATE_DIR"]
        out = []
        for d in os.listdir(state) if os.path.isdir(state) else ():
            try:
                with open(os.path.join(state, d, "lazyfs.log")) as f:
                    out.append(f.read()[-3000:])
            except OSError:
                pass
        return "\n".join(out)


def powercut_run(env, cuts, seed, figures, cache_size="32mb", rate=1000.0,
                 tool=LAZYFS, log=None, preload=None):
    """`cuts` power cuts (kill -9 both daemons, drop un-fsynced writes,
    unmount, mount, restart) with the store and the spool on LazyFS while a
    stream runs, then the invariants. Returns the failures."""
    rng = random.Random(seed)
    fs = LazyFS(tool, env.dir, cache_size)
    fs.build()
    fs.mount()
    rig = None
    stream = None
    try:
        env.store = os.path.join(fs.mnt, "store")
        spool = os.path.join(fs.mnt, "spool")
        env.define(SONLA)
        rig = Rig(env, spool, preload=preload)
        rig.start()
        stream = new_stream(env, seed, rate)
        spooled_cuts = 0
        for r in range(cuts):
            stream.pump(rng.uniform(0.05, 0.4))
            # One cut in three comes while the worker is down, so that acks
            # given from the spool alone are put to the test too.
            if rng.random() < 1 / 3:
                rig.kill("worker")
                stream.pump(rng.uniform(0.05, 0.2))
                spooled_cuts += 1
            rig.down()
            stream.lost()
            usage = fs.crash()
            figures["cache_pct_max"] = max(figures.get("cache_pct_max", 0),
                                           usage)
            fs.umount()
            fs.mount()
            rig.start()
            if log and (r + 1) % log == 0:
                say("  cut %d: %d responses, %d acked accepted"
                    % (r + 1, stream.n, len(stream.accepted)))
        fails = check(env, rig, stream, figures)
        figures["cuts"] = figures.get("cuts", 0) + cuts
        figures["cuts_worker_down"] = figures.get("cuts_worker_down", 0) + \
            spooled_cuts
        return fails
    finally:
        if stream is not None:
            stream.close()
        # Nothing may hold the mount when it goes.
        for d in env.daemons:
            d.kill()
        if fs.mounted:
            fs.umount()


# (key, label) of the figures, in the order printed.
FIGURES = (
    ("rounds", "kill rounds"),
    ("worker_kills", "  worker SIGKILLs"),
    ("collector_kills", "  collector SIGKILLs"),
    ("cuts", "power cuts"),
    ("cuts_worker_down", "  cuts after the worker died first"),
    ("cache_pct_max", "  LazyFS cache used at most, %"),
    ("responses", "responses sent"),
    ("copies_sent", "  copies sent, re-sends included"),
    ("acked_accepted", "acked accepted"),
    ("duplicate_acks", "acks duplicate"),
    ("busy", "acks busy"),
    ("re_accepted", "accepted again (documented limit)"),
    ("acked_lost", "acked-lost (must be 0)"),
    ("double_counted", "double-counted (must be 0)"),
    ("not_duplicate", "re-sends not duplicate (must be 0)"),
    ("missing", "missing from the counts (must be 0)"),
    ("failed_runs", "failed runs"),
    ("check_s", "time spent checking, s"),
)


def report(figures, elapsed):
    for k, label in FIGURES:
        if k in figures:
            v = figures[k]
            say("%-36s %s" % (label, "{:,}".format(v) if isinstance(v, int)
                              else "%.1f" % v))
    say("%-36s %.1f s" % ("elapsed", elapsed))


def dump_logs(env):
    for name in ("sipas-worker", "sipas-collector"):
        text = env.log_of(name)
        say("--- %s log (last 40 lines) ---" % name)
        say("\n".join(text.splitlines()[-40:]))


def main():
    ap = argparse.ArgumentParser(
        prog="faults.py", description="crash and power-cut fault harness")
    ap.add_argument("build")
    ap.add_argument("src")
    ap.add_argument("--rounds", type=int, default=1000,
                    help="SIGKILL rounds in all (default 1000)")
    ap.add_argument("--cuts", type=int, default=200,
                    help="power cuts in all (default 200; 0: none)")
    ap.add_argument("--per-run", type=int, default=100,
                    help="rounds or cuts per run, each run checked and "
                    "compared with a clean run (default 100)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--rate", type=float, default=1500.0,
                    help="new responses per second at most (default 1500)")
    ap.add_argument("--cache-size", default="64mb",
                    help="LAZYFS_CACHE_SIZE for the power cuts")
    ap.add_argument("--preload", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else int(time.time())
    say("faults: seed %d (re-run with --seed %d)" % (seed, seed))
    t0 = time.time()
    figures = {"rounds": 0, "cuts": 0, "acked_lost": 0, "double_counted": 0}
    failed = False
    plan = []
    left = a.rounds
    while left > 0:
        plan.append(("kill", min(a.per_run, left)))
        left -= a.per_run
    left = a.cuts
    while left > 0:
        plan.append(("cut", min(a.per_run, left)))
        left -= a.per_run
    for k, (kind, count) in enumerate(plan):
        env = Env()
        run_seed = seed * 1000 + k
        say("run %d/%d: %d %s (seed %d)" % (
            k + 1, len(plan), count,
            "kill rounds" if kind == "kill" else "power cuts", run_seed))
        keep = False
        try:
            if kind == "kill":
                fails = kill_run(env, count, run_seed, figures, rate=a.rate,
                                 log=25)
            else:
                fails = powercut_run(env, count, run_seed, figures,
                                     cache_size=a.cache_size,
                                     rate=min(a.rate, 1000.0), log=25,
                                     preload=a.preload)
        except Exception as e:  # noqa: BLE001 - report it, go on
            fails = ["%s: %s" % (type(e).__name__, e)]
            figures["failed_runs"] = figures.get("failed_runs", 0) + 1
        finally:
            # Whatever happened (an interrupt too), no daemon outlives us.
            for d in env.daemons:
                d.kill()
        if fails:
            failed = keep = True
            for f in fails:
                say("FAIL: %s" % f)
            dump_logs(env)
        if keep:
            # The store, the spool and the logs, for a post-mortem.
            env.zctx.destroy(linger=0)
            os.rename(env.dir, env.dir + ".failed")
            say("  store, spool and logs kept in %s.failed" % env.dir)
        else:
            env.close()
        say("  so far: %s" % ", ".join(
            "%s %d" % (k2, figures.get(k2, 0))
            for k2 in ("responses", "acked_accepted", "acked_lost",
                       "double_counted")))
    say("")
    report(figures, time.time() - t0)
    bad = figures.get("acked_lost", 0) or figures.get("double_counted", 0) \
        or figures.get("not_duplicate", 0) or figures.get("missing", 0)
    say("faults: %s" % ("FAILED" if failed or bad else "all invariants held"))
    sys.exit(1 if failed or bad else 0)


if __name__ == "__main__":
    main()
