#!/usr/bin/python3
"""Write the seed corpus of fuzz_spool (tests/fuzz/corpus/spool/).

The first byte of a seed is fuzz_spool's mode (bit 0: raw file, else
records; bit 1: raw without a segment header; bit 4: a zero-length segment
file first; bit 5: a damaged header). In records mode the rest is a list
of (op, length, bytes): op bits 0-1 pick a good record (0), a bad check
(1), a bad magic (2) or a lying length (3); bit 2 starts a new segment;
bit 3 cuts the record short; bits 4-7 pick one of 16 keys.
Run once from anywhere: /usr/bin/python3 make_spool_seeds.py
"""
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "spool")

GOOD, BAD_CHECK, BAD_MAGIC, BAD_LEN = 0, 1, 2, 3
NEW_SEG, TORN = 4, 8
RAW, NO_HEADER, EMPTY_FIRST, BAD_HEADER = 1, 2, 16, 32

BODY = b"\x82\xa2id\xa3r-1\xa8campaign\xa7SL-2024"


def rec(op=GOOD, key=0, body=BODY):
    return bytes([op | key << 4, len(body)]) + body


SEEDS = {
    "good": b"\x00" + rec(key=1) + rec(key=2, body=b"") + rec(key=3, body=b"x" * 200),
    "two_segments": b"\x00" + rec(key=1) + rec(NEW_SEG, key=2) + rec(key=3),
    "torn_tail": b"\x00" + rec(key=1) + rec(key=2) + rec(TORN, key=3),
    "torn_then_more": b"\x00" + rec(TORN, key=1) + rec(key=2) + rec(NEW_SEG, key=3),
    "bad_check_middle": b"\x00" + rec(key=1) + rec(BAD_CHECK, key=2) + rec(key=3),
    "bad_magic_first": b"\x00" + rec(BAD_MAGIC, key=1) + rec(key=2),
    "bad_len": b"\x00" + rec(key=1) + rec(BAD_LEN, key=2) + rec(NEW_SEG, key=4),
    "duplicate_keys": b"\x00" + rec(key=5) + rec(key=5, body=b"other") + rec(NEW_SEG, key=5),
    "many_segments": b"\x00" + b"".join(rec(NEW_SEG | (TORN if i % 5 == 4 else 0),
                                            key=i % 16, body=bytes([i]) * i)
                                        for i in range(40)),
    "empty_first": bytes([EMPTY_FIRST]) + rec(key=1),
    "bad_header": bytes([BAD_HEADER]) + rec(key=1),
    "empty_first_bad_header": bytes([EMPTY_FIRST | BAD_HEADER]) + rec(key=1),
    "raw_header_only": bytes([RAW]),
    "raw_garbage": bytes([RAW]) + b"SPR1" + b"\x10\x00\x00\x00" + b"\x00" * 60,
    "raw_no_header_short": bytes([RAW | NO_HEADER]) + b"SIPS",
    "raw_no_header_magic": bytes([RAW | NO_HEADER]) + b"SIPSPL1\n" + b"SPR1\x00",
    "raw_no_header_other": bytes([RAW | NO_HEADER]) + b"not a spool file",
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
