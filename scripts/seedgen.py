#!/usr/bin/python3
"""seedgen.py - responses whose rates reproduce published SIPAS figures.

The "seed checks" of the project: responses are built so that their rates
equal values published in the seed reports (sipas-method.md section F), and
an oracle (the expected indices, computed here independently of sipas with
exact fractions) is written next to them, so that a test can push the
responses through the real daemons and compare sipas-snapshot with both the
published figures and the oracle.

    seedgen.py bl25 OUT.jsonl [--expect EXP.json]
        examples/national-2025.json, campaign VN-2025: 10,000 households of
        the commune Binh Luc whose criteria have exactly the published
        sub-index shares (F1, F2).
    seedgen.py sl24 OUT.jsonl [--expect EXP.json]
        examples/sonla-2024.json, campaign SL-2024: the 32 ranked units, each
        on a chosen target index reproducing the published rollups (F4, F11,
        F12, F13).
    seedgen.py sl23-definition OUT.json
        the same definition for campaign SL-2023 (title, window).
    seedgen.py sl23 OUT.jsonl [--expect EXP.json]
        SL-2023 responses: 10 departments and 5 districts higher in 2023 than
        in 2024, the 17 other units lower (F13).

--definition PATH replaces the example the subcommand reads (sl23 and
sl23-definition derive from the SL-2024 one). Output is deterministic:
the same command writes the same bytes. Standard library only.
"""
import argparse
import json
import os
import random
import sys
import zlib
from fractions import Fraction

from survey import criteria, window

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NATIONAL = os.path.join(ROOT, "examples", "national-2025.json")
SONLA = os.path.join(ROOT, "examples", "sonla-2024.json")

# Published sub-index shares of Binh Luc (BL25, sipas-method.md F1/F2), in
# basis points of 10,000 households, keyed by the definition's group paths.
BL25_UNIT = "NB-BINHLUC"
BL25_N = 10000
BL25_SHARES = {
    "service/access": 8411, "service/procedures": 8363,
    "service/civil_servants": 8383, "service/results": 8327,
    "service/feedback": 8290,
    "policy/accountability": 8355, "policy/participation": 8315,
    "policy/implementation": 8306, "policy/impact": 8322,
}

# SL24 target unit indices. Departments: block 94.97, lowest the Provincial
# Inspectorate (TTT) 86.98, highest the Ethnic Committee (BDT) 98.49, 19 of 20 at 90 or more; districts:
# block 95.05, lowest Bac Yen 83.76, highest Song Ma 99.2 (F12), 11 of 12 at
# 90 or more; 13 + 8 = 21 units above the province index 95.01 (F13). The
# targets of each block average exactly to its published index; the unit
# named in SL24_BALANCE takes up the rounding of the others so that the
# realised block mean stays on the published value.
SL24_TARGETS = {
    # dept (20)
    "VPUBND": "96.35", "SNGV": "95.38", "BDT": "98.49", "BQLKCN": "95.72",
    "SNV": "96.90", "STC": "96.10", "SKHCN": "94.45", "STTTT": "96.62",
    "SVHTTDL": "93.90", "SGDDT": "95.20", "STP": "96.40", "SKHDT": "97.25",
    "SCT": "94.80", "SXD": "92.40", "SGTVT": "91.30", "STNMT": "93.10",
    "SNNPTNT": "95.90", "SLDTBXH": "96.19", "SYT": "95.97", "TTT": "86.98",
    # district (12)
    "TP-SONLA": "97.60", "H-QUYNHNHAI": "96.00", "H-THUANCHAU": "93.50",
    "H-MUONGLA": "96.40", "H-BACYEN": "83.76", "H-PHUYEN": "94.60",
    "H-MOCCHAU": "98.10", "H-YENCHAU": "91.84", "H-MAISON": "97.20",
    "H-SONGMA": "99.20", "H-SOPCOP": "95.60", "H-VANHO": "96.80",
}
SL24_BLOCKS = {"dept": "94.97", "district": "95.05"}
SL24_BALANCE = {"dept": "SYT", "district": "H-MAISON"}

# SL-2023: change from 2023 to 2024 per unit, following SL24's lists of the
# units higher and lower than in 2023 (sipas-method.md F13): departments
# 10 higher or equal, 10 lower, block -0.42; districts 7 higher, 5 lower,
# block +0.53; "15/32 below 2023". SL24 names the Department of Education
# and Training (SGDDT) in both department lists and the Department of
# Industry and Trade (SCT) in neither: SGDDT is taken as higher and SCT as
# the lower one. The changes of each block sum to its published change.
SL23_CHANGE = {
    # dept, higher than (or equal to) 2023
    "SGDDT": "0.35", "STTTT": "0.56", "SNV": "0.41", "SVHTTDL": "0.72",
    "STNMT": "0.28", "VPUBND": "0.64", "SYT": "0.19", "STP": "0.47",
    "TTT": "1.12", "SNGV": "0.30",
    # dept, lower than 2023
    "BDT": "-0.82", "BQLKCN": "-1.05", "STC": "-1.21", "SNNPTNT": "-0.96",
    "SCT": "-1.48", "SGTVT": "-2.35", "SKHCN": "-1.62", "SKHDT": "-0.88",
    "SXD": "-1.94", "SLDTBXH": "-1.13",
    # district, higher than 2023
    "H-SOPCOP": "0.99", "H-PHUYEN": "1.93", "H-QUYNHNHAI": "0.76",
    "H-BACYEN": "2.65", "H-MAISON": "0.63", "H-YENCHAU": "1.38",
    "TP-SONLA": "1.26",
    # district, lower than 2023
    "H-MOCCHAU": "-0.46", "H-THUANCHAU": "-0.84", "H-MUONGLA": "-0.71",
    "H-VANHO": "-0.88", "H-SONGMA": "-0.35",
}
SL23_BLOCK_CHANGE = {"dept": "-0.42", "district": "0.53"}

# Realised unit indices must lie this close to their targets.
TOLERANCE = Fraction(2, 1000)

# Non-criterion items of the Son La forms, from SL24's published shares
# (sipas-method.md D1/D2) in percent of respondents; a share list summing
# to less than 100 leaves the rest unanswered.
SL_CHOICE = {
    "trips": [42.04, 51.32, 4.83, 1.34],
    "logins": [51.55, 41.05, 4.77, 1.67],
    "slip": [68.48, 26.78, 4.35, 0.38],
    "timeliness": [5.54, 93.23, 1.24],
    "harassed": [1.39, 98.61],
    "extra_pay": [0.48, 99.52],
    # Asked only of those whose result came late (timeliness 3): shares of
    # them (SL24: 50 / 50 notified, 51.61 / 48.39 apologised to).
    "delay_notice": [50, 50],
    "apology": [51.61, 48.39],
    # Place of submission and information channels (SL24 section II.1).
    "place": [44.54, 27.08, 3.33, 13.38, 9.94],
    "know_where": [49.43, 16.75, 9.22, 16.31],
    "rule_channel": [49.31, 25.66, 16.23, 8.58],
}
# The online form asks some of these with its own options.
SL_CHOICE_ONLINE = {
    "submit_via": [33.79, 6.44, 51.26, 7.82],
    "result_via": [42.48, 42.48, 4.53],
    "know_where": [46.36, 36.59, 9.77],
}
# Items answered only by some respondents: item -> (item, code) that
# selects them.
SL_ONLY_IF = {"delay_notice": ("timeliness", 3), "apology": ("timeliness", 3)}
SL_MULTI = {
    "direct": {"expect": [20.15, 16.39, 12.92, 9.81, 9.68]},
    "online": {"expect": [20.15, 16.39, 12.92, 9.81, 9.68],
               "rule_channel": [55.31, 29.57, 29.57]},
    "org": {"expect": [28.89, 26.67, 14.92, 14.92]},
}
# Items of the national household form (no published shares: plausible).
VN_CHOICE = {
    "follow": [34.6, 55.1, 10.3],
    "access_fit": [91.8, 8.2],
    "willing": [71.4, 9.3, 19.3],
    "harassed": [1.21, 98.79],
    "extra_pay": [0.62, 99.38],
    "submit_fit": [93.4, 6.6],
}
VN_MULTI = {
    "channels": [78.2, 64.5, 22.7, 41.3, 36.8, 2.4],
    "experience": [58.7, 72.3, 86.1],
    "expect": [31.5, 42.8, 27.4, 18.9, 24.6, 9.7, 12.2, 29.5, 21.3],
}

COMMENTS = [
    "Cán bộ một cửa hướng dẫn tận tình, dễ hiểu.",
    "Đề nghị rút ngắn thời gian giải quyết hồ sơ.",
    "Nơi ngồi chờ còn chật, mùa mưa khó đi lại.",
    "Mong cơ quan công khai rõ hơn các khoản phí, lệ phí.",
    "Cổng dịch vụ công đôi khi bị lỗi, phải gửi lại hồ sơ.",
]
ETHNIC = ["thai", "kinh", "hmong", "muong", "dao", "khomu"]


# --- definition helpers ----------------------------------------------------

def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def walk(groups, prefix=""):
    """(path, group) in pre-order."""
    for g in groups:
        path = prefix + g["id"]
        yield path, g
        if "groups" in g:
            yield from walk(g["groups"], path + "/")


def frac(x):
    """A weight or target as an exact decimal fraction."""
    return Fraction(str(x))


def sl23_definition(defn):
    """The SL-2024 definition turned into SL-2023's (title and window)."""
    d = json.loads(json.dumps(defn))
    d["campaign"]["id"] = "SL-2023"
    d["campaign"]["title"] = d["campaign"]["title"].replace("2024", "2023")
    d["campaign"]["from"] = "2022-09-01"
    d["campaign"]["to"] = "2023-09-30"
    return d


# --- the oracle: the method, replicated with exact fractions ---------------

def oracle(defn, responses):
    """Expected snapshot figures of the responses, as exact fractions.

    Independent of sipas: criterion rate = satisfied / answered (answers at
    scale.not_applicable left out); group `mean` = weighted mean of the
    children's indices (children without an index skipped), `pooled` =
    satisfied / answered over every criterion beneath; form index by
    method.unit over the top groups; unit = respondent-weighted mean of its
    form indices; block by method.block; overall by method.overall.
    """
    scale = defn["scale"]
    sat, na = set(scale["satisfied"]), scale.get("not_applicable")
    method = defn["method"]
    forms = {f["id"]: f for f in defn["forms"]}
    item_defs = {f["id"]: {it["id"]: it for it in f.get("items", [])}
                 for f in defn["forms"]}
    tally = {}   # (unit, form) -> {"n", "crit": {cid: [sat, ans]}, "items"}
    for r in responses:
        t = tally.setdefault((r["unit"], r["form"]),
                             {"n": 0, "crit": {}, "items": {}})
        t["n"] += 1
        idefs = item_defs[r["form"]]
        for k, v in r["items"].items():
            if k in idefs:
                it, row = idefs[k], t["items"].setdefault(
                    k, {"answered": 0, "counts": {}, "values": []})
                row["answered"] += 1
                if it["kind"] == "number":
                    row["values"].append(v)
                else:
                    for code in (v if it["kind"] == "multi" else [v]):
                        row["counts"][code] = row["counts"].get(code, 0) + 1
                continue
            c = t["crit"].setdefault(k, [0, 0])
            if v != na:
                c[1] += 1
                c[0] += v in sat
    units = {}
    for u in defn["units"]:
        ent = {"block": u["block"], "respondents": 0, "forms": {}}
        fidx = []
        for fid in u["forms"]:
            t = tally.get((u["id"], fid))
            if t is None:
                continue
            fo = form_index(forms[fid], method, t["crit"])
            fo["respondents"] = t["n"]
            fo["items"] = items_expect(item_defs[fid], t["items"])
            ent["forms"][fid] = fo
            ent["respondents"] += t["n"]
            if fo["index"] is not None:
                fidx.append((fo["index"], t["n"]))
        wsum = sum(n for _, n in fidx)
        ent["index"] = sum(x * n for x, n in fidx) / wsum if wsum else None
        ent["tally"] = [sum(fo["tally"][0] for fo in ent["forms"].values()),
                        sum(fo["tally"][1] for fo in ent["forms"].values())]
        units[u["id"]] = ent
    blocks = {}
    for b in defn["blocks"]:
        mine = [units[u["id"]] for u in defn["units"]
                if u["block"] == b["id"]]
        blocks[b["id"]] = {"index": combine(method["block"], mine),
                           "units": len(mine)}
    if method["overall"] == "mean_of_blocks":
        vals = [b["index"] for b in blocks.values() if b["index"] is not None]
        overall = sum(vals) / len(vals) if vals else None
    else:
        overall = combine(method["overall"], list(units.values()))
    for bid, b in blocks.items():
        vals = [units[u["id"]]["index"] for u in defn["units"]
                if u["block"] == bid and units[u["id"]]["index"] is not None]
        b["min"] = min(vals) if vals else None
        b["max"] = max(vals) if vals else None
        b["above"] = sum(1 for v in vals if overall is not None and v > overall)
        b["below"] = sum(1 for v in vals if overall is not None and v < overall)
    groups = {}
    for f in defn["forms"]:
        for path, g in walk(f["groups"]):
            vals = [(uid, units[uid]["forms"][f["id"]]["groups"][path])
                    for uid in units if f["id"] in units[uid]["forms"]]
            vals = [(uid, v) for uid, v in vals if v is not None]
            if not vals:
                continue
            if method["block"] == "pooled":
                st = [units[uid]["forms"][f["id"]]["gtally"][path]
                      for uid, _ in vals]
                gi = Fraction(100 * sum(s for s, _ in st), sum(a for _, a in st))
            else:
                gi = sum(v for _, v in vals) / len(vals)
            groups["%s:%s" % (f["id"], path)] = {
                "index": gi, "min": min(v for _, v in vals),
                "max": max(v for _, v in vals)}
    return {"campaign": defn["campaign"]["id"], "responses": len(responses),
            "index": overall, "blocks": blocks, "units": units,
            "groups": groups}


def combine(m, ents):
    """A block (or overall) index over units: mean_of_units or pooled."""
    if m == "pooled":
        s, a = sum(e["tally"][0] for e in ents), sum(e["tally"][1] for e in ents)
        return Fraction(100 * s, a) if a else None
    vals = [e["index"] for e in ents if e["index"] is not None]
    return sum(vals) / len(vals) if vals else None


def rate(s, a):
    return Fraction(100 * s, a) if a else None


def form_index(form, method, crit):
    gidx, gtally = {}, {}

    def group(path, g):
        if "criteria" in g:
            ts = [crit.get(c["id"], [0, 0]) for c in g["criteria"]]
            st = (sum(t[0] for t in ts), sum(t[1] for t in ts))
        else:
            sub = [(path + "/" + h["id"], h) for h in g["groups"]]
            for p, h in sub:
                group(p, h)
            st = (sum(gtally[p][0] for p, _ in sub),
                  sum(gtally[p][1] for p, _ in sub))
        gtally[path] = st
        if g.get("method", method["group"]) == "pooled":
            gidx[path] = rate(*st)
        elif "criteria" in g:
            vals = [rate(*crit.get(c["id"], [0, 0])) for c in g["criteria"]]
            vals = [v for v in vals if v is not None]
            gidx[path] = sum(vals) / len(vals) if vals else None
        else:
            gidx[path] = wmean([(gidx[path + "/" + h["id"]],
                                 frac(h.get("weight", 1))) for h in g["groups"]])

    for g in form["groups"]:
        group(g["id"], g)
    st = (sum(gtally[g["id"]][0] for g in form["groups"]),
          sum(gtally[g["id"]][1] for g in form["groups"]))
    if method["unit"] == "pooled":
        idx = rate(*st)
    else:
        idx = wmean([(gidx[g["id"]], frac(g.get("weight", 1)))
                     for g in form["groups"]])
    return {"index": idx, "groups": gidx, "gtally": gtally, "tally": st,
            "criteria": {k: tuple(v) for k, v in crit.items()}}


def wmean(pairs):
    pairs = [(v, w) for v, w in pairs if v is not None]
    ws = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / ws if ws else None


def items_expect(idefs, rows):
    out = {}
    for k, row in rows.items():
        it = idefs[k]
        o = {"answered": row["answered"]}
        if it["kind"] == "number":
            vals = row["values"]
            o["mean"] = Fraction(sum(vals), len(vals)) if vals else None
        else:
            o["counts"] = {str(c): n for c, n in sorted(row["counts"].items())}
            if it["kind"] == "multi":
                o["respondents_share"] = {
                    str(c): Fraction(100 * n, row["answered"])
                    for c, n in sorted(row["counts"].items())}
        out[k] = o
    return out


def jsonable(x):
    """Fractions as floats, with the exact value kept beside indices."""
    if isinstance(x, Fraction):
        return float(x)
    if isinstance(x, dict):
        out = {}
        for k, v in x.items():
            if k in ("gtally", "tally", "criteria"):
                continue
            out[str(k)] = jsonable(v)
            if isinstance(v, Fraction) and k == "index":
                out["index_exact"] = "%d/%d" % (v.numerator, v.denominator)
        return out
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    return x


# --- building responses ----------------------------------------------------

def quotas(shares, n):
    """Counts per option for n respondents by largest remainder; shares in
    percent; the part of 100 they leave is the count of non-answers (last)."""
    shares = [Fraction(str(s)) for s in shares]
    total = sum(shares)
    if total < 100:
        shares.append(100 - total)
    else:
        shares = [s * 100 / total for s in shares]
    exact = [s * n / 100 for s in shares]
    base = [int(x) for x in exact]
    rest = n - sum(base)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - base[i]), i))
    for i in order[:rest]:
        base[i] += 1
    return base if total < 100 else base + [0]


def fill_items(rng, form, n, choice, multi, age=(18, 75), only_if=None):
    """Per-respondent dicts of the form's non-criterion items. An item in
    only_if is answered only by the respondents whose earlier answer to
    another item has the given code (its shares are of those)."""
    rows = [{} for _ in range(n)]
    for it in form.get("items", []):
        iid = it["id"]
        if it["kind"] == "choice":
            who = rows
            if only_if and iid in only_if:
                dep, code = only_if[iid]
                who = [row for row in rows if row.get(dep) == code]
            q = quotas(choice[iid], len(who))
            vals = []
            for code, cnt in zip(it["codes"] + [None], q):
                vals += [code] * cnt
            rng.shuffle(vals)
            for row, v in zip(who, vals):
                if v is not None:
                    row[iid] = v
        elif it["kind"] == "multi":
            # Codes dealt round a shuffled circle of respondents: nobody
            # gets a code twice, nobody more than `max` codes (the counts
            # sum to well under max * n); everyone answers, some with [].
            order = list(range(n))
            rng.shuffle(order)
            picks = [[] for _ in range(n)]
            pos = rng.randrange(n)
            for code, share in zip(it["codes"], multi[iid]):
                for _ in range(int(Fraction(str(share)) * n / 100
                                   + Fraction(1, 2))):
                    picks[order[pos % n]].append(code)
                    pos += 1
            lim = it.get("max", len(it["codes"]))
            for row, p in zip(rows, picks):
                assert len(p) <= lim
                row[iid] = sorted(p)
        else:
            lo, hi = max(it["min"], age[0]), min(it["max"], age[1])
            for row in rows:
                if rng.random() < 0.96:
                    row[iid] = int(rng.triangular(lo, hi, lo + (hi - lo) / 3))
    return rows


def spread(rng, total, k, n):
    """total satisfied answers split over k criteria of n answers each,
    unevenly but each within [0, n]."""
    base = [total // k + (1 if i < total % k else 0) for i in range(k)]
    for _ in range(k):
        i, j = rng.randrange(k), rng.randrange(k)
        d = rng.randint(0, max(1, n // 40))
        d = min(d, n - base[i], base[j])
        base[i] += d
        base[j] -= d
    return base


def levels(rng, mood, counts, n, sat, unsat, na, answered=None):
    """Answers of n respondents to criteria with the given satisfied
    counts: the respondents with the best mood (plus noise) are the
    satisfied ones, so answers correlate as real ones do. answered[c] is
    the set of respondents answering criterion c (default: everybody)."""
    out = [dict() for _ in range(n)]
    for cid, s in counts.items():
        who = list(range(n)) if answered is None else sorted(answered[cid])
        ranked = sorted(who, key=lambda i: -(mood[i] + rng.random()))
        for pos, i in enumerate(ranked):
            if pos < s:
                out[i][cid] = sat[-1] if rng.random() < 0.38 else sat[0]
            else:
                out[i][cid] = unsat[-1] if rng.random() < 0.7 else \
                    rng.choice(unsat)
        if answered is not None:
            for i in range(n):
                if i not in answered[cid]:
                    out[i][cid] = na
    return out


def solve_form(form, n, target, rng):
    """Satisfied counts per top group of a flat form for n respondents
    whose form index (mean of groups; pooled groups with a smaller,
    not-applicable-thinned denominator) is nearest to target.

    Returns {group id: (satisfied, answered)}: a mean group's answered is
    k * n (everybody answers), a pooled group's is its own denominator.
    Steps of one satisfied answer in groups of different sizes are of
    different sizes, and a pooled denominator adds more, so a small search
    lands within a few thousandths.
    """
    groups = form["groups"]
    w = {g["id"]: frac(g.get("weight", 1)) for g in groups}
    wsum = sum(w.values())
    k = {g["id"]: len(g["criteria"]) for g in groups}
    pooled = [g["id"] for g in groups if g.get("method") == "pooled"]
    plain = [g["id"] for g in groups if g["id"] not in pooled]
    assert len(pooled) <= 1 and len(plain) >= 2, form["id"]
    tgt = float(target)
    best = None
    fb_opts = [(None, None, 0.0)]
    if pooled:
        f = pooled[0]
        wf = float(w[f])
        # Feedback is given by few respondents and rated lower; high
        # targets need it high enough for the other groups to stay <= 99.6.
        lo = (tgt * float(wsum) - 99.6 * (float(wsum) - wf)) / wf
        nominal = min(100.0, max(lo + 0.3, tgt - rng.uniform(3, 9)))
        fb_opts = []
        for givers in range(max(3, n // 25), max(5, n // 6)):
            for skip in range(0, min(4, k[f])):
                d = givers * k[f] - skip
                s0 = round(nominal * d / 100)
                for s in (s0 - 1, s0, s0 + 1):
                    if 0 <= s <= d:
                        fb_opts.append((d, s, wf * 100.0 * s / d))
    free, last = plain[:-1], plain[-1]
    wl, kl = float(w[last]), k[last]
    wplain = float(sum(w[g] for g in plain))
    for d, s, fpart in fb_opts:
        rest = tgt * float(wsum) - fpart
        r = rest / wplain
        if not 40.0 <= r <= 99.7:
            continue
        base = {g: round(r * k[g] * n / 100) for g in free}

        def search(i, acc, chosen):
            nonlocal best
            if i == len(free):
                need = (rest - acc) * kl * n / (100.0 * wl)
                sl = round(need)
                if not 0 <= sl <= kl * n:
                    return
                val = (acc + fpart + wl * 100.0 * sl / (kl * n)) / float(wsum)
                err = abs(val - tgt)
                dev = sum(abs(v - base[g]) for g, v in chosen.items())
                key = (round(err, 9), dev)
                if best is None or key < best[0]:
                    best = (key, dict(chosen, **{last: sl}), d, s)
                return
            g = free[i]
            for off in range(-2, 3):
                v = base[g] + off
                if 0 <= v <= k[g] * n:
                    chosen[g] = v
                    search(i + 1, acc + float(w[g]) * 100.0 * v / (k[g] * n),
                           chosen)
                    del chosen[g]

        search(0, 0.0, {})
    assert best is not None, (form["id"], n, target)
    _, counts, d, s = best
    out = {g: (counts[g], k[g] * n) for g in plain}
    if pooled:
        out[pooled[0]] = (s, d)
    return out


def exact_form_index(form, plan):
    w = {g["id"]: frac(g.get("weight", 1)) for g in form["groups"]}
    return sum(w[g] * Fraction(100 * s, a) for g, (s, a) in plan.items()) \
        / sum(w.values())


def form_responses(defn, unit, form, n, plan, rng, tag, person):
    """n responses of a unit on a form realising plan (see solve_form)."""
    scale = defn["scale"]
    sat = sorted(scale["satisfied"])
    unsat = [x for x in range(scale["min"], scale["max"] + 1) if x not in sat]
    na = scale["not_applicable"]
    mood = [rng.gauss(0, 1) for _ in range(n)]
    counts, answered = {}, {}
    for g in form["groups"]:
        s, a = plan[g["id"]]
        cids = [c["id"] for c in g["criteria"]]
        if a == len(cids) * n:
            for cid, cnt in zip(cids, spread(rng, s, len(cids), n)):
                counts[cid] = cnt
                answered[cid] = set(range(n))
            continue
        # A pooled group thinned by "not applicable": the few respondents
        # who gave feedback answer it; some of them skip a criterion.
        givers = -(-a // len(cids))
        skip = givers * len(cids) - a
        who = rng.sample(range(n), givers)
        for j, cid in enumerate(cids):
            answered[cid] = set(who[1:] if j < skip else who)
        # Satisfied answers spread over the answered slots.
        per = [len(answered[cid]) for cid in cids]
        left, share = s, []
        for j, p in enumerate(per):
            take = min(p, -(-left // (len(cids) - j)))
            share.append(take)
            left -= take
        assert left == 0
        for cid, cnt in zip(cids, share):
            counts[cid] = cnt
    crit = levels(rng, mood, counts, n, sat, unsat, na, answered)
    camp = defn["campaign"]
    t0, t1 = window(camp)
    t1 -= 1  # the last second of the window
    span = t1 - t0 + 1
    fid = form["id"]
    if defn["campaign"]["id"].startswith("SL-"):
        choice = dict(SL_CHOICE, **(SL_CHOICE_ONLINE if fid == "online"
                                    else {}))
        extra = fill_items(rng, form, n, choice, SL_MULTI[fid],
                           only_if=SL_ONLY_IF)
    else:
        extra = fill_items(rng, form, n, VN_CHOICE, VN_MULTI)
    salt = zlib.crc32(("%s:%s" % (unit, fid)).encode())
    out = []
    order = [c for c in criteria(form["groups"])]
    for i in range(n):
        items = {cid: crit[i][cid] for cid in order}
        items.update(extra[i])
        rid = "%s-%s-%s-%05d" % (tag, unit, fid, i + 1)
        r = {"v": 1, "id": rid, "campaign": camp["id"], "unit": unit,
             "form": fid, "channel": "postal",
             "ts": t0 + (salt + i * 7919 * 61) % span, "items": items}
        if person:
            r["respondent"] = {"kind": "person",
                               "gender": "nu" if rng.random() < 0.47 else "nam",
                               "ethnic": rng.choice(ETHNIC)}
        else:
            r["respondent"] = {"kind": "org"}
        r["entry"] = {"clerk": "BD-%02d" % (1 + salt % 37),
                      "batch": "%s-%s" % (tag, unit),
                      "serial": "%06d" % (i + 1)}
        if rng.random() < 0.03:
            r["comment"] = rng.choice(COMMENTS)
        out.append(r)
    return out


# --- the campaigns -----------------------------------------------------------

def gen_bl25(defn):
    """10,000 households of Binh Luc at the published shares."""
    units = {u["id"]: u for u in defn["units"]}
    assert BL25_UNIT in units and units[BL25_UNIT]["name"] == "Xã Bình Lục"
    form = next(f for f in defn["forms"] if f["id"] == units[BL25_UNIT]["forms"][0])
    rng = random.Random("BL25")
    scale = defn["scale"]
    sat = sorted(scale["satisfied"])
    unsat = [x for x in range(scale["min"], scale["max"] + 1) if x not in sat]
    n = BL25_N
    mood = [rng.gauss(0, 1) for _ in range(n)]
    counts = {}
    for path, g in walk(form["groups"]):
        if "criteria" in g:
            for c in g["criteria"]:
                counts[c["id"]] = BL25_SHARES[path]
    assert len(set(BL25_SHARES) & {p for p, g in walk(form["groups"])
                                   if "criteria" in g}) == len(BL25_SHARES)
    crit = levels(rng, mood, counts, n, sat, unsat, scale["not_applicable"])
    extra = fill_items(rng, form, n, VN_CHOICE, VN_MULTI)
    t0, t1 = window(defn["campaign"])
    t1 -= 1  # the last second of the window
    span = t1 - t0 + 1
    out = []
    for i in range(n):
        items = {cid: crit[i][cid] for cid in criteria(form["groups"])}
        items.update(extra[i])
        out.append({"v": 1, "id": "BL25-%05d" % (i + 1),
                    "campaign": defn["campaign"]["id"], "unit": BL25_UNIT,
                    "form": form["id"], "channel": "postal",
                    "ts": t0 + (i * 7919 * 61) % span, "items": items,
                    "respondent": {"kind": "person",
                                   "gender": "nu" if rng.random() < 0.5 else "nam",
                                   "ethnic": "kinh"},
                    "entry": {"clerk": "BD-NB-%02d" % (1 + i % 12),
                              "batch": "BL25-%03d" % (1 + i // 250),
                              "serial": "%05d" % (i + 1)}})
    return out, {}


def respondents_of(unit, form):
    """Respondents per unit and form: 120-259 users of an agency; 90-124
    representatives of other agencies on the organisation form; 60-79
    users of the one agency surveyed with two forms."""
    h = zlib.crc32(("%s/%s" % (unit["id"], form)).encode())
    if form == "org":
        return 90 + h % 35
    if len(unit["forms"]) > 1:
        return 60 + h % 20
    return 120 + h % 140


def gen_units(defn, targets, tag):
    """Responses of every unit on its target; targets: unit -> Fraction.
    Returns (responses, realised targets)."""
    forms = {f["id"]: f for f in defn["forms"]}
    out, realised = [], {}
    for u in defn["units"]:
        uid = u["id"]
        rng = random.Random("%s:%s" % (tag, uid))
        tgt = targets[uid]
        ns = [respondents_of(u, f) for f in u["forms"]]
        plans = []
        # Several forms: the unit index is the respondent-weighted mean of
        # the form indices; the first forms aim a little off the target,
        # the last one makes up for what they realised.
        got = Fraction(0)
        for j, fid in enumerate(u["forms"]):
            if j < len(u["forms"]) - 1:
                ft = tgt + Fraction(6, 10) * (1 if j % 2 == 0 else -1)
            else:
                ft = (tgt * sum(ns) - got) / ns[j]
            plan = solve_form(forms[fid], ns[j], ft, rng)
            got += exact_form_index(forms[fid], plan) * ns[j]
            plans.append(plan)
        realised[uid] = got / sum(ns)
        for fid, n, plan in zip(u["forms"], ns, plans):
            out += form_responses(defn, uid, forms[fid], n, plan, rng, tag,
                                  fid != "org")
    return out, realised


def sl24_targets(defn):
    return {u: frac(v) for u, v in SL24_TARGETS.items()}


def gen_sl24(defn):
    targets = sl24_targets(defn)
    check_targets(defn, targets)
    # First every unit but the balancing ones; then each balancing unit
    # aims at what its block still needs to average to the published value.
    bal = set(SL24_BALANCE.values())
    keep = {u["id"]: u for u in defn["units"]}
    first = dict(defn, units=[u for u in defn["units"] if u["id"] not in bal])
    rs, real = gen_units(first, targets, "SL24")
    for bid, uid in SL24_BALANCE.items():
        members = [u["id"] for u in defn["units"] if u["block"] == bid]
        need = frac(SL24_BLOCKS[bid]) * len(members) - \
            sum(real[m] for m in members if m != uid)
        assert abs(need - targets[uid]) < Fraction(1, 50), (uid, float(need))
        targets[uid] = need
    rs2, real2 = gen_units(dict(defn, units=[keep[u] for u in
                                             SL24_BALANCE.values()]),
                           targets, "SL24")
    real.update(real2)
    byid = {}
    for r in rs + rs2:
        byid.setdefault(r["unit"], []).append(r)
    rs = [r for u in defn["units"] for r in byid[u["id"]]]
    return rs, real


def check_targets(defn, targets):
    """The SL24 targets reproduce the published rollups by construction."""
    blocks = {}
    for u in defn["units"]:
        blocks.setdefault(u["block"], []).append(targets[u["id"]])
    assert set(blocks) == set(SL24_BLOCKS)
    for bid, vals in blocks.items():
        assert sum(vals) / len(vals) == frac(SL24_BLOCKS[bid]), bid
    prov = sum(frac(v) for v in SL24_BLOCKS.values()) / len(SL24_BLOCKS)
    assert prov == frac("95.01")
    assert sum(1 for v in targets.values() if v > prov) == 21
    assert sum(1 for v in blocks["dept"] if v >= 90) == 19
    assert sum(1 for v in blocks["district"] if v >= 90) == 11
    assert targets["TTT"] == min(blocks["dept"]) == frac("86.98")
    assert max(blocks["dept"]) == frac("98.49")
    assert targets["H-BACYEN"] == min(blocks["district"]) == frac("83.76")
    assert targets["H-SONGMA"] == max(blocks["district"]) == frac("99.2")


def gen_sl23(defn24):
    defn = sl23_definition(defn24)
    base = sl24_targets(defn24)
    targets = {u: base[u] - frac(d) for u, d in SL23_CHANGE.items()}
    higher = [u["id"] for u in defn["units"] if targets[u["id"]] > base[u["id"]]]
    blk = {u["id"]: u["block"] for u in defn["units"]}
    assert sum(1 for u in higher if blk[u] == "dept") == 10
    assert sum(1 for u in higher if blk[u] == "district") == 5
    for bid, change in SL23_BLOCK_CHANGE.items():
        members = [u for u in targets if blk[u] == bid]
        assert sum(frac(SL23_CHANGE[u]) for u in members) == \
            frac(change) * len(members), bid
        # "19/20" and "11/12" at 90 or more, as in 2024.
        assert sum(1 for u in members if targets[u] >= 90) == \
            len(members) - 1, bid
    return defn, gen_units(defn, targets, "SL23")


# --- command line ------------------------------------------------------------

def write_jsonl(path, rs):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in rs:
            f.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")))
            f.write("\n")


def write_json(path, obj):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)
        f.write("\n")


def expect_doc(defn, rs, targets):
    """The oracle of rs, checked against the targets it was built for."""
    o = oracle(defn, rs)
    for uid, t in targets.items():
        got = o["units"][uid]["index"]
        assert got == t, (uid, float(got), float(t))
    if defn["campaign"]["id"] == "SL-2024":
        base = sl24_targets(defn)
        for uid, t in base.items():
            assert abs(o["units"][uid]["index"] - t) <= TOLERANCE, uid
    doc = jsonable(o)
    doc["targets"] = {u: float(t) for u, t in targets.items()}
    return doc


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--definition", help="definition to read instead of the "
                    "example the subcommand uses")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("bl25", "sl24", "sl23"):
        p = sub.add_parser(name)
        p.add_argument("out", help="JSON Lines file to write")
        p.add_argument("--expect", help="also write the oracle (JSON)")
    p = sub.add_parser("sl23-definition")
    p.add_argument("out", help="definition file to write")
    a = ap.parse_args(argv)
    if a.cmd == "bl25":
        defn = load(a.definition or NATIONAL)
        rs, _ = gen_bl25(defn)
        write_jsonl(a.out, rs)
        if a.expect:
            write_json(a.expect, expect_doc(defn, rs, {}))
    elif a.cmd == "sl24":
        defn = load(a.definition or SONLA)
        rs, real = gen_sl24(defn)
        write_jsonl(a.out, rs)
        if a.expect:
            write_json(a.expect, expect_doc(defn, rs, real))
    elif a.cmd == "sl23":
        defn, (rs, real) = gen_sl23(load(a.definition or SONLA))
        write_jsonl(a.out, rs)
        if a.expect:
            write_json(a.expect, expect_doc(defn, rs, real))
    else:
        write_json(a.out, sl23_definition(load(a.definition or SONLA)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
