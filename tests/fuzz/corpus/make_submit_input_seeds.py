#!/usr/bin/python3
"""Write the seed corpus of fuzz_submit_input (tests/fuzz/corpus/submit_input/).

The first byte of a seed is fuzz_submit_input's mode (bit 0: CSV, else JSON
Lines; bit 1: the example definitions are known; bit 2: no wire buffer;
bits 3-4: the UTC offset of CSV dates); the rest is the file. Seeds are
valid records of both example campaigns (docs/submit.md) and records each
refused for one reason (as in tests/test_submit_input.c).
Run once from anywhere: /usr/bin/python3 make_submit_input_seeds.py
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "scripts"))
from survey import criteria  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "..")
OUT = os.path.join(HERE, "submit_input")

JSONL, CSV, KNOWN, NOWIRE = 0, 1, 2, 4
OFFSET7 = 1 << 3

VALID = ('"v":1,"id":"r-1","campaign":"SL-2024","unit":"SNV",'
         '"form":"direct","channel":"postal","ts":1700000000')

JSON_LINES = {
    "every_field": '{' + VALID + ',"items":{"A1":4,"A2":0,"expect":[1,4,7],'
    '"none":[],"neg":-3},"respondent":{"kind":"person","gender":"f",'
    '"age":34,"edu":"univ","job":"farmer","ethnic":"Thái"},'
    '"comment":"Rất tốt, \\"nhanh\\"\\n","entry":{"clerk":"c7",'
    '"batch":"B-12","serial":"0042"}}',
    "float": '{' + VALID + ',"items":{"A1":4.0}}',
    "bool_null": '{' + VALID + ',"items":{"A1":true,"A2":null}}',
    "nested_list": '{' + VALID + ',"items":{"e":[[1]]}}',
    "items_list": '{' + VALID + ',"items":[4]}',
    "v_float": '{"v":1.0,"id":"r-1"}',
    "v_2": '{"v":2,"id":"r-1"}',
    "ts_text": '{"id":"r-1","ts":"2024-03-01"}',
    "respondent_list": '{"id":"r-1","respondent":[]}',
    "respondent_kind": '{"id":"r-1","respondent":{"kind":"alien"}}',
    "respondent_unknown": '{"id":"r-1","respondent":{"shoe":"42"}}',
    "entry_int": '{"id":"r-1","entry":{"serial":42}}',
    "id_late_bad": '{"zz":1,"id":"r 1"}',
    "id_int": '{"v":1,"id":7}',
    "id_nul": '{"id":"r-1\\u0000"}',
    "unknown_first": '{' + VALID + ',"extra":1,"items":{}}',
    "channel_then_ts": '{"id":"r-1","channel":"fax","ts":1.5}',
    "missing_ts": '{"v":1,"id":"r-1","campaign":"x","unit":"u","form":"f",'
    '"channel":"kiosk","items":{}}',
    "missing_items": '{' + VALID + '}',
    "int_min": '{' + VALID + ',"items":{"A1":-9223372036854775808}}',
    "int_over": '{' + VALID + ',"items":{"A1":18446744073709551615}}',
    "repeat_id": '{' + VALID + ',"id":"r-2","items":{}}',
    "repeat_item": '{' + VALID + ',"items":{"A1":1,"A1":2}}',
    "truncated": '{"v":1,',
    "array": '[1,2]',
    "two_objects": '{"v":1} {"v":1}',
    "not_json": 'v=1,id=r-1',
    "comment_long": '{' + VALID + ',"items":{},"comment":"' + "x" * 2001 + '"}',
    "escapes": '{' + VALID + ',"items":{"\\u0041\\u0031":4},'
    '"comment":"\\ud83d\\ude00 \\t"}',
}

BAD_UTF8 = {
    "utf8_id": b'{"id":"r\xff"}',
    "utf8_unit": b'{"id":"r-1","unit":"S\xc3"}',
    "utf8_key": b'{"id":"r-1","k\xc0\xaf":1}',
    "utf8_escape": b'{"id":"r-1","comment":"\\\xff"}',
}

HDR = "id,campaign,unit,form,channel,ts"

CSV_FILES = {
    "every_column": "\ufeffv,id,campaign,unit,form,channel,ts,A1,A2,trips,"
    "expect,items.age,comment,respondent.kind,respondent.gender,"
    "respondent.age,respondent.edu,respondent.job,respondent.ethnic,"
    "entry.clerk,entry.batch,entry.serial\r\n"
    "1,p-1,SL-2024,SNV,direct,postal,2024-03-01,4,0,2,1;4;7,45,"
    "\"Tốt, \"\"nhanh\"\"\r\nlắm\",person,f,34,univ,farmer,Thái,"
    "c7,B-12,0042\r\n"
    ",p-2,SL-2024,SNV,direct,portal,1700000000,5,,,4,,,,,,,,,,,\r\n",
    "dates": HDR + "\n" + "".join(
        "r-%d,SL-2024,SNV,direct,postal,%s\n" % (i, ts) for i, ts in
        enumerate(["2024-03-01", "2024-03-01T10:00", "2024-03-01 10:00:30",
                   "2024-03-01T10:00:30.999", "2024-03-01T10:00:00Z",
                   "2024-03-01T10:00:00+02:00", "2024-03-01T10:00:00-03:30",
                   "1709251200", " 1709251200 ", "2024-02-30", "tomorrow",
                   "99999999999999999999"])),
    "guess": HDR + ",expect,trips\n,,,,,,,\r\nr-1,X,U,F,phone,5,1;2,3\n"
    "r-2,X,U,F,phone,5,4,3\nr-3,X,U,F,phone,5,[],3\n",
    "cells": HDR + ",A1,expect,trips,respondent.age,respondent.shoe\n"
    "r-1,SL-2024,SNV,direct,postal,5,abc,1;;2,3;4,x,big\n"
    "r-2,SL-2024,SNV,direct,postal,5,99999999999999999999,1;,2,3,\n"
    "r-3,SL-2024,SNV,direct,postal,5, 4 ,\" 1 ; 2 \",,,\n",
    "quotes": HDR + ",comment\nr-1,X,U,F,phone,5,\"a\"b\nr-2,X,U,F,phone,5,"
    "\"open\n",
    "cells_count": HDR + "\nr-1,X,U,F,phone\nr-2,X,U,F,phone,5,extra\n",
    "header_twice": HDR + ",A1,items.A1\n",
    "header_empty": HDR + ",,A1\n",
    "header_semicolon": "id;campaign;unit;form;channel;ts\n",
    "header_open_quote": HDR + ",\"A1\n",
    "header_only": "\n\n" + HDR + "\n\n",
    "national": "id,campaign,unit,form,channel,ts,channels,experience,"
    "expect,age\nn-1,VN-2025,NB-HOALU,household,interview,2025-06-01,"
    "1;2,3,[],40\n",
}


def valid_jsonl(path, n):
    """n valid lines of a definition, as scripts/gen_responses.py makes."""
    defn = json.load(open(os.path.join(ROOT, path), encoding="utf-8"))
    lines = []
    for i, u in enumerate(defn["units"][:n]):
        form = next(f for f in defn["forms"] if f["id"] == u["forms"][0])
        items = {}
        for k, c in enumerate(criteria(form["groups"])):
            items[c] = 1 + (i + k) % 5
        for it in form.get("items", []):
            items[it["id"]] = (it["codes"][:2] if it["kind"] == "multi" else
                               it["codes"][0] if it["kind"] == "choice" else
                               it["min"])
        r = {"v": 1, "id": "j-%d" % i, "campaign": defn["campaign"]["id"],
             "unit": u["id"], "form": form["id"], "channel": "portal",
             "ts": 1735700000 + i, "items": items}
        lines.append(json.dumps(r, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def write(name, mode, data):
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([mode]) + data)


def main():
    os.makedirs(OUT, exist_ok=True)
    write("jsonl_sonla", JSONL | KNOWN, valid_jsonl("examples/sonla-2024.json", 4))
    write("jsonl_national", JSONL, valid_jsonl("examples/national-2025.json", 3))
    write("jsonl_crlf_blank", JSONL | NOWIRE,
          "\ufeff\r\n" + JSON_LINES["every_field"] + "\r\n\r\n  \n")
    for name, line in JSON_LINES.items():
        write("jsonl_" + name, JSONL, line + "\n")
    for name, line in BAD_UTF8.items():
        write("jsonl_" + name, JSONL, line + b"\n")
    for name, text in CSV_FILES.items():
        write("csv_" + name, CSV | KNOWN | OFFSET7, text)
    write("csv_guess_unknown", CSV, CSV_FILES["guess"])
    # Regressions: inputs that once broke a check of the target.
    # A value nested past SIPAS_MAX_DEPTH where a string belongs: the codec
    # says malformed (too deep) before it looks at the key.
    write("regress-json-deep-nesting", JSONL,
          '{' + VALID + ',"comment":[[[[[[[[[[1]]]]]]]]]]}\n')
    # An unknown respondent.* column whose name is not UTF-8: bad_utf8,
    # not an unknown_field echoing the bytes.
    # A JSON syntax error near invalid UTF-8: jansson quotes the bytes;
    # the sentence must stay UTF-8.
    write("regress-json-error-text-bad-utf8", JSONL,
          b'{"id":"r-1","comment":"\\u12\xcd\x9b"}\n')
    write("regress-csv-unknown-column-bad-utf8", CSV,
          b"id,campaign,unit,form,channel,ts,respondent.x\xbd\n"
          b"r-1,X,U,F,phone,5,1\n")
    write("csv_every_column_nowire", CSV | NOWIRE | KNOWN,
          CSV_FILES["every_column"])


if __name__ == "__main__":
    main()
