"""Helpers for the ops tests: promtool, the PromQL expressions of ops/, their selectors, Prometheus' HTTP API.

The selector extraction is a small PromQL tokenizer, enough for the expressions we write: Prometheus 2.42
has no parse endpoint, and what the end-to-end test needs from an expression is only which series it
reads (metric name and label matchers) and which labels it groups or matches on.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from portrisk.local_prometheus import INSTALL_HINT, OPS_DIR

# What Grafana would substitute: a real port (not ".*", which would also match a label that is missing).
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$port": "rotterdam"}

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<number>\d+(?:\.\d+)?(?:e[+-]?\d+)?(?:ms|[smhdwy])?(?:\d+(?:ms|[smhdwy]))*)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<punct>[(){}\[\],]|=~|!~|!=|==|<=|>=|[-+*/%^=<>])
""", re.VERBOSE)
_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
                 "quantile"}
_KEYWORDS = _GROUPING | _AGGREGATIONS | {"bool", "and", "or", "unless", "offset", "atan2", "inf", "nan"}
_MATCHER = re.compile(r"""([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*")""")


def promtool() -> str:
    """The promtool binary. Missing is a failure, never a skip: a skipped check reads as a passed one."""
    found = shutil.which("promtool")
    if found is None:
        raise AssertionError(f"promtool is not installed; {INSTALL_HINT}")
    return found


def run_promtool(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], input=stdin, capture_output=True, text=True, cwd=cwd, timeout=300)


@dataclass(frozen=True)
class Selector:
    """``name{matchers}`` as read by an expression."""

    text: str
    matchers: tuple[tuple[str, str, str], ...]  # (label, operator, quoted value)


@dataclass
class Parsed:
    selectors: list[Selector] = field(default_factory=list)
    grouping_labels: set[str] = field(default_factory=set)


def _tokens(expr: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None:
            raise ValueError(f"cannot tokenize {expr[pos:pos + 20]!r} in {expr!r}")
        pos = m.end()
        if m.lastgroup != "space":
            out.append((str(m.lastgroup), m.group()))
    return out


def parse(expr: str) -> Parsed:
    """The selectors an expression reads and the labels it groups or matches on."""
    tokens, parsed, i = _tokens(expr), Parsed(), 0
    while i < len(tokens):
        kind, text = tokens[i]
        following = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        if kind == "punct" and text == "[":  # a range or subquery window
            i = _closing(tokens, i, "[", "]") + 1
        elif kind == "ident" and text in _GROUPING and following == "(":
            end = _closing(tokens, i + 1, "(", ")")
            parsed.grouping_labels |= {t for k, t in tokens[i + 2:end] if k == "ident"}
            i = end + 1
        elif kind == "ident" and text == "offset":
            i += 2
        elif kind == "ident" and (text in _KEYWORDS or following == "("):  # keywords, functions, aggregations
            i += 1
        elif kind == "ident" or (kind == "punct" and text == "{"):
            name = text if kind == "ident" else ""
            start = i + 1 if kind == "ident" else i
            block = ""
            if start < len(tokens) and tokens[start][1] == "{":
                end = _closing(tokens, start, "{", "}")
                block = "{" + " ".join(t for _, t in tokens[start + 1:end]) + "}"
                i = end + 1
            else:
                i = start
            parsed.selectors.append(Selector(name + block, tuple(_MATCHER.findall(block))))
        else:
            i += 1
    return parsed


def _closing(tokens: list[tuple[str, str]], at: int, opening: str, closing: str) -> int:
    depth = 0
    for j in range(at, len(tokens)):
        if tokens[j][1] == opening:
            depth += 1
        elif tokens[j][1] == closing:
            depth -= 1
            if depth == 0:
                return j
    raise ValueError(f"unbalanced {opening}{closing}")


@dataclass(frozen=True)
class Expression:
    origin: str  # where it was found, for failure messages
    expr: str
    must_return_data: bool  # alert conditions are empty while all is well; everything else must show data


def rule_expressions(rules_dir: Path = OPS_DIR / "rules") -> list[Expression]:
    found = []
    for path in sorted(rules_dir.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                name = rule.get("record") or rule["alert"]
                found.append(Expression(f"{path.name}: {name}", " ".join(rule["expr"].split()), "record" in rule))
    return found


def dashboard_expressions(dashboards_dir: Path = OPS_DIR / "dashboards") -> list[Expression]:
    found = []
    for path in sorted(dashboards_dir.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel["targets"]:
                found.append(Expression(f"{path.name}: {panel['title']}", substitute(target["expr"]), True))
        for variable in board["templating"]["list"]:
            m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", variable.get("definition", ""))
            if m:  # Grafana's label_values(series, label): the series must exist and carry the label
                found.append(Expression(f"{path.name}: ${variable['name']}", f"count by ({m[2]}) ({m[1]})", True))
    return found


def substitute(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


class PrometheusApi:
    """The few calls of Prometheus' HTTP API the tests make."""

    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; AssertionError with Prometheus' message when the query is refused."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=30)
        body = response.json()
        if body.get("status") != "success":
            raise AssertionError(f"{expr!r}: {body.get('errorType')}: {body.get('error')}")
        return list(body["data"]["result"])

    def value(self, expr: str) -> float | None:
        """The single value of a one-series query, or None when it returns nothing."""
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def targets(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.url}/api/v1/targets", timeout=30).json()["data"]["activeTargets"])
