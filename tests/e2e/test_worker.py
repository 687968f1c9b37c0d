"""End-to-end tests of sipas-worker, spoken to as a collector speaks to it."""
import json
import os
import struct
import time

import msgpack

from harness import SRC, load_definition, response, run, test

CONTRACT = os.path.join(SRC, "tests/data/defs/contract-example.json")
SONLA = os.path.join(SRC, "examples/sonla-2024.json")


def relay(token, flags=0, source=b"test"):
    return struct.pack("<BBQqB", 1, flags, token, int(time.time() * 1000),
                       len(source)) + source


class Hop:
    """A DEALER speaking [relay][response] to a worker."""

    def __init__(self, env):
        self.c = env.worker_client()
        self.token = 0

    def send(self, resp, flags=0, raw=None):
        self.token += 1
        body = raw if raw is not None else msgpack.packb(resp, use_bin_type=True)
        self.c.sock.send_multipart([relay(self.token, flags), body])
        return self.token

    def recv(self, timeout=10.0):
        if not self.c.sock.poll(int(timeout * 1000)):
            raise AssertionError("worker did not answer")
        head, ack = self.c.sock.recv_multipart()
        token = struct.unpack("<Q", head[2:10])[0]
        return token, msgpack.unpackb(ack, raw=False)

    def call(self, resp, flags=0):
        t = self.send(resp, flags)
        token, ack = self.recv()
        assert token == t, (token, t)
        return ack


@test
def accepted_duplicate_conflict(env):
    env.define(SONLA)
    w = env.worker()
    hop = Hop(env)
    d = load_definition(SONLA)
    r = response(d, 1)
    assert hop.call(r) == {"id": r["id"], "status": "accepted"}
    assert hop.call(r) == {"id": r["id"], "status": "duplicate"}
    # The same answers in another key order are the same content.
    r2 = dict(r, items=dict(reversed(list(r["items"].items()))))
    assert hop.call(r2)["status"] == "duplicate"
    other = dict(r, channel="portal")
    ack = hop.call(other)
    assert ack["status"] == "rejected" and ack["code"] == "conflict", ack
    assert w.stop() == 0


@test
def rejected_is_not_stored(env):
    env.define(SONLA)
    env.worker()
    hop = Hop(env)
    d = load_definition(SONLA)
    bad = response(d, 2, unit="NOPE")
    for _ in range(2):
        ack = hop.call(bad)
        assert ack["status"] == "rejected", ack
        assert ack["code"] == "unknown_unit" and ack["field"] == "unit", ack
    ack = hop.call(response(d, 3, campaign="XX-1"))
    assert ack["code"] == "unknown_campaign", ack
    r = response(d, 4)
    del r["items"][next(iter(r["items"]))]
    ack = hop.call(r)
    assert ack["code"] == "missing_item", ack


@test
def pipelined_batch_then_sigkill_keeps_every_ack(env):
    env.define(SONLA)
    w = env.worker()
    hop = Hop(env)
    d = load_definition(SONLA)
    n = 3000
    for i in range(n):
        hop.send(response(d, i))
    statuses = {}
    for _ in range(n):
        _, ack = hop.recv()
        statuses[ack["id"]] = ack["status"]
    assert set(statuses.values()) == {"accepted"}, set(statuses.values())
    assert len(statuses) == n
    w.kill()                      # SIGKILL: every ack above was after fsync
    env.worker()
    hop2 = Hop(env)
    for i in range(n):
        hop2.send(response(d, i))
    again = [hop2.recv()[1]["status"] for _ in range(n)]
    assert set(again) == {"duplicate"}, set(again)


@test
def new_revision_applies_without_restart(env):
    d = load_definition(CONTRACT)
    env.define(CONTRACT)
    env.worker()
    hop = Hop(env)
    r = response(d, 1, unit="SNG")
    assert hop.call(r)["code"] == "unknown_unit"
    d["units"].append({"id": "SNG", "name": "Sở Ngoại vụ", "block": "dept",
                       "forms": ["direct"]})
    path = os.path.join(env.dir, "rev2.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(d, f, ensure_ascii=False)
    assert "revision 2-" in env.define(path).stdout
    assert hop.call(r)["status"] == "accepted"


@test
def spooled_refusal_goes_to_quarantine_once(env):
    env.define(SONLA)
    env.worker()
    hop = Hop(env)
    d = load_definition(SONLA)
    bad = response(d, 7, unit="GONE")
    for _ in range(2):
        ack = hop.call(bad, flags=1)
        assert ack["status"] == "rejected" and ack["code"] == "unknown_unit"
    good = response(d, 8)
    assert hop.call(good, flags=1)["status"] == "accepted"
    assert hop.call(good, flags=1)["status"] == "duplicate"


@test
def quarantine_list_and_replay_count_once(env):
    d = load_definition(CONTRACT)
    env.define(CONTRACT)
    env.worker()
    hop = Hop(env)
    late = response(d, 1, unit="SNG")         # unit not defined yet
    assert hop.call(late, flags=1)["code"] == "unknown_unit"
    listing = env.admin("quarantine", "list").stdout
    assert "unknown_unit" in listing and late["id"] in listing, listing
    assert "1 quarantined" in listing, listing
    # Nothing passes yet.
    assert "0 replayed" in env.admin("quarantine", "replay").stdout
    d["units"].append({"id": "SNG", "name": "Sở Ngoại vụ", "block": "dept",
                       "forms": ["direct"]})
    path = os.path.join(env.dir, "rev2.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(d, f, ensure_ascii=False)
    env.define(path)
    out = env.admin("quarantine", "replay").stdout
    assert "1 replayed and counted, 0 still quarantined" in out, out
    assert "0 quarantined" in env.admin("quarantine", "list").stdout
    # Counted once: the worker now calls it a duplicate, replay finds nothing.
    assert hop.call(late)["status"] == "duplicate"
    assert hop.call(late, flags=1)["status"] == "duplicate"
    assert "0 replayed" in env.admin("quarantine", "replay").stdout


@test
def bad_peers_do_not_stop_it(env):
    env.define(SONLA)
    w = env.worker()
    hop = Hop(env)
    hop.c.sock.send_multipart([b"not a relay header", b"x"])
    hop.c.sock.send(b"one frame only")
    hop.c.sock.send_multipart([relay(9), b"x", b"extra"])
    hop.c.sock.send_multipart([relay(10), b"\xc1"])   # not msgpack
    token, ack = hop.recv()
    assert token == 10 and ack["code"] == "malformed", ack
    d = load_definition(SONLA)
    assert hop.call(response(d, 1))["status"] == "accepted"
    assert w.alive()
    assert w.stop() == 0


@test
def full_map_answers_busy_grows_and_loses_nothing(env):
    """A 1 MiB map fills within a few thousand responses: the batch that
    hits it is answered busy (nothing stored), the map is grown, the resent
    responses are accepted once, and none is accepted twice."""
    env.define(SONLA)
    env.worker("--map-size", "1")
    hop = Hop(env)
    d = load_definition(SONLA)
    n = 6000
    pending = {("r-%06d" % i): response(d, i) for i in range(n)}
    accepted, busy = set(), 0
    deadline = time.time() + 60
    while pending and time.time() < deadline:
        for r in pending.values():
            hop.send(r)
        answers = [hop.recv()[1] for _ in range(len(pending))]
        for ack in answers:
            if ack["status"] == "accepted":
                assert ack["id"] not in accepted, ack
                accepted.add(ack["id"])
                del pending[ack["id"]]
            else:
                assert ack["status"] == "busy" and ack["code"] == "busy", ack
                busy += 1
        time.sleep(0.05)
    assert not pending, "%d never accepted" % len(pending)
    assert busy > 0, "the map never filled: the test proves nothing"
    assert "WRK-MAP-GROWN" in env.log_of("sipas-worker")
    assert env.snapshot()["counts"]["accepted"] == n
    for i in range(0, n, 500):
        assert hop.call(response(d, i))["status"] == "duplicate"


@test
def map_80_percent_is_warned_before_it_is_full(env):
    """WRK-MAP-80 comes with the first commit that takes the 1 MiB map past
    80 % (data.mdb holds exactly the pages in use), before any `busy`."""
    env.define(SONLA)
    env.worker("--map-size", "1")
    hop = Hop(env)
    d = load_definition(SONLA)
    data = os.path.join(env.store, "data.mdb")
    limit = (1 << 20) // 10 * 8
    for base in range(0, 10000, 100):
        for i in range(base, base + 100):
            hop.send(response(d, i))
        statuses = {hop.recv()[1]["status"] for _ in range(100)}
        assert statuses == {"accepted"}, "the map filled before a warning"
        size = os.path.getsize(data)
        if "WRK-MAP-80" in env.log_of("sipas-worker"):
            assert size > limit, "warned at %d bytes" % size
            break
        assert size <= limit, "%d bytes in use and no warning" % size
    else:
        raise AssertionError("the map never reached 80 %")
    log = env.log_of("sipas-worker")
    assert log.count("WRK-MAP-80") == 1, log


@test
def sigterm_exits_zero_quickly(env):
    env.define(SONLA)
    w = env.worker()
    t0 = time.time()
    assert w.stop() == 0
    assert time.time() - t0 < 10


if __name__ == "__main__":
    run()
