"""Short, human-readable reason texts for every feature, as templates for :mod:`scoring.reasons`.

A template formats ``{value}`` (a float, or the word "missing" for NaN — any format spec then yields
"missing"). Texts say what the value means for an inspector, not how it was computed. Features of the
configured party roles and extras get texts built from their names, so an administration's own
columns (issue 7) are explained too.
"""

from __future__ import annotations

from collections.abc import Sequence

from features.config import FeatureConfig

STATIC_TEXTS: dict[str, str] = {
    "is_air": "air cargo (1) or sea (0): {value:.0f}",
    "is_reefer": "refrigerated container (1 = yes): {value:.0f}",
    "container_feet": "container length {value:.0f} ft",
    "origin_source_region": "loaded in a cocaine source country (1 = yes): {value:.0f}",
    "origin_country_risk": "origin country's past drug-finding rate: {value:.1%}",
    "origin_port_risk": "port of loading's past drug-finding rate: {value:.1%}",
    "origin_port_volume_log": "port of loading rarely seen (log volume {value:.1f})",
    "hs_chapter_risk": "commodity chapter's past drug-finding rate: {value:.1%}",
    "hs_heading_risk": "commodity's past drug-finding rate: {value:.1%}",
    "lane_commodity_risk": "this commodity from this country: past drug-finding rate {value:.1%}",
    "hs_novel": "HS code never declared before (1 = yes): {value:.0f}",
    "hs_reefer_share": "share of this commodity shipped refrigerated: {value:.0%}",
    "reefer_mismatch": "reefer used for goods that need no cooling (score {value:.2f})",
    "weight_z": "declared weight unusual for the commodity ({value:+.1f} standard deviations)",
    "value_per_kg_log": "declared value per kg (log) {value:.2f}",
    "value_per_kg_z": "declared value per kg unusual for the commodity ({value:+.1f} standard deviations)",
    "transship_count": "{value:.0f} transshipment(s)",
    "transship_source_region": "transshipped via a source-region hub (1 = yes): {value:.0f}",
    "transship_hub_risk": "riskiest transshipment hub's past drug-finding rate: {value:.1%}",
    "route_risk": "this exact route's past drug-finding rate: {value:.1%}",
    "lane_volume_log": "lane rarely used (log volume {value:.1f})",
    "lane_route_share": "only {value:.0%} of this lane's containers take this route",
    "lane_route_novel": "route never seen on this lane (1 = yes): {value:.0f}",
    "lane_route_is_usual": "the lane's usual route (1 = yes): {value:.0f}",
    "lane_route_age_days": "route first used on this lane {value:.0f} days ago",
    "filing_lead_hours": "declaration filed {value:.0f} h before arrival",
    "is_amendment": "amended declaration (1 = yes): {value:.0f}",
    "amendment_lead_hours": "amended {value:.0f} h before arrival",
    "eta_hour_utc": "arrives at {value:.0f}h UTC",
    "eta_weekend": "arrives at the weekend (1 = yes): {value:.0f}",
    "route_commodity_risk": "this commodity on this route: past drug-finding rate {value:.1%}",
    "vessel_risk": "vessel's past drug-finding rate: {value:.1%}",
    # Segment codes (features.segments): the value is a code, so the text names the pattern instead.
    "segment_port_of_loading_code": "its port of loading, as past inspections taught the model",
    "segment_routing_code": "its routing through transshipment hubs, as past inspections taught the model",
    "segment_hs_chapter_code": "its commodity chapter, as past inspections taught the model",
    "segment_code": "its segment (port of loading, routing, commodity chapter, reefer or dry), as past "
                    "inspections taught the model",
    "segment_route_cargo_code": "its route and cargo (reefer or dry), as past inspections taught the model",
    "vessel_volume_log": "vessel rarely seen (log volume {value:.1f})",
    "shipper_shipments": "shipper has {value:.0f} earlier shipment(s)",
    "shipper_age_days": "shipper first seen {value:.0f} days ago",
    "shipper_days_since_last": "shipper's previous shipment {value:.1f} days ago",
    "shipper_velocity_7d": "shipper's recent volume: about {value:.0f} shipments in a week",
    "shipper_velocity_30d": "shipper's volume: about {value:.0f} shipments in a month",
    "shipper_distinct_hs_chapters": "shipper has shipped {value:.0f} commodity chapter(s)",
    "shipper_distinct_hs_codes": "shipper has shipped {value:.0f} different HS code(s)",
    "shipper_distinct_consignees": "shipper has shipped to {value:.0f} consignee(s)",
    "shipper_distinct_routes": "shipper has used {value:.0f} route(s)",
    "shipper_distinct_origins": "shipper has loaded in {value:.0f} country(ies)",
    "shipper_new_hs_chapter": "first shipment of this commodity chapter by the shipper (1 = yes): {value:.0f}",
    "shipper_new_hs_code": "first shipment of this HS code by the shipper (1 = yes): {value:.0f}",
    "shipper_new_consignee": "first shipment to this consignee (1 = yes): {value:.0f}",
    "shipper_new_route": "first time the shipper uses this route (1 = yes): {value:.0f}",
    "shipper_new_origin": "first time the shipper loads in this country (1 = yes): {value:.0f}",
    "shipper_route_share": "only {value:.0%} of the shipper's shipments take this route",
    "shipper_top_route_share": "{value:.0%} of the shipper's shipments take its usual route",
    "shipper_amendment_rate": "shipper amends {value:.0%} of its declarations",
    "shipper_reefer_share": "{value:.0%} of the shipper's shipments are refrigerated",
    "shipper_misfit_share": "{value:.0%} of the shipper's declarations misfit their commodity's weight or value",
    "shipper_inspections": "shipper inspected {value:.0f} time(s) before",
    "shipper_drug_findings": "drugs found {value:.0f} time(s) in the shipper's containers",
    "shipper_other_findings": "other irregularities found {value:.0f} time(s) at the shipper",
    "shipper_finding_rate": "{value:.0%} of the shipper's inspections found something",
    "shipper_days_since_finding": "last finding at the shipper {value:.0f} days ago",
    "amendment_consignee_changed": "amendment changes the consignee (1 = yes): {value:.0f}",
}

_ROLE_TEXTS = {
    "novel": "{role} never seen before (1 = yes): {{value:.0f}}",
    "age_days": "{role} first seen {{value:.0f}} days ago",
    "volume_log": "{role}'s volume (log shipments) {{value:.1f}}",
    "finding_rate": "{role}'s past drug-finding rate: {{value:.1%}}",
}


def reason_texts(names: Sequence[str], config: FeatureConfig | None = None) -> dict[str, str]:
    """A template for every name in ``names`` (the pipeline's feature names, with their configuration)."""
    config = config or FeatureConfig()
    texts: dict[str, str] = {}
    for role in config.party_roles:
        label = role.name.replace("_", " ")
        for suffix, template in _ROLE_TEXTS.items():
            texts[f"{role.name}_{suffix}"] = template.format(role=label)
    for extra in config.extras:
        label = extra.key.replace("_", " ")
        if extra.kind == "numeric":
            texts[f"extra_{extra.key}"] = f"{label}: {{value:g}}"
        else:
            texts[f"extra_{extra.key}_risk"] = f"past drug-finding rate of this {label}: {{value:.1%}}"
            texts[f"extra_{extra.key}_novel"] = f"{label} never seen before (1 = yes): {{value:.0f}}"
    texts.update(STATIC_TEXTS)
    missing = [n for n in names if n not in texts]
    if missing:
        raise KeyError(f"no reason text for feature(s) {', '.join(missing)}")
    return {name: texts[name] for name in names}
