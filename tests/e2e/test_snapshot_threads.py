"""End to end: the JSON snapshot of a campaign of 300 units, which
sipas-snapshot renders in chunks of units on several threads, each thread
refilling one JSON tree per form from unit to unit (store/report_json.c).

Checked: the document is the same bytes with 1, 2 and 4 threads
(SIPAS_SNAPSHOT_THREADS), and every unit's numbers match values computed
here from the responses, in a campaign built to change the values' types
from one unit to the next: units without responses, forms answered only
"not applicable" (null indices), items whose chosen codes vary."""
import copy
import json
import os
import re
import struct
import subprocess
import time

import msgpack

from harness import SRC, criteria_of, load_definition, program, run, test

SONLA = os.path.join(SRC, "examples/sonla-2024.json")
NUNITS = 300  # ten chunks of 32 units
FORM_SETS = [["direct"], ["online", "direct"], ["org"],
             ["direct", "org", "online"]]


def definition(path):
    """Sonla's forms and blocks, with NUNITS units of varied forms."""
    d = load_definition(SONLA)
    d = copy.deepcopy(d)
    d["units"] = [{"id": "U%03d" % i, "name": "Đơn vị %d" % i,
                   "block": d["blocks"][i % len(d["blocks"])]["id"],
                   "forms": FORM_SETS[i % len(FORM_SETS)]}
                  for i in range(NUNITS)]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(d, f, ensure_ascii=False)
    return d


def responses(d):
    """Unit i: none when i % 5 == 0; its first form answered only
    "not applicable" when i % 7 == 0; else scores and items varying."""
    na = d["scale"]["not_applicable"]
    lo, hi = d["scale"]["min"], d["scale"]["max"]
    forms = {f["id"]: f for f in d["forms"]}
    y, m, day = (int(x) for x in d["campaign"]["from"].split("-"))
    ts = int(time.mktime((y, m, day, 12, 0, 0, 0, 0, 0)))
    out = []
    for i, u in enumerate(d["units"]):
        if i % 5 == 0:
            continue
        for n in range(1 + i % 4):
            f = forms[u["forms"][n % len(u["forms"])]]
            items = {}
            for k, cid in enumerate(criteria_of(f)):
                if i % 7 == 0 and f["id"] == u["forms"][0]:
                    items[cid] = na
                else:
                    items[cid] = (na if (i + k + n) % 11 == 0
                                  else lo + (i * 3 + k + n) % (hi - lo + 1))
            for k, it in enumerate(f.get("items", [])):
                if (i + n + k) % 3 == 0:
                    continue
                if it["kind"] == "choice":
                    items[it["id"]] = it["codes"][(i + n) % len(it["codes"])]
                elif it["kind"] == "multi":
                    c = it["codes"]
                    items[it["id"]] = sorted({c[i % len(c)],
                                              c[(i + n + 1) % len(c)]})
                else:
                    items[it["id"]] = it["min"] + (i * 7 + n) % 50
            out.append({"v": 1, "id": "t-%03d-%d" % (i, n),
                        "campaign": d["campaign"]["id"], "unit": u["id"],
                        "form": f["id"], "channel": "postal", "ts": ts,
                        "items": items})
    return out


def ingest(env, rs):
    c = env.worker_client()
    for i, r in enumerate(rs):
        relay = struct.pack("<BBQqB", 1, 0, i, int(time.time() * 1000), 4)
        c.sock.send_multipart([relay + b"test", msgpack.packb(r)])
    for _ in rs:
        assert c.sock.poll(10000)
        ack = msgpack.unpackb(c.sock.recv_multipart()[1], raw=False)
        assert ack["status"] == "accepted", ack


def snapshot_text(env, threads):
    # A hand-over between threads that goes wrong may hang: fail instead
    # (a run takes well under a second, even under ASan).
    p = subprocess.run([program("sipas-snapshot"), "--store", env.store,
                        "--format", "json"], capture_output=True, timeout=60,
                       env=dict(os.environ, SIPAS_SNAPSHOT_THREADS=threads))
    assert p.returncode == 0, p.stderr
    return p.stdout


def group_criteria(groups, prefix=""):
    """(path, criterion ids beneath it) of every group, in pre-order."""
    for g in groups:
        path = prefix + g["id"]
        yield path, criteria_of([g]) if "groups" in g else \
            [c["id"] for c in g["criteria"]]
        if "groups" in g:
            yield from group_criteria(g["groups"], path + "/")


def close(a, b):
    return a is None and b is None or \
        a is not None and b is not None and abs(a - b) < 1e-9


def check_uform(d, sf, rs):
    """A unit's form in the snapshot against its responses rs."""
    form = next(f for f in d["forms"] if f["id"] == sf["form"])
    na = d["scale"]["not_applicable"]
    lo, hi = d["scale"]["min"], d["scale"]["max"]
    sat = d["scale"]["satisfied"]
    assert sf["respondents"] == len(rs), sf
    tally = {}
    for c in sf["criteria"]:
        vals = [r["items"][c["id"]] for r in rs]
        answered = [v for v in vals if v != na]
        good = sum(1 for v in answered if v in sat)
        tally[c["id"]] = (len(answered), good)
        assert c["answered"] == len(answered) and c["satisfied"] == good, c
        assert c["na"] == len(vals) - len(answered), c
        assert c["dist"] == [answered.count(v) for v in range(lo, hi + 1)], c
        assert close(c["rate"], 100.0 * good / len(answered)
                     if answered else None), c
    assert [c["id"] for c in sf["criteria"]] == criteria_of(form)
    paths = list(group_criteria(form["groups"]))
    assert [g["path"] for g in sf["groups"]] == [p for p, _ in paths]
    for g, (_, ids) in zip(sf["groups"], paths):
        assert g["answered"] == sum(tally[i][0] for i in ids), g
        assert g["satisfied"] == sum(tally[i][1] for i in ids), g
        assert (g["index"] is None) == (g["answered"] == 0), g
    assert (sf["index"] is None) == all(g["index"] is None
                                        for g in sf["groups"]), sf["index"]
    assert list(sf["items"]) == [it["id"] for it in form.get("items", [])]
    for it in form.get("items", []):
        si = sf["items"][it["id"]]
        vals = [r["items"][it["id"]] for r in rs if it["id"] in r["items"]]
        assert si["answered"] == len(vals), (it["id"], si)
        if it["kind"] == "number":
            vals.sort()
            n = len(vals)
            assert close(si["mean"], sum(vals) / n if n else None), si
            assert close(si["median"], None if n == 0 else vals[n // 2]
                         if n % 2 else (vals[n // 2 - 1] + vals[n // 2]) / 2), si
            continue
        chosen = [[v] if it["kind"] == "choice" else v for v in vals]
        counts = {str(c): sum(1 for v in chosen if c in v)
                  for c in it["codes"]}
        counts = {k: v for k, v in counts.items() if v}
        assert si["counts"] == counts, (it["id"], si, counts)
        assert list(si["counts"]) == list(counts)
        if it["kind"] == "multi":
            share = {k: 100.0 * v / len(vals) for k, v in counts.items()}
            assert list(si["respondents_share"]) == list(share), si
            for k, v in share.items():
                assert close(si["respondents_share"][k], v), (si, share)


@test
def multi_chunk_document_is_the_same_on_any_threads(env):
    path = os.path.join(env.dir, "def.json")
    d = definition(path)
    env.define(path)
    env.worker()
    rs = responses(d)
    ingest(env, rs)

    texts = [snapshot_text(env, n) for n in ("1", "2", "4")]
    # taken_at is the second the view was opened: the one member that may
    # differ between two runs.
    strip = [re.sub(rb'"taken_at":"[^"]*"', b"", t) for t in texts]
    assert strip[0] == strip[1] == strip[2], "documents differ by threads"
    assert texts[0].count(b"\n") == 2 + NUNITS

    snap = json.loads(texts[1])
    assert [u["id"] for u in snap["units"]] == [u["id"] for u in d["units"]]
    with_index = nulls = 0
    for i, (u, su) in enumerate(zip(d["units"], snap["units"])):
        mine = [r for r in rs if r["unit"] == u["id"]]
        assert su["respondents"] == len(mine), su["id"]
        assert [f["form"] for f in su["forms"]] == u["forms"], su["id"]
        for sf in su["forms"]:
            check_uform(d, sf, [r for r in mine if r["form"] == sf["form"]])
        has = any(f["index"] is not None for f in su["forms"])
        assert (su["index"] is not None) == has, su["id"]
        assert (su["rank"] is None) == (su["index"] is None), su["id"]
        assert su["low_sample"] == (len(mine) < d["method"]["min_respondents"])
        with_index += has
        nulls += sum(1 for f in su["forms"] if f["index"] is None)
    # The campaign does change the values' types between units.
    assert 100 < with_index < NUNITS and nulls > 100, (with_index, nulls)


if __name__ == "__main__":
    run()
