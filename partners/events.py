"""What the marketplace tells the rest of the application, without knowing who listens.

The marketplace imports nothing of the case-management core, yet a plan must follow its
referrals and places: these signals (blinker, as Flask's own) are sent inside the transaction
of the change, so a receiver writes its rows in that same transaction (and rolls back with it).
Receivers are called with keyword arguments only.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: Referrals the partner declined, or that expired unanswered: ``referral_ids`` (list of
#: int), ``status`` (``ReferralStatus.DECLINED`` or ``EXPIRED``), ``actor``.
referrals_closed = _signals.signal("referrals-closed")

#: Waitlisted holds that took a freed place: ``hold_ids`` (list of int), ``actor``.
places_promoted = _signals.signal("places-promoted")
