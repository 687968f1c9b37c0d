"""Hostile input on a live stream: every malformed, oversized, mistyped or
ill-encoded request gets the contract's `rejected` ack, both daemons stay
up and answer, and a valid stream flowing at the same time is untouched
(each response accepted exactly once; the snapshot equals the one of the
same stream ingested alone). The same hostile set is then sent straight to
the worker's socket, as a collector speaks to it.

    /usr/bin/python3 tests/e2e/test_hostile.py BUILD_DIR SOURCE_DIR

The expected answers follow interfaces.md section 2 ("Edge cases of the
wire protocol (answers are exact)"); the rule behind each group is quoted
above it.
"""
import os
import random
import struct
import time

import msgpack

from harness import SRC, Env, load_definition, response, run, test

SONLA = os.path.join(SRC, "examples/sonla-2024.json")
MAX_MAP = 65536            # interfaces.md: a map frame or array element
MAX_ARRAY = 1 << 20        # an array frame
MAX_BATCH = 1000           # maps in an array request
MAX_DEPTH = 8              # the codec's nesting ceiling (sipas_limits.h)
SEED = 20240917
N_VALID = 2400             # responses of the valid stream
MIN_CASES = 1000           # hostile messages in the set, at least


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def rstr(b):
    """A msgpack str holding the raw bytes b (valid UTF-8 or not)."""
    if len(b) < 32:
        return bytes([0xa0 | len(b)]) + b
    return b"\xd9" + bytes([len(b)]) + b


def raw_map(pairs):
    """A msgpack map from (key, packed value) pairs; a key given as bytes
    is already packed. Repeats allowed."""
    out = bytes([0x80 | len(pairs)])
    for k, v in pairs:
        out += (k if isinstance(k, bytes) else pack(k)) + v
    return out


def with_raw(obj, key_path, raw):
    """pack(obj) with the value at key_path (a tuple of keys) replaced by
    the packed bytes raw."""
    mark = "\x01MARK\x01"
    o = dict(obj)
    cur = o
    for k in key_path[:-1]:
        cur[k] = dict(cur[k])
        cur = cur[k]
    cur[key_path[-1]] = mark
    b = pack(o)
    assert b.count(pack(mark)) == 1
    return b.replace(pack(mark), raw)


def with_raw_key(obj, key_path, raw_key):
    """pack(obj) with the key at key_path replaced by the packed raw_key."""
    mark = "\x02KEY\x02"
    o = dict(obj)
    cur = o
    for k in key_path[:-1]:
        cur[k] = dict(cur[k])
        cur = cur[k]
    cur[mark] = cur.pop(key_path[-1])
    b = pack(o)
    assert b.count(pack(mark)) == 1
    return b.replace(pack(mark), raw_key)


# ---- a structural msgpack walk, independent of the codec ----

def _head(b, pos):
    """(kind, size of header + scalar payload, element count) of the object
    at b[pos:], or None when its header does not fit. kind: 's', 'a', 'm'."""
    c = b[pos]
    left = len(b) - pos
    w, pay, n, kind = 0, 0, 0, "s"
    if 0x80 <= c <= 0x8f or 0x90 <= c <= 0x9f:
        kind, n = ("m" if c <= 0x8f else "a"), c & 0x0f
    elif c in (0xdc, 0xdd, 0xde, 0xdf):
        kind, w = ("a" if c <= 0xdd else "m"), (4 if c & 1 else 2)
    elif c <= 0x7f or c >= 0xe0:
        pay = 0
    elif 0xa0 <= c <= 0xbf:
        pay = c & 0x1f
    elif c == 0xc1:
        return None
    elif c <= 0xc3:
        pay = 0
    elif c <= 0xc6:
        w = 1 << (c - 0xc4)
    elif c <= 0xc9:
        w, pay = 1 << (c - 0xc7), 1
    elif c <= 0xcb:
        pay = 4 if c == 0xca else 8
    elif c <= 0xd3:
        pay = 1 << ((c - 0xcc) & 3)
    elif c <= 0xd8:
        pay = 1 + (1 << (c - 0xd4))
    else:
        w = 1 << (c - 0xd9)
    if left < 1 + w:
        return None
    v = int.from_bytes(b[pos + 1:pos + 1 + w], "big") if w else 0
    if kind == "s":
        pay += v
        if pay > left - 1 - w:
            return None
    else:
        n = n if w == 0 else v
    return kind, 1 + w + pay, (2 * n if kind == "m" else n)


def walk(b, pos=0):
    """End of the one msgpack object at b[pos:] and its container depth,
    or None when it does not end inside b. Memory O(depth)."""
    stack = [1]
    depth = 0
    while stack:
        if stack[-1] == 0:
            stack.pop()
            continue
        stack[-1] -= 1
        if pos >= len(b):
            return None
        h = _head(b, pos)
        if h is None:
            return None
        kind, size, n = h
        pos += size
        if kind != "s":
            depth = max(depth, len(stack))
            if n > 0:
                stack.append(n)
    return pos, depth


def is_map_byte(c):
    return 0x80 <= c <= 0x8f or c in (0xde, 0xdf)


def is_array_byte(c):
    return 0x90 <= c <= 0x9f or c in (0xdc, 0xdd)


def classify(frame):
    """The contract's answer to a frame that is noise, or None when the
    frame could be a well-formed request (its answer depends on content:
    such frames are not sent)."""
    if not frame:
        return "malformed"
    c = frame[0]
    if is_map_byte(c):
        if len(frame) > MAX_MAP:
            return "too_large"
    elif is_array_byte(c):
        h = _head(frame, 0)
        if h is None:
            return "malformed"
        if len(frame) > MAX_ARRAY or h[2] > MAX_BATCH:
            return "too_large"
    else:
        return "malformed"
    w = walk(frame)
    if w is not None and w[0] == len(frame):
        return None
    # Not one object ending at the frame's end. An array frame could still
    # hold an element over 64 KiB before the damage (too_large): frames
    # classified here are at most a few KiB.
    assert len(frame) <= MAX_MAP
    return "malformed"


# ---- the hostile set ----

class Case:
    """One hostile message: its frames and the expected answer.
    want: ("one", code, field, id) or ("array", [(code, field, id), ...]).
    delim: the answer comes behind an empty delimiter frame."""

    def __init__(self, group, frames, want, delim=False):
        self.group, self.frames, self.want, self.delim = \
            group, frames, want, delim


def one(code, field="", id_=""):
    return ("one", code, field, id_)


def build_cases(d):
    cases = []

    def add(group, frame, want):
        cases.append(Case(group, [frame], want))

    g = response(d, 11)           # the template of hostile maps: its id is
    gid = g["id"]                 # one of the valid stream's (they must
    crit = next(iter(g["items"]))  # never harm it)
    good = pack(g)

    # -- Rule: "frame that is not a msgpack map or array; bytes after the
    #    object; a map with a repeated key; a multi-frame message (other
    #    than a REQ client's empty delimiter, which is honoured) -> one
    #    ack, rejected / malformed, id """
    add("empty frame", b"", one("malformed"))
    for v in (0, 42, -1, -2 ** 63, 2 ** 64 - 1, "", "hello", "é" * 40,
              None, True, False, 1.5, -0.0, b"", b"\x81\xa1v\x01",
              msgpack.ExtType(5, b"x"), msgpack.Timestamp(1, 0)):
        add("non-map value", pack(v), one("malformed"))
    add("non-map value", b"\xca" + struct.pack(">f", 1.0), one("malformed"))
    add("non-map value", b"\xc1", one("malformed"))
    add("non-map value", rstr(b"\xff\xfe"), one("malformed"))
    add("bytes after the object", good + b"\x00", one("malformed"))
    add("bytes after the object", good + good, one("malformed"))
    add("bytes after the object", pack([g]) + b"\xc0", one("malformed"))
    add("bytes after the object", pack({}) + b"\x80", one("malformed"))

    # truncated msgpack: every prefix of a response, of an array request
    for k in range(len(good)):
        add("truncated", good[:k], one("malformed"))
    arr2 = pack([g, response(d, 12)])
    for k in range(1, len(arr2), 3):
        add("truncated", arr2[:k], one("malformed"))

    # repeated keys, at any depth, compared by value
    v1 = pack(1)
    dups = [
        raw_map([("v", v1), ("v", v1)]),
        raw_map([("v", v1), (b"\xd9\x01v", v1)]),           # str8 "v"
        raw_map([("id", pack(gid)), ("id", pack(gid))]),
        raw_map([("id", pack(gid)), ("id", pack("other"))]),
        raw_map([(1, v1), (1, v1)]),
        with_raw(g, ("items",), raw_map([(crit, pack(4)), (crit, pack(5))])),
        with_raw(g, ("items",), raw_map([(crit, pack(4)), (crit, pack(4))])),
        with_raw(dict(g, respondent={}), ("respondent",),
                 raw_map([("kind", pack("person")),
                          ("kind", pack("person"))])),
        with_raw(dict(g, entry={}), ("entry",),
                 raw_map([("clerk", pack("a")), ("clerk", pack("b"))])),
        with_raw(dict(g, x=0), ("x",), raw_map([("a", v1), ("a", v1)])),
    ]
    for b in dups:
        add("repeated key", b, one("malformed"))

    # multi-frame messages (the answer is one frame)
    for frames, delim in (([good, good], False), ([good, b""], False),
                          ([b"x", b"y", b"z"], False), ([good] * 50, False),
                          ([b"", good, good], True), ([b"", b"", b""], True)):
        cases.append(Case("multi-frame", frames, one("malformed"), delim))
    # A leading empty frame is a REQ delimiter, honoured: the frame behind
    # it is judged (empty: malformed) and answered behind the delimiter.
    cases.append(Case("multi-frame", [b"", b""], one("malformed"), True))

    # maps with huge declared lengths but short bodies
    for b in (b"\xdf\xff\xff\xff\xff\xa1v\x01",
              b"\xde\xff\xff\xa1v\x01",
              b"\x8f\xa1v\x01",
              raw_map([("id", b"\xdb\xff\xff\xff\xff" + b"abc")]),
              raw_map([("id", b"\xda\xff\xff" + b"abc")]),
              raw_map([("x", b"\xc6\xff\xff\xff\xff" + b"abc")]),
              raw_map([("x", b"\xc9\xff\xff\xff\xff\x05" + b"abc")]),
              raw_map([("x", b"\xdd\xff\xff\xff\xff")]),
              raw_map([("x", b"\xdf\xff\xff\xff\xff")]),
              with_raw(g, ("items",), b"\xde\xff\xff" + pack(crit) + v1),
              with_raw(g, ("items",), b"\x81" + pack(crit) +
                       b"\xdc\xff\xff\x01"),
              b"\xdc\x03\xe8\x80"):       # 1,000 maps declared, 1 present
        add("huge declared length", b, one("malformed"))

    # -- Rule: "frame over 65,536 bytes holding one map; or an array frame
    #    over 1 MiB or with more than 1,000 elements, or an element over
    #    65,536 bytes -> one ack, rejected / too_large, id "" ... A request
    #    over its size limit is rejected without being parsed."
    def sized(n):
        """g with a comment making it exactly n bytes (n > 300)."""
        pad = n - len(pack(dict(g, comment="x" * 300))) + 300
        return dict(g, comment="x" * pad)

    big = pack(sized(MAX_MAP + 1))
    assert len(big) == MAX_MAP + 1, len(big)
    add("over 64 KiB", big, one("too_large"))
    add("over 64 KiB", pack(dict(g, comment="x" * 200000)),
        one("too_large"))
    add("over 64 KiB", b"\x81" + os.urandom(MAX_MAP + 10),
        one("too_large"))
    add("over 64 KiB", b"\xdf\xff\xff\xff\xff" + b"\0" * MAX_MAP,
        one("too_large"))
    add("over 64 KiB", pack([sized(MAX_MAP + 1)]), one("too_large"))
    add("over 64 KiB", pack([g, sized(MAX_MAP + 1), g]),
        one("too_large"))
    add("over 64 KiB", pack([dict(g, comment="é" * 900)] * 600),
        one("too_large"))
    # Exactly at the limit the frame rule does not apply: the comment rule
    # ("comment over 2,000 bytes -> too_large") does, naming the field.
    atmax = pack(sized(MAX_MAP))
    assert len(atmax) == MAX_MAP
    add("at 64 KiB", atmax, one("too_large", "comment", gid))
    # A frame over 64 KiB that is not a map or array: malformed.
    add("over 64 KiB", pack("x" * 70000), one("malformed"))
    add("over 64 KiB", pack(b"x" * 70000), one("malformed"))
    # arrays of 1,001
    add("1,001-map array", pack([g] * 1001), one("too_large"))
    add("1,001-map array", pack([{}] * 1001), one("too_large"))
    add("1,001-map array", pack([None] * 1001), one("too_large"))
    add("1,001-map array", b"\xdc\x03\xe9\x80", one("too_large"))
    add("huge declared length", b"\xdd\xff\xff\xff\xff\x80",
        one("too_large"))
    add("huge declared length", b"\xdc\xff\xff", one("too_large"))

    # -- very deep nesting. 100,000 nested arrays: an array frame whose one
    #    element is 99,999 bytes -- "an element over 65,536 bytes" ->
    #    too_large. A map frame over 64 KiB -> too_large whatever it holds.
    add("deep nesting", b"\x91" * 99999 + b"\x90", one("too_large"))
    add("deep nesting", b"\x81\xa1x" + b"\x91" * 99999 + b"\x90",
        one("too_large"))
    add("deep nesting", b"\x81\xa1x" * 100000 + b"\x80", one("too_large"))
    # Under 64 KiB: "element of an array that is not a map -> its own ack
    # in the answer array, rejected / malformed".
    add("deep nesting", b"\x91" * 59999 + b"\x90",
        ("array", [("malformed", "", "")]))
    # A map nested past the codec's ceiling (8 levels; legitimate requests
    # use 4) cannot be read: "when unreadable" -> malformed, id "".
    for depth in (MAX_DEPTH + 1, 1000, 20000):
        add("deep nesting", b"\x81\xa1x" + b"\x91" * (depth - 2) + b"\x90",
            one("malformed"))
        add("deep nesting", with_raw(g, ("items", crit),
                                     b"\x91" * (depth - 3) + b"\x90"),
            one("malformed"))
    add("deep nesting", b"\x81\xa1x" * 20000 + b"\x80", one("malformed"))

    # -- Rule: "id not valid UTF-8 -> bad_utf8 ... the ack's id is "" (an
    #    ack echoes an id only when it is valid)"; "invalid UTF-8 in any
    #    string -> bad_utf8"; field: "the key with a dotted path".
    bad_seqs = [b"\xff", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80",
                b"\xf4\x90\x80\x80", b"a\xe1\xbb", b"\x80", b"S\x00V",
                b"\xc3\x28", "Sở".encode()[:-1]]
    full = dict(g, comment="ok", respondent={"kind": "person", "gender": "f",
                                              "edu": "x"},
                entry={"clerk": "c", "batch": "b", "serial": "s"})
    for s in bad_seqs:
        add("bad UTF-8", with_raw(full, ("id",), rstr(s)),
            one("bad_utf8", "id"))
        for path in (("campaign",), ("unit",), ("form",), ("channel",),
                     ("comment",), ("respondent", "gender"),
                     ("respondent", "kind"), ("entry", "clerk"),
                     ("entry", "serial")):
            add("bad UTF-8", with_raw(full, path, rstr(s)),
                one("bad_utf8", ".".join(path), gid))
        # keys: the field names the map holding the key
        add("bad UTF-8", with_raw_key(full, ("items", crit), rstr(s)),
            one("bad_utf8", "items", gid))
        add("bad UTF-8", with_raw_key(full, ("respondent", "edu"), rstr(s)),
            one("bad_utf8", "respondent", gid))
        add("bad UTF-8", with_raw_key(full, ("comment",), rstr(s)),
            one("bad_utf8", "", gid))

    # -- Rule: "float, bool, nil, bin, array or map where an int or a str
    #    is required (even 1.0) -> bad_type".
    f32 = b"\xca" + struct.pack(">f", 1.0)
    wrong = [pack(1.0), pack(2.5), f32, pack(True), pack(False),
             pack(None), pack(b"bin"), pack([1]), pack({"a": 1}),
             pack(msgpack.ExtType(5, b"x"))]
    for key in ("v", "ts"):
        for w in wrong + [pack("1"), pack("")]:
            add("wrong type", with_raw(g, (key,), w),
                one("bad_type", key, gid))
    for key in ("campaign", "unit", "form", "channel", "comment"):
        for w in wrong + [pack(5), pack(-5)]:
            add("wrong type", with_raw(dict(g, comment=""), (key,), w),
                one("bad_type", key, gid))
    for w in wrong + [pack(5)]:
        add("wrong type", with_raw(g, ("id",), w), one("bad_type", "id"))
    for w in [pack(5), pack("x"), pack(None), pack([1]), pack(1.0)]:
        add("wrong type", with_raw(g, ("items",), w),
            one("bad_type", "items", gid))
        add("wrong type", with_raw(dict(g, respondent={}), ("respondent",),
                                   w), one("bad_type", "respondent", gid))
        add("wrong type", with_raw(dict(g, entry={}), ("entry",), w),
            one("bad_type", "entry", gid))
    for w in [pack(4.0), f32, pack(True), pack(None), pack("4"),
              pack(b"\x04"), pack({"a": 1}), pack([4.0]), pack([[1]]),
              pack(["1"]), pack([None])]:
        add("wrong type", with_raw(g, ("items", crit), w),
            one("bad_type", "items." + crit, gid))
    for w in [pack("30"), pack(30.0), pack(None), pack([30])]:
        add("wrong type", with_raw(dict(g, respondent={"age": 1}),
                                   ("respondent", "age"), w),
            one("bad_type", "respondent.age", gid))
    for w in [pack(1), pack(1.0), pack(None)]:
        add("wrong type", with_raw(dict(g, respondent={"gender": "f"}),
                                   ("respondent", "gender"), w),
            one("bad_type", "respondent.gender", gid))
        add("wrong type", with_raw(dict(g, entry={"clerk": "c"}),
                                   ("entry", "clerk"), w),
            one("bad_type", "entry.clerk", gid))
    # a key that is not a string
    for k in (pack(1), pack(None), pack(1.5), pack(b"v"), pack([1])):
        add("wrong type", with_raw_key(g, ("channel",), k),
            one("bad_type", "", gid))
        add("wrong type", with_raw_key(g, ("items", crit), k),
            one("bad_type", "items", gid))

    # -- floats and negatives where ints belong. Rules: "float ... where
    #    an int is required -> bad_type"; "v other than 1 -> bad_value";
    #    "int outside the field's range (Likert above scale.max, a choice
    #    code not declared, an int that does not fit 64 bits) ->
    #    out_of_range; ts outside the campaign window (negative included)
    #    -> outside_window". The range rules need the definition: the
    #    worker's words, relayed.
    for v in (-1, -2 ** 63, 0, 2, 2 ** 64 - 1):
        add("negative or float", pack(dict(g, v=v)), one("bad_value", "v", gid))
    for ts, code in ((-1, "outside_window"), (-2 ** 63, "outside_window"),
                     (2 ** 63, "out_of_range"), (2 ** 64 - 1, "out_of_range"),
                     (1.7e9, "bad_type"), (-1.0, "bad_type")):
        add("negative or float", pack(dict(g, ts=ts)), one(code, "ts", gid))
    for a, code in ((-1, "out_of_range"), (-2 ** 63, "out_of_range"),
                    (6, "out_of_range"), (2 ** 63, "out_of_range"),
                    (2 ** 64 - 1, "out_of_range"), (4.0, "bad_type"),
                    (-4.5, "bad_type")):
        items = dict(g["items"])
        items[crit] = a
        add("negative or float", pack(dict(g, items=items)),
            one(code, "items." + crit, gid))
    for a, code in ((-5, "out_of_range"), (-2 ** 63, "out_of_range"),
                    (30.0, "bad_type"), ([-1], "bad_type")):
        add("negative or float",
            pack(dict(g, items=dict(g["items"], age=a))),
            one(code, "items.age", gid))
    for a in ([-1], [2 ** 64 - 1], [1.0], [-2 ** 63]):
        code = "bad_type" if isinstance(a[0], float) else "out_of_range"
        add("negative or float",
            pack(dict(g, items=dict(g["items"], expect=a))),
            one(code, "items.expect", gid))
    add("negative or float", pack(dict(g, respondent={"age": 3.0e1})),
        one("bad_type", "respondent.age", gid))

    # -- Rule: "element of an array that is not a map -> its own ack in the
    #    answer array, rejected / malformed"; other elements their own codes
    for elems in ([1, 2, 3], [None], ["s"], [[1]], [[]], [1.5, True],
                  [b"x"], [msgpack.ExtType(1, b"")]):
        add("non-map value", pack(elems),
            ("array", [("malformed", "", "")] * len(elems)))
    add("non-map value", pack([{}]), ("array", [("missing_field", "v", "")]))

    # arrays of 1,000 hostile maps (at the limit): one ack each, in order
    # (well-formed maps only: an array holding a damaged element is not a
    # msgpack array, malformed as a whole, tested above)
    def fits(f):
        w = walk(f)
        return w is not None and w == (len(f), w[1]) and w[1] < MAX_DEPTH

    small = [c for c in cases
             if len(c.frames) == 1 and c.frames[0] and
             is_map_byte(c.frames[0][0]) and c.want[0] == "one" and
             len(c.frames[0]) < 1000 and fits(c.frames[0])]
    for start in (0, 7):
        pick = [small[(start + 13 * k) % len(small)] for k in range(MAX_BATCH)]
        frame = bytes([0xdc]) + struct.pack(">H", MAX_BATCH) + \
            b"".join(c.frames[0] for c in pick)
        assert len(frame) <= MAX_ARRAY
        cases.append(Case("1,000-map array", [frame],
                          ("array", [c.want[1:] for c in pick])))

    # random bytes and damaged responses: sent only when surely noise
    rng = random.Random(SEED)
    alphabet = bytes(range(0x00, 0x10)) + bytes(range(0x80, 0xa8)) + \
        b"\xc0\xc2\xc3\xcc\xcd\xd9\xdc\xde\xa1\xa2vid"
    made = 0
    while made < 500:
        n = rng.choice((1, 2, 3, 5, 8, 30, 200, 2000))
        style = made % 4
        if style == 0:
            frame = bytes(rng.getrandbits(8) for _ in range(n))
        elif style == 1:
            head = rng.choice((0x80 + rng.randrange(16), 0xde, 0xdf,
                               0x90 + rng.randrange(16), 0xdc, 0xdd))
            frame = bytes([head]) + bytes(rng.choice(alphabet)
                                          for _ in range(n))
        else:
            b = bytearray(pack(response(d, rng.randrange(N_VALID))))
            for _ in range(rng.randrange(1, 5)):
                op, at = rng.randrange(3), rng.randrange(len(b))
                if op == 0:
                    b[at] = rng.getrandbits(8)
                elif op == 1:
                    del b[at]
                else:
                    b.insert(at, rng.getrandbits(8))
            frame = bytes(b)
        code = classify(frame)
        if code is None:
            continue
        add("random bytes" if style < 2 else "damaged response", frame,
            one(code))
        made += 1
    return cases


# ---- checking an answer ----

def check_ack(ack, want, where):
    if want[0] == "one":
        _, code, field, id_ = want
        assert isinstance(ack, dict), (where, ack)
        got = (ack.get("status"), ack.get("code"), ack.get("field", ""),
               ack.get("id"))
        assert got == ("rejected", code, field, id_), (where, got, want)
        assert set(ack) <= {"id", "status", "code", "field", "detail"}, ack
        return
    assert isinstance(ack, list) and len(ack) == len(want[1]), \
        (where, ack if not isinstance(ack, list) else len(ack))
    for k, (a, w) in enumerate(zip(ack, want[1])):
        check_ack(a, ("one",) + tuple(w), "%s[%d]" % (where, k))


def soft(bad, fn, *args):
    """Run a check; a failure is kept in bad rather than raised, so that
    one run lists every wrong answer."""
    try:
        fn(*args)
    except AssertionError as e:
        bad.append(e)


def recv_answer(sock, delim, timeout=10.0):
    """One answer message: one frame, or two behind an empty delimiter."""
    if not sock.poll(int(timeout * 1000)):
        raise AssertionError("no answer within %.0f s" % timeout)
    parts = sock.recv_multipart()
    if delim:
        assert len(parts) == 2 and parts[0] == b"", parts[:2]
    else:
        assert len(parts) == 1, [p[:20] for p in parts]
    return msgpack.unpackb(parts[-1], raw=False, strict_map_key=False)


# ---- the valid stream ----

class Stream:
    """Valid responses pipelined by one client (singles and arrays of 10),
    acks recorded by id."""

    def __init__(self, env, d, ids):
        self.c = env.client()
        self.groups = []
        i = 0
        while i < len(ids):
            k = 10 if len(self.groups) % 25 == 24 else 1
            self.groups.append([response(d, j) for j in ids[i:i + k]])
            i += k
        self.next = 0
        self.acks = {}
        self.replies = 0

    def send_until(self, frac):
        while self.next < len(self.groups) * frac:
            grp = self.groups[self.next]
            self.c.send(grp[0] if len(grp) == 1 else grp)
            self.next += 1
        self.drain(0)

    def drain(self, timeout):
        while self.c.sock.poll(int(timeout * 1000)):
            got = msgpack.unpackb(self.c.sock.recv(), raw=False)
            self.replies += 1
            for a in (got if isinstance(got, list) else [got]):
                self.acks.setdefault(a["id"], []).append(a["status"])
            timeout = 0

    def finish(self, timeout=60.0):
        deadline = time.time() + timeout
        while self.replies < len(self.groups) and time.time() < deadline:
            self.drain(0.2)
        assert self.replies == len(self.groups), \
            "%d of %d answers" % (self.replies, len(self.groups))


def relay(token, flags=0, source=b"hostile"):
    return struct.pack("<BBQqB", 1, flags, token, int(time.time() * 1000),
                       len(source)) + source


def worker_want(case):
    """What the worker answers a single frame sent as [relay][frame]: the
    frame is one response map to it (sipas_response_decode)."""
    f = case.frames[0]
    if len(f) > MAX_MAP:
        return one("too_large")
    if f and is_map_byte(f[0]):
        return case.want
    return one("malformed")


@test
def hostile_on_a_live_stream(env):
    d = load_definition(SONLA)
    env.define(SONLA)
    w = env.worker()
    col = env.collector()
    cases = build_cases(d)
    stream = Stream(env, d, list(range(N_VALID)))
    tally = {}
    bad = []

    # Phase 1: the hostile set through the collector, one message at a time,
    # while the valid stream is pipelined by another client.
    h = env.client()
    for k, case in enumerate(cases):
        stream.send_until(0.5 * (k + 1) / len(cases))
        h.sock.send_multipart(case.frames)
        soft(bad, check_ack, recv_answer(h.sock, case.delim), case.want,
             "collector: %s #%d" % (case.group, k))
        tally[case.group] = tally.get(case.group, 0) + 1
    # A frame over 16 MiB: ZeroMQ drops that client's connection, the one
    # documented exception to "always answered" (docs/collector.md).
    huge = env.client()
    huge.sock.send(b"\x81" + b"\0" * (17 << 20))
    time.sleep(0.3)
    huge.close()
    assert w.alive() and col.alive()

    # Phase 2: the same set straight to the worker, as a collector would
    # send it: [relay][frame]. Multi-frame messages and bad relay headers
    # are not a collector's: the worker ignores them.
    hop = env.worker_client()
    token = 1 << 62
    for k, case in enumerate(cases):
        stream.send_until(0.5 + 0.5 * (k + 1) / len(cases))
        token += 1
        hop.sock.send_multipart([relay(token)] + case.frames)
        if len(case.frames) != 1:
            continue
        assert hop.sock.poll(10000), "worker: no answer to #%d" % k
        head, ack = hop.sock.recv_multipart()
        assert struct.unpack("<Q", head[2:10])[0] == token
        soft(bad, check_ack, msgpack.unpackb(ack, raw=False),
             worker_want(case), "worker: %s #%d" % (case.group, k))
    bad_peers = [[b"short"], [b""], [relay(1)], [relay(2)[:5], b"\x80"],
                 [b"\x02" + relay(3)[1:], pack(response(d, 1))],
                 [relay(4, source=b"bad source"), pack(response(d, 1))],
                 [relay(5, source=b"\xff"), pack(response(d, 1))],
                 [b"\0" * 4096, b"\x80"], [relay(6)] + [b"x"] * 40]
    for frames in bad_peers:
        hop.sock.send_multipart(frames)
    token += 1
    hop.sock.send_multipart([relay(token), pack({"v": 1})])
    assert hop.sock.poll(10000), "worker stopped answering"
    head, ack = hop.sock.recv_multipart()
    assert struct.unpack("<Q", head[2:10])[0] == token, \
        "a bad peer message was answered"
    assert msgpack.unpackb(ack, raw=False)["code"] == "missing_field"

    # Every answer as the contract says (all mismatches listed at once).
    assert not bad, "%d wrong answers:\n  %s" % (len(bad), "\n  ".join(
        str(x)[:300] for x in bad[:40]))

    # Both daemons alive and answering.
    stream.send_until(1.0)
    stream.finish()
    assert w.alive() and col.alive()
    c = env.client()
    r = response(d, N_VALID + 1)
    assert c.call(r) == {"id": r["id"], "status": "accepted"}
    assert c.call(r) == {"id": r["id"], "status": "duplicate"}

    # The valid stream is untouched: each response accepted exactly once...
    assert sorted(stream.acks) == sorted("r-%06d" % i
                                         for i in range(N_VALID))
    wrong = {i: v for i, v in stream.acks.items() if v != ["accepted"]}
    assert not wrong, list(wrong.items())[:5]
    # ... and the store holds exactly it (plus the one probe above).
    c.close()
    assert col.stop() == 0 and w.stop() == 0
    snap = env.snapshot()
    snap.pop("taken_at")
    assert snap["counts"]["accepted"] == N_VALID + 1, snap["counts"]
    same = snapshot_alone(d, list(range(N_VALID)), r)
    assert snap == same, diff(snap, same)

    n = len(cases) * 2 + len(bad_peers) + 1
    inner = sum(len(c.want[1]) for c in cases if c.group == "1,000-map array")
    print("hostile inputs tried: %d messages (%d through the collector, %d "
          "straight to the worker, %d bad relay headers, one 17 MiB frame); "
          "the two 1,000-map arrays hold %d hostile maps, each answered "
          "on its own by the collector" % (n, len(cases), len(cases),
                                           len(bad_peers), inner))
    for grp in sorted(tally):
        print("  %-22s %5d" % (grp, tally[grp]))
    assert len(cases) >= MIN_CASES, len(cases)


def snapshot_alone(d, ids, probe):
    """The snapshot of the same valid responses (and the probe, twice)
    ingested alone, in a fresh store."""
    env = Env()
    try:
        env.define(SONLA)
        env.worker()
        env.collector()
        s = Stream(env, d, ids)
        s.send_until(1.0)
        s.finish()
        assert all(v == ["accepted"] for v in s.acks.values())
        c = env.client()
        assert c.call(probe)["status"] == "accepted"
        assert c.call(probe)["status"] == "duplicate"
        c.close()
        snap = env.snapshot()
    finally:
        env.close()
    snap.pop("taken_at")
    return snap


def diff(a, b, path=""):
    """The first place two JSON values differ."""
    if type(a) is not type(b):
        return "%s: %r != %r" % (path, a, b)
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return "%s.%s: only in one" % (path, k)
            if a[k] != b[k]:
                return diff(a[k], b[k], "%s.%s" % (path, k))
    if isinstance(a, list):
        if len(a) != len(b):
            return "%s: %d != %d items" % (path, len(a), len(b))
        for k, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return diff(x, y, "%s[%d]" % (path, k))
    return "%s: %r != %r" % (path, a, b)


if __name__ == "__main__":
    run()
