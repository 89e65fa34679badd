#!/usr/bin/env python3
"""The runway-deploy action's step: runs the runway CLI against a server and reports.

`deploy` runs `runway deploy ENV VERSION [--wait] -o json`; `rollback` runs
`runway rollback ENV [VERSION] --auto -o json` and, with wait, follows the rollback with
`runway status --deployment ID -o json` every second until it ends. The step's exit code is the CLI's: 0 succeeded (or
admitted, without wait), 1 refused or ended otherwise (RolledBack, Failed, ...), 2 usage or
configuration, 3 server unreachable or token refused.

Inputs come from the environment the action sets (action.yml): RUNWAY_SERVER, RUNWAY_TOKEN (read
by the CLI itself, never put on a command line or printed), INPUT_OPERATION, INPUT_ENVIRONMENT,
INPUT_VERSION, INPUT_WAIT, INPUT_TIMEOUT, INPUT_STRATEGY, INPUT_FORCE, INPUT_EMERGENCY,
INPUT_REASON, INPUT_COMMIT, INPUT_REPOSITORY, INPUT_CLI. Outputs go to $GITHUB_OUTPUT
(deployment-id, phase, exit-code, url), the summary (the deployment's steps, analysis runs and
result) to $GITHUB_STEP_SUMMARY; without those variables (a run outside GitHub) both go nowhere.
"""

import json
import os
import subprocess
import sys
import time

ENDED = {"Succeeded", "RolledBack", "Failed", "Rejected", "Superseded", "Degraded"}


def env(name, default=""):
    value = os.environ.get(name, "")
    return value if value != "" else default


def truthy(value):
    return value.strip().lower() in ("1", "true", "yes", "on")


def run(argv, quiet=False):
    """Runs the CLI; its stderr (progress, errors) goes to the log."""
    if not quiet:
        print("+ " + " ".join(argv), file=sys.stderr, flush=True)
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
    sys.stderr.write(done.stderr)
    sys.stderr.flush()
    return done.returncode, done.stdout, done.stderr


def parse(text):
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def write_outputs(outputs):
    path = env("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as out:
        for key, value in outputs.items():
            if "\n" in value:
                out.write(f"{key}<<RUNWAY_EOF\n{value}\nRUNWAY_EOF\n")
            else:
                out.write(f"{key}={value}\n")


def seconds(duration):
    """30m, 2h, 90s, 1h30m -> seconds (runway's duration units)."""
    total, number = 0, ""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    i = 0
    while i < len(duration):
        c = duration[i]
        if c.isdigit():
            number += c
            i += 1
            continue
        unit = "ms" if duration.startswith("ms", i) else c
        if unit not in units or not number:
            raise ValueError(f"invalid duration {duration!r} (write e.g. 30s, 15m, 1h30m)")
        total += int(number) * units[unit]
        number = ""
        i += len(unit)
    if number:
        raise ValueError(f"invalid duration {duration!r}: missing unit")
    return total


def follow(cli, client, deployment_id, timeout):
    """Polls the deployment (runway status --deployment ID -o json) every second until it ends:
    exit 0 when it Succeeded, 1 when it ended otherwise or the timeout passed."""
    deadline = time.monotonic() + seconds(timeout)
    last, log, shown = None, "", None
    while True:
        code, out, err = run([cli, "status", "--deployment", deployment_id, "-o", "json"] + client, quiet=True)
        if code != 0:
            return code, last, log + err
        last = parse(out) or last
        phase = last.get("phase", "") if last else ""
        state = f"{deployment_id} {phase}"
        if last and last.get("abortReason"):
            state += "  why: " + last["abortReason"]
        if state != shown:  # a line per change
            shown = state
            line = f"{time.strftime('%H:%M:%S')}  {state}"
            print(line, file=sys.stderr, flush=True)
            log += line + "\n"
        if phase in ENDED:
            return (0 if phase == "Succeeded" else 1), last, log
        if time.monotonic() >= deadline:
            print(f"runway-deploy: timed out after {timeout} waiting for {deployment_id} ({phase}); it goes on",
                  file=sys.stderr)
            return 1, last, log
        time.sleep(1)


def md(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def step_text(step):
    kind = step.get("kind", "")
    if kind == "setWeight":
        return f"setWeight {step.get('weight')}%"
    if kind == "pause":
        ms = step.get("durationMs")
        return "pause (until promoted)" if ms is None else f"pause {ms / 1000:g}s"
    if kind == "analysis":
        return "analysis " + ", ".join(step.get("templates", []))
    if kind == "approval":
        return "approval by " + ", ".join(step.get("roles", []))
    return kind


def summary(operation, environment, version, code, deployment, stderr_text, url):
    lines = []
    phase = deployment.get("phase", "") if deployment else ""
    title = f"runway {operation} {version or '(previous release)'} to {environment}"
    mark = "✅" if code == 0 else "❌"
    lines.append(f"## {mark} {md(title)}: {md(phase or 'exit code ' + str(code))}")
    lines.append("")
    if deployment:
        lines.append("| | |")
        lines.append("|---|---|")
        rows = [
            ("deployment", f"[{deployment.get('id', '')}]({url})" if url else deployment.get("id", "")),
            ("phase", phase),
            ("strategy", deployment.get("strategy", "")),
            ("stable version", deployment.get("stableVersion") or "-"),
            ("started by", deployment.get("startedBy", "")),
            ("why it ended", deployment.get("abortReason") or "-"),
            ("CLI exit code", str(code)),
        ]
        for key, value in rows:
            lines.append(f"| {key} | {md(value)} |")
        steps = deployment.get("steps") or []
        if steps:
            lines.append("")
            lines.append("### Steps")
            lines.append("")
            lines.append("| # | step | status |")
            lines.append("|---|---|---|")
            for s in steps:
                lines.append(f"| {s.get('index', 0) + 1} | {md(step_text(s))} | {md(s.get('status', ''))} |")
        services = deployment.get("services") or []
        if services:
            lines.append("")
            lines.append("### Services")
            lines.append("")
            lines.append("| service | ready (new) | desired | weight |")
            lines.append("|---|---|---|---|")
            for s in services:
                lines.append(f"| {md(s.get('name', ''))} | {s.get('newReady', '')} | {s.get('desired', '')} | {s.get('weight', '')} |")
        runs = deployment.get("analysis") or []
        if runs:
            lines.append("")
            lines.append("### Analysis")
            lines.append("")
            lines.append("| run | kind | status | metrics (measured/failed) |")
            lines.append("|---|---|---|---|")
            for r in runs:
                metrics = ", ".join(
                    f"{m.get('metric')} {m.get('measurements', 0)}/{m.get('failed', 0)}" for m in r.get("metrics", []))
                lines.append(f"| {md(r.get('run', ''))} | {md(r.get('kind', ''))} | {md(r.get('status', ''))} | {md(metrics)} |")
    if stderr_text.strip():
        lines.append("")
        lines.append("<details><summary>runway's output</summary>")
        lines.append("")
        lines.append("```")
        lines.extend(stderr_text.strip().splitlines()[-200:])
        lines.append("```")
        lines.append("</details>")
    path = env("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")


def main():
    cli = env("INPUT_CLI", "runway")
    operation = env("INPUT_OPERATION", "deploy")
    environment = env("INPUT_ENVIRONMENT")
    version = env("INPUT_VERSION")
    wait = truthy(env("INPUT_WAIT", "true"))
    server = env("RUNWAY_SERVER")
    if operation not in ("deploy", "rollback"):
        print(f"runway-deploy: operation must be deploy or rollback, not {operation!r}", file=sys.stderr)
        return 2
    if not environment or not server or (operation == "deploy" and not version):
        print("runway-deploy: server, environment and (to deploy) version are required", file=sys.stderr)
        return 2
    if not env("RUNWAY_TOKEN"):
        print("runway-deploy: no token: pass a secret as the token input", file=sys.stderr)
        return 2
    client = ["--server", server]
    reason = env("INPUT_REASON")
    stderr_all = ""
    deployment = None
    if operation == "deploy":
        argv = [cli, "deploy", environment, version, "-o", "json"] + client
        if wait:
            argv += ["--wait", "--timeout", env("INPUT_TIMEOUT", "30m")]
        if env("INPUT_STRATEGY"):
            argv += ["--strategy", env("INPUT_STRATEGY")]
        if truthy(env("INPUT_FORCE", "false")):
            argv.append("--force")
        if reason:
            argv += ["--reason", reason]
        if env("INPUT_COMMIT") and env("INPUT_REPOSITORY"):
            argv += ["--commit", env("INPUT_COMMIT"), "--repo", env("INPUT_REPOSITORY")]
        code, out, err = run(argv)
        stderr_all += err
        answer = parse(out)
        if answer is not None and "phase" in answer:
            deployment = answer
        elif answer is not None and answer.get("deployment"):
            deployment = {"id": answer["deployment"], "phase": answer.get("status", "")}
    else:
        argv = [cli, "rollback", environment] + ([version] if version else []) + ["--auto", "-o", "json"] + client
        if truthy(env("INPUT_FORCE", "false")):
            argv.append("--force")
        if truthy(env("INPUT_EMERGENCY", "false")):
            argv.append("--emergency")
        if reason:
            argv += ["--reason", reason]
        code, out, err = run(argv)
        stderr_all += err
        answer = parse(out) or {}
        deployment_id = answer.get("deployment", "")
        if deployment_id:
            deployment = {"id": deployment_id, "phase": answer.get("status", "")}
        if code == 0 and wait and deployment_id:
            code, deployment, err = follow(cli, client, deployment_id, env("INPUT_TIMEOUT", "30m"))
            stderr_all += err
    deployment_id = deployment.get("id", "") if deployment else ""
    phase = deployment.get("phase", "") if deployment else ""
    url = f"{server.rstrip('/')}/#/deployments/{deployment_id}" if deployment_id else ""
    write_outputs({"deployment-id": deployment_id, "phase": phase, "exit-code": str(code), "url": url})
    summary(operation, environment, version, code, deployment, stderr_all, url)
    if deployment_id:
        print(f"runway-deploy: {operation} {deployment_id} {phase or ''} (exit {code}) {url}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
