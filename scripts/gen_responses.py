#!/usr/bin/python3
"""gen_responses.py DEFINITION N [SEED] - write N valid responses as JSON Lines.

Deterministic for a given definition, N and seed. Each unit gets its own
satisfaction level (share of answers at the satisfied levels), so the
snapshot shows a realistic spread; about 3% of criterion answers are
"not applicable"; optional items are answered most of the time.
Used by scripts/demo.sh and by tests; standard library only.
"""
import json
import random
import sys

from survey import criteria, window


def main():
    defn = json.load(open(sys.argv[1], encoding="utf-8"))
    n = int(sys.argv[2])
    rnd = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 42)
    scale = defn.get("scale", {"min": 1, "max": 5, "satisfied": [4, 5],
                               "not_applicable": 0})
    sat = scale["satisfied"]
    unsat = [x for x in range(scale["min"], scale["max"] + 1) if x not in sat]
    na = scale.get("not_applicable")
    forms = {f["id"]: f for f in defn["forms"]}
    units = defn["units"]
    level = {u["id"]: rnd.uniform(0.80, 0.99) for u in units}
    t0, t1 = window(defn["campaign"])
    t1 -= 1  # the last second of the window
    channels = ["postal", "portal", "kiosk", "phone", "interview"]
    out = sys.stdout
    for i in range(n):
        u = units[rnd.randrange(len(units))]
        f = forms[u["forms"][rnd.randrange(len(u["forms"]))]]
        items = {}
        for cid in criteria(f["groups"]):
            if na is not None and rnd.random() < 0.03:
                items[cid] = na
            elif rnd.random() < level[u["id"]]:
                items[cid] = rnd.choice(sat)
            else:
                items[cid] = rnd.choice(unsat)
        for it in f.get("items", []):
            if rnd.random() > 0.9:
                continue
            if it["kind"] == "choice":
                items[it["id"]] = rnd.choice(it["codes"])
            elif it["kind"] == "multi":
                k = rnd.randint(1, min(it.get("max", len(it["codes"])), 3))
                items[it["id"]] = sorted(rnd.sample(it["codes"], k))
            else:
                items[it["id"]] = rnd.randint(it["min"], it["max"])
        r = {"v": 1, "id": "demo-%07d" % i, "campaign": defn["campaign"]["id"],
             "unit": u["id"], "form": f["id"],
             "channel": channels[0] if rnd.random() < 0.7 else rnd.choice(channels),
             "ts": rnd.randint(t0, t1), "items": items}
        out.write(json.dumps(r, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
