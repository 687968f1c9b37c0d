"""End-to-end tests of CURVE (docs/security.md): key files made by
`sipas-admin keygen`, the client allowlist of the collector and the
collector allowlist of the worker, the refusal to serve other hosts without
keys, and the accounting of failed handshakes (a wrong key must be visible
at the server, never look like a server that is down).

    /usr/bin/python3 tests/e2e/test_curve.py BUILD_DIR SOURCE_DIR

Keys configured on a loopback endpoint apply too, so CURVE is exercised
on tcp://127.0.0.1; the refusal is tried on tcp://0.0.0.0 (any address).
"""
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import time

import msgpack
import zmq

from harness import SRC, load_definition, program, response, run, test

SONLA = os.path.join(SRC, "examples/sonla-2024.json")
DEFN = load_definition(SONLA)


# ---- helpers ----

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def keygen(env, name):
    """NAME.key and NAME.pub in env.dir: {"pub", "sec", "key", "pubfile"}."""
    base = os.path.join(env.dir, name)
    os.makedirs(os.path.dirname(base), exist_ok=True)
    p = subprocess.run([program("sipas-admin"), "keygen", base],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    with open(base + ".key") as f:
        text = f.read()
    pub = re.search(r'^    public-key = "(.{40})"$', text, re.M).group(1)
    sec = re.search(r'^    secret-key = "(.{40})"$', text, re.M).group(1)
    assert pub in p.stdout, p.stdout
    return {"pub": pub.encode(), "sec": sec.encode(), "key": base + ".key",
            "pubfile": base + ".pub"}


def allowlist(env, name, *keys):
    """A folder holding the .pub files of keys."""
    d = os.path.join(env.dir, name)
    os.makedirs(d, exist_ok=True)
    for k in keys:
        shutil.copy(k["pubfile"], d)
    return d


def curve_client(env, ep, own=None, server=None):
    """A DEALER; CURVE with key pair `own` and the server's public key."""
    s = env.zctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    if own is not None:
        s.curve_publickey = own["pub"]
        s.curve_secretkey = own["sec"]
        s.curve_serverkey = server["pub"]
    s.connect(ep)
    return s


def call(sock, obj, timeout=5.0):
    """Send one request; its answer, or None after timeout."""
    sock.send(msgpack.packb(obj, use_bin_type=True))
    if not sock.poll(int(timeout * 1000)):
        return None
    return msgpack.unpackb(sock.recv(), raw=False)


def start_fails(args, name="sipas-collector", timeout=10):
    """Run a daemon that must refuse to start: its stderr."""
    p = subprocess.run([program(name)] + args, capture_output=True,
                       text=True, timeout=timeout)
    assert p.returncode == 1, "%s %s: status %s, %s" % (
        name, args, p.returncode, p.stderr)
    return p.stderr


def lines(env, name, msgid):
    return [l for l in env.log_of(name).splitlines() if msgid in l]


def stats(env, name, line_id, key):
    """A count from the last line_id line of a daemon's log."""
    found = lines(env, name, line_id)
    assert found, env.log_of(name)
    return int(re.search(key + r" (\d+)", found[-1]).group(1))


def curve_collector(env, *extra):
    """A worker (ipc) and a collector with CURVE on tcp loopback."""
    env.define(SONLA)
    env.worker()
    col, cli = keygen(env, "keys/collector"), keygen(env, "keys/portal")
    ep = "tcp://127.0.0.1:%d" % free_port()
    c = env.collector("--bind", ep, "--curve-key", col["key"],
                      "--curve-clients", allowlist(env, "clients", cli),
                      *extra)
    return c, ep, col, cli


# ---- key files ----

@test
def keygen_writes_private_files_and_never_overwrites(env):
    k = keygen(env, "portal")
    assert stat.S_IMODE(os.stat(k["key"]).st_mode) == 0o600
    with open(k["pubfile"]) as f:
        pubtext = f.read()
    assert "secret" not in pubtext.replace("CURVE public key", "")
    assert '    public-key = "%s"' % k["pub"].decode() in pubtext
    # The public key is the secret key's own half.
    assert zmq.curve_public(k["sec"]) == k["pub"]
    with open(k["key"], "rb") as f:
        before = f.read()
    p = subprocess.run([program("sipas-admin"), "keygen",
                        os.path.join(env.dir, "portal")],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "never overwritten" in p.stderr, p
    with open(k["key"], "rb") as f:
        assert f.read() == before
    p = subprocess.run([program("sipas-admin"), "keygen",
                        os.path.join(env.dir, "no/such/folder/x")],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "No such file" in p.stderr, p


@test
def bad_key_files_and_options_are_clear_errors(env):
    col, cli = keygen(env, "col"), keygen(env, "cli")
    clients = allowlist(env, "clients", cli)
    empty = os.path.join(env.dir, "empty")
    os.mkdir(empty)
    garbage = os.path.join(env.dir, "garbage.key")
    with open(garbage, "w") as f:
        f.write("curve\n    public-key = \"short\"\n")
    os.chmod(garbage, 0o600)
    loose = os.path.join(env.dir, "loose.key")
    shutil.copy(col["key"], loose)
    os.chmod(loose, 0o644)
    ep = "tcp://127.0.0.1:%d" % free_port()
    base = ["--bind", ep]
    cases = [
        (["--curve-key", col["pubfile"], "--curve-clients", clients],
         "no secret-key"),
        (["--curve-key", loose, "--curve-clients", clients], "chmod 600"),
        (["--curve-key", garbage, "--curve-clients", clients],
         "garbage.key:2: public-key is not 40 characters of Z85"),
        (["--curve-key", col["key"], "--curve-clients", empty], "no *.pub"),
        (["--curve-key", col["key"], "--curve-clients", col["key"]],
         "holds a secret key"),
        (["--curve-key", col["key"]], "alone does nothing"),
        (["--curve-clients", clients], "needs --curve-key"),
        (["--curve-key", col["key"], "--worker-key", cli["pubfile"],
          "--worker-key", cli["pubfile"]], "2 given for 1 workers"),
        (["--curve-key", col["key"], "--worker-key",
          os.path.join(env.dir, "missing.pub")], "missing.pub"),
        (["--curve-key", col["key"], "--worker-key", cli["key"]],
         "holds a secret key"),
    ]
    for args, why in cases:
        err = start_fails(base + args)
        assert why in err, (args, err)
    err = start_fails(["--bind", ep, "--curve-key", col["key"]],
                      name="sipas-worker")
    assert "go together" in err, err


# ---- the client side of a collector ----

@test
def right_key_passes_others_refused_and_counted(env):
    c, ep, col, cli = curve_collector(env)
    good = curve_client(env, ep, cli, col)
    acks = [call(good, response(DEFN, i)) for i in range(10)]
    assert all(a and a["status"] == "accepted" for a in acks), acks
    # An unlisted key, a wrong server key, no CURVE at all: no answer,
    # each counted and logged at the collector, which stays up.
    stranger = keygen(env, "stranger")
    impostor = keygen(env, "impostor")
    assert call(curve_client(env, ep, stranger, col), response(DEFN, 100),
                timeout=1.0) is None
    assert call(curve_client(env, ep, cli, impostor), response(DEFN, 101),
                timeout=1.0) is None
    assert call(curve_client(env, ep), response(DEFN, 102),
                timeout=1.0) is None
    denied = lines(env, "sipas-collector", "COL-CURVE-DENIED")
    assert denied and stranger["pub"].decode() in denied[0], \
        env.log_of("sipas-collector")
    failed = "\n".join(lines(env, "sipas-collector", "COL-HANDSHAKE-FAIL"))
    assert "wrong server public key" in failed or \
        "disagree on CURVE" in failed, env.log_of("sipas-collector")
    assert c.alive()
    assert call(good, response(DEFN, 11))["status"] == "accepted"
    assert c.stop() == 0
    assert stats(env, "sipas-collector", "COL-STATS",
                 "client handshakes denied") >= 1
    assert stats(env, "sipas-collector", "COL-STATS", "failed") >= 2


@test
def good_stream_unaffected_by_a_flood_of_bad_handshakes(env):
    c, ep, col, cli = curve_collector(env)
    good = curve_client(env, ep, cli, col)
    impostor = keygen(env, "impostor")
    strangers = [keygen(env, "s%d" % i) for i in range(4)]
    # Wrong server keys retry on their own, every 100 ms; unlisted keys
    # are refused once per connection, so new ones keep coming.
    bad = [curve_client(env, ep, cli, impostor) for _ in range(10)]
    n, window, got, t0 = 300, 50, {}, time.time()
    sent = 0
    while len(got) < n and time.time() - t0 < 15:
        while sent < n and sent - len(got) < window:
            good.send(msgpack.packb(response(DEFN, sent), use_bin_type=True))
            sent += 1
            if sent % 20 == 0:
                bad.append(curve_client(env, ep, strangers[sent % 4], col))
                bad[-1].send(b"\x80")
        if good.poll(2000):
            a = msgpack.unpackb(good.recv(), raw=False)
            got[a["id"]] = a["status"]
    assert len(got) == n and set(got.values()) == {"accepted"}, \
        (len(got), set(got.values()))
    for s in bad:
        s.close(0)
    assert c.stop() == 0
    denied = stats(env, "sipas-collector", "COL-STATS",
                   "client handshakes denied")
    failed = stats(env, "sipas-collector", "COL-STATS", "failed")
    assert denied >= 10 and failed >= 10, (denied, failed)
    # Rate-limited: a line when the first comes, then one per 10 s.
    for msgid in ("COL-CURVE-DENIED", "COL-HANDSHAKE-FAIL"):
        assert len(lines(env, "sipas-collector", msgid)) <= 3, \
            lines(env, "sipas-collector", msgid)


@test
def sipas_submit_with_and_without_keys(env):
    c, ep, col, cli = curve_collector(env)
    impostor = keygen(env, "impostor")
    path = os.path.join(env.dir, "in.jsonl")
    with open(path, "w") as f:
        for i in range(30):
            f.write("%s\n" % json.dumps(response(DEFN, i)))
    sub = program("sipas-submit")
    runs = {
        "good": [sub, "-e", ep, "--curve-server", col["pubfile"],
                 "--curve-key", cli["key"], path],
        "plain": [sub, "-e", ep, "-t", "2", path],
        "impostor": [sub, "-e", ep, "-t", "2", "--curve-server",
                     impostor["pubfile"], "--curve-key", cli["key"], path],
        "half": [sub, "-e", ep, "--curve-server", col["pubfile"], path],
        "secret-as-server": [sub, "-e", ep, "--curve-server", col["key"],
                             "--curve-key", cli["key"], path],
    }
    procs = {k: subprocess.Popen(v, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
             for k, v in runs.items()}
    out = {k: (p.wait(30),) + p.communicate() for k, p in procs.items()}
    assert out["good"][0] == 0 and "30 accepted" in out["good"][1], out["good"]
    assert out["plain"][0] == 1 and "30 unacknowledged" in out["plain"][1]
    # libzmq reports a plain client at a CURVE server as a mechanism
    # mismatch, or (when the server closes first, as under load) as a
    # connection closed during the handshake: either way a handshake
    # failure, never "no answer" alone (libzmq#2227).
    said = out["plain"][1] + out["plain"][2]
    assert "disagree on CURVE" in said or \
        "the handshake failed" in said, out["plain"]
    assert out["impostor"][0] == 1, out["impostor"]
    assert "wrong server public key" in out["impostor"][1], out["impostor"]
    assert out["half"][0] == 1 and "go together" in out["half"][2]
    assert out["secret-as-server"][0] == 1 and \
        "holds a secret key" in out["secret-as-server"][2]
    assert c.stop() == 0


# ---- the refusal to serve other hosts without keys ----

@test
def non_local_endpoints_need_keys_or_insecure(env):
    env.define(SONLA)
    anyhost = "tcp://0.0.0.0:%d" % free_port()
    err = start_fails(["--bind", anyhost, "--worker", env.worker_ep])
    assert "can be reached from other hosts" in err and "--insecure" in err
    err = start_fails(["--store", env.store, "--bind", anyhost],
                      name="sipas-worker")
    assert "can be reached from other hosts" in err, err
    # A worker on another host needs its public key.
    err = start_fails(["--bind", env.collector_ep,
                       "--worker", "tcp://192.0.2.7:7301"])
    assert "is on another host" in err and "--worker-key" in err, err
    # --insecure: the operator's explicit choice, logged.
    conf = os.path.join(env.dir, "worker.conf")
    with open(conf, "w") as f:
        f.write("bind = %s\ninsecure = true\n" % anyhost)
    w = env._start("sipas-worker", ["--store", env.store, "-c", conf])
    assert lines(env, "sipas-worker", "WRK-INSECURE")
    cport = free_port()
    c = env.collector("--bind", "tcp://0.0.0.0:%d" % cport, "--insecure",
                      workers=["tcp://127.0.0.1:%s"
                               % anyhost.rsplit(":", 1)[1]])
    assert lines(env, "sipas-collector", "COL-INSECURE")
    cl = env.client("tcp://127.0.0.1:%d" % cport)
    assert call(cl.sock, response(DEFN, 1))["status"] == "accepted"
    assert w.stop() == 0 and c.stop() == 0


# ---- the hop from collector to worker ----

@test
def worker_takes_listed_collectors_and_reloads_its_list(env):
    env.define(SONLA)
    wk, col, other = (keygen(env, "w"), keygen(env, "col"),
                      keygen(env, "other"))
    listed = allowlist(env, "collectors", col)
    wep = "tcp://127.0.0.1:%d" % free_port()
    w = env._start("sipas-worker", ["--store", env.store, "--bind", wep,
                                    "--curve-key", wk["key"],
                                    "--curve-clients", listed])
    c1 = env.collector("--curve-key", col["key"], "--worker-key",
                       wk["pubfile"], workers=[wep])
    assert call(env.client().sock, response(DEFN, 1))["status"] == "accepted"
    # A collector whose key the worker does not list: it cannot forward,
    # and says why; the worker counts the refusal.
    ep2 = "ipc://%s/c2.sock" % env.dir
    c2 = env._start("sipas-collector", [
        "--bind", ep2, "--source", "two", "--worker", wep,
        "--curve-key", other["key"], "--worker-key", wk["pubfile"]])
    cl2 = env.client(ep2)
    assert call(cl2.sock, response(DEFN, 2))["status"] == "busy"
    log2 = env.log_of("sipas-collector")
    assert "COL-WORKER-HANDSHAKE-FAIL" in log2 and "allowlist" in log2, log2
    assert lines(env, "sipas-worker", "WRK-CURVE-DENIED")
    # The operator lists it and reloads the worker: the collector tries
    # again (every 2 s) and gets through, without a restart.
    shutil.copy(other["pubfile"], listed)
    w.proc.send_signal(signal.SIGHUP)
    end, ack = time.time() + 10, None
    while time.time() < end:
        ack = call(cl2.sock, response(DEFN, 2), timeout=1.0)
        if ack and ack["status"] == "accepted":
            break
        time.sleep(0.3)
    assert ack and ack["status"] == "accepted", (ack, env.log_of(
        "sipas-worker"))
    assert lines(env, "sipas-worker", "WRK-CURVE-CLIENTS")
    assert c1.stop() == 0 and c2.stop() == 0 and w.stop() == 0
    assert stats(env, "sipas-worker", "WRK-STOP", "handshakes denied") >= 1


if __name__ == "__main__":
    run()
