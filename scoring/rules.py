"""Analyst rules and watchlists, from one TOML file, hot-reloaded.

Rules are what targeting systems call analyst criteria (ASYCUDA) or allow/block lists (Stripe Radar): a
rule either forces a scan or suppresses one, and every hit is reported with the rule's reason. The file::

    version = 1                                     # format version; required

    [watchlists]                                    # named lists of party ids (EORI), inline ...
    suspect_shippers = ["NL000000001", "BE000000002"]

    [watchlist_files]                               # ... or one id per line in a file ('#' comments),
    trusted_traders = "watchlists/aeo.txt"          #     path relative to this file

    [[rule]]
    id = "ec-banana-reefer-campaign"                # unique; appears in decisions
    description = "2026 campaign: Ecuadorian banana reefers"
    action = "force_scan"                           # or "suppress"
    ports = ["rotterdam", "vlissingen"]             # optional scope; absent: every port
    valid_from = 2026-01-01T00:00:00Z               # optional, inclusive; compared with event_time
    valid_until = 2026-04-01T00:00:00Z              # optional, exclusive
    enabled = true                                  # optional
    when = { origin_country = ["EC"], reefer = true, hs_prefix = ["0803"] }

Conditions in ``when`` must all hold (AND); a list inside one condition matches any member (OR):

    shipper_in, consignee_in, declarant_in, notify_party_in, party_in (any of the four)
                                   watchlist name or list of names
    port_of_loading, origin_country, transshipment_port, transshipment_country, hs_prefix
                                   list of strings (origin_country = the LOCODE's country letters)
    reefer, amendment              true / false
    transport_mode                 "sea" / "air"
    score_at_least, score_at_most  number in [0, 1] (the model score, or the fallback score when degraded)

Validity windows use the event's time, not the wall clock, so a replay decides exactly as the first run.
Unknown keys, unknown watchlists, duplicate ids and rules without conditions are errors: a typo must not
silently turn a rule into one that matches everything or nothing. Conditions are compiled once per load
into closures over frozensets, so evaluating an event costs a few set look-ups per rule of its port.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from features.contract import ManifestEvent
from portrisk.errors import ConfigError
from scoring.ruleset import Rule, RuleHit, RuleSet, WatchlistFiles, load_rules, parse_rules, stat

__all__ = ["Rule", "RuleBook", "RuleHit", "RuleSet", "load_rules", "parse_rules"]

log = logging.getLogger(__name__)


class RuleBook:
    """The current rules, re-read from ``path`` when it (or a watchlist file) changes."""

    def __init__(self, path: str | Path, *, check_interval_s: float = 5.0, strict_start: bool = True,
                 on_reload_error: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """Load ``path`` now. ``strict_start`` raises ConfigError on a bad file at start-up (fail at deploy);
        otherwise the book starts empty and reports the error like a failed reload."""
        self.path = Path(path)
        self.check_interval_s = check_interval_s
        self._on_error = on_reload_error
        self._clock = clock
        self._rules = RuleSet((), {})
        self._files: list[Path] = []
        self._loaded_sig: tuple[Any, ...] | None = None
        self._failed_sig: tuple[Any, ...] | None = None
        self._last_check = clock()
        self.reloads = 0
        self.reload_errors = 0
        self.last_error: str | None = None
        sig = self._signature(self._files)
        try:
            self._install(*load_rules(self.path), sig)
        except ConfigError as exc:
            if strict_start:
                raise
            self._failed(str(exc), sig)

    @property
    def rules(self) -> RuleSet:
        """The rule set in force."""
        return self._rules

    @property
    def fingerprint(self) -> str:
        """Short hash of the rules text in force (record it with decisions for audit)."""
        return self._rules.fingerprint

    def evaluate(self, event: ManifestEvent, score: float, port: str | None = None) -> list[RuleHit]:
        """Hits of the rules in force for ``event`` with ``score``."""
        return self._rules.evaluate(event, score, port)

    def maybe_reload(self, *, force: bool = False) -> bool:
        """Re-read the file if its stat changed (checked at most every ``check_interval_s``); True if
        new rules were installed. Never raises: a bad file keeps the previous rules and is reported."""
        now = self._clock()
        if not force and now - self._last_check < self.check_interval_s:
            return False
        self._last_check = now
        sig = self._signature(self._files)
        if sig in (self._loaded_sig, self._failed_sig):
            return False
        try:
            ruleset, files = load_rules(self.path)
        except ConfigError as exc:
            self._failed(str(exc), sig)
            return False
        self._install(ruleset, files, sig)
        self.reloads += 1
        log.info("analyst rules reloaded from %s: %d rules, fingerprint %s", self.path, len(ruleset.rules),
                 ruleset.fingerprint)
        return True

    def _install(self, ruleset: RuleSet, files: WatchlistFiles, sig_before: tuple[Any, ...]) -> None:
        self._rules, self._files = ruleset, [p for p, _ in files]
        # Every file was stat'ed before it was read: a change racing the read shows up as a different
        # stat at the next check, which reloads again.
        self._loaded_sig = (sig_before[0], *(st for _, st in files))
        self._failed_sig = None
        self.last_error = None

    def _failed(self, message: str, sig: tuple[Any, ...]) -> None:
        self._failed_sig = sig  # report a broken file once, not at every check
        self.reload_errors += 1
        self.last_error = message
        log.error("analyst rules not (re)loaded, keeping %d previous rules: %s", len(self._rules.rules), message)
        if self._on_error is not None:
            self._on_error(message)

    def _signature(self, files: list[Path]) -> tuple[Any, ...]:
        return tuple(stat(p) for p in (self.path, *files))
