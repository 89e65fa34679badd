#!/usr/bin/env bash
# ctest `GithubActionsLint`: the reusable workflows, the example callers and the runway-deploy
# action pass actionlint (scripts/release-tools.sh builds it), laid out as a user's repository
# has them after copying (docs/install.md): the workflows in .github/workflows/, the action in
# integrations/github/actions/runway-deploy/, so that actionlint checks every `uses:` of the
# action and of the reusable workflows against their declared inputs, outputs and secrets. A
# copy with one misspelt input must fail, which shows the cross-file checks ran.
set -euo pipefail
source_dir=$(cd "$(dirname "$0")/../../.." && pwd)
actionlint=$("$source_dir/scripts/release-tools.sh" path)/bin/actionlint
[[ -x $actionlint ]] || { echo "actionlint is not built: scripts/release-tools.sh build" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

layout() { # DIR: a repository with the integration copied in
  mkdir -p "$1/.github/workflows" "$1/integrations/github/actions"
  git -C "$1" init -q
  cp "$source_dir"/integrations/github/workflows/*.yml "$source_dir"/integrations/github/examples/*.yml "$1/.github/workflows/"
  cp -r "$source_dir/integrations/github/actions/runway-deploy" "$1/integrations/github/actions/"
}

layout "$work/repo"
(cd "$work/repo" && "$actionlint" -color=false)
echo "actionlint: $(ls "$work/repo/.github/workflows" | wc -l) workflows and the runway-deploy action pass"

layout "$work/broken"
sed -i 's/^          environment: \${{ inputs.environment }}$/          environmnt: ${{ inputs.environment }}/' \
  "$work/broken/.github/workflows/runway-emergency-rollback.yml"
if (cd "$work/broken" && "$actionlint" -color=false >"$work/broken.log" 2>&1); then
  echo "actionlint accepted a workflow passing the misspelt input 'environmnt' to the action" >&2
  exit 1
fi
grep -q 'input "environmnt" is not defined in action "runway-deploy"' "$work/broken.log" ||
  { cat "$work/broken.log" >&2; echo "actionlint failed the broken copy for another reason (above)" >&2; exit 1; }
echo "actionlint: refuses a misspelt input to the action, as it should"
