"""Writes seed records for fuzz_counts (format in store/sipas_counts.h)."""
import os


def uv(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def zz(n):
    return uv((n << 1) ^ (n >> 63) & ((1 << 64) - 1) if n < 0 else n << 1)


def entry(kind, ident, body):
    return bytes([kind]) + uv(len(ident)) + ident + body


def record(resp, entries):
    return b"SC\x01" + uv(resp) + uv(5) + b"".join(uv(x) for x in (resp, 0, 0, 0, 0)) \
        + uv(len(entries)) + b"".join(entries)


crit = entry(0, b"A1", zz(1) + uv(5) + b"".join(uv(x) for x in (1, 0, 1, 2, 3, 4)))
unknown = entry(0, b"ZZ", zz(1) + uv(5) + b"".join(uv(x) for x in (0, 1, 1, 1, 1, 1)))
codes = entry(1, b"m", uv(3) + uv(2) + zz(1) + uv(2) + zz(4) + uv(1))
number = entry(2, b"n", uv(2) + zz(71) + uv(2) + zz(30) + uv(1) + zz(41) + uv(1))
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "counts")
os.makedirs(here, exist_ok=True)
seeds = {"empty": record(0, []), "one": record(10, [crit]),
         "all": record(11, [crit, codes, number]),
         "carry": record(3, [unknown, crit])}
for name, data in seeds.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)
