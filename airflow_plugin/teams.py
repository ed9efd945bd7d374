"""Multi-team (AIP-67) naming rules, as the amazon provider applies them (Airflow 3.2+).

A team's secret is ``<prefix><sep><team>--<id>``. With ``team_name`` the team's name is
tried before the global ``<prefix><sep><id>``. In multi-team mode an id containing
``--`` is refused for every caller: ``a`` + ``b--c`` and ``a--b`` + ``c`` build the same
name, so such an id could reach another team's secret (or a global caller a team's).
"""

from __future__ import annotations

TEAM_SEP = "--"


def refuses(secret_id: str, *, multi_team: bool) -> bool:
    """True when ``secret_id`` must not be looked up at all."""
    return multi_team and TEAM_SEP in secret_id


def candidate_paths(
    prefixes: list[str | None] | tuple[str | None, ...],
    secret_id: str,
    *,
    sep: str,
    team_name: str | None,
) -> list[str]:
    """The secret names to try, in order: per prefix, the team's name then the global one.

    A prefix of ``""`` means no prefix (the id is the name), as in the provider; a team
    name is only built under a non-empty prefix, as there.
    """
    paths: list[str] = []
    for prefix in prefixes:
        if prefix is None:
            continue
        if prefix and team_name:
            paths.append(f"{prefix}{sep}{team_name}{TEAM_SEP}{secret_id}")
        paths.append(f"{prefix}{sep}{secret_id}" if prefix else secret_id)
    return list(dict.fromkeys(paths))
