"""End-to-end tests of sipas-collector: the wire contract's edge cases as a
client sees them, relaying through a real worker, back-pressure, the spool,
worker crashes and clean stops.

    /usr/bin/python3 tests/e2e/test_collector.py BUILD_DIR SOURCE_DIR
"""
import os
import signal
import struct
import subprocess
import time

import msgpack
import zmq

from harness import SRC, load_definition, program, response, run, test

SONLA = os.path.join(SRC, "examples/sonla-2024.json")


# ---- helpers ----

def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def is_refusal(ack, code, field=None, id_=""):
    """The ack is `rejected` with that code, field and id (exactly)."""
    assert isinstance(ack, dict), ack
    assert ack.get("status") == "rejected", ack
    assert ack.get("code") == code, ack
    assert ack.get("id") == id_, ack
    if field is not None:
        assert ack.get("field", "") == field, ack
    assert set(ack) <= {"id", "status", "code", "field", "detail"}, ack
    return ack


def is_busy(ack, id_=None):
    assert isinstance(ack, dict), ack
    assert ack.get("status") == "busy" and ack.get("code") == "busy", ack
    assert "retry_ms" not in ack or ack["retry_ms"] > 0, ack
    if id_ is not None:
        assert ack.get("id") == id_, ack
    return ack


def relay(token, flags=0, source=b"probe"):
    return struct.pack("<BBQqB", 1, flags, token, int(time.time() * 1000),
                       len(source)) + source


class Hop:
    """A DEALER speaking the collector's hop protocol straight to a worker:
    proof of what the store holds (a committed response is `duplicate`)."""

    def __init__(self, env):
        self.c = env.worker_client()
        self.token = 1 << 60

    def call(self, resp, timeout=10.0):
        self.token += 1
        self.c.sock.send_multipart([relay(self.token), pack(resp)])
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.c.sock.poll(int((deadline - time.time()) * 1000) + 1):
                break
            head, ack = self.c.sock.recv_multipart()
            if struct.unpack("<Q", head[2:10])[0] == self.token:
                return msgpack.unpackb(ack, raw=False)
        raise AssertionError("worker did not answer")


def committed(env, resp):
    """The worker's store holds resp: a probe sent straight to the worker
    is answered `duplicate` (call only once nothing is left to deliver: a
    probe that comes first is itself accepted)."""
    hop = Hop(env)
    ack = hop.call(resp)
    hop.c.close()
    assert ack == {"id": resp["id"], "status": "duplicate"}, \
        "not in the store: %r" % ack


def spool_drained(path, timeout=20.0):
    """Wait until every spooled response was delivered (segments deleted)."""
    deadline = time.time() + timeout
    while segments(path) and time.time() < deadline:
        time.sleep(0.05)
    assert not segments(path), "still spooled: %s" % segments(path)


def recv_all(client, n, timeout=20.0):
    """n answers (any order)."""
    out = []
    deadline = time.time() + timeout
    while len(out) < n:
        left = deadline - time.time()
        if left <= 0:
            raise AssertionError("got %d of %d answers" % (len(out), n))
        out.append(client.recv(left))
    return out


def segments(path):
    return [f for f in os.listdir(path) if f.endswith(".seg")]


def sonla():
    return load_definition(SONLA)


def raw_map(pairs):
    """A msgpack map from (key, packed value bytes) pairs, keys as given
    (repeats allowed)."""
    out = bytes([0x80 | len(pairs)])
    for k, v in pairs:
        out += pack(k) + v
    return out


def run_collector(args, timeout=5.0):
    return subprocess.run([program("sipas-collector")] + args,
                          capture_output=True, text=True, timeout=timeout)


# ---- the edge cases of interfaces.md section 2, at the collector alone ----

@test
def frame_level_refusals(env):
    env.collector()  # no worker: the collector judges these alone
    c = env.client()
    d = sonla()
    good = response(d, 1)

    # Over the size limits: one ack, rejected / too_large, id "".
    big = dict(good, comment="x" * 70000)
    is_refusal(c.call(big), "too_large")
    arr = [dict(response(d, i), comment="é" * 900) for i in range(600)]
    assert len(pack(arr)) > 1048576
    is_refusal(c.call(arr), "too_large")
    is_refusal(c.call([good] * 1001), "too_large")
    is_refusal(c.call([big]), "too_large")
    is_refusal(c.call([good, big, good]), "too_large")
    # An array announcing 2^32-1 elements in 6 bytes: too large, at once.
    c.send_raw(b"\xdd\xff\xff\xff\xff\x80")
    is_refusal(c.recv(), "too_large")

    # Not a map or array, bytes after the object, a repeated key.
    for raw in (b"", b"\xc1", pack("hello"), pack(42), pack(None),
                pack(good) + b"\x00", pack(good)[:-1],
                raw_map([("v", pack(1)), ("v", pack(1))]),
                b"\x92\x80", b"\xdc\x00"):
        c.send_raw(raw)
        is_refusal(c.recv(), "malformed")
    # A repeated key deeper down.
    items = raw_map([("A1", pack(4)), ("A1", pack(5))])
    c.send_raw(raw_map([("v", pack(1)), ("id", pack("x")), ("items", items)]))
    is_refusal(c.recv(), "malformed")

    # A multi-frame message: one ack, malformed, in one frame.
    c.send_raw(pack(good), more=[pack(good)])
    is_refusal(c.recv(), "malformed")
    c.send_raw(pack(good), more=[b"", pack(good)])
    is_refusal(c.recv(), "malformed")
    # The connection is still good afterwards.
    is_refusal(c.call({"v": 1}), "missing_field", id_="")


@test
def response_level_refusals(env):
    env.collector()
    c = env.client()
    d = sonla()
    g = response(d, 7)
    gid = g["id"]

    def drop(key):
        r = dict(g)
        del r[key]
        return r

    cases = [
        # id rules: the ack echoes an id only when it is valid
        (dict(g, id="has space"), ("bad_value", "id", "")),
        (dict(g, id="x" * 65), ("bad_value", "id", "")),
        (dict(g, id=""), ("bad_value", "id", "")),
        (dict(g, id=7), ("bad_type", "id", "")),
        # types
        (dict(g, ts=1.0), ("bad_type", "ts", gid)),
        (dict(g, ts=True), ("bad_type", "ts", gid)),
        (dict(g, ts=None), ("bad_type", "ts", gid)),
        (dict(g, ts="1700000000"), ("bad_type", "ts", gid)),
        (dict(g, unit=5), ("bad_type", "unit", gid)),
        (dict(g, unit=b"SNV"), ("bad_type", "unit", gid)),
        (dict(g, unit=["SNV"]), ("bad_type", "unit", gid)),
        (dict(g, unit={"a": 1}), ("bad_type", "unit", gid)),
        (dict(g, v=1.0), ("bad_type", "v", gid)),
        # values
        (dict(g, v=2), ("bad_value", "v", gid)),
        (dict(g, channel="email"), ("bad_value", "channel", gid)),
        (dict(g, ts=2 ** 64 - 1), ("out_of_range", "ts", gid)),
        (dict(g, comment="x" * 2001), ("too_large", "comment", gid)),
        (dict(g, comment="ầ" * 667), ("too_large", "comment", gid)),
        (dict(g, typo=1), ("unknown_field", "typo", gid)),
        (drop("campaign"), ("missing_field", "campaign", gid)),
        (drop("items"), ("missing_field", "items", gid)),
    ]
    for resp, want in cases:
        code, field, id_ = want
        is_refusal(c.call(resp), code, field, id_)

    # Invalid UTF-8: in the id (ack id ""), in any other string.
    base = pack(dict(g, id="IDPLACEHOLDER", comment="CMTPLACEHOLDER"))
    bad_id = base.replace(pack("IDPLACEHOLDER"), b"\xadIDPLACEHOLD\xff\xfe")
    c.send_raw(bad_id)
    is_refusal(c.recv(), "bad_utf8", "id", "")
    bad_comment = base.replace(pack("IDPLACEHOLDER"), pack(gid)).replace(
        pack("CMTPLACEHOLDER"), b"\xaeCMTPLACEHOLD\xc3\x28")
    c.send_raw(bad_comment)
    is_refusal(c.recv(), "bad_utf8", "comment", gid)

    # An array: every element its own ack, in order; a non-map element is
    # malformed.
    acks = c.call([dict(g, v=2), 5, dict(g, id="bad id"), "str", [1]])
    assert isinstance(acks, list) and len(acks) == 5, acks
    is_refusal(acks[0], "bad_value", "v", gid)
    is_refusal(acks[1], "malformed")
    is_refusal(acks[2], "bad_value", "id", "")
    is_refusal(acks[3], "malformed")
    is_refusal(acks[4], "malformed")
    assert c.call([]) == []


@test
def req_client_gets_answer_behind_delimiter(env):
    env.define(SONLA)
    env.worker()
    env.collector()
    s = env.zctx.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(env.collector_ep)
    s.send(pack({"v": 1}))
    assert s.poll(10000), "no answer"
    is_refusal(msgpack.unpackb(s.recv(), raw=False), "missing_field")
    r = response(sonla(), 3)
    s.send(pack(r))
    assert s.poll(10000), "no answer"
    assert msgpack.unpackb(s.recv(), raw=False) == \
        {"id": r["id"], "status": "accepted"}
    s.send(pack([r, {"v": 1}]))
    assert s.poll(10000), "no answer"
    acks = msgpack.unpackb(s.recv(), raw=False)
    assert acks[0] == {"id": r["id"], "status": "duplicate"}, acks
    is_refusal(acks[1], "missing_field")
    s.close()


# ---- through a worker ----

@test
def relays_worker_acks(env):
    env.define(SONLA)
    env.worker()
    env.collector()
    c = env.client()
    d = sonla()
    r = response(d, 1)
    assert c.call(r) == {"id": r["id"], "status": "accepted"}
    assert c.call(r) == {"id": r["id"], "status": "duplicate"}
    ack = c.call(dict(r, channel="portal"))
    assert ack["status"] == "rejected" and ack["code"] == "conflict", ack
    # What needs the definition is the worker's: its words reach the client.
    is_refusal(c.call(response(d, 2, unit="NOPE")), "unknown_unit", "unit",
               "r-000002")
    is_refusal(c.call(response(d, 3, ts=-1)), "outside_window", "ts",
               "r-000003")
    # An array of 3 with one bad element: acks in element order.
    a, b = response(d, 10), response(d, 11)
    acks = c.call([a, dict(response(d, 12), v=2), b])
    assert acks[0] == {"id": a["id"], "status": "accepted"}, acks
    is_refusal(acks[1], "bad_value", "v", "r-000012")
    assert acks[2] == {"id": b["id"], "status": "accepted"}, acks
    # A full array of 1,000 (some already stored), answered in order.
    batch = [response(d, 100 + i) for i in range(1000)]
    acks = c.call(batch, timeout=30)
    assert [x["id"] for x in acks] == [x["id"] for x in batch]
    assert all(x["status"] == "accepted" for x in acks), acks[:3]
    acks = c.call(batch[:5] + [a], timeout=30)
    assert all(x["status"] == "duplicate" for x in acks), acks
    committed(env, batch[999])


@test
def pipelined_acks_match_by_id(env):
    env.define(SONLA)
    env.worker()
    env.collector()
    c = env.client()
    d = sonla()
    rs = [response(d, i) for i in range(2000)]
    for r in rs:
        c.send(r)
    acks = recv_all(c, len(rs), timeout=60)
    assert sorted(a["id"] for a in acks) == sorted(r["id"] for r in rs)
    assert all(a["status"] == "accepted" for a in acks), \
        [a for a in acks if a["status"] != "accepted"][:3]


@test
def busy_when_inflight_full(env):
    env.define(SONLA)
    env.worker()
    env.collector("--max-inflight", "1")
    c = env.client()
    d = sonla()
    rs = [response(d, i) for i in range(300)]
    for r in rs:
        c.send(r)
    acks = recv_all(c, len(rs))
    by = {}
    for a in acks:
        by.setdefault(a["status"], []).append(a)
    assert set(by) <= {"accepted", "busy"}, set(by)
    assert by.get("busy"), "no busy under --max-inflight 1"
    for a in by["busy"]:
        is_busy(a)
        assert a["id"].startswith("r-"), a
    # busy promised nothing was stored: each re-send is accepted now.
    for a in by["busy"][:20]:
        r = next(x for x in rs if x["id"] == a["id"])
        for _ in range(50):
            ack = c.call(r)
            if ack["status"] != "busy":
                break
            time.sleep(0.05)
        assert ack == {"id": r["id"], "status": "accepted"}, ack


@test
def busy_without_worker_or_spool(env):
    env.collector()
    c = env.client()
    r = response(sonla(), 1)
    is_busy(c.call(r), r["id"])
    acks = c.call([r, dict(r, v=2)])
    is_busy(acks[0], r["id"])
    is_refusal(acks[1], "bad_value", "v", r["id"])


@test
def spool_while_worker_down(env):
    env.define(SONLA)
    spool = os.path.join(env.dir, "spool")
    col = env.collector("--spool", spool)
    c = env.client()
    d = sonla()
    rs = [response(d, i) for i in range(50)]
    for r in rs:
        assert c.call(r) == {"id": r["id"], "status": "accepted"}
    # Copies still in the spool: duplicate, or conflict for other content.
    assert c.call(rs[0]) == {"id": rs[0]["id"], "status": "duplicate"}
    reordered = dict(rs[1], items=dict(reversed(list(rs[1]["items"].items()))))
    assert c.call(reordered) == {"id": rs[1]["id"], "status": "duplicate"}
    ack = c.call(dict(rs[2], channel="portal"))
    assert ack["status"] == "rejected" and ack["code"] == "conflict", ack
    acks = c.call([rs[3], response(d, 60)])
    assert acks == [{"id": rs[3]["id"], "status": "duplicate"},
                    {"id": "r-000060", "status": "accepted"}], acks
    assert segments(spool), "nothing on disk"

    # A worker comes: the spool is delivered, each response counted once.
    env.worker()
    spool_drained(spool)
    for r in rs + [response(d, 60)]:
        committed(env, r)
    # Now through the collector: the worker says duplicate.
    assert c.call(rs[5]) == {"id": rs[5]["id"], "status": "duplicate"}
    assert col.stop() == 0


@test
def spool_survives_restart(env):
    env.define(SONLA)
    spool = os.path.join(env.dir, "spool")
    col = env.collector("--spool", spool)
    c = env.client()
    d = sonla()
    rs = [response(d, i) for i in range(200)]
    acks = c.call(rs[:100], timeout=30)
    assert all(a["status"] == "accepted" for a in acks), acks[:3]
    for r in rs[100:]:
        c.send(r)
    acks = recv_all(c, 100)
    assert all(a["status"] == "accepted" for a in acks), acks[:3]
    c.close()
    assert col.stop() == 0
    # A torn record at the tail (a crash mid-append) is cut away.
    last = sorted(segments(spool))[-1]
    with open(os.path.join(spool, last), "ab") as f:
        f.write(b"SPR1\x10\x00\x00\x00partial")
    col = env.collector("--spool", spool)
    c = env.client()
    assert c.call(rs[7]) == {"id": rs[7]["id"], "status": "duplicate"}
    env.worker()
    spool_drained(spool)
    for r in rs[::10] + [rs[-1]]:
        committed(env, r)
    assert col.stop() == 0
    assert "COL-SPOOL-OPEN" in env.log_of("sipas-collector")


@test
def worker_crash_mid_stream(env):
    env.define(SONLA)
    w = env.worker()
    env.collector("--resend-ms", "500")
    c = env.client()
    d = sonla()
    rs = [response(d, i) for i in range(3000)]
    for r in rs:
        c.send(r)
    first = recv_all(c, 10)
    w.kill()
    time.sleep(0.5)
    env.worker()
    acks = first + recv_all(c, len(rs) - 10, timeout=60)
    seen = {}
    for a in acks:
        assert a["status"] in ("accepted", "duplicate", "busy"), a
        seen.setdefault(a["id"], []).append(a["status"])
    assert sorted(seen) == sorted(r["id"] for r in rs)
    assert all(len(v) == 1 for v in seen.values())
    # Every busy is re-sent; then everything is stored exactly once:
    # no id was ever `accepted` twice.
    again = [r for r in rs if seen[r["id"]] == ["busy"]]
    for r in again:
        c.send(r)
    for a in recv_all(c, len(again), timeout=60):
        assert a["status"] in ("accepted", "duplicate"), a
        seen[a["id"]].append(a["status"])
    for i, v in seen.items():
        assert v.count("accepted") <= 1, (i, v)
    for r in rs[::300]:
        committed(env, r)


@test
def worker_crash_with_spool(env):
    env.define(SONLA)
    spool = os.path.join(env.dir, "spool")
    w = env.worker()
    env.collector("--resend-ms", "500", "--spool", spool)
    c = env.client()
    d = sonla()
    rs = [response(d, i) for i in range(2000)]
    for r in rs:
        c.send(r)
    first = recv_all(c, 10)
    w.kill()
    acks = first + recv_all(c, len(rs) - 10, timeout=60)
    statuses = {}
    for a in acks:
        statuses.setdefault(a["id"], []).append(a["status"])
    assert sorted(statuses) == sorted(r["id"] for r in rs)
    assert all(v in (["accepted"], ["duplicate"]) for v in statuses.values()), \
        [v for v in statuses.values() if v not in (["accepted"], ["duplicate"])][:5]
    env.worker()
    spool_drained(spool)
    for r in rs[::100] + [rs[-1]]:
        committed(env, r)


def forwarded_then_worker_killed(env, extra):
    """Responses forwarded to a worker that hangs, then dies: the collector
    holds them (their fate unknown) and re-sends them."""
    env.define(SONLA)
    w = env.worker()
    col = env.collector("--resend-ms", "300", *extra)
    c = env.client()
    d = sonla()
    rs = [response(d, 5000 + i) for i in range(500)]
    os.kill(w.proc.pid, signal.SIGSTOP)
    for r in rs:
        c.send(r)
    time.sleep(0.5)
    w.kill()
    return col, c, rs


@test
def hung_then_killed_worker_resent(env):
    col, c, rs = forwarded_then_worker_killed(env, [])
    # Nothing is answered `busy`: the collector does not know whether the
    # dead worker stored them.
    assert not c.sock.poll(800), msgpack.unpackb(c.sock.recv(), raw=False)
    env.worker()
    acks = recv_all(c, len(rs), timeout=30)
    assert sorted(a["id"] for a in acks) == sorted(r["id"] for r in rs)
    assert all(a["status"] == "accepted" for a in acks), \
        [a for a in acks if a["status"] != "accepted"][:3]
    for r in rs[::50]:
        committed(env, r)
    assert col.stop() == 0


@test
def hung_then_killed_worker_spooled(env):
    spool = os.path.join(env.dir, "spool")
    col, c, rs = forwarded_then_worker_killed(env, ["--spool", spool])
    # With a spool they are kept there and accepted without a worker.
    acks = recv_all(c, len(rs), timeout=30)
    assert all(a["status"] == "accepted" for a in acks), \
        [a for a in acks if a["status"] != "accepted"][:3]
    assert c.call(rs[0]) == {"id": rs[0]["id"], "status": "duplicate"}
    env.worker()
    spool_drained(spool)
    for r in rs[::50]:
        committed(env, r)
    assert col.stop() == 0


@test
def unanswered_is_given_up_silently(env):
    env.define(SONLA)
    w = env.worker()
    col = env.collector("--resend-ms", "200", "--give-up-ms", "1000")
    c = env.client()
    r = response(sonla(), 1)
    os.kill(w.proc.pid, signal.SIGSTOP)
    try:
        acks = []
        c.send(r)
        c.send([response(sonla(), 2), {"v": 1}])
        # Never `busy` for a response whose fate is unknown: silence.
        if c.sock.poll(2500):
            acks.append(msgpack.unpackb(c.sock.recv(), raw=False))
        assert not acks, acks
    finally:
        os.kill(w.proc.pid, signal.SIGCONT)
    # The worker wakes up and stores the copies; its late acks are
    # dropped. The client's re-send learns the truth.
    time.sleep(0.5)
    assert c.call(r) == {"id": r["id"], "status": "duplicate"}
    assert "COL-GIVE-UP" in env.log_of("sipas-collector")
    assert col.stop() == 0


@test
def req_client_multi_frame(env):
    env.collector()
    s = env.zctx.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(env.collector_ep)
    s.send_multipart([pack({"v": 1}), pack({"v": 1})])
    assert s.poll(10000), "no answer"
    is_refusal(msgpack.unpackb(s.recv(), raw=False), "malformed")
    s.close()


@test
def sigterm_exits_within_10s(env):
    env.define(SONLA)
    w = env.worker()
    col = env.collector()
    c = env.client()
    r = response(sonla(), 1)
    assert c.call(r)["status"] == "accepted"
    # A worker that hangs: the collector owes an ack it will never get.
    os.kill(w.proc.pid, signal.SIGSTOP)
    try:
        c.send(response(sonla(), 2))
        time.sleep(0.3)
        t0 = time.time()
        assert col.stop(timeout=10) == 0
        assert time.time() - t0 < 10
        assert "COL-STOP" in env.log_of("sipas-collector")
    finally:
        os.kill(w.proc.pid, signal.SIGCONT)


@test
def sigterm_answers_what_is_owed(env):
    """A client pipelining 3,000 responses, with ZeroMQ's default receive
    queue (1,000): SIGTERM while the acks pour out. Every response the
    collector took and a worker stored is answered `accepted` to the
    client -- also the acks still unread in the client's socket buffer
    when the collector was done, which the client's library would drop
    if the connection closed at once."""
    env.define(SONLA)
    env.worker()
    col = env.collector()
    c = env.client()
    assert c.sock.getsockopt(zmq.RCVHWM) == 1000
    d = sonla()
    n = 3000
    for i in range(n):
        c.send(response(d, i))
    time.sleep(0.05)
    t0 = time.time()
    col.proc.send_signal(signal.SIGTERM)
    got = []
    while time.time() - t0 < 12:
        if c.sock.poll(300):
            got.append(msgpack.unpackb(c.sock.recv(), raw=False))
        elif col.proc.poll() is not None:
            break  # exited, and nothing more came
    assert col.stop() == 0
    assert time.time() - t0 < 10
    assert all(a["status"] in ("accepted", "busy") for a in got), got[:3]
    accepted = sum(a["status"] == "accepted" for a in got)
    stored = env.snapshot()["counts"]["accepted"]
    # Whatever was taken was answered (what was not, a client re-sends).
    assert stored > 0 and accepted == stored, (len(got), accepted, stored)


@test
def options_and_exit_status(env):
    p = run_collector(["--help"])
    assert p.returncode == 0 and "--spool" in p.stdout and "--worker" in p.stdout
    p = run_collector(["--version"])
    assert p.returncode == 0 and p.stdout.startswith("sipas-collector ")
    p = run_collector(["--source", "bad name"])
    assert p.returncode == 1, p
    p = run_collector(["--no-such-option"])
    assert p.returncode == 1, p
    p = run_collector(["--max-inflight", "0"])
    assert p.returncode == 1, p
    p = run_collector(["extra-argument"])
    assert p.returncode == 1, p
    p = run_collector(["--bind", "nonsense://x"])
    assert p.returncode == 1, p
    # A config file with an unknown key.
    conf = os.path.join(env.dir, "c.conf")
    with open(conf, "w") as f:
        f.write("bind = %s\nno_such_key = 1\n" % env.collector_ep)
    p = run_collector(["-c", conf])
    assert p.returncode == 1 and "no_such_key" in p.stderr, p
    # An endpoint that cannot be bound: 2.
    p = run_collector(["--bind", "ipc:///nonexistent-dir/x.sock",
                       "--worker", env.worker_ep])
    assert p.returncode == 2, p
    # A config file's keys mirror the long options.
    with open(conf, "w") as f:
        f.write("bind = %s\nworker = %s\nsource = conf-src\n"
                % (env.collector_ep, env.worker_ep))
    env.define(SONLA)
    env.worker()
    d = env._start("sipas-collector", ["-c", conf])
    c = env.client()
    r = response(sonla(), 1)
    assert c.call(r) == {"id": r["id"], "status": "accepted"}
    assert d.stop() == 0


if __name__ == "__main__":
    run()
