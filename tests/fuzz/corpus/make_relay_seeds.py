#!/usr/bin/python3
"""Write the seed corpus of fuzz_relay (tests/fuzz/corpus/relay/).

Relay headers (common/sipas_relay.h): version u8, flags u8, token u64 LE,
received_ms i64 LE, source length u8, source bytes; valid ones and ones
each wrong in one way. Run once from anywhere:
/usr/bin/python3 make_relay_seeds.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "relay")


def header(source=b"default", version=1, flags=0, token=7,
           received=1700000000123, length=None):
    n = len(source) if length is None else length
    return struct.pack("<BBQqB", version, flags, token, received, n) + source


SEEDS = {
    "valid": header(),
    "valid_spooled": header(flags=1, token=2**64 - 1, received=-1),
    "valid_empty_source": header(source=b""),
    "valid_source_64": header(source=b"a.b_c:d-" * 8),
    "source_65": header(source=b"x" * 65),
    "source_bad_char": header(source=b"col/1"),
    "source_nul": header(source=b"a\x00b"),
    "version_2": header(version=2),
    "short": header()[:18],
    "length_over": header(length=9),
    "length_under": header(length=3),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
