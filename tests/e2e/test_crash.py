"""End-to-end crash test: a client streams numbered responses through a
spooling sipas-collector to a sipas-worker while the worker, the collector
or both are SIGKILLed at random moments (50 rounds; 30 under the
sanitizers) and restarted on the same store and spool. Afterwards every
response acked `accepted` must be counted, re-sending everything must give
only `duplicate`, and the snapshot must equal a clean single run's
(faults.py has the harness; scripts/soak.sh runs it for 1,000 rounds)."""
import os
import random
import time

from faults import SONLA, Rig, check, kill_run, new_stream, report, say
from harness import BUILD, load_definition, response, run, test

SANITIZED = BUILD.rstrip("/").endswith("asan")
# Under the sanitizers every round costs several times more: fewer rounds
# there keep the suite's time (the plain build runs all 50, and
# scripts/soak.sh runs 1,000).
ROUNDS = 30 if SANITIZED else 50
# New responses per second at most; fewer under the sanitizers, where the
# final check (a clean run, a re-send of everything) costs 5 times more.
RATE = 500.0 if SANITIZED else 1000.0


def seed():
    s = int(os.environ.get("SIPAS_FAULTS_SEED") or random.randrange(1 << 30))
    say("seed %d (SIPAS_FAULTS_SEED=%d repeats it)" % (s, s))
    return s


@test
def kill_rounds_lose_nothing(env):
    figures = {}
    t0 = time.time()
    fails = kill_run(env, ROUNDS, seed(), figures, rate=RATE)
    report(figures, time.time() - t0)
    assert not fails, "\n".join(fails)
    assert figures["rounds"] == ROUNDS
    assert figures["acked_accepted"] > 1000, figures
    assert figures["acked_lost"] == 0 and figures["double_counted"] == 0


# ---- the harness's own checks: they must see a loss or a double count ----

@test
def check_sees_a_lost_spool(env):
    """Acks given from the spool, then the spool's files lost: the check
    must report acked responses missing, and those the client sent again
    (and got `accepted` again) as stored from a later copy."""
    env.define(SONLA)
    rig = Rig(env, os.path.join(env.dir, "spool"))
    rig.start()
    stream = new_stream(env, 1, 1500.0)
    stream.pump(0.3)
    before = set(stream.accepted)
    rig.kill("worker")
    stream.pump(0.5)
    spooled = sorted(set(stream.accepted) - before)
    rig.kill("collector")
    stream.lost()
    # As if the spool had never reached the disk.
    for f in os.listdir(rig.spool):
        if f.endswith(".seg"):
            os.unlink(os.path.join(rig.spool, f))
    rig.start()
    # A client that missed those acks sends half of them again.
    again = spooled[::2]
    for i in again:
        stream.done.discard(i)
        stream.todo.append(i)
    figures = {}
    fails = check(env, rig, stream, figures)
    assert len(spooled) > 100, len(spooled)
    assert fails and figures["acked_lost"] > len(again), (fails, figures)
    assert [f for f in fails if "not stored" in f and
            "from a later copy" in f and " 0 acked accepted but" not in f], \
        fails
    say("  a lost spool: %d acked-lost seen (%d hidden by a re-send)"
        % (figures["acked_lost"], len(again)))


@test
def check_sees_a_double_count(env):
    """One response counted twice (here: sent again under another id):
    the check must report it."""
    env.define(SONLA)
    rig = Rig(env, os.path.join(env.dir, "spool"))
    rig.start()
    stream = new_stream(env, 2, 1500.0)
    stream.pump(0.3)
    stream.finish()
    twin = dict(response(load_definition(SONLA), 7), id="twin-7")
    c = env.client()
    assert c.call(twin) == {"id": "twin-7", "status": "accepted"}
    c.close()
    figures = {}
    fails = check(env, rig, stream, figures)
    assert fails and figures["double_counted"] == 1, (fails, figures)
    assert figures["acked_lost"] == 0, figures


if __name__ == "__main__":
    run()
