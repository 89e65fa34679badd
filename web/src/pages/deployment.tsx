// One deployment: what it is, its step timeline with the bake time left, live weights, a chart
// per analysis metric, checks and hooks with their output, approvals, the operator actions
// (each confirmed with what it will do) and its event log.
import { useState } from 'preact/hooks';
import { Deployment, DeploymentReport, EventRecord, get, post } from '../api';
import { ago, ConfirmDialog, ErrorBox, Loading, PhaseBadge, Status, Time, useData, useNow } from '../components';
import { MetricChart } from '../chart';
import { PageProps } from '../main';
import { approvableRoles, canOperate } from '../roles';

const kTerminal = ['Succeeded', 'RolledBack', 'Failed', 'Rejected', 'Superseded'];

interface Data {
  deployment: Deployment;
  report: DeploymentReport | null;
}

async function load(id: string): Promise<Data> {
  const deployment = await get<Deployment>(`/api/v1/deployments/${encodeURIComponent(id)}`);
  // The measurements over time come from the release report; a deployment without one still
  // shows everything else.
  const report = await get<DeploymentReport>(`/api/v1/reports/deployments/${encodeURIComponent(id)}`).catch(() => null);
  return { deployment, report };
}

interface Action {
  id: string;
  label: string;
  title: string;
  explain: string;
  danger?: boolean;
  run: (reason: string) => Promise<unknown>;
}

function actionsFor(d: Deployment): Action[] {
  const base = `/api/v1/deployments/${encodeURIComponent(d.id)}`;
  const stable = d.stableVersion || 'the previous release';
  const where = `${d.version} in ${d.environment}`;
  const out: Action[] = [];
  const command = (name: string) => (reason: string) => post(`${base}/${name}`, reason ? { reason } : {});
  if (kTerminal.includes(d.phase)) {
    if (d.phase === 'Succeeded' && d.stableVersion) {
      out.push({
        id: 'rollback',
        label: 'Roll back',
        title: `Roll back ${d.environment}`,
        explain: `Starts a new deployment that takes ${d.environment} from ${d.version} back to its previous successful release. Traffic moves as that deployment's strategy says.`,
        danger: true,
        run: (reason) =>
          post(`/api/v1/environments/${encodeURIComponent(d.environment)}/rollback`, reason ? { reason } : {}),
      });
    }
    return out;
  }
  if (d.phase === 'Paused' || d.phase === 'Progressing') {
    out.push({
      id: 'promote',
      label: 'Promote',
      title: `Promote ${where}`,
      explain:
        d.phase === 'Paused' && d.pauseReason === 'inconclusive'
          ? `Accepts the inconclusive analysis and goes on to the next step of ${where}.`
          : `Ends the current pause of ${where} and goes on to the next step.`,
      run: command('promote'),
    });
  }
  if (d.phase === 'Progressing') {
    out.push({
      id: 'pause',
      label: 'Pause',
      title: `Pause ${where}`,
      explain: `Holds ${where} where it is: the traffic split stays as it is now until someone resumes it.`,
      run: command('pause'),
    });
  }
  if (d.phase === 'Paused' && d.pauseReason === 'operator') {
    out.push({
      id: 'resume',
      label: 'Resume',
      title: `Resume ${where}`,
      explain: `Goes on with ${where} from the step where it was paused.`,
      run: command('resume'),
    });
  }
  out.push({
    id: 'abort',
    label: 'Abort',
    title: `Abort ${where}`,
    explain: `Sends all traffic of ${d.environment} back to ${stable} and retires ${d.version}'s instances. The deployment ends as rolled back.`,
    danger: true,
    run: command('abort'),
  });
  return out;
}

function Actions({ d, allowed }: { d: Deployment; allowed: boolean }) {
  const [open, setOpen] = useState<Action | null>(null);
  const [done, setDone] = useState<string | null>(null);
  if (!allowed) return null;
  const actions = actionsFor(d);
  if (actions.length === 0) return null;
  return (
    <section aria-labelledby="actions-h" class="panel">
      <h2 id="actions-h">Actions</h2>
      <div class="buttons">
        {actions.map((a) => (
          <button key={a.id} type="button" class={a.danger ? 'danger' : ''} data-action={a.id} onClick={() => setOpen(a)}>
            {a.label}
          </button>
        ))}
      </div>
      {done && <p role="status">{done}</p>}
      {open && (
        <ConfirmDialog
          title={open.title}
          confirmLabel={open.label}
          danger={open.danger}
          textLabel="Reason"
          onConfirm={async (reason) => {
            await open.run(reason);
            setDone(`${open.label}: sent.`);
          }}
          onClose={() => setOpen(null)}
        >
          <p>{open.explain}</p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function Approvals({ d, session }: { d: Deployment; session: PageProps['session'] }) {
  const [decision, setDecision] = useState<{ role: string; approve: boolean } | null>(null);
  const pending = d.pendingApprovals ?? [];
  const mine = approvableRoles(session, pending);
  const decisions = d.decisions ?? [];
  if (pending.length === 0 && decisions.length === 0) return null;
  return (
    <section aria-labelledby="approvals-h" class="panel">
      <h2 id="approvals-h">Approvals</h2>
      {pending.length > 0 && (
        <p class="pending" data-pending={pending.join(',')}>
          <span aria-hidden="true">? </span>Waiting for: {pending.join(', ')}
        </p>
      )}
      {mine.map((role) => (
        <div class="buttons" key={role}>
          <button type="button" class="primary" data-approve={role} onClick={() => setDecision({ role, approve: true })}>
            Approve as {role}
          </button>
          <button type="button" class="danger" data-reject={role} onClick={() => setDecision({ role, approve: false })}>
            Reject as {role}
          </button>
        </div>
      ))}
      {decisions.length > 0 && (
        <ul class="decisions">
          {decisions.map((a, i) => (
            <li key={i}>
              <span aria-hidden="true">{a.approved ? '✔ ' : '✖ '}</span>
              <strong>{a.approved ? 'Approved' : 'Rejected'}</strong> as {a.role} by {a.actor}, <Time at={a.at} />
              {a.comment && <>: “{a.comment}”</>}
            </li>
          ))}
        </ul>
      )}
      {decision && (
        <ConfirmDialog
          title={`${decision.approve ? 'Approve' : 'Reject'} ${d.version} in ${d.environment} as ${decision.role}`}
          confirmLabel={decision.approve ? 'Approve' : 'Reject'}
          danger={!decision.approve}
          textLabel="Comment"
          textRequired
          onConfirm={async (comment) => {
            await post(`/api/v1/deployments/${encodeURIComponent(d.id)}/${decision.approve ? 'approve' : 'reject'}`, {
              role: decision.role,
              comment,
            });
          }}
          onClose={() => setDecision(null)}
        >
          <p>
            {decision.approve
              ? `Records your approval as ${decision.role}. The deployment goes on once every required role has approved.`
              : `Ends the deployment: at the start it is rejected; at a canary approval step it is aborted and ${d.environment} goes back to ${d.stableVersion || 'its previous release'}.`}
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function stepLabel(s: NonNullable<Deployment['steps']>[number]): string {
  switch (s.kind) {
    case 'setWeight':
      return `Set weight ${s.weight}%`;
    case 'pause':
      return s.durationMs == null ? 'Pause until promoted' : `Pause ${ago(s.durationMs)}`;
    case 'analysis':
      return `Analysis (${(s.templates ?? []).join(', ')})`;
    case 'approval':
      return `Approval by ${(s.roles ?? []).join(', ')}`;
    default:
      return s.kind;
  }
}

function Timeline({ d }: { d: Deployment }) {
  const now = useNow();
  const steps = d.steps ?? [];
  const until = d.deadlines?.pauseUntil ? Date.parse(d.deadlines.pauseUntil) : null;
  if (steps.length === 0) {
    // Blue-green and rolling deployments have no steps; what they wait for has a deadline.
    const waits: [string, string | null | undefined][] = [
      ['Verification', d.deadlines?.verificationUntil],
      ['Automatic promotion', d.deadlines?.autoPromoteAt],
      ['Approval deadline', d.deadlines?.approvalDeadline],
      ['Change window opens', d.deadlines?.windowOpensAt],
    ];
    const live = kTerminal.includes(d.phase) ? [] : waits.filter(([, at]) => at);
    return (
      <section aria-labelledby="steps-h" class="panel">
        <h2 id="steps-h">Progress</h2>
        <p>
          {d.strategy} deployment, <PhaseBadge phase={d.phase} />
        </p>
        {live.length > 0 && (
          <ul>
            {live.map(([what, at]) => {
              const left = Date.parse(at as string) - now;
              return (
                <li key={what}>
                  {what}: {left > 0 ? `${ago(left)} left` : 'due'} (<Time at={at} />)
                </li>
              );
            })}
          </ul>
        )}
      </section>
    );
  }
  return (
    <section aria-labelledby="steps-h" class="panel">
      <h2 id="steps-h">Steps</h2>
      <ol class="timeline">
        {steps.map((s) => {
          const state = s.status === 'completed' ? 'done' : s.status === 'running' ? 'current' : 'next';
          const glyph = { done: '✔', current: '▶', next: '○' }[state];
          return (
            <li key={s.index} class={`step-${state}`} aria-current={state === 'current' ? 'step' : undefined} data-step-status={state}>
              <span aria-hidden="true" class="glyph">{glyph}</span>
              <span class="sr-only">{state === 'done' ? 'done:' : state === 'current' ? 'current:' : 'next:'}</span>{' '}
              {stepLabel(s)}
              {state === 'current' && s.kind === 'pause' && until !== null && (
                <span class="left"> — {until > now ? `${ago(until - now)} left` : 'ending'}</span>
              )}
            </li>
          );
        })}
      </ol>
    </section>
  );
}

function Weights({ d }: { d: Deployment }) {
  const services = d.services ?? [];
  if (services.length === 0) return null;
  return (
    <section aria-labelledby="weights-h" class="panel">
      <h2 id="weights-h">Traffic and instances</h2>
      <div class="scroll" tabIndex={0} aria-label="Traffic and instances per service">
      <table>
        <thead>
          <tr>
            <th scope="col">Service</th>
            <th scope="col">{d.version} weight</th>
            <th scope="col">Applied</th>
            <th scope="col">{d.version} ready</th>
            <th scope="col">{d.stableVersion || 'stable'} ready</th>
          </tr>
        </thead>
        <tbody>
          {services.map((s) => (
            <tr key={s.name} data-service={s.name}>
              <th scope="row">{s.name}</th>
              <td>
                <meter min={0} max={100} value={s.weight} aria-label={`${s.name} weight`} /> <span class="weight">{s.weight}%</span>
              </td>
              <td>{s.appliedWeight < 0 ? 'unknown' : `${s.appliedWeight}%`}</td>
              <td>
                {s.newReady} of {s.desired}
                {s.newFailed > 0 && <strong> ({s.newFailed} failed)</strong>}
              </td>
              <td>{s.stableReady}</td>
            </tr>
          ))}
        </tbody>
      </table>
      </div>
    </section>
  );
}

function Analysis({ report }: { report: DeploymentReport | null }) {
  const series = report?.analysis ?? [];
  if (series.length === 0) return null;
  return (
    <section aria-labelledby="analysis-h" class="panel">
      <h2 id="analysis-h">Analysis</h2>
      <div class="charts">
        {series.map((m) => (
          <MetricChart
            key={`${m.run}-${m.service}-${m.metric}`}
            title={`${m.metric} · ${m.service} · run ${m.run}`}
            measurements={m.measurements}
            failureCondition={m.failureCondition}
            successCondition={m.successCondition}
          />
        ))}
      </div>
    </section>
  );
}

function ChecksAndHooks({ d }: { d: Deployment }) {
  const checks = d.checks ?? [];
  const runs = (d.events ?? []).filter((e) => /^(hooks|checks|check|backup)\./.test(e.kind));
  if (checks.length === 0 && runs.length === 0) return null;
  return (
    <section aria-labelledby="checks-h" class="panel">
      <h2 id="checks-h">Checks and hooks</h2>
      {checks.length > 0 && (
        <ul>
          {checks.map((c) => (
            <li key={c.run}>
              {c.kind} {c.step >= 0 ? `(step ${c.step + 1})` : ''} <Status status={c.status} />
            </li>
          ))}
        </ul>
      )}
      {runs.map((e) => (
        <details key={e.seq}>
          <summary>
            <Time at={e.at} /> {e.kind}: {e.reason}
          </summary>
          {Array.isArray((e.data as { runs?: unknown }).runs) &&
            ((e.data as { runs: { name: string; ok: boolean; output: string; reason: string }[] }).runs).map((r, i) => (
              <div key={i}>
                <p>
                  {r.name} <Status status={r.ok ? 'passed' : 'failed'} /> {r.reason}
                </p>
                {r.output && <pre>{r.output}</pre>}
              </div>
            ))}
        </details>
      ))}
    </section>
  );
}

function EventLog({ events }: { events: EventRecord[] }) {
  return (
    <section aria-labelledby="events-h" class="panel">
      <h2 id="events-h">Event log</h2>
      <div class="scroll" tabIndex={0} aria-label="Event log, newest last">
        <table class="events">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Time</th>
              <th scope="col">Who</th>
              <th scope="col">Event</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {events.map((e) => (
              <tr key={e.seq} data-kind={e.kind}>
                <td>{e.seq}</td>
                <td><Time at={e.at} /></td>
                <td>{e.actor}</td>
                <td>{e.kind}</td>
                <td>{e.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function DeploymentPage({ session, tick, path }: PageProps) {
  const id = path[1] ?? '';
  const { data, error } = useData(() => load(id), tick, [id]);
  const d = data?.deployment;
  return (
    <>
      <p class="crumbs">
        <a href="#/environments">Environments</a>
        {d && (
          <>
            {' / '}
            <a href={`#/history?environment=${encodeURIComponent(d.environment)}`}>{d.environment}</a>
          </>
        )}
      </p>
      <ErrorBox error={error} />
      {!d && !error && <Loading what="the deployment" />}
      {d && (
        <>
          <h1>
            {d.version} in {d.environment} <PhaseBadge phase={d.phase} />
          </h1>
          <dl class="facts">
            <dt>Deployment</dt>
            <dd><code>{d.id}</code></dd>
            <dt>Strategy</dt>
            <dd>{d.strategy}{d.rollback ? ' (rollback)' : ''}</dd>
            <dt>From</dt>
            <dd>{d.stableVersion || 'nothing'}</dd>
            <dt>Started by</dt>
            <dd>{d.startedBy}{d.reason ? `: ${d.reason}` : ''}, <Time at={d.createdAt} /></dd>
            {d.pauseReason && (
              <>
                <dt>Paused because</dt>
                <dd>{d.pauseReason}</dd>
              </>
            )}
            {d.abortReason && (
              <>
                <dt>Ended because</dt>
                <dd>{d.abortReason}</dd>
              </>
            )}
          </dl>
          <div class="columns">
            <div>
              <Actions d={d} allowed={canOperate(session)} />
              <Approvals d={d} session={session} />
              <Timeline d={d} />
              <Weights d={d} />
            </div>
            <div>
              <Analysis report={data!.report} />
              <ChecksAndHooks d={d} />
            </div>
          </div>
          <EventLog events={d.events ?? []} />
        </>
      )}
    </>
  );
}
