"""survey.py - reading a survey definition (interfaces.md section 3) for the
project's Python generators: scripts/gen_responses.py, scripts/seedgen.py
and the fuzz seed makers in tests/fuzz/corpus/. Standard library only."""
import datetime


def criteria(groups):
    """Criterion ids of a tree of groups, in tree order."""
    for g in groups:
        if "criteria" in g:
            for c in g["criteria"]:
                yield c["id"]
        else:
            yield from criteria(g["groups"])


def window(campaign):
    """(start, end) of the campaign window in unix seconds: `from` 00:00 and
    the midnight after `to`, at the campaign's utc_offset; end is
    exclusive."""
    off = campaign.get("utc_offset", "+07:00")
    sign = -1 if off[0] == "-" else 1
    tz = datetime.timezone(sign * datetime.timedelta(hours=int(off[1:3]),
                                                     minutes=int(off[4:6])))
    start = datetime.datetime.fromisoformat(campaign["from"]).replace(tzinfo=tz)
    end = datetime.datetime.fromisoformat(campaign["to"]).replace(tzinfo=tz) \
        + datetime.timedelta(days=1)
    return int(start.timestamp()), int(end.timestamp())
