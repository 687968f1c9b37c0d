"""End to end: `sipas-admin backup` taken while a stream flows through a real
sipas-collector and sipas-worker, `sipas-admin verify` on the live store and
on the backups, and a backup restored (daemons started on it).

Which responses a backup taken mid-stream holds is learnt from the restore
itself: re-sending every response to daemons started on the backup, the
store answers `duplicate` exactly for the ids it holds with the same
content (and `accepted` for the others). A fresh store fed exactly those
responses must then give the snapshot the backup gave before the restore,
which is what a consistent copy means: its counters are the counters of
its responses, no more, no less.

    /usr/bin/python3 tests/e2e/test_backup.py BUILD_DIR SOURCE_DIR
"""
import collections
import json
import os
import re
import subprocess
import threading
import time

import msgpack
import zmq

from harness import BUILD, SRC, load_definition, program, response, run, test

SONLA = os.path.join(SRC, "examples", "sonla-2024.json")
# New responses per second and in all: a few seconds of stream, fewer
# under the sanitizers.
RATE = 800 if BUILD.rstrip("/").endswith("asan") else 2000
N = 3 * RATE
CHUNK = 20            # responses per request of the stream


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def admin(store, *args):
    return subprocess.run([program("sipas-admin"), "--store", store]
                          + list(args), capture_output=True, text=True)


def snapshot(store):
    p = subprocess.run([program("sipas-snapshot"), "--store", store,
                        "--format", "json"], capture_output=True, text=True)
    assert p.returncode == 0, "sipas-snapshot %s: %s" % (store, p.stderr)
    return json.loads(p.stdout)


def comparable(snap):
    """A snapshot without what depends on the path taken: the time it was
    taken and the duplicates (re-sends) answered on the way."""
    s = dict(snap)
    s.pop("taken_at", None)
    s["counts"] = {k: v for k, v in s["counts"].items() if k != "duplicates"}
    return s


def assert_same(a, b, what):
    ca, cb = comparable(a), comparable(b)
    if ca != cb:
        diffs = [k for k in sorted(set(ca) | set(cb)) if ca.get(k) != cb.get(k)]
        raise AssertionError("%s: snapshots differ in %s; counts %s vs %s"
                             % (what, diffs, ca.get("counts"), cb.get("counts")))


def verified(store):
    """`verify` exits 0 and says so; the summary line."""
    p = admin(store, "verify")
    assert p.returncode == 0, "verify %s: exit %d\n%s%s" % (
        store, p.returncode, p.stdout, p.stderr)
    last = p.stdout.strip().splitlines()[-1]
    assert last.startswith("verified ") and last.endswith(": no difference"), \
        p.stdout
    return last


class Stream(threading.Thread):
    """Send responses 0..n-1 to a collector in arrays of CHUNK, new ones at
    `rate` per second at most, at most 16 requests unanswered; re-send
    `busy` ones. Records each final status."""

    def __init__(self, zctx, endpoint, rs, rate):
        super().__init__(daemon=True)
        self.zctx, self.endpoint, self.rs, self.rate = zctx, endpoint, rs, rate
        self.status = {}
        self.error = None

    def run(self):
        try:
            self._run()
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e

    def _run(self):
        sock = self.zctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.endpoint)
        todo = collections.deque()
        issued = out = 0
        t0 = time.time()
        end = t0 + 60 + len(self.rs) / self.rate
        try:
            while len(self.status) < len(self.rs):
                if time.time() > end:
                    raise AssertionError("stream: %d of %d answered" % (
                        len(self.status), len(self.rs)))
                while out < 16:
                    ids = [todo.popleft() for _ in range(min(CHUNK, len(todo)))]
                    budget = min(int(self.rate * (time.time() - t0)),
                                 len(self.rs)) - issued
                    while len(ids) < CHUNK and budget > 0:
                        ids.append(issued)
                        issued += 1
                        budget -= 1
                    if not ids:
                        break
                    sock.send(pack([self.rs[i] for i in ids]))
                    out += 1
                if not sock.poll(10):
                    continue
                out -= 1
                for a in msgpack.unpackb(sock.recv(), raw=False):
                    i = int(a["id"][2:])
                    if a["status"] == "busy":
                        todo.append(i)
                    else:
                        self.status[i] = a["status"]
        finally:
            sock.close(0)


def send_all(zctx, endpoint, rs, timeout=60.0):
    """Every response of rs (a dict number -> response) in arrays of 250,
    `busy` ones again; the final status of each, by number."""
    sock = zctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    final = {}
    todo = sorted(rs)
    end = time.time() + timeout
    try:
        while todo:
            again = []
            chunks = [todo[k:k + 250] for k in range(0, len(todo), 250)]
            for at in range(0, len(chunks), 8):
                part = chunks[at:at + 8]
                for c in part:
                    sock.send(pack([rs[i] for i in c]))
                for _ in part:
                    left = end - time.time()
                    assert left > 0 and sock.poll(int(left * 1000)), \
                        "no answer within %.0f s" % timeout
                    for a in msgpack.unpackb(sock.recv(), raw=False):
                        i = int(a["id"][2:])
                        if a["status"] == "busy":
                            again.append(i)
                        else:
                            final[i] = a["status"]
            todo = sorted(again)
            if todo:
                time.sleep(0.1)
    finally:
        sock.close(0)
    return final


def pipeline(env, store, tag):
    """A worker on `store` and a collector in front of it; the collector's
    endpoint."""
    wep = "ipc://%s/worker-%s.sock" % (env.dir, tag)
    cep = "ipc://%s/collector-%s.sock" % (env.dir, tag)
    env._start("sipas-worker", ["--store", store, "--bind", wep])
    env._start("sipas-collector", ["--bind", cep, "--worker", wep,
                                   "--source", "test"])
    return cep


BACKUP_LINE = re.compile(
    r"^backup (\S+)/data\.mdb: (\d+) bytes \([0-9.]+ MiB\), (\d+) responses "
    r"\(last (\d+)\), (\d+) quarantined, 1 campaign, as of (a )?transaction")


@test
def backup_during_ingestion_verifies_and_restores(env):
    d = load_definition(SONLA)
    env.define(SONLA)
    env.worker()
    env.collector()
    rs = {i: response(d, i, channel=("postal", "portal", "kiosk")[i % 3])
          for i in range(N)}
    stream = Stream(env.zctx, env.collector_ep, rs, RATE)
    stream.start()

    # Backup 1, mid-stream: the worker keeps committing meanwhile.
    deadline = time.time() + 30
    while len(stream.status) < N // 4 and stream.error is None:
        assert time.time() < deadline, "stream stalled: %d" % len(stream.status)
        time.sleep(0.02)
    b1 = os.path.join(env.dir, "backups", "one")
    p = admin(env.store, "backup", b1)
    assert p.returncode == 0, p.stderr
    m = BACKUP_LINE.match(p.stdout)
    assert m, p.stdout
    print("  mid-stream: " + p.stdout.strip())
    assert int(m.group(2)) == os.path.getsize(os.path.join(b1, "data.mdb"))
    held = int(m.group(3))
    assert sorted(os.listdir(b1)) == ["data.mdb"], os.listdir(b1)

    # Not over it again.
    p = admin(env.store, "backup", b1)
    assert p.returncode == 1 and "not empty" in p.stderr, (p.returncode, p.stderr)

    stream.join(60 + N / RATE)
    assert stream.error is None, stream.error
    assert len(stream.status) == N
    assert set(stream.status.values()) == {"accepted"}

    # Backup 2, after the stream: the live store's snapshot exactly.
    b2 = os.path.join(env.dir, "backups", "two")
    p = admin(env.store, "backup", b2)
    assert p.returncode == 0, p.stderr
    assert " %d responses " % N in p.stdout, p.stdout
    live = snapshot(env.store)
    assert live["counts"]["accepted"] == N
    assert_same(snapshot(b2), live, "backup after the stream")
    for store in (env.store, b1, b2):
        print("  " + verified(store))

    # Backup 1 held part of the stream: which part, the restore tells.
    snap1 = snapshot(b1)
    assert snap1["counts"]["accepted"] == held
    assert 0 < held < N, held
    for dmn in env.daemons:
        assert dmn.stop() == 0
    ep = pipeline(env, b1, "restored")
    final = send_all(env.zctx, ep, rs)
    assert set(final.values()) <= {"accepted", "duplicate"}, \
        collections.Counter(final.values())
    had = {i for i, st in final.items() if st == "duplicate"}
    assert len(final) == N and len(had) == held, (len(final), len(had), held)
    # Restored, it went on: now it holds everything, like the live store.
    assert_same(snapshot(b1), live, "restored backup after the re-send")
    verified(b1)

    # A fresh store fed exactly what backup 1 held gives its snapshot.
    fresh = os.path.join(env.dir, "fresh")
    assert admin(fresh, "define", SONLA).returncode == 0
    ep = pipeline(env, fresh, "fresh")
    final = send_all(env.zctx, ep, {i: rs[i] for i in had})
    assert set(final.values()) == {"accepted"}
    assert_same(snapshot(fresh), snap1, "backup 1 and its responses")


if __name__ == "__main__":
    run()
