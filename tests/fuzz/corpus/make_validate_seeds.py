#!/usr/bin/python3
"""Write the seed corpus of fuzz_validate (tests/fuzz/corpus/validate/).

Valid responses for every (unit, form) pair of both example campaigns, and
variations that each break one rule of validation (sipas_validate.h), so
the fuzzer starts from maps that reach every check. Needs python3-msgpack.
Run once from anywhere: /usr/bin/python3 make_validate_seeds.py
"""
import json
import os
import sys

import msgpack

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "scripts"))
from survey import criteria, window  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "..")
OUT = os.path.join(HERE, "validate")
DEFS = {"sonla": "examples/sonla-2024.json",
        "national": "examples/national-2025.json",
        "thainguyen": "examples/thainguyen-2025.json"}


def valid(defn, unit, form, i):
    """A valid response: every criterion, every optional item."""
    t0, t1 = window(defn["campaign"])
    scale = defn["scale"]
    items = {}
    for k, cid in enumerate(criteria(form["groups"])):
        items[cid] = scale["min"] + (i + k) % (scale["max"] - scale["min"] + 1)
    for it in form.get("items", []):
        if it["kind"] == "choice":
            items[it["id"]] = it["codes"][i % len(it["codes"])]
        elif it["kind"] == "multi":
            items[it["id"]] = it["codes"][:min(it.get("max", 2), 2)]
        else:
            items[it["id"]] = it["min"] + i % (it["max"] - it["min"] + 1)
    return {"v": 1, "id": "r-%d" % i, "campaign": defn["campaign"]["id"],
            "unit": unit, "form": form["id"], "channel": "postal",
            "ts": t0 + (i * 86400) % (t1 - t0), "items": items}


def write(name, obj):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(msgpack.packb(obj, use_bin_type=True))


def variations(tag, defn, r):
    """One seed per rule of sipas_validate.h, each breaking only it."""
    t0, t1 = window(defn["campaign"])
    scale = defn["scale"]
    form = next(f for f in defn["forms"] if f["id"] == r["form"])
    crit = list(criteria(form["groups"]))
    items = {it["id"]: it for it in form.get("items", [])}
    multi = next((k for k, it in items.items() if it["kind"] == "multi"), None)
    choice = next((k for k, it in items.items() if it["kind"] == "choice"),
                  None)
    number = next((k for k, it in items.items() if it["kind"] == "number"),
                  None)

    def v(name, **change):
        x = json.loads(json.dumps(r))
        items_change = change.pop("items", {})
        drop = change.pop("drop", ())
        x.update(change)
        x["items"].update(items_change)
        for k in drop:
            del x["items"][k]
        write("%s_%s" % (tag, name), x)

    v("campaign", campaign="XX-2024")
    v("unit", unit="NOPE")
    v("form_unknown", form="nope")
    other = next((f["id"] for f in defn["forms"] if f["id"] != r["form"]),
                 None)
    if other is not None:
        v("form_not_used", form=other)
    v("ts_before", ts=t0 - 1)
    v("ts_first", ts=t0)
    v("ts_last", ts=t1 - 1)
    v("ts_after", ts=t1)
    v("item_unknown", items={"ZZ9": 1})
    v("crit_list", items={crit[0]: [1]})
    v("crit_low", items={crit[0]: scale["min"] - 1})
    v("crit_high", items={crit[0]: scale["max"] + 1})
    v("crit_na", items={crit[0]: scale["not_applicable"]})
    v("crit_missing", drop=(crit[-1],))
    v("optional_missing", drop=tuple(items))
    if multi:
        codes = items[multi]["codes"]
        v("multi_int", items={multi: codes[0]})
        v("multi_empty", items={multi: []})
        v("multi_repeat", items={multi: [codes[0], codes[0]]})
        v("multi_undeclared", items={multi: [max(codes) + 1]})
        v("multi_too_many", items={multi: codes})
    if choice:
        v("choice_list", items={choice: [items[choice]["codes"][0]]})
        v("choice_undeclared", items={choice: max(items[choice]["codes"]) + 7})
    if number:
        v("number_low", items={number: items[number]["min"] - 1})
        v("number_high", items={number: items[number]["max"] + 1})
        v("number_huge", items={number: 2**63 - 1})


def main():
    os.makedirs(OUT, exist_ok=True)
    batch = []
    for tag, path in DEFS.items():
        defn = json.load(open(os.path.join(ROOT, path), encoding="utf-8"))
        forms = {f["id"]: f for f in defn["forms"]}
        pairs = sorted({(u["id"], f) for u in defn["units"]
                        for f in u["forms"]})
        seen_forms = set()
        for i, (unit, fid) in enumerate(pairs):
            # One seed per form, and one per unit of a form seen already
            # only for the first few: the fuzzer needs shapes, not names.
            if fid in seen_forms and i % 8 != 0:
                continue
            r = valid(defn, unit, forms[fid], i)
            write("%s_valid_%s_%s" % (tag, unit, fid), r)
            if fid not in seen_forms:
                variations("%s_%s" % (tag, fid), defn, r)
                batch.append(r)
            seen_forms.add(fid)
    # An array request mixing both campaigns.
    with open(os.path.join(OUT, "array_both"), "wb") as f:
        f.write(msgpack.packb(batch, use_bin_type=True))
    # The extreme definition built into the target (campaign FZ).
    ext = {"v": 1, "id": "x-1", "campaign": "FZ", "unit": "u", "form": "f",
           "channel": "kiosk", "ts": 86400 * 365,
           "items": {"A1": 2**63 - 1, "A2": 2**63 - 11, "n": -2**63,
                     "m": [62, -2**63], "c": 2**63 - 1}}
    write("extreme_valid", ext)
    ext2 = dict(ext, unit="u2", form="f2", items={"B1": 2**63 - 11})
    write("extreme_valid_f2", ext2)
    ext3 = dict(ext, items=dict(ext["items"], m=[0, 1, 2]))
    write("extreme_multi_too_many", ext3)
    ext4 = dict(ext, items=dict(ext["items"], A1=2**63 - 12))
    write("extreme_crit_low", ext4)
    ext5 = dict(ext, items=dict(ext["items"], A2=0))
    write("extreme_crit_zero", ext5)


if __name__ == "__main__":
    main()
