#!/usr/bin/python3
"""Write the seed corpus of fuzz_request (tests/fuzz/corpus/request/).

msgpack is written by hand (standard library only): the format is small,
and hand-written bytes can also be wrong on purpose.
Run once from anywhere: /usr/bin/python3 make_request_seeds.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "request")


def s(text):
    b = text.encode() if isinstance(text, str) else text
    if len(b) < 32:
        return bytes([0xA0 | len(b)]) + b
    if len(b) < 256:
        return b"\xd9" + bytes([len(b)]) + b
    return b"\xda" + struct.pack(">H", len(b)) + b


def i(n):
    if 0 <= n < 128:
        return bytes([n])
    if -32 <= n < 0:
        return struct.pack(">b", n)
    if 0 <= n < 2**32:
        return b"\xce" + struct.pack(">I", n)
    if n >= 2**63:
        return b"\xcf" + struct.pack(">Q", n)
    return b"\xd3" + struct.pack(">q", n)


def arr(items):
    assert len(items) < 16
    return bytes([0x90 | len(items)]) + b"".join(items)


def arr16(items):
    return b"\xdc" + struct.pack(">H", len(items)) + b"".join(items)


def m(pairs):
    assert len(pairs) < 16
    body = b"".join(k + v for k, v in pairs)
    return bytes([0x80 | len(pairs)]) + body


def response(rid="R-1", drop=(), extra=(), **over):
    pairs = [("v", i(1)), ("id", s(rid)), ("campaign", s("SL-2024")),
             ("unit", s("SNV")), ("form", s("direct")),
             ("channel", s("postal")), ("ts", i(1700000000)),
             ("items", m([(s("A1"), i(4)), (s("A2"), i(0)),
                          (s("expect"), arr([i(1), i(4)]))]))]
    pairs = [(k, over.get(k, v)) for k, v in pairs if k not in drop]
    pairs += list(extra)
    return m([(s(k), v) for k, v in pairs])


FULL = response(extra=[
    ("respondent", m([(s("kind"), s("person")), (s("gender"), s("f")),
                      (s("age"), i(34)), (s("edu"), s("univ")),
                      (s("job"), s("farmer")), (s("ethnic"), s("Thái"))])),
    ("comment", s("Nơi ngồi chờ có đủ chỗ ngồi")),
    ("entry", m([(s("clerk"), s("c1")), (s("batch"), s("b7")),
                 (s("serial"), s("000123"))]))])

SEEDS = {
    "map_minimal": response(),
    "map_full": FULL,
    "map_id_last": response(drop=("id",), extra=[("id", s("R-9"))]),
    "map_org": response(extra=[("respondent", m([(s("kind"), s("org"))]))]),
    "map_ts_negative": response(ts=i(-1)),
    "map_ts_int64": response(ts=i(-2**40)),
    "map_ts_float": response(ts=b"\xcb" + struct.pack(">d", 1.0)),
    "map_unit_map": response(unit=m([(s("a"), s("b"))])),
    "map_item_str": response(items=m([(s("A1"), s("4"))])),
    "map_item_u64": response(items=m([(s("A1"), i(2**64 - 1))])),
    "map_unknown_key": response(extra=[("colour", s("red"))]),
    "map_no_items": response(drop=("items",)),
    "map_bad_utf8": response(unit=s(b"\xed\xa0\x80")),
    "map_bad_id": response(rid="R 1"),
    "map_repeated_key": response(extra=[("v", i(1))]),
    "map_channel_bad": response(channel=s("email")),
    "map_comment_long": response(extra=[("comment", s("ồ" * 700))]),
    "array_one": arr([response()]),
    "array_three_mixed": arr([response(), i(5), response(rid="R-3", ts=b"\xc0")]),
    "array_full": arr([FULL, response(rid="R-2")]),
    "array16_empty": arr16([]),
    "array_empty": arr([]),
    "bomb_array32": b"\xdd\xff\xff\xff\xff\x80",
    "bomb_map32": b"\xdf\xff\xff\xff\xff",
    "truncated": response()[:-3],
    "trailing": response() + b"\x00",
    "deep": b"\x81\xa1x" + b"\x91" * 12 + b"\x90",
    "scalar": i(7),
    "ext_bin": response(extra=[("x", b"\xd4\x01\x00"), ("y", b"\xc4\x01\x01")]),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(SEEDS), OUT))


if __name__ == "__main__":
    main()
