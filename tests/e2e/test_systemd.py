"""End-to-end tests of the daemons as systemd services (systemd/).

The test machines have no systemd as PID 1, so the service manager's side
is played here:
- readiness, watchdog, reload and stop are read from a NOTIFY_SOCKET this
  test listens on, with WATCHDOG_USEC in the environment when systemd
  would set it (WatchdogSec=);
- the unit files are checked with `systemd-analyze verify` (clean) and
  `systemd-analyze security --offline=true` (exposure at most 2.0, and no
  failed check other than the accepted ones listed in ACCEPTED);
- each unit's ExecStart= is run as systemd would run it (specifiers,
  `$$`, Environment=, WorkingDirectory=), with the paths moved into a temp
  folder, inside a seccomp filter built from the unit's SystemCallFilter=,
  RestrictAddressFamilies=, MemoryDenyWriteExecute= and RestrictRealtime=,
  on tcp loopback endpoints (the default kind): a confinement the daemons
  cannot live with is found here, not on the first production start;
- the example configs in systemd/ name every key of the daemons' option
  tables with its default, and the daemons start with them.

A new definition revision is picked up without a restart: that is
tests/e2e/test_worker.py, new_revision_applies_without_restart.
"""
import ctypes
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import select
import struct
import subprocess
import time

import msgpack

from harness import SRC, load_definition, program, response, run, test

UNITS = os.path.join(SRC, "systemd")
SONLA = os.path.join(SRC, "examples/sonla-2024.json")
SERVICES = {"sipas-worker.service": "sipas-worker.service",
            "sipas-collector@.service": "sipas-collector@portal.service"}
MAX_EXPOSURE = 2.0
# Checks of `systemd-analyze security` the units may fail, and why (the
# README says the same): the daemons serve the network, so they keep
# AF_INET/AF_INET6/AF_UNIX, the network and no IP allow list; libzmq needs
# AF_NETLINK (getifaddrs) and sched_setscheduler (a @resources call) or it
# aborts; ProtectClock= brings the rtc device ACL; no RootImage is shipped.
ACCEPTED = {"RootDirectoryOrRootImage", "RestrictAddressFamilies_AF_UNIX",
            "RestrictAddressFamilies_AF_INET_INET6",
            "RestrictAddressFamilies_AF_NETLINK", "PrivateNetwork",
            "IPAddressDeny", "DeviceAllow", "SystemCallFilter_resources"}
WATCHDOG_USEC = 400000


def now_usec():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


class Notified:
    """A daemon started with its own NOTIFY_SOCKET; every message it sends
    is kept with its arrival time, as (seconds, {KEY: value})."""

    def __init__(self, env, name, argv, extra_env=None, preexec=None,
                 cwd=None):
        env.n += 1
        self.name = name
        self.path = os.path.join(env.dir, "notify-%d" % env.n)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        e = dict(os.environ, NOTIFY_SOCKET=self.path)
        for k in ("WATCHDOG_USEC", "WATCHDOG_PID"):
            e.pop(k, None)
        e.update(extra_env or {})
        self.log = os.path.join(env.dir, name + ".log")
        self.proc = subprocess.Popen(argv, env=e, cwd=cwd,
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "ab"),
                                     preexec_fn=preexec)
        env.daemons.append(self)
        self.msgs = []

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def alive(self):
        return self.proc.poll() is None

    def _recv(self, timeout):
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(4096).decode()
        except socket.timeout:
            return None
        msg = dict(line.split("=", 1) for line in data.split("\n") if "=" in line)
        self.msgs.append((time.monotonic(), msg))
        return self.msgs[-1]

    def wait_for(self, key, timeout=10.0):
        """The next message holding key (e.g. READY); fails after timeout
        or when the daemon died."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = self._recv(min(0.2, end - time.monotonic()))
            if got is not None and key in got[1]:
                return got
            if got is None and not self.alive():
                raise AssertionError("%s exited (status %s) before %s=1"
                                     % (self.name, self.proc.returncode, key))
        raise AssertionError("%s: no %s=1 within %.1f s (got %s)"
                             % (self.name, key, timeout,
                                [m for _, m in self.msgs]))

    def collect(self, seconds):
        """Every message of the next `seconds`."""
        return collect_all([self], seconds)[0]

    def close_notify(self):
        """Stop listening, as if the notification socket were gone."""
        self.sock.close()
        self.sock = None

    def stop(self, timeout=10.0):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("%s did not exit within %.0f s of SIGTERM"
                                 % (self.name, timeout))


def collect_all(daemons, seconds):
    """Every message each daemon sends in the next `seconds`, read as it
    arrives (its time is the arrival time)."""
    got = [[] for _ in daemons]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ready, _, _ = select.select([d.sock for d in daemons], [], [],
                                    end - time.monotonic())
        for i, d in enumerate(daemons):
            if d.sock in ready:
                got[i].append(d._recv(0))
    return got


def start_worker(env, *extra, **kw):
    w = Notified(env, "sipas-worker",
                 [program("sipas-worker"), "--store", env.store,
                  "--bind", env.worker_ep] + list(extra), **kw)
    w.wait_for("READY")
    return w


def start_collector(env, *extra, **kw):
    c = Notified(env, "sipas-collector",
                 [program("sipas-collector"), "--bind", env.collector_ep,
                  "--source", "test", "--worker", env.worker_ep]
                 + list(extra), **kw)
    c.wait_for("READY")
    return c


def hop_call(env, resp):
    """One response straight to the worker, as a collector sends it."""
    c = env.worker_client()
    try:
        head = struct.pack("<BBQqB", 1, 0, 7, int(time.time() * 1000), 4)
        c.sock.send_multipart([head + b"test",
                               msgpack.packb(resp, use_bin_type=True)])
        if not c.sock.poll(10000):
            raise AssertionError("the worker did not answer")
        return msgpack.unpackb(c.sock.recv_multipart()[1], raw=False)
    finally:
        c.close()


def serves(env, who, i):
    """Whether the daemon `who` answers a response now."""
    d = load_definition(SONLA)
    if who == "worker":
        return hop_call(env, response(d, i))["status"] == "accepted"
    cl = env.client()
    try:
        return cl.call(response(d, i))["status"] == "accepted"
    finally:
        cl.close()


def endpoint_path(ep):
    assert ep.startswith("ipc://")
    return ep[len("ipc://"):]


# ---- the daemons' side of the protocol ----

@test
def ready_only_when_bound_and_open(env):
    env.define(SONLA)
    w = Notified(env, "sipas-worker",
                 [program("sipas-worker"), "--store", env.store, "--bind",
                  env.worker_ep])
    w.wait_for("READY")
    # At READY=1 the store is open and the socket bound, and a request
    # sent at once is served.
    assert os.path.exists(os.path.join(env.store, "data.mdb")), \
        "READY=1 before the store was open"
    assert os.path.exists(endpoint_path(env.worker_ep)), \
        "READY=1 before the socket was bound"
    assert serves(env, "worker", 1)
    spool = os.path.join(env.dir, "spool")
    c = Notified(env, "sipas-collector",
                 [program("sipas-collector"), "--bind", env.collector_ep,
                  "--source", "test", "--worker", env.worker_ep,
                  "--spool", spool])
    c.wait_for("READY")
    assert os.path.exists(os.path.join(spool, "lock")), \
        "READY=1 before the spool was open"
    assert os.path.exists(endpoint_path(env.collector_ep)), \
        "READY=1 before the socket was bound"
    assert serves(env, "collector", 2)
    # Without WATCHDOG_USEC there are no keep-alives.
    for d in (w, c):
        d.collect(0.3)
        assert not any("WATCHDOG" in m for _, m in d.msgs), d.msgs


@test
def watchdog_every_half_period(env):
    env.define(SONLA)
    wd = {"WATCHDOG_USEC": str(WATCHDOG_USEC)}
    half = WATCHDOG_USEC / 2e6
    problems = []
    w = start_worker(env, extra_env=wd)
    c = start_collector(env, extra_env=wd)
    t_start = time.monotonic()
    for d, msgs in zip((w, c), collect_all((w, c), 1.6)):
        # WATCHDOG=1 at least every half period, repeatedly (100 ms of
        # slack for the scheduler of a loaded test machine: still well
        # inside the period, after which systemd would kill the daemon).
        ticks = [t_start] + [t for t, m in msgs if m.get("WATCHDOG") == "1"]
        gaps = [b - a for a, b in zip(ticks, ticks[1:])]
        if len(ticks) < 6 or max(gaps) > half + 0.1:
            problems.append("%s: %d WATCHDOG=1 in 1.6 s, longest gap %.0f ms "
                            "(WATCHDOG_USEC=%d wants at most %.0f ms)"
                            % (d.name, len(ticks) - 1,
                               1000 * max(gaps or [1.6]), WATCHDOG_USEC,
                               1000 * half))
    assert not problems, "; ".join(problems)


def check_reload(env, d, who):
    before = now_usec()
    d.proc.send_signal(signal.SIGHUP)
    t_rel, rel = d.wait_for("RELOADING", timeout=3.0)
    after = now_usec()
    # systemd 252 wants MONOTONIC_USEC (CLOCK_MONOTONIC, as here) with
    # RELOADING=1, then READY=1 once the reload is done.
    assert "MONOTONIC_USEC" in rel, rel
    assert before <= int(rel["MONOTONIC_USEC"]) <= after, (before, rel, after)
    t_ready, _ = d.wait_for("READY", timeout=3.0)
    assert t_ready >= t_rel
    assert serves(env, who, 10)
    # A reload whose notifications cannot be delivered still must not stop
    # the daemon (the service manager would see a clean exit and not
    # restart it).
    d.close_notify()
    time.sleep(0.1)  # idle in its poll, where the signal interrupts it
    d.proc.send_signal(signal.SIGHUP)
    time.sleep(0.4)
    assert d.alive(), "%s exited (status %s) after SIGHUP" % (
        d.name, d.proc.returncode)
    assert serves(env, who, 11)


@test
def sighup_reloads_worker(env):
    env.define(SONLA)
    check_reload(env, start_worker(env), "worker")


@test
def sighup_reloads_collector(env):
    env.define(SONLA)
    start_worker(env)
    check_reload(env, start_collector(env), "collector")


def prom_value(path, name):
    """The value of the first series `name` in a Prometheus textfile, or
    None when the file or the series is not there."""
    try:
        with open(path) as f:
            for line in f:
                m = re.match(r"^%s(\{[^}]*\})? (\S+)$" % name, line)
                if m:
                    return float(m.group(2))
    except FileNotFoundError:
        pass
    return None


def wait_value(path, name, want, timeout=5.0):
    end = time.monotonic() + timeout
    while prom_value(path, name) != want:
        assert time.monotonic() < end, "%s: %s is %s, not %s" % (
            path, name, prom_value(path, name), want)
        time.sleep(0.1)


def sighup(d):
    d.proc.send_signal(signal.SIGHUP)
    d.wait_for("RELOADING", timeout=3.0)
    d.wait_for("READY", timeout=3.0)


def check_config_reload(env, who, d, conf, prom, restart_key):
    """SIGHUP reads the -c file again: log-level and metrics-interval-s
    take effect at once; a key that waits for a restart is named; a wrong
    file keeps the running settings and says where it is wrong."""
    pfx = {"worker": "WRK", "collector": "COL"}[who]
    log = lambda: open(d.log).read()
    wait_value(prom, "sipas_received_total", 0)  # written at start
    assert serves(env, who, 1)
    time.sleep(0.5)
    # The file is rewritten once an hour: it still says 0.
    assert prom_value(prom, "sipas_received_total") == 0
    # log-level = warning: the notice at start was not written.
    start = {"worker": "WRK-START", "collector": "COL-READY"}[who]
    assert start not in log(), log()

    with open(conf, "w") as f:
        f.write("log-level = info\nmetrics-interval-s = 1\n%s\n"
                % restart_key)
    sighup(d)
    wait_value(prom, "sipas_received_total", 1)
    text = log()
    assert "%s-RELOAD settings read again from %s" % (pfx, conf) in text, \
        text
    key = restart_key.split(" ")[0]
    assert ("%s-RELOAD-RESTART %s changed in %s" % (pfx, key, conf)
            in text), text

    # Out of range: nothing changes, the line and key are named.
    with open(conf, "w") as f:
        f.write("log-level = warning\nmetrics-interval-s = 0\n")
    sighup(d)
    text = log()
    assert ("<3>%s-RELOAD-FAIL %s:2: metrics-interval-s: 0 is outside "
            "1..3600; the running settings stay" % (pfx, conf)) in text, text
    assert serves(env, who, 2)
    wait_value(prom, "sipas_received_total", 2)  # still every second
    # A value only the daemon can judge; then a file that has gone.
    with open(conf, "w") as f:
        f.write("log-level = loud\n")
    sighup(d)
    os.unlink(conf)
    sighup(d)
    text = log()
    assert "%s-RELOAD-FAIL --log-level: 'loud'" % pfx in text, text
    assert ("%s-RELOAD-FAIL %s: cannot read: No such file or directory"
            % (pfx, conf)) in text, text
    # Level info still in force: this stop is logged.
    assert d.stop() == 0
    assert "%s-STOP" % pfx in log(), log()


@test
def sighup_rereads_worker_config(env):
    env.define(SONLA)
    conf = os.path.join(env.dir, "worker.conf")
    with open(conf, "w") as f:
        f.write("log-level = warning\nmetrics-interval-s = 3600\n")
    w = start_worker(env, "-c", conf)
    check_config_reload(env, "worker", w, conf,
                        os.path.join(env.store, "sipas-worker.prom"),
                        "batch-max = 500")


@test
def sighup_rereads_collector_config(env):
    env.define(SONLA)
    start_worker(env)
    conf = os.path.join(env.dir, "collector.conf")
    prom = os.path.join(env.dir, "collector.prom")
    with open(conf, "w") as f:
        f.write("log-level = warning\nmetrics-interval-s = 3600\n")
    c = start_collector(env, "-c", conf, "--metrics-file", prom)
    check_config_reload(env, "collector", c, conf, prom, "max-inflight = 5")


@test
def sigterm_stops_cleanly(env):
    env.define(SONLA)
    w = start_worker(env)
    c = start_collector(env)
    assert serves(env, "collector", 3)
    for d in (c, w):
        d.proc.send_signal(signal.SIGTERM)
        d.wait_for("STOPPING", timeout=10.0)
        assert d.proc.wait(10) == 0, "%s: exit status %s" % (
            d.name, d.proc.returncode)


# ---- the example configs ----

def option_table(name):
    """{key: default or None} from `NAME --help` (the daemon's table)."""
    out = subprocess.run([program(name), "--help"], capture_output=True,
                         text=True, check=True).stdout
    keys = {}
    for line in out.splitlines():
        m = re.match(r"^\s+(?:-\w, |    )--([a-z][a-z0-9-]*)", line)
        if not m or m.group(1) in ("config", "help", "version"):
            continue
        d = re.search(r"\(default (.*)\)$", line)
        keys[m.group(1)] = d.group(1) if d else None
    assert len(keys) >= 5, out
    return keys


def example_keys(path):
    """[(key, value)] of the commented-out `#key = value` lines."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            assert line == "" or line.startswith("#"), \
                "%s: not a comment: %r" % (path, line)
            m = re.match(r"^#([a-z][a-z0-9-]*) = (.*)$", line)
            if m:
                out.append((m.group(1), m.group(2)))
    return out


@test
def example_configs_name_every_key(env):
    env.define(SONLA)
    spool = os.path.join(env.dir, "spool")
    # Where the daemons of this test listen and keep their files.
    here = {"sipas-worker": {"store": env.store, "bind": env.worker_ep},
            "sipas-collector": {"bind": env.collector_ep, "source": "test",
                                "worker": env.worker_ep, "spool": spool}}
    for name, conf in (("sipas-worker", "sipas-worker.conf"),
                       ("sipas-collector", "sipas-collector.conf")):
        path = os.path.join(UNITS, conf)
        table = option_table(name)
        keys = example_keys(path)
        named = [k for k, _ in keys]
        assert set(named) == set(table), (conf, sorted(set(table) ^ set(named)))
        assert len(named) == len(set(named)), (conf, named)
        for k, v in keys:
            if table[k] is not None:
                assert v == table[k], "%s: %s = %s, the default is %s" % (
                    conf, k, v, table[k])
        if name == "sipas-collector":
            start_worker(env)  # for the collector to reach at once
        # The file as shipped (all commented out, the places given on the
        # command line), then with every key in force (the places moved
        # into the temp folder).
        live = os.path.join(env.dir, conf)
        with open(live, "w", encoding="utf-8") as f:
            for k, v in keys:
                f.write("%s = %s\n" % (k, here[name].get(k, v)))
        places = [a for k, v in here[name].items() for a in ("--" + k, v)]
        for args in (["-c", path] + places, ["-c", live]):
            d = Notified(env, name, [program(name)] + args)
            d.wait_for("READY")
            assert d.stop() == 0


# ---- the unit files ----

def analyzer():
    exe = shutil.which("systemd-analyze")
    assert exe, "systemd-analyze is missing (Debian package systemd)"
    return exe


def unit_copy(env):
    """The units in a folder of their own, as the analyzers read them."""
    d = os.path.join(env.dir, "units")
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(UNITS):
        if f.endswith((".service", ".target")):
            shutil.copy(os.path.join(UNITS, f), d)
    return d


@test
def units_pass_the_analyzers(env):
    exe = analyzer()
    d = unit_copy(env)
    names = sorted(set(SERVICES.values()) | {"sipas.target"})
    p = subprocess.run([exe, "verify"] + [os.path.join(d, n) for n in names],
                       capture_output=True, text=True, cwd=d)
    out = [line for line in (p.stdout + p.stderr).splitlines()
           if "sipas" in line or d in line]
    assert p.returncode == 0 and not out, "verify: %s" % (out or p.returncode)
    scores = {}
    for unit in SERVICES.values():
        path = os.path.join(d, unit)
        p = subprocess.run([exe, "security", "--offline=true", path],
                           capture_output=True, text=True, cwd=d)
        m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", p.stdout)
        assert m, "security %s: %s" % (unit, p.stdout + p.stderr)
        scores[unit] = float(m.group(1))
        p = subprocess.run([exe, "security", "--offline=true", "--json=short",
                            path], capture_output=True, text=True, cwd=d)
        failed = {c["json_field"] for c in json.loads(p.stdout)
                  if c["exposure"] is not None and float(c["exposure"]) > 0}
        assert scores[unit] <= MAX_EXPOSURE, "%s: exposure %.1f > %.1f (%s)" \
            % (unit, scores[unit], MAX_EXPOSURE, sorted(failed - ACCEPTED))
        # Below the bar, yet a setting the units had is gone.
        assert failed <= ACCEPTED, "%s: fails %s" % (unit,
                                                    sorted(failed - ACCEPTED))
    print("     exposure: %s" % ", ".join("%s %.1f" % kv
                                          for kv in sorted(scores.items())))
    # The worker's user, as systemd-sysusers creates it.
    root = os.path.join(env.dir, "root")
    os.makedirs(os.path.join(root, "etc"))
    subprocess.run(["systemd-sysusers", "--root", root,
                    os.path.join(UNITS, "sipas.sysusers")], check=True,
                   capture_output=True)
    with open(os.path.join(root, "etc/passwd")) as f:
        assert re.search(r"^sipas:x:\d+:\d+:[^:]*:/var/lib/sipas:", f.read(),
                         re.M)


def unit_settings(path):
    """{key: [values]} of a unit's [Service] section."""
    out, section = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line
                continue
            if section == "[Service]":
                k, v = line.split("=", 1)
                out.setdefault(k, []).append(v)
    return out


class UnitRun:
    """A unit's ExecStart= as systemd runs it, moved into env.dir: /etc
    and /var/lib there, the built programs for /usr/bin."""

    def __init__(self, env, unit, instance="test"):
        self.s = unit_settings(os.path.join(UNITS, unit))
        self.root = os.path.join(env.dir, "sys")
        self.instance = instance

    def path(self, text):
        text = text.replace("%i", self.instance).replace("%S", "/var/lib")
        text = text.replace("%%", "%").replace("$$", "$")
        for prog in ("sipas-worker", "sipas-collector"):
            text = text.replace("/usr/bin/" + prog, program(prog))
        for top in ("/etc/sipas", "/var/lib"):
            text = text.replace(top, self.root + top)
        return text

    def argv(self, replace=None):
        (cmd,) = self.s["ExecStart"]
        assert "\\" not in cmd, "ExecStart= escapes are not emulated"
        argv = shlex.split(self.path(cmd))
        if replace:
            argv = [a.replace(program(replace), "/bin/echo") for a in argv]
        return argv

    def environ(self):
        e = {}
        for v in self.s.get("Environment", []):
            for kv in shlex.split(v):
                k, val = kv.split("=", 1)
                e[k] = self.path(val)
        return e

    def state_dirs(self):
        dirs = []
        for v in self.s.get("StateDirectory", []):
            for name in v.split():
                dirs.append(os.path.join(self.root, "var/lib",
                                         self.path(name)))
        for d in dirs:
            os.makedirs(d, exist_ok=True)
        return dirs

    def cwd(self):
        (wd,) = self.s.get("WorkingDirectory", ["/"])
        return self.path(wd)


def config_dir(env):
    d = os.path.join(env.dir, "sys/etc/sipas")
    os.makedirs(d, exist_ok=True)
    return d


@test
def unit_command_lines_take_the_optional_config(env):
    etc = config_dir(env)
    for unit, prog, conf, rest in (
            ("sipas-worker.service", "sipas-worker", "worker.conf", []),
            ("sipas-collector@.service", "sipas-collector",
             "collector-test.conf",
             ["--source", "test", "--spool",
              os.path.join(env.dir, "sys/var/lib/sipas-collector-test/spool")])):
        u = UnitRun(env, unit)
        argv = u.argv(replace=prog)
        conf = os.path.join(etc, conf)
        # A credential named curve.key (LoadCredential=) becomes
        # --curve-key; another credential, or none, adds nothing.
        creds = os.path.join(env.dir, "credentials", prog)
        os.makedirs(creds)
        open(os.path.join(creds, "other.key"), "w").close()
        for present, cred, dirset in ((False, False, False),
                                      (True, False, False),
                                      (True, False, True),
                                      (True, True, True),
                                      (False, True, True),
                                      (False, True, False)):
            if present:
                open(conf, "w").close()
            elif os.path.exists(conf):
                os.unlink(conf)
            key = os.path.join(creds, "curve.key")
            if cred:
                open(key, "w").close()
            elif os.path.exists(key):
                os.unlink(key)
            e = dict(os.environ)
            e.pop("CREDENTIALS_DIRECTORY", None)
            if dirset:
                e["CREDENTIALS_DIRECTORY"] = creds
            got = subprocess.run(argv, capture_output=True, text=True,
                                 env=e, check=True).stdout.split()
            want = ((["-c", conf] if present else []) + rest
                    + (["--curve-key", key] if cred and dirset else []))
            assert got == want, \
                "%s, config %s, credential %s (directory %s): %s, not %s" % (
                    unit, present, cred, dirset, got, want)


# -- the seccomp side of the units, emulated for the test (x86_64) --

SYSCALL_HEADER = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"


def syscall_groups():
    out = subprocess.run([analyzer(), "syscall-filter"], capture_output=True,
                         text=True, check=True).stdout
    groups, cur = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            cur = groups.setdefault(line.strip(), [])
        elif cur is not None and line.strip() and \
                not line.strip().startswith("#"):
            cur.append(line.strip())
    return groups


def allowed_syscalls(filters):
    groups = syscall_groups()

    def expand(name):
        if not name.startswith("@"):
            return {name}
        return set().union(*(expand(n) for n in groups[name]))

    allowed = None
    for v in filters:
        deny = v.startswith("~")
        names = set().union(*(expand(n) for n in v.lstrip("~").split()))
        if allowed is None:
            assert not deny, "a deny-list SystemCallFilter= is not emulated"
            allowed = names | expand("@default")
        elif deny:
            allowed -= names
        else:
            allowed |= names
    return allowed


def seccomp_program(settings):
    """A classic BPF seccomp program doing what systemd's filter for these
    unit settings does to the daemon's system calls."""
    numbers = {}
    with open(SYSCALL_HEADER) as f:
        for line in f:
            m = re.match(r"#define __NR_(\w+)\s+(\d+)", line)
            if m:
                numbers[m.group(1)] = int(m.group(2))
    names = allowed_syscalls(settings["SystemCallFilter"]) \
        if "SystemCallFilter" in settings else set(numbers)
    allowed = sorted(numbers[n] for n in names if n in numbers)
    families = [getattr(socket, f) for f in
                settings.get("RestrictAddressFamilies", ["AF_UNIX AF_INET "
                             "AF_INET6 AF_NETLINK AF_PACKET"])[0].split()]
    mdwe = settings.get("MemoryDenyWriteExecute") == ["yes"]
    no_rt = settings.get("RestrictRealtime") == ["yes"]

    def stmt(code, k):
        return struct.pack("HBBI", code, 0, 0, k)

    def jeq(k, jt, jf):
        return struct.pack("HBBI", 0x15, jt, jf, k)

    ld = lambda off: stmt(0x20, off)  # noqa: E731 - BPF_LD|W|ABS
    ret = lambda k: stmt(0x06, k)     # noqa: E731
    allow, kill = 0x7FFF0000, 0x80000000
    errno = lambda e: 0x00050000 | e  # noqa: E731
    arg = lambda i: 16 + 8 * i        # noqa: E731 - low half of args[i]
    prog = [ld(4), jeq(0xC000003E, 1, 0), ret(kill),   # x86_64 only
            ld(0), struct.pack("HBBI", 0x35, 0, 1, 0x40000000), ret(kill)]

    def block(nr, body):
        if nr in allowed:
            prog.append(jeq(nr, 0, len(body)))
            prog.extend(body)

    body = [ld(arg(0))]
    for fam in families:
        body += [jeq(fam, 0, 1), ret(allow)]
    block(numbers["socket"], body + [ret(errno(97))])        # EAFNOSUPPORT
    if mdwe:
        block(numbers["mmap"], [ld(arg(2)), stmt(0x54, 6), jeq(6, 0, 1),
                                ret(errno(1)), ret(allow)])
        for n in ("mprotect", "pkey_mprotect"):
            block(numbers[n], [ld(arg(2)),
                               struct.pack("HBBI", 0x45, 0, 1, 4),
                               ret(errno(1)), ret(allow)])
    if no_rt:
        # Only SCHED_OTHER, SCHED_BATCH and SCHED_IDLE (reset-on-fork
        # bit aside).
        block(numbers["sched_setscheduler"],
              [ld(arg(1)), stmt(0x54, 0x3FFFFFFF), jeq(0, 3, 0),
               jeq(3, 2, 0), jeq(5, 1, 0), ret(errno(1)), ret(allow)])
    for nr in allowed:
        prog += [jeq(nr, 0, 1), ret(allow)]
    prog.append(ret(kill))
    return b"".join(prog)


def confined(settings):
    """preexec_fn putting the child under the unit's seccomp filter."""
    code = seccomp_program(settings)
    buf = ctypes.create_string_buffer(code, len(code))

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = Fprog(len(code) // 8, ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4

    def apply():
        # PR_SET_NO_NEW_PRIVS, then PR_SET_SECCOMP / SECCOMP_MODE_FILTER.
        if libc.prctl(38, 1, 0, 0, 0) != 0 or \
                libc.prctl(22, 2, ctypes.addressof(fprog), 0, 0) != 0:
            os._exit(126)
    apply.keep = (buf, fprog)
    return apply


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@test
def units_run_the_daemons_under_their_filters(env):
    if platform.machine() != "x86_64" or not os.path.exists(SYSCALL_HEADER):
        raise AssertionError("the seccomp emulation needs x86_64 and %s"
                             % SYSCALL_HEADER)
    etc = config_dir(env)
    wport, cport = free_port(), free_port()
    with open(os.path.join(etc, "worker.conf"), "w") as f:
        f.write("bind = tcp://127.0.0.1:%d\n" % wport)
    with open(os.path.join(etc, "collector-test.conf"), "w") as f:
        f.write("bind = tcp://127.0.0.1:%d\nworker = tcp://localhost:%d\n"
                % (cport, wport))
    daemons = []
    for unit, name in (("sipas-worker.service", "sipas-worker"),
                       ("sipas-collector@.service", "sipas-collector")):
        u = UnitRun(env, unit)
        state = u.state_dirs()
        if name == "sipas-worker":
            env.store = os.path.join(u.environ()["SIPAS_HOME"], "sipas-store")
            assert os.path.dirname(env.store) == state[0]
            env.define(SONLA)
        # LeakSanitizer (in the asan build) stops the threads with
        # ptrace, which no unit allows; the units run release builds.
        e = dict(u.environ(), ASAN_OPTIONS=os.environ.get(
            "ASAN_OPTIONS", "") + ":detect_leaks=0")
        d = Notified(env, name, u.argv(), extra_env=e,
                     preexec=confined(u.s), cwd=u.cwd())
        try:
            d.wait_for("READY")
        except AssertionError:
            if d.proc.poll() == -signal.SIGSYS:
                raise AssertionError("%s killed by SIGSYS: a system call "
                                     "outside the unit's SystemCallFilter= "
                                     "(find it with strace -f)" % name)
            raise
        daemons.append(d)
    # Served over tcp; the spool where the unit puts it.
    assert os.path.exists(os.path.join(
        env.dir, "sys/var/lib/sipas-collector-test/spool/lock"))
    cl = env.client("tcp://127.0.0.1:%d" % cport)
    dfn = load_definition(SONLA)
    assert cl.call([response(dfn, i) for i in range(20)]) == \
        [{"id": response(dfn, i)["id"], "status": "accepted"}
         for i in range(20)]
    cl.close()
    for d in reversed(daemons):
        d.proc.send_signal(signal.SIGTERM)
        d.wait_for("STOPPING")
        assert d.proc.wait(10) == 0, "%s: exit status %s" % (
            d.name, d.proc.returncode)


if __name__ == "__main__":
    run()
