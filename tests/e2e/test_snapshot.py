"""End to end: responses through a real worker, numbers through sipas-snapshot,
compared with values computed here from the responses themselves."""
import os
import struct
import subprocess
import time

import msgpack

from harness import (SRC, criteria_of, load_definition, program, response,
                     run, test)

SONLA = os.path.join(SRC, "examples/sonla-2024.json")


def relay(token):
    return struct.pack("<BBQqB", 1, 0, token, int(time.time() * 1000), 4) + b"test"


def ingest(env, rs):
    c = env.worker_client()
    for i, r in enumerate(rs):
        c.sock.send_multipart([relay(i), msgpack.packb(r)])
    acks = []
    for _ in rs:
        assert c.sock.poll(10000)
        acks.append(msgpack.unpackb(c.sock.recv_multipart()[1], raw=False))
    return acks


def expected_rate(rs, unit, form, cid, sat=(4, 5), na=0):
    vals = [r["items"][cid] for r in rs if r["unit"] == unit and r["form"] == form]
    answered = [v for v in vals if v != na]
    good = [v for v in answered if v in sat]
    return len(answered), len(good), (100.0 * len(good) / len(answered)
                                      if answered else None)


@test
def snapshot_numbers_match_the_responses(env):
    d = load_definition(SONLA)
    env.define(SONLA)
    env.worker()
    rs = [response(d, i, channel="postal" if i % 3 else "portal")
          for i in range(600)]
    acks = ingest(env, rs)
    assert all(a["status"] == "accepted" for a in acks)
    ingest(env, rs[:12])                       # 12 duplicates
    snap = env.snapshot()
    assert snap["schema"] == "sipas.snapshot/1"
    assert snap["campaign"] == "SL-2024"
    assert snap["definition_revision"].startswith("1-")
    assert snap["counts"]["accepted"] == 600
    assert snap["counts"]["duplicates"] == 12
    assert snap["counts"]["by_channel"]["portal"] == 200
    assert snap["counts"]["by_channel"]["postal"] == 400
    by_form = {}
    for r in rs:
        by_form[r["form"]] = by_form.get(r["form"], 0) + 1
    assert snap["counts"]["by_form"] == by_form, snap["counts"]["by_form"]
    units = {u["id"]: u for u in snap["units"]}
    assert len(units) == 32
    checked = 0
    for u in d["units"]:
        su = units[u["id"]]
        n = sum(1 for r in rs if r["unit"] == u["id"])
        assert su["respondents"] == n, (u["id"], su["respondents"], n)
        for sf in su["forms"]:
            form = next(f for f in d["forms"] if f["id"] == sf["form"])
            crit = {c["id"]: c for c in sf["criteria"]}
            for cid in criteria_of(form):
                answered, good, rate = expected_rate(rs, u["id"], form["id"], cid)
                if answered == 0:
                    continue
                c = crit[cid]
                assert c["answered"] == answered and c["satisfied"] == good, c
                assert abs(c["rate"] - rate) < 1e-9, (c, rate)
                checked += 1
    assert checked > 500, checked
    # Ranks: competition ranking over the unit indices.
    idx = sorted((u["index"] for u in snap["units"] if u["index"] is not None),
                 reverse=True)
    for u in snap["units"]:
        if u["index"] is not None:
            assert u["rank"] == 1 + sum(1 for x in idx if x > u["index"] + 1e-9)


@test
def empty_campaign_and_formats(env):
    env.define(SONLA)
    snap = env.snapshot()
    assert snap["counts"]["accepted"] == 0
    assert snap["index"] is None
    assert all(u["rank"] is None and u["index"] is None for u in snap["units"])
    for fmt in ("table", "csv"):
        p = subprocess.run([program("sipas-snapshot"), "--store", env.store,
                            "--format", fmt], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        assert "Sở Nội vụ" in p.stdout, p.stdout[:300]
    p = subprocess.run([program("sipas-snapshot"), "--store", env.store,
                        "--campaign", "XX"], capture_output=True, text=True)
    assert p.returncode == 1


@test
def snapshot_during_ingestion_is_consistent(env):
    d = load_definition(SONLA)
    env.define(SONLA)
    env.worker()
    c = env.worker_client()
    n = 3000
    for i in range(n):
        c.sock.send_multipart([relay(i), msgpack.packb(response(d, i))])
    seen = []
    for _ in range(3):
        snap = env.snapshot()
        total = snap["counts"]["accepted"]
        # A consistent view: respondents sum to the accepted count.
        assert sum(u["respondents"] for u in snap["units"]) == total
        seen.append(total)
    for _ in range(n):
        assert c.sock.poll(10000)
        c.sock.recv_multipart()
    assert env.snapshot()["counts"]["accepted"] == n
    assert seen == sorted(seen)


if __name__ == "__main__":
    run()
