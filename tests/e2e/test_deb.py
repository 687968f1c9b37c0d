"""The Debian package built by CPack from the build folder.

`cpack --config BUILD/CPackConfig.cmake -G DEB` (packaging/package.cmake)
makes the package in a temp folder, once; then:
- control: the file is sipas_VERSION-1_ARCH.deb; Package, Version (the
  programs' --version plus the Debian revision), Architecture (dpkg's),
  Maintainer, Section, Description; Depends names the shared libraries the
  programs link (found by dpkg-shlibdeps) and adduser for the postinst;
- control members (`dpkg-deb --info` and the control archive): postinst,
  prerm and postrm are there, 0755 root:root, `#!/bin/sh` with `set -e`,
  and pass `sh -n`; md5sums covers every file with its sum; lintian, only
  when it is installed, reports no error;
- contents (`dpkg-deb --contents`, and the data archive): exactly the five
  programs in /usr/bin (stripped ELF, 0755), the three units in
  /usr/lib/systemd/system (the source units, ExecStart= naming the
  packaged programs), the sysusers file, the example configs and
  systemd/README.md, the copyright file, and every page of man/ gzipped
  (-9n) in man1/man8 with the source's text; everything root:root, 0644
  or 0755, under /usr; no test, fuzz, fault or benchmark program and
  nothing under /usr/local;
- the programs: `dpkg-deb -x` in a temp folder, each packaged program runs
  and prints the build's version;
- the maintainer scripts (as root, where overlayfs can be mounted; said
  and skipped otherwise), run in a private mount namespace whose
  /etc, /var/lib and /usr are overlays of the real ones (nothing reaches
  the machine) with the package's files unpacked in /usr and a systemctl
  that records its arguments: a first install creates the user sipas and
  /var/lib/sipas (0700, sipas), enables and starts nothing; an upgrade
  leaves the user and the store as they were, keeps the administrator's
  links and restarts (try-restart) the worker and the collector instances;
  remove stops them; purge removes the enablement links (collector
  instances included), keeps the user and a non-empty store and removes
  an empty one. Without systemd-sysusers and without systemd, adduser
  makes the user and systemctl is never called.
"""
import atexit
import glob
import gzip
import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile

from harness import BUILD, SRC, program, run, test

PROGRAMS = ["sipas-worker", "sipas-collector", "sipas-submit", "sipas-admin",
            "sipas-snapshot"]
UNITS = ["sipas-worker.service", "sipas-collector@.service", "sipas.target"]
# The shared libraries the programs link, by their Debian 12 package names.
LIBS = ["libc6", "libzmq5", "liblmdb0", "libmsgpackc2", "libjansson4",
        "libsystemd0", "libinih1", "libxxhash0"]
SCRIPTS = ["postinst", "prerm", "postrm"]
ARCH = subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                      text=True, check=True).stdout.strip()

_built = {}


def sh(*args, **kw):
    """Run a command; its CompletedProcess (text)."""
    return subprocess.run(args, capture_output=True, text=True, timeout=120,
                          **kw)


def version():
    """The version the build's programs print (`sipas-snapshot 0.1.0`)."""
    out = sh(program("sipas-snapshot"), "--version").stdout.split()
    assert len(out) == 2, out
    return out[1]


def deb():
    """Build the package once; the path of the .deb."""
    if "error" in _built:
        raise AssertionError(_built["error"])
    if "deb" in _built:
        return _built["deb"]
    config = os.path.join(BUILD, "CPackConfig.cmake")
    if not os.path.exists(config):
        _built["error"] = ("%s is missing: the top-level CMakeLists.txt must "
                           "include(packaging/package.cmake)" % config)
        raise AssertionError(_built["error"])
    out = tempfile.mkdtemp(prefix="sipas-deb.")
    atexit.register(shutil.rmtree, out, True)
    p = sh("cpack", "--config", config, "-G", "DEB", "-B", out)
    debs = glob.glob(os.path.join(out, "*.deb"))
    if p.returncode != 0 or len(debs) != 1:
        _built["error"] = "cpack failed (%d), made %s:\n%s%s" % (
            p.returncode, debs, p.stdout, p.stderr)
        raise AssertionError(_built["error"])
    _built["deb"] = debs[0]
    return debs[0]


def tar_of(option):
    """The control (--ctrl-tarfile) or data (--fsys-tarfile) archive."""
    p = subprocess.run(["dpkg-deb", option, deb()], capture_output=True,
                       timeout=60, check=True)
    return tarfile.open(fileobj=io.BytesIO(p.stdout))


def members(tar):
    """{path without the leading ./: TarInfo}."""
    return {re.sub(r"^\./", "", m.name).rstrip("/"): m
            for m in tar.getmembers() if m.name not in (".", "./")}


def fields():
    """The control fields, as `dpkg-deb --field` prints them."""
    p = sh("dpkg-deb", "--field", deb())
    assert p.returncode == 0, p.stderr
    out, key = {}, None
    for line in p.stdout.splitlines():
        if line[:1] in (" ", "\t"):
            out[key] += "\n" + line
        else:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def expected_files():
    """Every file the package must hold, from the source tree."""
    files = {"usr/bin/" + p for p in PROGRAMS}
    files |= {"usr/lib/systemd/system/" + u for u in UNITS}
    files |= {"usr/lib/sysusers.d/sipas.conf",
              "usr/share/doc/sipas/copyright",
              "usr/share/doc/sipas/systemd/README.md",
              "usr/share/doc/sipas/systemd/sipas-worker.conf",
              "usr/share/doc/sipas/systemd/sipas-collector.conf"}
    for page in glob.glob(os.path.join(SRC, "man", "*.[0-9]")):
        name = os.path.basename(page)
        files.add("usr/share/man/man%s/%s.gz" % (name[-1], name))
    return files


def source(*parts):
    with open(os.path.join(SRC, *parts), "rb") as f:
        return f.read()


@test
def control_fields(env):
    ver, arch = version(), ARCH
    assert os.path.basename(deb()) == "sipas_%s-1_%s.deb" % (ver, arch), deb()
    f = fields()
    assert f.get("Package") == "sipas", f
    assert f.get("Version") == ver + "-1", f
    assert f.get("Architecture") == arch, f
    assert re.fullmatch(r"[^<>]+ <[^<>@ ]+@[^<>@ ]+>",
                        f.get("Maintainer", "")), f
    assert f.get("Section") in ("net", "misc"), f
    summary, _, long_desc = f.get("Description", "").partition("\n")
    assert summary and len(long_desc.split()) > 20, f
    # Depends: "a (>= 1), b | c, ..." -> [{a}, {b, c}, ...]
    alts = [{re.sub(r"\s*\(.*\)", "", a).strip() for a in group.split("|")}
            for group in f.get("Depends", "").split(",")]
    names = set().union(*alts)
    missing = [lib for lib in LIBS if lib not in names]
    assert not missing, "Depends lacks %s: %s" % (missing, f.get("Depends"))
    assert any("adduser" in g for g in alts), f.get("Depends")


@test
def control_members(env):
    info = sh("dpkg-deb", "--info", deb())
    assert info.returncode == 0, info.stderr
    listed = {m.group(2): m.group(1) == "*" for m in re.finditer(
        r"^\s+\d+ bytes,\s+\d+ lines\s+(\*?)\s+(\S+)", info.stdout, re.M)}
    for name in SCRIPTS:
        assert listed.get(name), "%s missing or not executable:\n%s" % (
            name, info.stdout)
    ctrl = members(tar_of("--ctrl-tarfile"))
    tmp = tempfile.mkdtemp(prefix="sipas-deb-ctrl.", dir=env.dir)
    for name in SCRIPTS:
        m = ctrl[name]
        assert m.mode == 0o755 and m.uid == 0 and m.gid == 0, (
            name, oct(m.mode), m.uid, m.gid)
        text = tar_of("--ctrl-tarfile").extractfile("./" + name).read()
        assert text.startswith(b"#!/bin/sh\n"), name
        assert b"\nset -e\n" in text, name
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.write(text)
        p = sh("sh", "-n", path)
        assert p.returncode == 0, "%s: %s" % (name, p.stderr)
    # md5sums: every regular file of the data archive, with its sum.
    sums = {}
    for line in tar_of("--ctrl-tarfile").extractfile("./md5sums").read() \
            .decode().splitlines():
        digest, path = line.split(None, 1)
        sums[path] = digest
    data = tar_of("--fsys-tarfile")
    files = {p: m for p, m in members(data).items() if m.isfile()}
    assert set(sums) == set(files), set(sums) ^ set(files)
    for path, m in files.items():
        digest = hashlib.md5(data.extractfile(m).read()).hexdigest()
        assert sums[path] == digest, path
    if shutil.which("lintian"):
        # Accepted: the default maintainer address (set
        # SIPAS_PACKAGE_MAINTAINER for a real one) and no changelog.
        p = sh("lintian", "--fail-on", "error", "--suppress-tags",
               "maintainer-address-is-on-localhost,no-changelog,"
               "debian-changelog-file-missing", deb())
        print(p.stdout + p.stderr)
        assert p.returncode == 0, "lintian reports errors"
    else:
        print("     (lintian not installed: not run)")


@test
def contents(env):
    listing = sh("dpkg-deb", "--contents", deb())
    assert listing.returncode == 0, listing.stderr
    assert "/usr/local" not in listing.stdout, listing.stdout
    data = tar_of("--fsys-tarfile")
    all_members = members(data)
    files = {p for p, m in all_members.items() if not m.isdir()}
    stray = sorted(p for p in files if re.search(
        r"(^|/)(test_|fuzz_|sipas-load|sipas-fault|libsipas_fault)", p))
    assert not stray, "test programs in the package: %s" % stray
    expected = expected_files()
    assert files == expected, "missing %s, unexpected %s" % (
        sorted(expected - files), sorted(files - expected))
    for path, m in all_members.items():
        assert path.startswith("usr/") or path == "usr", path
        assert (m.uid, m.gid, m.uname, m.gname) == (0, 0, "root", "root"), (
            path, m.uid, m.gid, m.uname, m.gname)
        want = 0o755 if m.isdir() or path.startswith("usr/bin/") else 0o644
        assert m.mode == want, (path, oct(m.mode))
    # Every program has its page.
    pages = {os.path.basename(p).split(".")[0] for p in files
             if p.startswith("usr/share/man/man")}
    assert set(PROGRAMS) <= pages, "no man page for %s" % (
        set(PROGRAMS) - pages)
    # The man pages: gzip -9n of the source pages.
    for path in sorted(p for p in files if p.startswith("usr/share/man/")):
        raw = data.extractfile(all_members[path]).read()
        # RFC 1952 header: FLG bit 3 is FNAME, bytes 4-7 MTIME, XFL 2 = -9.
        assert raw[:2] == b"\x1f\x8b", path
        assert not raw[3] & 0x08 and raw[4:8] == b"\0\0\0\0", \
            "%s: gzip without -n" % path
        assert raw[8] == 2, "%s: not gzip -9" % path
        name = os.path.basename(path)[:-3]
        assert gzip.decompress(raw) == source("man", name), path
    # Units, sysusers file, example configs: the source files. The units
    # name /usr/bin and /usr/share/doc/sipas, which must be in the package.
    for unit in UNITS:
        text = data.extractfile(all_members["usr/lib/systemd/system/" +
                                            unit]).read()
        assert text == source("systemd", unit), unit + " differs from source"
        for ref in re.findall(rb"(/usr/(?:bin|share/doc)/sipas[^\s'\"]*)",
                              text):
            assert ref.decode().lstrip("/") in files, (unit, ref)
    pairs = {"usr/lib/sysusers.d/sipas.conf": "sipas.sysusers",
             "usr/share/doc/sipas/systemd/README.md": "README.md",
             "usr/share/doc/sipas/systemd/sipas-worker.conf":
                 "sipas-worker.conf",
             "usr/share/doc/sipas/systemd/sipas-collector.conf":
                 "sipas-collector.conf"}
    for path, name in pairs.items():
        assert data.extractfile(all_members[path]).read() == \
            source("systemd", name), path
    assert data.extractfile(all_members["usr/share/doc/sipas/copyright"]) \
        .read().startswith(b"Format: "), "copyright"
    # Debian ships binaries stripped: no symbol table left.
    tmp = tempfile.mkdtemp(prefix="sipas-deb-bin.", dir=env.dir)
    for name in PROGRAMS:
        raw = data.extractfile(all_members["usr/bin/" + name]).read()
        assert raw[:4] == b"\x7fELF", name
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.write(raw)
        p = sh("readelf", "-S", "-W", path)
        assert p.returncode == 0 and ".text" in p.stdout, p.stderr
        assert ".symtab" not in p.stdout, "%s not stripped" % name


@test
def programs_run(env):
    root = os.path.join(env.dir, "root")
    p = sh("dpkg-deb", "-x", deb(), root)
    assert p.returncode == 0, p.stderr
    ver = version()
    for name in PROGRAMS:
        p = sh(os.path.join(root, "usr", "bin", name), "--version")
        assert p.returncode == 0 and \
            p.stdout.strip() == "%s %s" % (name, ver), \
            (name, p.returncode, p.stdout, p.stderr)


# The maintainer scripts' sandbox: a private mount namespace in which /etc,
# /var/lib and /usr are overlays whose upper folders are in $t/up, /run is
# a tmpfs (with /run/systemd/system when SYSTEMD=1, so that the scripts
# believe systemd runs). A marker written through each overlay must appear
# in its upper folder before anything else runs: nothing reaches the real
# folders.
ENTER = r"""
set -e
t=$1; shift
for d in etc var/lib usr; do
	mount -t overlay sipas-deb \
		-o "lowerdir=/$d,upperdir=$t/up/$d,workdir=$t/work/$d" "/$d"
	touch "/$d/.sipas-deb-sandbox"
	[ -e "$t/up/$d/.sipas-deb-sandbox" ]
done
mount -t tmpfs sipas-deb /run
if [ "$SYSTEMD" = 1 ]; then mkdir -p /run/systemd/system; fi
exec "$@"
"""

# Stands in for systemctl (no systemd runs here): records its arguments and
# lists one loaded collector instance.
SYSTEMCTL = r"""#!/bin/sh
echo "$*" >> "%s"
case "$*" in
*list-units*)
	echo "  sipas-collector@portal.service loaded active running collector"
	;;
esac
exit 0
"""


class Sandbox:
    def __init__(self, top, name, systemd):
        self.t = os.path.join(top, name)
        self.systemd = systemd
        self.log = os.path.join(self.t, "systemctl.log")
        for d in ("etc", "var/lib", "usr"):
            os.makedirs(os.path.join(self.t, "up", d))
            os.makedirs(os.path.join(self.t, "work", d))
        # "Unpack" the package: its files in the /usr overlay.
        p = sh("dpkg-deb", "-x", deb(), os.path.join(self.t, "pkg"))
        assert p.returncode == 0, p.stderr
        shutil.copytree(os.path.join(self.t, "pkg", "usr"),
                        os.path.join(self.t, "up", "usr"), dirs_exist_ok=True,
                        symlinks=True)
        self.scripts = os.path.join(self.t, "scripts")
        p = sh("dpkg-deb", "-e", deb(), self.scripts)
        assert p.returncode == 0, p.stderr
        stub = os.path.join(self.t, "up", "usr", "bin", "systemctl")
        with open(stub, "w") as f:
            f.write(SYSTEMCTL % self.log)
        os.chmod(stub, 0o755)
        open(self.log, "w").close()
        # No policy-rc.d (a container's may forbid every action).
        self.sh("rm -f /usr/sbin/policy-rc.d")

    def run(self, *args, script=None):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C",
               "SYSTEMD": "1" if self.systemd else "0"}
        if script:
            # What dpkg gives a maintainer script (deb-systemd-helper
            # refuses to act without it).
            env.update(DPKG_MAINTSCRIPT_PACKAGE="sipas",
                       DPKG_MAINTSCRIPT_NAME=script, DPKG_ROOT="",
                       DPKG_MAINTSCRIPT_ARCH=ARCH)
        return subprocess.run(["unshare", "--mount", "--propagation",
                               "private", "sh", "-c", ENTER, "sh", self.t]
                              + list(args), capture_output=True, text=True,
                              timeout=60, env=env)

    def sh(self, cmd):
        p = self.run("sh", "-c", cmd)
        assert p.returncode == 0, "%s: %s%s" % (cmd, p.stdout, p.stderr)
        return p.stdout

    def script(self, *args):
        """Run a maintainer script; (stderr, systemctl calls it made)."""
        open(self.log, "w").close()
        p = self.run(os.path.join(self.scripts, args[0]), *args[1:],
                     script=args[0])
        assert p.returncode == 0, "%s: %d %s%s" % (args, p.returncode,
                                                 p.stdout, p.stderr)
        with open(self.log) as f:
            return p.stderr, f.read().splitlines()

    def passwd(self):
        return self.sh("getent passwd sipas || true").strip()

    def links(self):
        return sorted(self.sh("find /etc/systemd/system -type l "
                              "-name 'sipas*' 2>/dev/null || true").split())


def sandbox_ok(env):
    """Whether the sandbox can be made here; prints why not."""
    if os.geteuid() != 0:
        print("     skipped: the maintainer scripts run only as root")
        return False
    probe = os.path.join(env.dir, "probe")
    for d in ("etc", "var/lib", "usr"):
        os.makedirs(os.path.join(probe, "up", d))
        os.makedirs(os.path.join(probe, "work", d))
    p = subprocess.run(["unshare", "--mount", "--propagation", "private",
                        "sh", "-c", ENTER, "sh", probe, "true"],
                       capture_output=True, text=True, timeout=30,
                       env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                            "SYSTEMD": "0"})
    if p.returncode != 0:
        print("     skipped: no overlay sandbox here: " + p.stderr.strip())
        return False
    return True


def verbs(calls):
    """The systemctl actions called (daemon-reload, try-restart, ...)."""
    out = []
    for c in calls:
        words = [w for w in c.split() if not w.startswith("-")]
        out.append(words[0] if words else "")
    return out


@test
def maintainer_scripts_with_systemd(env):
    if not sandbox_ok(env):
        return
    box = Sandbox(env.dir, "systemd", systemd=True)
    worker = "sipas-worker.service"
    portal = "sipas-collector@portal.service"

    # First install.
    _, calls = box.script("postinst", "configure", "")
    user = box.passwd()
    assert re.fullmatch(r"sipas:x:\d+:\d+:[^:]*:/var/lib/sipas:\S*nologin",
                        user), user
    uid = int(user.split(":")[2])
    assert uid < 1000, user
    assert box.sh("stat -c '%a %u %U:%G' /var/lib/sipas").split() == \
        ["700", str(uid), "sipas:sipas"]
    assert box.links() == [], box.links()
    assert "daemon-reload" in verbs(calls), calls
    assert set(verbs(calls)) <= {"daemon-reload", "list-units",
                                 "try-restart"}, \
        "a first install must enable or start nothing: %s" % calls
    # Recorded, so that a purge finds the links.
    state = set(box.sh("ls /var/lib/systemd/deb-systemd-helper-enabled/")
                .split())
    assert {"sipas-worker.service.dsh-also", "sipas.target.dsh-also"} <= \
        state, state

    # The administrator enables the service and a collector; a store.
    box.sh("d=/etc/systemd/system; u=/usr/lib/systemd/system;"
           "mkdir -p $d/multi-user.target.wants $d/sipas.target.wants;"
           "ln -s $u/sipas.target $d/multi-user.target.wants/;"
           "ln -s $u/sipas-worker.service $d/sipas.target.wants/;"
           "ln -s $u/sipas-collector@.service "
           "$d/sipas.target.wants/sipas-collector@portal.service;"
           "s='setpriv --reuid=sipas --regid=sipas --clear-groups';"
           "$s mkdir /var/lib/sipas/sipas-store;"
           "$s sh -c 'echo x > /var/lib/sipas/sipas-store/data.mdb'")
    links = box.links()
    assert len(links) == 3, links

    # Upgrade (and a second configure: idempotent).
    for _ in range(2):
        _, calls = box.script("postinst", "configure", "0.0.9-1")
        assert box.passwd() == user
        assert box.links() == links
        assert box.sh("cat /var/lib/sipas/sipas-store/data.mdb") == "x\n"
        restarts = [c.split() for c in calls if "try-restart" in c.split()]
        assert len(restarts) == 1 and worker in restarts[0] and \
            portal in restarts[0], calls
        assert set(verbs(calls)) <= {"daemon-reload", "list-units",
                                     "try-restart"}, calls
    # An upgrade's prerm stops nothing.
    _, calls = box.script("prerm", "upgrade", "0.1.1-1")
    assert calls == [], calls

    # Remove: stop everything; dpkg then removes the files.
    _, calls = box.script("prerm", "remove")
    stops = [c.split() for c in calls if "stop" in c.split()]
    assert len(stops) == 1 and {"sipas.target", worker, portal} <= \
        set(stops[0]), calls
    box.sh("rm -f " + " ".join("'/%s'" % f for f in sorted(expected_files())))
    _, calls = box.script("postrm", "remove")
    assert verbs(calls) == ["daemon-reload"], calls
    assert box.links() == links and box.passwd() == user

    # Purge: links gone, user and store kept (and said so).
    err, _ = box.script("postrm", "purge")
    assert box.links() == [], box.links()
    assert box.passwd() == user
    assert box.sh("cat /var/lib/sipas/sipas-store/data.mdb") == "x\n"
    assert "/var/lib/sipas" in err, err
    # Purge with an empty store folder removes it.
    box.sh("rm -r /var/lib/sipas/sipas-store")
    box.script("postrm", "purge")
    assert box.sh("test -e /var/lib/sipas && echo yes || echo no") == "no\n"


@test
def maintainer_scripts_without_systemd(env):
    if not sandbox_ok(env):
        return
    box = Sandbox(env.dir, "plain", systemd=False)
    box.sh("rm -f /usr/bin/systemd-sysusers /bin/systemd-sysusers")
    assert box.sh("command -v systemd-sysusers || true") == ""
    for _ in range(2):
        _, calls = box.script("postinst", "configure", "")
        assert calls == [], calls
        user = box.passwd()
        assert re.fullmatch(r"sipas:x:\d+:\d+:[^:]*:/var/lib/sipas:\S*nologin",
                            user), user
        assert int(user.split(":")[2]) < 1000, user
        assert box.sh("getent group sipas | cut -d: -f1") == "sipas\n"
        assert box.sh("stat -c '%a %U:%G' /var/lib/sipas") == \
            "700 sipas:sipas\n"
    assert box.links() == []
    for args in (("prerm", "remove"), ("postrm", "remove"),
                 ("postrm", "purge")):
        _, calls = box.script(*args)
        assert calls == [], (args, calls)
    assert box.sh("test -e /var/lib/sipas && echo yes || echo no") == "no\n"
    assert box.passwd() == user


if __name__ == "__main__":
    run()
