"""Exact loss accounting of a capture: every hole in a CPU's record
sequence numbers must be reported."""
from hvtools import frame


def unexplained_gaps(s, channel=frame.TRACE, kinds=None):
    """Holes in a channel's per-CPU record seqs (counted from -1) that no
    loss report covers: a loss of one of these kinds with exactly that many
    records, or a frame lost on the link. Default kinds: "ring" for TRACE
    (overwritten or dropped before the drain), "flight" for FLIGHT (the
    flight recorder's dump: its own seq space, its holes overwritten)."""
    if kinds is None:
        kinds = ("flight",) if channel == frame.FLIGHT else ("ring",)
    seqs, losses, bad = {}, {}, []
    for r in s.records:
        if r.channel == channel:
            seqs.setdefault(r.cpu, []).append(r.seq)
    for loss in s.losses:
        losses.setdefault((loss.cpu, loss.before_seq), []).append(loss)
    for cpu, ss in seqs.items():
        for a, b in zip([-1] + ss, ss):
            if b == a + 1:
                continue
            cover = losses.get((cpu, b), [])
            if not any((l.kind == "link" and l.channel == frame.type_name(channel))
                       or (l.kind in kinds and l.count == b - a - 1) for l in cover):
                bad.append((cpu, a, b))
    return bad
