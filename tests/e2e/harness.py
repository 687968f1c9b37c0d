"""harness.py - start real sipas daemons in a temp folder and talk to them.

Used by the end-to-end tests (tests/e2e/test_*.py), which ctest runs as
    /usr/bin/python3 tests/e2e/test_X.py BUILD_DIR SOURCE_DIR
Real ZeroMQ sockets (ipc in the temp folder), a real LMDB store, real
processes; readiness is read from our own NOTIFY_SOCKET, as systemd would.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

import msgpack
import zmq

BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "build"
SRC = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else "."


def program(name):
    """Path of a built program."""
    sub = {"sipas-worker": "worker", "sipas-collector": "ingest",
           "sipas-submit": "ingest", "sipas-admin": "store",
           "sipas-snapshot": "store"}[name]
    return os.path.join(BUILD, sub, name)


class Daemon:
    """A running daemon started by Env."""

    def __init__(self, name, args, env, log):
        self.name, self.args, self.log = name, args, log
        self.proc = subprocess.Popen([program(name)] + args, env=env,
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(log, "ab"))

    def stop(self, timeout=10.0):
        """SIGTERM; returns the exit status (fails the test after timeout)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("%s did not exit within %.0f s of SIGTERM"
                                 % (self.name, timeout))

    def kill(self):
        """SIGKILL, as a crash."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def alive(self):
        return self.proc.poll() is None


class Env:
    """A temp folder with a store, endpoints and the daemons started in it."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sipas-e2e.")
        self.store = os.path.join(self.dir, "store")
        self.worker_ep = "ipc://%s/worker.sock" % self.dir
        self.collector_ep = "ipc://%s/collector.sock" % self.dir
        self.daemons = []
        self.zctx = zmq.Context()
        self.n = 0

    def close(self):
        for d in self.daemons:
            d.kill()
        self.zctx.destroy(linger=0)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _start(self, name, args, ready_timeout=10.0):
        self.n += 1
        path = os.path.join(self.dir, "notify-%d" % self.n)
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(path)
        ns.settimeout(0.2)
        env = dict(os.environ, NOTIFY_SOCKET=path)
        d = Daemon(name, args, env, os.path.join(self.dir, name + ".log"))
        self.daemons.append(d)
        deadline = time.time() + ready_timeout
        try:
            while time.time() < deadline:
                try:
                    msg = ns.recv(4096).decode()
                except socket.timeout:
                    if not d.alive():
                        break
                    continue
                if "READY=1" in msg.split("\n"):
                    return d
            raise AssertionError("%s not ready: %s" % (name, self.log_of(name)))
        finally:
            ns.close()

    def log_of(self, name):
        try:
            with open(os.path.join(self.dir, name + ".log"), "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def worker(self, *extra):
        return self._start("sipas-worker", ["--store", self.store, "--bind",
                                            self.worker_ep] + list(extra))

    def collector(self, *extra, workers=None):
        args = ["--bind", self.collector_ep, "--source", "test"]
        for w in (workers or [self.worker_ep]):
            args += ["--worker", w]
        return self._start("sipas-collector", args + list(extra))

    def admin(self, *args, check=True):
        p = subprocess.run([program("sipas-admin"), "--store", self.store]
                           + list(args), capture_output=True, text=True)
        if check and p.returncode != 0:
            raise AssertionError("sipas-admin %s: %s" % (args, p.stderr))
        return p

    def define(self, path):
        return self.admin("define", path)

    def snapshot(self, *args):
        p = subprocess.run([program("sipas-snapshot"), "--store", self.store,
                            "--format", "json"] + list(args),
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise AssertionError("sipas-snapshot: %s" % p.stderr)
        return json.loads(p.stdout)

    def client(self, endpoint=None):
        return Client(self.zctx, endpoint or self.collector_ep)

    def worker_client(self):
        """A DEALER speaking the collector's hop protocol to a worker."""
        return Client(self.zctx, self.worker_ep)


class Client:
    """A DEALER client: send requests, read acks."""

    def __init__(self, zctx, endpoint):
        self.sock = zctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)

    def send(self, obj):
        self.sock.send(msgpack.packb(obj, use_bin_type=True))

    def send_raw(self, data, more=()):
        if more:
            self.sock.send_multipart([data] + list(more))
        else:
            self.sock.send(data)

    def recv(self, timeout=10.0):
        """One answer frame, decoded (an ack dict or a list of them)."""
        if not self.sock.poll(int(timeout * 1000)):
            raise AssertionError("no answer within %.1f s" % timeout)
        return msgpack.unpackb(self.sock.recv(), raw=False)

    def call(self, obj, timeout=10.0):
        self.send(obj)
        return self.recv(timeout)

    def close(self):
        self.sock.close(0)


def load_definition(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def criteria_of(form):
    """Criterion ids of a form in tree order."""
    out = []

    def walk(groups):
        for g in groups:
            if "criteria" in g:
                out.extend(c["id"] for c in g["criteria"])
            else:
                walk(g["groups"])
    walk(form["groups"])
    return out


def response(defn, i, unit=None, form=None, score=None, ts=None, **extra):
    """A valid response number i for a definition (dict from JSON)."""
    camp = defn["campaign"]
    u = unit or defn["units"][i % len(defn["units"])]["id"]
    # A unit missing from the definition (for refusal tests) is given the
    # forms of the first unit.
    udef = next((x for x in defn["units"] if x["id"] == u), defn["units"][0])
    f = form or udef["forms"][0]
    fdef = next(x for x in defn["forms"] if x["id"] == f)
    scale = defn.get("scale", {"min": 1, "max": 5})
    items = {}
    for k, cid in enumerate(criteria_of(fdef)):
        items[cid] = score if score is not None else \
            scale["min"] + (i + k) % (scale["max"] - scale["min"] + 1)
    y, m, d = (int(x) for x in camp["from"].split("-"))
    start = int(time.mktime((y, m, d, 12, 0, 0, 0, 0, 0)))
    r = {"v": 1, "id": "r-%06d" % i, "campaign": camp["id"], "unit": u,
         "form": f, "channel": "postal", "ts": ts if ts is not None else start,
         "items": items}
    r.update(extra)
    return r


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def run():
    """Run every @test with a fresh Env; print the summary; exit status."""
    passed = failed = 0
    for fn in TESTS:
        env = Env()
        t0 = time.time()
        try:
            fn(env)
            passed += 1
            print("ok   %s (%.1f s)" % (fn.__name__, time.time() - t0))
        except Exception:  # noqa: BLE001 - report every failure
            failed += 1
            print("FAIL %s" % fn.__name__)
            traceback.print_exc()
            for d in env.daemons:
                print("--- %s log ---\n%s" % (d.name, env.log_of(d.name)))
        finally:
            env.close()
        sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
