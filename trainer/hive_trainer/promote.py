"""The promotion gate of the fine-tuned generator in the MLflow model registry.

A newly registered version of `hive.generator` takes the alias `champion` only if its
held-out loss is lower than the current champion's **on the same split**: the champion is
evaluated again, with the same code, on the split the challenger was evaluated on (the
recorded loss of an older champion was measured on another night's data and is not
comparable). The first version becomes champion. Whatever the outcome, the evidence is
written as tags on the challenger's version (`hive.gate.*`), and `hive.gate.*` on the
champion is never rewritten, so the registry tells why each alias move happened.
"""

from __future__ import annotations

from typing import Callable

ALIAS = "champion"


def current_champion(client, name: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, ALIAS)
    except MlflowException as err:
        if "RESOURCE_DOES_NOT_EXIST" in str(err.error_code) or "not found" in str(err).lower():
            return None
        raise


def promote(
    client, name: str, version: str, challenger_loss: float, eval_key: str, evaluate_champion: Callable[[object], float]
) -> dict:
    """Moves `champion` to `version` if it beats the champion on `eval_key`'s split; returns the evidence."""
    champion = current_champion(client, name)
    evidence = {"hive.gate.split": eval_key, "hive.gate.challenger_loss": repr(challenger_loss)}
    if champion is None:
        evidence["hive.gate.decision"] = "promoted"
        evidence["hive.gate.reason"] = "no champion yet"
    elif str(champion.version) == str(version):
        return {"hive.gate.decision": "already_champion"}
    else:
        champion_loss = evaluate_champion(champion)
        evidence["hive.gate.champion_version"] = str(champion.version)
        evidence["hive.gate.champion_loss"] = repr(champion_loss)
        if challenger_loss < champion_loss:
            evidence["hive.gate.decision"] = "promoted"
            evidence["hive.gate.reason"] = (
                f"held-out loss {challenger_loss:.6f} < champion v{champion.version}'s {champion_loss:.6f}"
            )
        else:
            evidence["hive.gate.decision"] = "kept_champion"
            evidence["hive.gate.reason"] = (
                f"held-out loss {challenger_loss:.6f} >= champion v{champion.version}'s {champion_loss:.6f}"
            )
    for key, value in evidence.items():
        client.set_model_version_tag(name, version, key, value)
    if evidence["hive.gate.decision"] == "promoted":
        client.set_registered_model_alias(name, ALIAS, version)
    return evidence
