"""The synthetic world: container declarations at the Dutch mainports, legacy inspections, hidden truth.

    config      WorldConfig and make_config (bad values: ConfigError)
    catalogue   origins, routes, commodities, carriers, airlines (real UN/LOCODEs and HS codes)
    parties     shippers, consignees, declarants; heavy-tailed volumes; new parties; front companies
    arrivals    daily and weekly rhythm of declarations per port
    logistics   routings, liner services and flights, container/ULD/B/L/AWB/IMO identifiers
    manifests   the declarations as columns (declared and hidden)
    amendments  honest corrections and late amendments
    typologies  rip-on/rip-off, front companies, route laundering, drift → p_illicit, illicit
    declared    p_declared: the probability given only what the declarations show
    legacy      the static weighted rules, one day's selection at capacity, inspection results
    analysts    the rules' adaptation: new-route sampling, seizure-led rules, watchlists
    intelligence tip-offs naming (mostly the wrong) containers of a loaded vessel call
    selection   the day-by-day loop: tips, route samples, rules, random share → inspections
    generator   World: events, outcomes, truth frames; summary: WorldSummary
    writer      the world directory (Parquet + world.json)
    cli         `portrisk simulate` and simulate()
"""

from models.world.cli import register_cli, simulate
from models.world.config import WorldConfig, make_config
from models.world.generator import World, generate_world
from models.world.summary import WorldSummary
from models.world.writer import read_events, read_outcomes, read_truth, write_world

__all__ = [
    "World",
    "WorldConfig",
    "WorldSummary",
    "generate_world",
    "make_config",
    "read_events",
    "read_outcomes",
    "read_truth",
    "register_cli",
    "simulate",
    "write_world",
]
