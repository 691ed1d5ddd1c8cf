"""The world's fixed catalogue: origins, transshipment routes, commodities, carriers and airlines.

Real UN/LOCODEs and HS codes; volumes and risks are rounded, plausible orders of magnitude, not
statistics. ``source_risk`` is hidden truth (how attractive a lane is to smugglers); the legacy rules
only know a country list (see :mod:`models.world.legacy`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Commodity:
    key: str
    hs_code: str
    description: str
    reefer: float  # probability of travelling refrigerated
    weight_kg: float  # median declared gross weight per container / ULD
    weight_sigma: float  # log-normal spread of the weight
    eur_per_kg: float  # typical customs value
    cover: float  # hidden: how well it hides a load (perishables that must move fast score high)


COMMODITIES: tuple[Commodity, ...] = (
    # sea, perishable
    Commodity("bananas", "080390", "fresh bananas", 0.99, 20_500, 0.05, 0.7, 3.0),
    Commodity("plantains", "080310", "fresh plantains", 0.98, 20_000, 0.06, 0.6, 2.0),
    Commodity("pineapples", "080430", "fresh pineapples", 0.99, 21_000, 0.06, 0.7, 3.0),
    Commodity("fruit_pulp", "081190", "frozen fruit pulp", 0.97, 22_000, 0.08, 1.5, 2.5),
    Commodity("avocados", "080440", "fresh avocados", 0.98, 19_000, 0.07, 2.5, 1.5),
    Commodity("grapes", "080610", "fresh table grapes", 0.98, 19_000, 0.07, 2.0, 1.0),
    Commodity("blueberries", "081040", "fresh blueberries", 0.98, 15_000, 0.10, 6.0, 1.0),
    Commodity("citrus", "080510", "fresh oranges", 0.98, 21_000, 0.06, 0.8, 1.0),
    Commodity("shrimp", "030617", "frozen shrimps and prawns", 0.99, 24_000, 0.06, 7.0, 1.5),
    Commodity("fish_frozen", "030389", "frozen fish", 0.99, 25_000, 0.06, 3.0, 1.2),
    Commodity("beef_frozen", "020230", "frozen boneless bovine meat", 0.99, 24_000, 0.06, 6.0, 1.0),
    Commodity("chicken_frozen", "020714", "frozen chicken cuts", 0.99, 25_000, 0.05, 2.5, 1.0),
    Commodity("orange_juice", "200911", "frozen orange juice concentrate", 0.9, 26_000, 0.05, 1.8, 1.3),
    # sea, dry
    Commodity("coffee", "090111", "green coffee beans in bags", 0.0, 19_200, 0.04, 3.5, 1.5),
    Commodity("cocoa", "180100", "cocoa beans", 0.0, 24_000, 0.06, 3.0, 1.3),
    Commodity("sugar", "170199", "cane sugar", 0.0, 25_000, 0.05, 0.5, 1.0),
    Commodity("wine", "220421", "wine in bottles", 0.1, 18_000, 0.10, 4.0, 0.5),
    Commodity("furniture", "940360", "wooden furniture", 0.0, 7_000, 0.40, 4.0, 0.5),
    Commodity("electronics", "847130", "portable computers", 0.0, 5_000, 0.50, 60.0, 0.3),
    Commodity("toys", "950300", "toys", 0.0, 6_000, 0.40, 8.0, 0.4),
    Commodity("apparel", "620342", "cotton trousers", 0.0, 6_500, 0.40, 15.0, 0.4),
    Commodity("machinery", "848180", "taps and valves", 0.0, 12_000, 0.40, 12.0, 0.3),
    Commodity("tiles", "690721", "ceramic tiles", 0.0, 26_000, 0.08, 0.6, 0.8),
    Commodity("plastics", "390110", "polyethylene granules", 0.0, 24_000, 0.08, 1.2, 0.5),
    Commodity("chemicals", "291511", "formic acid", 0.0, 20_000, 0.20, 1.0, 0.5),
    Commodity("steel", "720839", "hot-rolled steel coils", 0.0, 26_000, 0.08, 0.7, 0.6),
    Commodity("scrap", "720449", "ferrous scrap", 0.0, 25_000, 0.10, 0.3, 0.7),
    Commodity("charcoal", "440290", "wood charcoal", 0.0, 18_000, 0.15, 0.5, 1.0),
    Commodity("tyres", "401120", "new tyres for lorries", 0.0, 9_000, 0.30, 3.0, 0.4),
    Commodity("rice", "100630", "milled rice", 0.0, 25_000, 0.05, 0.6, 0.5),
    Commodity("auto_parts", "870899", "motor vehicle parts", 0.0, 10_000, 0.50, 10.0, 0.3),
    Commodity("solar", "854143", "photovoltaic modules", 0.0, 9_000, 0.30, 15.0, 0.3),
    Commodity("paper", "480256", "uncoated paper", 0.0, 24_000, 0.08, 0.9, 0.3),
    Commodity("ores", "260800", "zinc ores and concentrates", 0.0, 26_000, 0.08, 1.5, 1.0),
    # air
    Commodity("roses", "060311", "fresh cut roses", 0.25, 1_200, 0.5, 4.0, 2.5),
    Commodity("asparagus", "070920", "fresh asparagus", 0.25, 1_500, 0.5, 3.0, 1.5),
    Commodity("berries_air", "081040", "fresh blueberries (air)", 0.25, 1_300, 0.5, 6.0, 1.5),
    Commodity("fish_fresh", "030289", "fresh fish", 0.25, 1_400, 0.5, 10.0, 1.2),
    Commodity("pharma", "300490", "medicaments in doses", 0.6, 600, 0.6, 200.0, 0.3),
    Commodity("phones", "851713", "smartphones", 0.0, 800, 0.6, 120.0, 0.3),
    Commodity("apparel_air", "620462", "women's trousers (air)", 0.0, 700, 0.6, 25.0, 0.4),
    Commodity("parts_air", "847330", "computer parts", 0.0, 900, 0.6, 60.0, 0.3),
)
COMMODITY_INDEX = {c.key: i for i, c in enumerate(COMMODITIES)}


@dataclass(frozen=True)
class Origin:
    locode: str
    country: str
    region: str  # selects routes, voyage direction and the default commodity mix
    mode: str
    volume: float  # relative share of the mode's arrivals
    source_risk: float  # hidden: attractiveness to cocaine traffickers
    mix: dict[str, float] | None = None  # commodity mix; None: the region's


REGION_MIX: dict[str, dict[str, float]] = {
    "wsa": {"bananas": .45, "shrimp": .12, "fruit_pulp": .06, "cocoa": .07, "coffee": .05, "fish_frozen": .06,
            "avocados": .05, "plantains": .05, "charcoal": .03, "ores": .03, "sugar": .03},
    "car": {"bananas": .38, "pineapples": .18, "plantains": .05, "fruit_pulp": .05, "coffee": .08,
            "chemicals": .05, "plastics": .04, "sugar": .05, "charcoal": .03, "fish_frozen": .04, "cocoa": .05},
    "bra": {"coffee": .2, "orange_juice": .14, "chicken_frozen": .15, "beef_frozen": .1, "sugar": .1,
            "fruit_pulp": .05, "paper": .1, "tyres": .05, "machinery": .05, "citrus": .06},
    "asia": {"electronics": .15, "furniture": .12, "toys": .08, "apparel": .15, "machinery": .12, "solar": .06,
             "tiles": .06, "tyres": .05, "steel": .06, "plastics": .05, "auto_parts": .08, "chemicals": .02},
    "ind": {"apparel": .3, "chemicals": .2, "rice": .1, "machinery": .15, "tiles": .1, "auto_parts": .1,
            "shrimp": .05},
    "med": {"tiles": .2, "steel": .15, "apparel": .15, "citrus": .15, "grapes": .05, "machinery": .1,
            "plastics": .1, "chemicals": .1},
    "nam": {"machinery": .2, "chemicals": .2, "plastics": .15, "beef_frozen": .05, "paper": .1,
            "auto_parts": .1, "scrap": .1, "electronics": .1},
    "afr": {"citrus": .45, "grapes": .15, "avocados": .1, "fish_frozen": .1, "cocoa": .1, "ores": .1},
    "air": {"phones": .3, "parts_air": .25, "pharma": .2, "apparel_air": .25},
}

ORIGINS: tuple[Origin, ...] = (
    # South America and the Caribbean: the cocaine source lanes
    Origin("ECGYE", "EC", "wsa", "sea", 2.2, 5.0),
    Origin("ECPBO", "EC", "wsa", "sea", 0.8, 4.0, {"bananas": .85, "plantains": .1, "shrimp": .05}),
    Origin("COBUN", "CO", "wsa", "sea", 0.6, 3.0, {"coffee": .4, "sugar": .2, "bananas": .2, "fruit_pulp": .2}),
    Origin("PECLL", "PE", "wsa", "sea", 0.7, 1.0, {"avocados": .25, "grapes": .15, "blueberries": .2,
                                                   "ores": .2, "fish_frozen": .05, "coffee": .1, "charcoal": .05}),
    Origin("CLSAI", "CL", "wsa", "sea", 0.6, 0.3, {"grapes": .3, "blueberries": .15, "wine": .25,
                                                   "avocados": .1, "fish_frozen": .1, "ores": .1}),
    Origin("COCTG", "CO", "car", "sea", 1.2, 2.5),
    Origin("COSMR", "CO", "car", "sea", 0.4, 3.0, {"bananas": .8, "coffee": .1, "fruit_pulp": .1}),
    Origin("COTRB", "CO", "car", "sea", 0.4, 3.0, {"bananas": .9, "plantains": .1}),
    Origin("PAMIT", "PA", "car", "sea", 0.6, 3.0),
    Origin("PABLB", "PA", "car", "sea", 0.4, 2.5),
    Origin("CRLIO", "CR", "car", "sea", 1.2, 3.0, {"pineapples": .45, "bananas": .4, "fruit_pulp": .1,
                                                   "coffee": .05}),
    Origin("DOCAU", "DO", "car", "sea", 0.4, 2.0),
    Origin("MXVER", "MX", "car", "sea", 0.6, 0.6, {"auto_parts": .3, "chemicals": .2, "plastics": .2,
                                                   "avocados": .1, "steel": .1, "tyres": .1}),
    Origin("BRSSZ", "BR", "bra", "sea", 2.0, 1.5),
    Origin("BRPNG", "BR", "bra", "sea", 0.8, 1.0),
    # The rest of the world
    Origin("CNSHA", "CN", "asia", "sea", 16.0, 0.02),
    Origin("CNNGB", "CN", "asia", "sea", 12.0, 0.02),
    Origin("CNYTN", "CN", "asia", "sea", 8.0, 0.02),
    Origin("CNTAO", "CN", "asia", "sea", 5.0, 0.02),
    Origin("KRPUS", "KR", "asia", "sea", 3.0, 0.02),
    Origin("JPTYO", "JP", "asia", "sea", 1.0, 0.01),
    Origin("VNSGN", "VN", "asia", "sea", 2.5, 0.03),
    Origin("MYPKG", "MY", "asia", "sea", 3.0, 0.03),
    Origin("SGSIN", "SG", "asia", "sea", 3.0, 0.03),
    Origin("INNSA", "IN", "ind", "sea", 4.0, 0.03),
    Origin("LKCMB", "LK", "ind", "sea", 1.0, 0.03),
    Origin("TRMER", "TR", "med", "sea", 2.0, 0.1),
    Origin("ILHFA", "IL", "med", "sea", 0.8, 0.03),
    Origin("EGPSD", "EG", "med", "sea", 1.0, 0.05),
    Origin("AEJEA", "AE", "med", "sea", 2.0, 0.05),
    Origin("MAPTM", "MA", "med", "sea", 1.0, 0.2),
    Origin("USNYC", "US", "nam", "sea", 4.0, 0.02),
    Origin("USSAV", "US", "nam", "sea", 2.0, 0.02),
    Origin("USHOU", "US", "nam", "sea", 1.5, 0.03),
    Origin("CAMTR", "CA", "nam", "sea", 1.0, 0.02),
    Origin("ZADUR", "ZA", "afr", "sea", 1.5, 0.1),
    Origin("ZACPT", "ZA", "afr", "sea", 0.8, 0.1),
    Origin("CIABJ", "CI", "afr", "sea", 0.8, 0.2, {"cocoa": .6, "fruit_pulp": .1, "bananas": .2, "fish_frozen": .1}),
    # Airports (UN/LOCODE of the city) for Schiphol's air cargo
    Origin("ECUIO", "EC", "air", "air", 1.5, 4.0, {"roses": .8, "berries_air": .1, "fish_fresh": .1}),
    Origin("COBOG", "CO", "air", "air", 1.5, 3.0, {"roses": .85, "berries_air": .15}),
    Origin("PELIM", "PE", "air", "air", 1.0, 1.5, {"asparagus": .45, "berries_air": .3, "fish_fresh": .1,
                                                   "apparel_air": .15}),
    Origin("BRGRU", "BR", "air", "air", 1.0, 1.0, {"berries_air": .3, "parts_air": .3, "pharma": .2,
                                                   "fish_fresh": .2}),
    Origin("MXMEX", "MX", "air", "air", 0.8, 0.8),
    Origin("KENBO", "KE", "air", "air", 2.0, 0.1, {"roses": .7, "asparagus": .3}),
    Origin("ETADD", "ET", "air", "air", 1.0, 0.05, {"roses": 1.0}),
    Origin("ZAJNB", "ZA", "air", "air", 0.8, 0.1, {"berries_air": .5, "roses": .3, "fish_fresh": .2}),
    Origin("CNSHA", "CN", "air", "air", 5.0, 0.01),
    Origin("HKHKG", "HK", "air", "air", 4.0, 0.01),
    Origin("SGSIN", "SG", "air", "air", 2.0, 0.01, {"phones": .5, "pharma": .5}),
    Origin("KRSEL", "KR", "air", "air", 2.0, 0.01),
    Origin("JPTYO", "JP", "air", "air", 1.0, 0.01),
    Origin("INBOM", "IN", "air", "air", 2.0, 0.02, {"pharma": .6, "apparel_air": .4}),
    Origin("AEDXB", "AE", "air", "air", 2.5, 0.03),
    Origin("TRIST", "TR", "air", "air", 1.5, 0.03, {"apparel_air": .6, "berries_air": .2, "parts_air": .2}),
    Origin("USNYC", "US", "air", "air", 3.0, 0.01, {"pharma": .4, "parts_air": .4, "phones": .2}),
)

# Transshipment hubs: the hidden risk of a container passing through them (drugs added at the hub).
HUB_RISK: dict[str, float] = {
    "PAMIT": 3.0, "PABLB": 2.5, "COCTG": 2.5, "BSFPO": 2.0, "JMKIN": 2.0, "DOCAU": 2.0, "ESALG": 1.0,
    "MAPTM": 1.2, "ESVLC": 0.8, "PTSIE": 1.0, "GRPIR": 0.6, "MTMAR": 0.6, "ITGIT": 0.8, "SGSIN": 0.1,
    "LKCMB": 0.2, "EGPSD": 0.3, "AEJEA": 0.2, "NLRTM": 0.0, "BEANR": 0.0,
}
SOURCE_HUBS = frozenset({"PAMIT", "PABLB", "COCTG", "BSFPO", "JMKIN", "DOCAU"})

# Route options per region: transshipment hubs in voyage order, and their share of the lane.
REGION_ROUTES: dict[str, tuple[tuple[tuple[str, ...], float], ...]] = {
    "wsa": (((), .35), (("PABLB",), .2), (("PAMIT",), .1), (("COCTG",), .15), (("BSFPO",), .05),
            (("PABLB", "ESALG"), .05), (("JMKIN",), .05), (("COCTG", "ESALG"), .05)),
    "car": (((), .55), (("COCTG",), .1), (("BSFPO",), .1), (("JMKIN",), .05), (("ESALG",), .1),
            (("MAPTM",), .07), (("PAMIT", "ESVLC"), .03)),
    "bra": (((), .6), (("ESALG",), .12), (("MAPTM",), .1), (("ESVLC",), .08), (("PTSIE",), .05),
            (("BSFPO",), .05)),
    "asia": (((), .6), (("SGSIN",), .12), (("LKCMB",), .05), (("EGPSD",), .05), (("GRPIR",), .06),
             (("MTMAR",), .06), (("ITGIT",), .06)),
    "ind": (((), .5), (("LKCMB",), .2), (("AEJEA",), .15), (("GRPIR",), .15)),
    "med": (((), .7), (("GRPIR",), .1), (("MTMAR",), .1), (("ESALG",), .1)),
    "nam": (((), .8), (("BSFPO",), .05), (("ESALG",), .1), (("ESVLC",), .05)),
    "afr": (((), .7), (("MAPTM",), .1), (("ESALG",), .1), (("PTSIE",), .1)),
    "air": (((), .75), (("AEDXB",), .1), (("USNYC",), .05), (("ESMAD",), .1)),
}
# Small mainports are mostly served by feeders from the big North Sea hubs.
FEEDER_HUBS = ("NLRTM", "BEANR")
FEEDER_SHARE = {"rotterdam": 0.0, "vlissingen": 0.3, "amsterdam": 0.8, "moerdijk": 0.7}
VOYAGE_DIRECTION = {"wsa": "N", "car": "E", "bra": "N", "asia": "W", "ind": "W", "med": "W", "nam": "E",
                    "afr": "N"}

# Sea carriers: bill-of-lading prefix (SCAC) and container owner code; lessors own the rest.
CARRIERS: tuple[tuple[str, str], ...] = (
    ("MAEU", "MSKU"), ("MEDU", "MSCU"), ("CMDU", "CMAU"), ("HLCU", "HLXU"), ("ONEY", "ONEU"), ("EGLV", "EGHU"),
    ("COSU", "CSNU"), ("HDMU", "HMMU"), ("YMLU", "YMLU"), ("ZIMU", "ZIMU"), ("SMLU", "SMLU"),
)
LESSOR_OWNERS = ("TGHU", "TCLU", "SEGU", "TRHU", "CAIU", "FSCU", "BMOU")
# Airlines: IATA code and air waybill prefix.
AIRLINES: tuple[tuple[str, int], ...] = (
    ("KL", 74), ("AF", 57), ("LH", 20), ("EK", 176), ("QR", 157), ("TK", 235), ("CX", 160), ("LA", 45),
    ("ET", 71), ("MP", 129), ("CV", 172), ("SQ", 618), ("KE", 180), ("AV", 134),
)
ULD_TYPES_DRY = ("AKE", "PMC", "PAG", "AAX")
ULD_TYPES_REEFER = ("RKN", "RAP")


def commodity_mix_matrix() -> np.ndarray:
    """Row per origin: the probability of each commodity (columns as in COMMODITIES)."""
    matrix = np.zeros((len(ORIGINS), len(COMMODITIES)))
    for i, origin in enumerate(ORIGINS):
        for key, weight in (origin.mix or REGION_MIX[origin.region]).items():
            matrix[i, COMMODITY_INDEX[key]] = weight
    return matrix / matrix.sum(axis=1, keepdims=True)
