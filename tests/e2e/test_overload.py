"""Overload: many clients pipelining as fast as they can at about ten times
what the worker can commit. Every request ends `accepted`, `duplicate` or
`busy`, none is left unanswered, busy ones re-sent until accepted are
counted exactly once, and the resident memory of both daemons stays under
a documented bound (docs/durability.md, "Hostile input, overload and fsync
order").

    /usr/bin/python3 tests/e2e/test_overload.py BUILD_DIR SOURCE_DIR
"""
import os
import time

import msgpack
import zmq

from harness import BUILD, SRC, load_definition, response, run, test

SONLA = os.path.join(SRC, "examples/sonla-2024.json")
BATCH_MAX = "4"        # four responses per commit at most: a slow worker
LOAD_S = 8.0           # how long the clients push
CLIENTS = 16
OVERLOAD = 10          # offered / commit rate
# Ids a client has out at most: enough to fill the collector's in-flight
# window (10,000) with some 4,000 more circulating as `busy`; more would
# only lengthen the wait for the last of them to be committed.
PER_CLIENT = (10000 + 4000) // CLIENTS
MIB = 1 << 20

# Peak resident memory allowed (VmHWM), MiB, at the daemons' defaults
# (collector --max-inflight 10000, --max-inflight-mb 64, client receive
# high-water mark 10,000 messages, send 100,000; worker --rcvhwm 20000) for
# this traffic (16 clients, responses of about 200 bytes). How they are
# made up: docs/durability.md, "Hostile input, overload and fsync order".
# The worker's figure is on top of the pages of its LMDB map it touched
# (file pages, at most the size of data.mdb). An ASan build keeps shadow
# memory and a quarantine of freed blocks: its bounds are larger.
BOUND_MIB = {"sipas-collector": 64, "sipas-worker": 96}
BOUND_ASAN_MIB = {"sipas-collector": 400, "sipas-worker": 400}


def sanitized():
    """True for a build made with SIPAS_SANITIZE=ON."""
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            return "SIPAS_SANITIZE:BOOL=ON" in f.read()
    except OSError:
        return False


def status(pid):
    """Memory lines of /proc/PID/status, bytes: VmHWM (peak resident set),
    VmRSS, RssAnon (heap, stacks), RssFile (mapped files: for the worker,
    the pages of the LMDB map it touched)."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[k] = int(v.split()[0]) * 1024
    return out


class Peaks:
    """Peak of each memory figure of some daemons, sampled now and then
    (VmHWM is the kernel's own peak; the others are sampled)."""

    def __init__(self, daemons):
        self.daemons = daemons
        self.peak = {d.name: {} for d in daemons}
        self.at = 0.0

    def sample(self, every=0.1):
        if time.time() - self.at < every:
            return
        self.at = time.time()
        for d in self.daemons:
            for k, v in status(d.proc.pid).items():
                p = self.peak[d.name]
                p[k] = max(p.get(k, 0), v)


class Templates:
    """Packed responses with a fixed-width id slot, so that a request is
    built by concatenation (fast enough to outrun the worker from Python)."""

    ID = "o%02d-%07d"       # client, number

    def __init__(self, d, n=64):
        mark = "o00-0000000"
        self.parts = []
        for i in range(n):
            b = msgpack.packb(dict(response(d, i), id=mark), use_bin_type=True)
            pre, post = b.split(mark.encode())
            self.parts.append((pre, post))

    def frame(self, client, num):
        pre, post = self.parts[num % len(self.parts)]
        return pre + (self.ID % (client, num)).encode() + post


class Client:
    """One DEALER pushing its own ids. Sent ids wait for their answer;
    a `busy` puts the id back at the front of the queue: re-sent at once
    while `polite` is false (a client that ignores retry_ms), after
    retry_ms once it is true."""

    def __init__(self, env, k, tpl):
        self.k, self.tpl = k, tpl
        self.sock = env.zctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(env.collector_ep)
        self.todo = []                         # busy ids to re-send
        self.ids = 0                           # new ids made so far
        self.fresh = True                      # make new ids when idle
        self.out = {}                          # id -> sends not answered
        self.sent = self.answers = 0
        self.status = {}                       # id -> [statuses]
        self.polite = False
        self.later = []                        # (not before, id number)

    def push(self, budget):
        """Send until the pipe is full (EAGAIN) or budget is spent."""
        n = 0
        if self.later and self.later[0][0] <= time.time():
            now = time.time()
            self.todo.extend(num for t, num in self.later if t <= now)
            self.later = [x for x in self.later if x[0] > now]
        while n < budget and (self.todo or (
                self.fresh and len(self.out) < PER_CLIENT)):
            if not self.todo:
                self.todo.append(self.ids)
                self.ids += 1
            num = self.todo[-1]
            try:
                self.sock.send(self.tpl.frame(self.k, num), zmq.NOBLOCK)
            except zmq.Again:
                break
            self.todo.pop()
            rid = Templates.ID % (self.k, num)
            self.out[rid] = self.out.get(rid, 0) + 1
            self.sent += 1
            n += 1
        return n

    def pull(self, budget):
        n = 0
        while n < budget:
            try:
                raw = self.sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            a = msgpack.unpackb(raw, raw=False)
            n += 1
            self.answers += 1
            rid = a["id"]
            assert self.out.get(rid, 0) > 0, ("answer to nothing sent", a)
            self.out[rid] -= 1
            if not self.out[rid]:
                del self.out[rid]
            st = a["status"]
            assert st in ("accepted", "duplicate", "busy"), a
            if st == "busy":
                assert a.get("code") == "busy", a
                num = int(rid.split("-")[1])
                if self.polite:
                    self.later.append(
                        (time.time() + a.get("retry_ms", 100) / 1000, num))
                else:
                    self.todo.append(num)
            self.status.setdefault(rid, []).append(st)
        return n


MEASURE_N = 1500       # responses of the commit-rate measurement


def measure_commit_rate(env, tpl, n=MEASURE_N):
    """Responses per second the worker commits, through the collector, with
    one client pipelining well within the in-flight limit."""
    c = env.client()
    t0 = time.time()
    for i in range(n):
        c.sock.send(tpl.frame(99, i))
    for _ in range(n):
        a = c.recv(30)
        assert a["status"] == "accepted", a
    rate = n / (time.time() - t0)
    c.close()
    return rate


@test
def overload_ten_times_the_commit_rate(env):
    d = load_definition(SONLA)
    env.define(SONLA)
    w = env.worker("--batch-max", BATCH_MAX)
    col = env.collector()
    tpl = Templates(d)
    rate = measure_commit_rate(env, tpl)

    # A client re-sends its busy ids first and makes a new id only when it
    # has none to re-send and fewer than PER_CLIENT out, so that what is
    # left at the end (the collector's in-flight window and a few busy ids)
    # drains quickly.
    clients = [Client(env, k, tpl) for k in range(CLIENTS)]
    peaks = Peaks([col, w])
    t0 = time.time()
    poller = zmq.Poller()
    for c in clients:
        poller.register(c.sock, zmq.POLLIN)
    # The clients push as fast as they can within an overall pace of
    # OVERLOAD times the commit rate (re-sends of busy ones included): past
    # that, a Python client mostly measures how fast `busy` comes back.
    target = OVERLOAD * rate
    while time.time() - t0 < LOAD_S:
        moved = 0
        allowed = int(target * (time.time() - t0)) - \
            sum(c.sent for c in clients)
        for c in clients:
            moved += c.pull(5000)
            if allowed > 0:
                n = c.push(min(allowed, 200))
                allowed -= n
                moved += n
        peaks.sample()
        if not moved:
            poller.poll(1)
    load_s = time.time() - t0
    offered = sum(c.sent for c in clients)

    accepted_in_load = sum(st.count("accepted") for c in clients
                           for st in c.status.values())

    # No more pushing: wait for every answer, re-sending busy ones after
    # their retry_ms, until every id is accepted.
    for c in clients:
        c.polite = True
        c.fresh = False
    deadline = time.time() + 120
    while any(c.out or c.todo or c.later for c in clients):
        assert time.time() < deadline, "%d unanswered, %d to re-send" % (
            sum(len(c.out) for c in clients),
            sum(len(c.todo) + len(c.later) for c in clients))
        moved = 0
        for c in clients:
            moved += c.pull(5000) + c.push(200)
        peaks.sample()
        if not moved:
            poller.poll(20)
    drain_s = time.time() - t0 - load_s

    peaks.sample(0)
    hwm = {name: p["VmHWM"] for name, p in peaks.peak.items()}
    store_mib = os.path.getsize(os.path.join(env.store, "data.mdb")) / MIB
    assert w.alive() and col.alive()
    # Every request answered exactly once; every id ends accepted once.
    accepted = set()
    for c in clients:
        assert c.answers == c.sent, (c.k, c.answers, c.sent)
        for rid, sts in c.status.items():
            assert sts.count("accepted") == 1, (rid, sts)
            assert sts[-1] == "accepted" and "duplicate" not in sts, \
                (rid, sts)
            accepted.add(rid)
    total = sum(len(c.status) for c in clients)
    assert len(accepted) == total == sum(c.ids for c in clients)
    busy = sum(st.count("busy") for c in clients for st in c.status.values())
    for c in clients:
        c.sock.close(0)
    assert col.stop() == 0 and w.stop() == 0
    snap = env.snapshot()
    assert snap["counts"]["accepted"] == len(accepted) + MEASURE_N, \
        snap["counts"]
    # No client sent a copy of an accepted response, so the store saw no
    # duplicate: the collector did not re-send responses merely queued at
    # a slow worker (each copy would be committed again as a duplicate).
    assert snap["counts"]["duplicates"] == 0, snap["counts"]

    ratio = offered / load_s / rate
    print("worker commit rate %.0f/s alone (--batch-max %s), %.0f/s under "
          "load; offered %.0f/s for %.1f s = %.1fx; %d requests, %d busy "
          "answers, %d ids accepted once each; drain %.1f s"
          % (rate, BATCH_MAX, accepted_in_load / load_s, offered / load_s,
             load_s, ratio, sum(c.sent for c in clients), busy,
             len(accepted), drain_s))
    bounds = BOUND_ASAN_MIB if sanitized() else BOUND_MIB
    for name, p in sorted(peaks.peak.items()):
        print("peak RSS (VmHWM) %s: %.1f MiB (bound %d MiB%s); sampled "
              "peaks: RssAnon %.1f MiB, RssFile %.1f MiB"
              % (name, p["VmHWM"] / MIB, bounds[name],
                 " + data.mdb" if name == "sipas-worker" else "",
                 p["RssAnon"] / MIB, p["RssFile"] / MIB))
    print("store data.mdb %.1f MiB" % store_mib)
    assert ratio >= 5, "offered only %.1fx the commit rate" % ratio
    for name, b in hwm.items():
        extra = store_mib if name == "sipas-worker" else 0
        assert b < (bounds[name] + extra) * MIB, (name, b / MIB)


if __name__ == "__main__":
    run()
