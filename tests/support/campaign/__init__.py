"""A crash-and-fault campaign: ``publisher run`` killed again and again while releases go out.

The emulators run in their own process (tests/support/emulators.py), each behind a fault
proxy that delays, answers late, drops answers, resets and fails a share of the requests.
The bot is a real ``publisher run`` subprocess on a project whose release falls due every
few seconds (a six-field cron on the real clock) and into which urgent posts are filed with
``publisher urgent``; it is SIGKILLed at random moments and restarted, again and again. Then
the faults stop, one last daemon settles what is left and is stopped, and every publication
is counted at the emulators (the static portal: pages on disk):

- nothing lost: each release × channel is published exactly once at its emulator, or ended
  ``failed`` with a recorded reason and nothing live there;
- nothing twice: no emulator holds two live copies of one release, or one nobody recorded;
- every fire time between the first start and the last stop is a release or a recorded
  missed run.

Everything random comes from one seed, printed first, so a failure can be replayed:
``python -m tests.support.campaign --seed N --kills 40 --database sqlite``.
"""

from __future__ import annotations

from tests.support.campaign.plan import Plan, Result
from tests.support.campaign.run import main, run

__all__ = ["Plan", "Result", "main", "run"]
