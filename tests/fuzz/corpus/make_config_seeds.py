#!/usr/bin/python3
"""Write the seed corpus of fuzz_config (tests/fuzz/corpus/config/).

The first byte of a seed is fuzz_config's mode (bit 0: the collector's
option table, else the worker's; bit 1: --bind on the command line;
bit 2: --log-level; bit 3: -w); the rest is the `-c FILE` text.
Run once from anywhere: /usr/bin/python3 make_config_seeds.py
"""
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config")

WORKER = b"""# sipas-worker configuration
store = /var/lib/sipas/store
bind = tcp://0.0.0.0:7301
batch-max = 5000
map-size = 4096
rcvhwm = 20000
log-level = notice
"""

COLLECTOR = b"""; sipas-collector for the portal
bind = tcp://0.0.0.0:7300
worker = tcp://10.0.0.7:7301
worker = tcp://10.0.0.8:7301
source = portal
spool = /var/lib/sipas/spool-portal
spool-max-mb = 2048
max-inflight = 20000
max-inflight-mb = 128
resend-ms = 5000
give-up-ms = 120000
log-level = info
verbose = yes
offset = -9223372036854775808
tag = a
"""

SEEDS = {
    "worker": b"\x00" + WORKER,
    "worker_cli": b"\x06" + WORKER,
    "collector": b"\x01" + COLLECTOR,
    "collector_cli": b"\x0f" + COLLECTOR,
    "empty": b"\x00",
    "comments_blank": b"\x01\xef\xbb\xbf\n# a\n; b\n\n   \n",
    "crlf": b"\x00store = /x\r\nbatch-max = 7\r\n",
    "inline_comment": b"\x01source = s1 ; the portal\nverbose = off\n",
    "spaces": b"\x01   source   =   padded   \n",
    "no_value": b"\x01source\n",
    "empty_value": b"\x01spool =\n",
    "colon": b"\x00store: /x\n",
    "section": b"\x00[worker]\nstore = /x\n",
    "empty_section": b"\x00[]\nstore = /x\n",
    "unknown_key": b"\x00stores = /x\n",
    "config_key": b"\x01config = /etc/other.conf\n",
    "int_bad": b"\x00batch-max = 10k\n",
    "int_low": b"\x00batch-max = 0\n",
    "int_high": b"\x00rcvhwm = 1000001\n",
    "int_overflow": b"\x01offset = 9223372036854775808\n",
    "int_hex": b"\x00batch-max = 0x10\n",
    "int_space": b"\x00batch-max = 1 2\n",
    "bool_bad": b"\x01verbose = maybe\n",
    "list_33": b"\x01" + b"".join(b"worker = tcp://h%d:1\n" % i
                                  for i in range(33)),
    "list_32_cli": b"\x09" + b"".join(b"tag = t%d\n" % i for i in range(32)),
    "multiline": b"\x01source = a\n  continued\n",
    "long_line": b"\x00store = /" + b"x" * 400 + b"\n",
    "errors_then_ok": b"\x00garbage line\nbatch-max = 5\nnope = 1\n",
    "nul_byte": b"\x00store = /a\x00b\nbind = x\n",
    "repeat_string": b"\x00store = /a\nstore = /b\n",
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
