"""What the renderer should run now: the mode and, per component, stopped / CPU variant / fallback model.

The degradation policies produce a Plan from observations; `Plan.for_mode` is the plan with no other
observation than the mode, which is what the CLI renders.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import EdgeSite

ONLINE, DEGRADED, OFFLINE = "Online", "Degraded", "Offline"
MODES = (ONLINE, DEGRADED, OFFLINE)


@dataclass(frozen=True)
class Plan:
    """The renderer's instructions beyond the spec."""

    mode: str = ONLINE
    stopped: frozenset[str] = field(default_factory=frozenset)
    on_cpu: frozenset[str] = field(default_factory=frozenset)
    on_fallback: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def for_mode(cls, site: EdgeSite, mode: str = ONLINE) -> Plan:
        """The plan for `mode` alone: while Offline, functions that need the uplink stop."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)} (got {mode})")
        stopped = frozenset(f.name for f in site.spec.functions if f.needs_uplink) if mode == OFFLINE else frozenset()
        return cls(mode=mode, stopped=stopped)
