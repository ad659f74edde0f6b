"""session.Follower: a growing capture decoded a piece at a time (what the
stress watchers poll every second) gives the same Session as decoding the
whole capture at once, wherever the pieces are cut (inside a frame, a
COBS run, a console line, the GRUB prelude), with the C decoder and the
Python one; a capture that shrinks is an error, not a silent restart."""
import random

import pytest

from hvcapture import boot as capture_boot
from hvtools.session import Follower, Session


def view(s):
    return (s.lines(), [(r.cpu, r.name, r.args) for r in s.events()], s.losses,
            bytes(s.guest), bytes(s.gdb), len(s.frame_errors), s.plain)


@pytest.mark.parametrize("native", [None, False])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pieces_decode_as_the_whole(native, seed):
    raw = bytes(capture_boot(ncpus=2, rounds=60, seed=seed, guest_gap=seed == 2,
                             end_damage=seed == 3).out)
    rng = random.Random(seed)
    f = Follower(native=native)
    end = 0
    while end < len(raw):
        end = min(len(raw), end + rng.choice([1, 2, 3, 7, 64, 500, 4096]))
        s = f.update(raw[:end])
        if rng.random() < 0.05:     # the same length again: nothing new
            assert f.update(raw[:end]) is s
    whole = Session.decode(raw)
    assert view(s) == view(whole)
    assert s.events() and s.lines() and f.fed == len(raw)


def test_a_shrinking_capture_is_an_error():
    raw = bytes(capture_boot(ncpus=2, rounds=5).out)
    f = Follower()
    f.update(raw)
    with pytest.raises(ValueError, match="shrank"):
        f.update(raw[:10])
