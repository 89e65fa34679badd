# Schemathesis hooks for schemathesis_test (SCHEMATHESIS_HOOKS=hooks).
#
# The run must not revoke the tokens it authenticates with: once DELETE /api/v1/tokens/{id}
# (reached by an id read from GET /api/v1/tokens) revoked the admin token, every later request
# of the run was 401 and tested nothing. The test names those token ids in
# RUNWAY_PROTECTED_TOKEN_IDS; revoking any other token (those the run creates) goes on.
import os

import schemathesis

PROTECTED = {i for i in os.environ.get("RUNWAY_PROTECTED_TOKEN_IDS", "").split(",") if i}


@schemathesis.hook
def filter_path_parameters(ctx, path_parameters):
    if ctx.operation.method.upper() != "DELETE" or ctx.operation.path != "/api/v1/tokens/{id}":
        return True
    return path_parameters is None or path_parameters.get("id") not in PROTECTED
