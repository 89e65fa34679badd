# Schemathesis hooks for schemathesis_test (SCHEMATHESIS_HOOKS=hooks).
#
# The run must not revoke the tokens it authenticates with: once DELETE /api/v1/tokens/{id}
# (reached by an id read from GET /api/v1/tokens) revoked the admin token, every later request
# of the run was 401 and tested nothing. The test names those token ids in
# RUNWAY_PROTECTED_TOKEN_IDS; a revocation of one of them is sent for an unknown id instead (404),
# and revoking any other token (those the run creates) goes on.
import json
import os

import schemathesis

PROTECTED = {i for i in os.environ.get("RUNWAY_PROTECTED_TOKEN_IDS", "").split(",") if i}


def _phase(case):
    # "examples", "coverage", "fuzzing" or "stateful". Schemathesis 4.32.5 (pinned) keeps it in
    # the case's private metadata; the public hook API does not say which phase a case is from.
    meta = getattr(case, "_meta", None)
    phase = getattr(getattr(meta, "phase", None), "name", None)
    return str(phase) if phase is not None else None


_versions = iter(range(1, 1_000_000))


@schemathesis.hook
def map_case(ctx, case):
    # Every phase, the stateful one too (its ids come from responses through links).
    if case.method.upper() == "DELETE" and case.path == "/api/v1/tokens/{id}":
        if case.path_parameters and case.path_parameters.get("id") in PROTECTED:
            case.path_parameters = dict(case.path_parameters, id="0000000000000000")
    # The stateful phase is there to drive deployments through their life (the other phases
    # send the deploy route every optional field, valid and not): each of its deploys that has
    # the right shape starts a deployment of the test's environment, so that the links from its
    # 201 have a deployment to follow.
    if (
        _phase(case) == "stateful"
        and case.method.upper() == "POST"
        and case.path == "/api/v1/deployments"
        and isinstance(case.body, dict)
        and isinstance(case.body.get("environment"), str)
        and isinstance(case.body.get("version"), str)
    ):
        case.body = {"environment": "staging", "version": f"v{next(_versions)}"}
    return case


# The stateful phase follows deploy -> get -> approve -> abort only from a deployment that was
# admitted, and a generated environment name is never one of the configuration. A deploy body
# of the right shape (environment and version strings) is pointed at the test's environment
# with a fresh, valid version; every other body (wrong types, missing fields, extra fields) goes
# as generated, so negative cases stay negative.
@schemathesis.hook
def map_body(ctx, body):
    if ctx.operation.method.upper() != "POST":
        return body
    # An approval of the right shape decides as the role the gate waits for, which the admin
    # token of the test also holds.
    if ctx.operation.path == "/api/v1/deployments/{id}/approve":
        if isinstance(body, dict) and not set(body) - {"role", "comment"} and all(
            isinstance(v, str) for v in body.values()
        ):
            return dict(body, role="tech-lead")
        return body
    if ctx.operation.path != "/api/v1/deployments":
        return body
    if not isinstance(body, dict) or set(body) - {"environment", "version"}:
        return body
    if not isinstance(body.get("environment"), str) or not isinstance(body.get("version"), str):
        return body
    return {"environment": "staging", "version": f"v{next(_versions)}"}


# Every call the run makes, one JSON line each in RUNWAY_CALL_LOG (when set): the phase, the
# operation, the path's id, the status and, for an admitted deployment, its id. From it the test
# counts the deploy -> get -> approve -> abort chains the stateful phase ran on one deployment:
# an id a stateful deploy returned reaches a later stateful request only through a link.
_call_log = os.environ.get("RUNWAY_CALL_LOG")


@schemathesis.hook
def after_call(ctx, case, response):
    if not _call_log:
        return
    created = None
    if case.method.upper() == "POST" and case.path == "/api/v1/deployments" and response.status_code == 201:
        try:
            created = response.json().get("deployment")
        except ValueError:
            created = None
    record = {
        "phase": _phase(case),
        "method": case.method.upper(),
        "path": case.path,
        "id": (case.path_parameters or {}).get("id"),
        "status": response.status_code,
        "created": created,
    }
    with open(_call_log, "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")
