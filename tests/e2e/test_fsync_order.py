"""Acks follow the fsyncs: traced with strace, every `accepted` ack leaves
the daemon only after the file holding the response was fsync'd and after
every folder whose entries changed (a file created or renamed in it, the
folder itself created) was fsync'd.

- sipas-collector with --spool and no worker: the record is written to a
  spool segment, the segment fdatasync'd, the spool folder fsync'd after
  the segment (and the lock file) was created, and the spool's parent
  folder fsync'd after the spool folder was created -- then the ack.
- sipas-worker: LMDB writes the pages of data.mdb (pwrite/writev) and
  fdatasyncs them, then writes the meta page through a second descriptor
  opened O_DSYNC; the store folder and its parent are fsync'd after
  data.mdb and lock.mdb were created -- then the ack.

ZeroMQ sends from its own I/O thread, so the ack is found by its bytes on
the socket (strace -xx prints every buffer in hex) and ordered by
timestamps across threads (-f -ttt -T). The checker is a function of the
parsed trace; the test feeds it copies of the real traces with one fsync
removed or moved after the ack, and each must be caught.

    /usr/bin/python3 tests/e2e/test_fsync_order.py BUILD_DIR SOURCE_DIR
"""
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time

import msgpack

from harness import SRC, load_definition, program, response, run, test

SONLA = os.path.join(SRC, "examples/sonla-2024.json")
STRACE = shutil.which("strace") or "/usr/bin/strace"
SYSCALLS = ",".join((
    "open", "openat", "creat", "mkdir", "mkdirat", "rename", "renameat",
    "renameat2", "link", "linkat", "close",
    "write", "pwrite64", "writev", "pwritev", "pwritev2",
    "fsync", "fdatasync", "sync_file_range", "sendto", "sendmsg"))
SLACK = 2e-6   # strace's timestamps are in microseconds


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


# ---- the trace ----

HEX = re.compile(r"(?:\\x[0-9a-f]{2})+")
LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")
DUR = re.compile(r"<(\d+\.\d+)>$")


def unhex(s):
    return bytes.fromhex(s.replace("\\x", ""))


class Event:
    """One system call: start t0 and end t1 (seconds), name, first
    argument's descriptor and its path, the bytes of its buffers, the path
    it names (open, mkdir, rename: old and new), flags, result."""

    def __init__(self, pid, t0, name, text):
        self.pid, self.t0, self.name, self.text = pid, t0, name, text
        m = DUR.search(text)
        self.t1 = t0 + (float(m.group(1)) if m else 0.0)
        self.fd, self.fdpath, self.paths = None, None, []
        self.data, self.ret, self.retpath = b"", None, None
        self.flags = set(re.findall(r"\bO_[A-Z]+", text))
        m = re.match(r"\((-?\d+|AT_FDCWD)<(%s)>" % HEX.pattern, text)
        if m:
            self.fd = m.group(1)
            self.fdpath = unhex(m.group(2)).decode(errors="replace")
        m = re.search(r"\)\s+=\s+(-?\d+)(?:<(%s)>)?" % HEX.pattern, text)
        if m:
            self.ret = int(m.group(1))
            if m.group(2):
                self.retpath = unhex(m.group(2)).decode(errors="replace")
        strings = [unhex(s) for s in re.findall(r'"(%s)"' % HEX.pattern,
                                                text)]
        if name in ("open", "openat", "creat", "mkdir", "mkdirat", "rename",
                    "renameat", "renameat2", "link", "linkat"):
            self.paths = self._resolve(text, strings)
        else:
            self.data = b"".join(strings)

    def _resolve(self, text, strings):
        """Absolute paths named by the call (dirfd-relative ones joined)."""
        dirs = [unhex(d).decode(errors="replace") for d in
                re.findall(r"(?:\d+|AT_FDCWD)<(%s)>, \"" % HEX.pattern, text)]
        out = []
        for k, s in enumerate(strings):
            p = s.decode(errors="replace")
            if not p.startswith("/"):
                base = dirs[min(k, len(dirs) - 1)] if dirs else "."
                p = os.path.join(base, p)
            out.append(os.path.normpath(p))
        return out

    def ok(self):
        return self.ret is not None and self.ret >= 0

    def __repr__(self):
        return "%.6f %s %s %s" % (self.t0, self.name, self.fdpath or "",
                                  self.paths or "")


def parse(path):
    """The events of an strace -f -ttt -T -y -xx log, in start order."""
    events, pending = [], {}
    with open(path, encoding="ascii", errors="replace") as f:
        for line in f:
            m = LINE.match(line.rstrip("\n"))
            if not m:
                continue
            pid, t, rest = int(m.group(1)), float(m.group(2)), m.group(3)
            if rest.startswith(("+++", "---")):
                continue
            r = re.match(r"<\.\.\. (\w+) resumed>(.*)$", rest)
            if r:
                if pid in pending:
                    t0, name, head = pending.pop(pid)
                    events.append(Event(pid, t0, name, head + r.group(2)))
                continue
            n = re.match(r"(\w+)(\(.*)$", rest)
            if not n:
                continue
            name, text = n.group(1), n.group(2)
            if text.endswith("<unfinished ...>"):
                pending[pid] = (t, name, text[:-len("<unfinished ...>")])
                continue
            events.append(Event(pid, t, name, text))
    events.sort(key=lambda e: e.t0)
    return events


# ---- the checker ----

SYNCS = ("fsync", "fdatasync")
WRITES = ("write", "pwrite64", "writev", "pwritev", "pwritev2")
SENDS = ("sendto", "sendmsg", "write", "writev")
CHANGES = ("open", "openat", "creat", "mkdir", "mkdirat", "rename",
           "renameat", "renameat2", "link", "linkat")


def synced_between(events, path, after, before):
    """An fsync/fdatasync of path that started after `after` and ended
    before `before`."""
    return any(e.name in SYNCS and e.fdpath == path and e.ok() and
               e.t0 > after and e.t1 <= before + SLACK for e in events)


# Files that hold nothing acknowledged: the worker's metrics file (a
# Prometheus textfile replaced by rename every few seconds, never fsync'd:
# losing one version of it loses nothing). Their entries need no fsync.
NOT_DURABLE = re.compile(r"\.prom(\.tmp\.[0-9]+)?$")


def entry_changes(events, until, under):
    """(folder, event) of every folder entry created or renamed under
    `under` before time `until` (an open with O_CREAT may create), other
    than those of NOT_DURABLE files."""
    out = []
    for e in events:
        if e.name not in CHANGES or e.t0 >= until or not e.ok():
            continue
        if e.name in ("open", "openat") and "O_CREAT" not in e.flags:
            continue
        if all(NOT_DURABLE.search(p) for p in e.paths):
            continue
        for p in e.paths:
            if p.startswith(under + "/"):
                out.append((os.path.dirname(p), e))
    return out


def find_ack(events, ack):
    """The first send of the ack's bytes on a socket."""
    for e in events:
        if e.name in SENDS and ack in e.data and \
                (e.fdpath or "").startswith("socket:"):
            return e
    return None


def check(events, acks, holds, under, meta=None):
    """Violations (a list of sentences; empty: the order is right).
    acks: {response id: ack bytes}; holds(e, id): e is a write of the
    response into the file that keeps it; under: the folder whose entry
    changes must be fsync'd; meta: for LMDB, holds-like predicate of the
    meta page write (through the O_DSYNC descriptor) that must follow the
    data fsync."""
    bad = []
    for rid, ack in sorted(acks.items()):
        s = find_ack(events, ack)
        if s is None:
            bad.append("%s: the ack was never sent" % rid)
            continue
        writes = [e for e in events if e.name in WRITES and e.ok() and
                  e.t1 <= s.t0 + SLACK and holds(e, rid)]
        if not writes:
            bad.append("%s: ack sent before the response was written" % rid)
            continue
        w = writes[-1]
        if not synced_between(events, w.fdpath, w.t1 - SLACK, s.t0):
            bad.append("%s: ack sent at %.6f, %s not fsync'd after its "
                       "write at %.6f" % (rid, s.t0, w.fdpath, w.t1))
            continue
        if meta is not None:
            syncs = [e for e in events if e.name in SYNCS and
                     e.fdpath == w.fdpath and e.t0 > w.t1 - SLACK and
                     e.t1 <= s.t0 + SLACK]
            after = syncs[0].t1
            if not any(meta(e) and e.ok() and e.t0 >= after - SLACK and
                       e.t1 <= s.t0 + SLACK for e in events):
                bad.append("%s: ack sent at %.6f before the meta page "
                           "(O_DSYNC) was written after the data fsync at "
                           "%.6f" % (rid, s.t0, after))
        for folder, e in entry_changes(events, s.t0, under):
            if not synced_between(events, folder, e.t1 - SLACK, s.t0):
                bad.append("%s: ack sent at %.6f, folder %s not fsync'd "
                           "after %s" % (rid, s.t0, folder, e))
    return bad


def must_fail(name, events, *args, **kw):
    """The checker catches an edited trace."""
    bad = check(events, *args, **kw)
    assert bad, "self-check: the checker missed: %s" % name
    return bad


def without(events, pred):
    return [e for e in events if not pred(e)]


def delayed(events, pred, by=10.0):
    """A copy where the events matching pred happen `by` seconds later."""
    out = []
    for e in events:
        if pred(e):
            c = Event.__new__(Event)
            c.__dict__.update(e.__dict__)
            c.t0, c.t1 = e.t0 + by, e.t1 + by
            e = c
        out.append(e)
    out.sort(key=lambda e: e.t0)
    return out


# ---- a daemon under strace ----

class Traced:
    """A daemon run under strace; signals go to the daemon itself (strace's
    child), never to strace, so a tracee is never left running detached."""

    def __init__(self, env, name, args, trace):
        assert os.access(STRACE, os.X_OK), \
            "strace is not installed (Debian package strace)"
        self.name = name
        path = os.path.join(env.dir, "notify-%s" % name)
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(path)
        ns.settimeout(0.2)
        self.proc = subprocess.Popen(
            [STRACE, "-f", "-ttt", "-T", "-y", "-xx", "-s", "1048576",
             "-o", trace, "-e", "trace=" + SYSCALLS, program(name)] + args,
            env=dict(os.environ, NOTIFY_SOCKET=path),
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(env.dir, name + ".log"), "ab"))
        env.daemons.append(self)
        self.pid = None
        try:
            deadline = time.time() + 30
            while time.time() < deadline:
                try:
                    if "READY=1" in ns.recv(4096).decode().split("\n"):
                        break
                except socket.timeout:
                    if self.proc.poll() is not None:
                        break
            else:
                raise AssertionError("%s not ready" % name)
            assert self.proc.poll() is None, env.log_of(name)
        finally:
            ns.close()
        with open("/proc/%d/task/%d/children" % (self.proc.pid,
                                                 self.proc.pid)) as f:
            self.pid = int(f.read().split()[0])

    def _signal(self, sig):
        if self.pid is not None and self.proc.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout=20.0):
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("%s did not stop" % self.name)

    def kill(self):
        self._signal(signal.SIGKILL)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def alive(self):
        return self.proc.poll() is None


def accepted_ack(rid):
    """The bytes of an `accepted` ack as both daemons encode it."""
    return pack({"id": rid, "status": "accepted"})


# ---- the collector's spool ----

@test
def spool_ack_after_file_and_folder_fsync(env):
    d = load_definition(SONLA)
    spool = os.path.join(env.dir, "spool")   # created by the collector
    trace = os.path.join(env.dir, "collector.trace")
    col = Traced(env, "sipas-collector",
                 ["--bind", env.collector_ep, "--source", "test",
                  "--worker", env.worker_ep, "--spool", spool], trace)
    c = env.client()
    rs = [response(d, i) for i in range(40)]
    # one at a time, pipelined, and as one array request
    for r in rs[:10]:
        assert c.call(r) == {"id": r["id"], "status": "accepted"}
    for r in rs[10:30]:
        c.send(r)
    got = [c.recv() for _ in range(20)]
    assert all(a["status"] == "accepted" for a in got), got
    acks = c.call(rs[30:], timeout=20)
    assert all(a["status"] == "accepted" for a in acks), acks
    c.close()
    col.stop()
    events = parse(trace)

    raw = {r["id"]: pack(r) for r in rs}

    def holds(e, rid):
        return (e.fdpath or "").endswith(".seg") and raw[rid] in e.data

    acked = {r["id"]: accepted_ack(r["id"]) for r in rs}
    bad = check(events, acked, holds, env.dir)
    assert not bad, "\n".join(bad[:10])

    # The checker sees what it must: each fsync removed, or moved after
    # the acks, is a violation.
    seg_sync = lambda e: e.name in SYNCS and e.fdpath.endswith(".seg")
    spool_sync = lambda e: e.name in SYNCS and e.fdpath == spool
    parent_sync = lambda e: e.name in SYNCS and e.fdpath == env.dir
    for what, pred in (("segment fsync", seg_sync),
                       ("spool folder fsync", spool_sync),
                       ("spool parent folder fsync", parent_sync)):
        assert any(pred(e) for e in events), "no %s in the trace" % what
        must_fail("no " + what, without(events, pred), acked, holds,
                  env.dir)
        must_fail(what + " late", delayed(events, pred), acked, holds,
                  env.dir)
    # A segment rotated in by a rename would need the same folder fsync.
    seg = next(e for e in events if e.name == "openat" and
               any(p.endswith(".seg") for p in e.paths))
    fake = Event.__new__(Event)
    fake.__dict__.update(seg.__dict__)
    fake.name, fake.flags = "renameat2", set()
    fake.t0 = fake.t1 = find_ack(events, acked[rs[-1]["id"]]).t0 - 1e-3
    must_fail("rename without folder fsync",
              sorted(events + [fake], key=lambda e: e.t0), acked, holds,
              env.dir)
    print("collector: %d acks checked; %d fsync/fdatasync calls traced"
          % (len(acked), sum(e.name in SYNCS for e in events)))


# ---- the worker's store ----

def relay(token):
    return struct.pack("<BBQqB", 1, 0, token, int(time.time() * 1000), 4) + \
        b"test"


@test
def worker_ack_after_lmdb_sync_and_folder_fsync(env):
    d = load_definition(SONLA)
    assert not os.path.exists(env.store)     # created by the worker
    trace = os.path.join(env.dir, "worker.trace")
    w = Traced(env, "sipas-worker", ["--store", env.store, "--bind",
                                     env.worker_ep], trace)
    env.define(SONLA)      # a running worker applies it at its next batch
    hop = env.worker_client()
    rs = [response(d, i) for i in range(40)]
    token = 0

    def answers(n):
        out = []
        for _ in range(n):
            assert hop.sock.poll(20000), "worker did not answer"
            out.append(msgpack.unpackb(hop.sock.recv_multipart()[1],
                                       raw=False))
        return out

    for r in rs[:10]:                        # one commit each
        token += 1
        hop.sock.send_multipart([relay(token), pack(r)])
        assert answers(1) == [{"id": r["id"], "status": "accepted"}]
    for r in rs[10:]:                        # batched commits
        token += 1
        hop.sock.send_multipart([relay(token), pack(r)])
    got = answers(30)
    assert all(a["status"] == "accepted" for a in got), got
    hop.close()
    w.stop()
    events = parse(trace)

    data = os.path.join(env.store, "data.mdb")
    raw = {r["id"]: pack(r) for r in rs}
    # descriptors of data.mdb opened O_DSYNC (LMDB's meta page writes)
    dsync = {str(e.ret) for e in events if e.name in ("open", "openat") and
             e.ok() and data in e.paths and
             ({"O_DSYNC", "O_SYNC"} & e.flags)}
    assert dsync, "data.mdb was never opened O_DSYNC"

    def holds(e, rid):
        return e.fdpath == data and e.fd not in dsync and raw[rid] in e.data

    def meta(e):
        return e.name in WRITES and e.fdpath == data and e.fd in dsync

    acked = {r["id"]: accepted_ack(r["id"]) for r in rs}
    bad = check(events, acked, holds, env.dir, meta=meta)
    assert not bad, "\n".join(bad[:10])

    data_sync = lambda e: e.name in SYNCS and e.fdpath == data
    store_sync = lambda e: e.name in SYNCS and e.fdpath == env.store
    parent_sync = lambda e: e.name in SYNCS and e.fdpath == env.dir
    for what, pred in (("data.mdb fdatasync", data_sync),
                       ("meta page write (O_DSYNC)", meta),
                       ("store folder fsync", store_sync),
                       ("store parent folder fsync", parent_sync)):
        assert any(pred(e) for e in events), "no %s in the trace" % what
        must_fail("no " + what, without(events, pred), acked, holds,
                  env.dir, meta=meta)
        must_fail(what + " late", delayed(events, pred), acked, holds,
                  env.dir, meta=meta)
    print("worker: %d acks checked; %d fsync/fdatasync calls, %d meta "
          "page writes traced" % (len(acked), sum(e.name in SYNCS
                                                  for e in events),
                                  sum(meta(e) for e in events)))


if __name__ == "__main__":
    run()
