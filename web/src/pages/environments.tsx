// Environments: per environment the release, the traffic split, instance health, the active
// deployment with its step and phase, and the approvals it waits for.
import { Deployment, Environment, EnvService, get } from '../api';
import { ErrorBox, Loading, PhaseBadge, useData } from '../components';
import { PageProps } from '../main';

interface Data {
  environments: Environment[];
  active: Record<string, Deployment>;
}

async function load(): Promise<Data> {
  const { environments } = await get<{ environments: Environment[] }>('/api/v1/environments');
  const active: Record<string, Deployment> = {};
  await Promise.all(
    environments
      .filter((e) => e.activeDeployment)
      .map(async (e) => {
        active[e.name] = await get<Deployment>(`/api/v1/deployments/${encodeURIComponent(e.activeDeployment!.id)}`);
      }),
  );
  return { environments, active };
}

export function TrafficBar({ traffic, label }: { traffic: Record<string, number>; label: string }) {
  const versions = Object.keys(traffic);
  if (versions.length === 0) return <span>no traffic</span>;
  return (
    <div class="traffic" role="img" aria-label={`${label}: ${versions.map((v) => `${v} ${traffic[v]}%`).join(', ')}`}>
      {versions.map((v, i) => (
        <span key={v} class={`share share-${i % 4}`} style={{ flexGrow: Math.max(traffic[v], 0.5) }}>
          {v} {traffic[v]}%
        </span>
      ))}
    </div>
  );
}

function health(service: EnvService): string {
  const byState: Record<string, number> = {};
  for (const i of service.instances) byState[i.state] = (byState[i.state] ?? 0) + 1;
  const parts = Object.entries(byState).map(([state, n]) => `${n} ${state}`);
  return parts.length ? parts.join(', ') : 'no instances';
}

function stepText(d: Deployment): string {
  const steps = d.steps ?? [];
  if (steps.length === 0) return d.strategy ?? '';
  const i = d.stepIndex ?? 0;
  const s = steps[Math.min(i, steps.length - 1)];
  const what = s.kind === 'setWeight' ? `set weight ${s.weight}%` : s.kind;
  return `step ${Math.min(i, steps.length - 1) + 1} of ${steps.length}: ${what}`;
}

export function EnvironmentsPage({ tick }: PageProps) {
  const { data, error } = useData(load, tick);
  return (
    <>
      <h1>Environments</h1>
      <ErrorBox error={error} />
      {!data && !error && <Loading what="environments" />}
      <div class="cards">
        {data?.environments.map((env) => {
          const d = data.active[env.name];
          return (
            <section class="card" key={env.name} aria-labelledby={`env-${env.name}`} data-environment={env.name}>
              <h2 id={`env-${env.name}`}>{env.name}</h2>
              <dl class="facts">
                <dt>Release</dt>
                <dd>{env.currentRelease || 'none yet'}</dd>
                <dt>Strategy</dt>
                <dd>{env.strategy}</dd>
                {env.promotesFrom && (
                  <>
                    <dt>Promotes from</dt>
                    <dd>{env.promotesFrom}</dd>
                  </>
                )}
                <dt>Active deployment</dt>
                <dd>
                  {env.activeDeployment ? (
                    <>
                      <a href={`#/deployments/${encodeURIComponent(env.activeDeployment.id)}`}>
                        {env.activeDeployment.version}
                      </a>{' '}
                      <PhaseBadge phase={env.activeDeployment.phase} />
                      {d && <span class="step"> {stepText(d)}</span>}
                    </>
                  ) : (
                    'none'
                  )}
                </dd>
                {d && (d.pendingApprovals ?? []).length > 0 && (
                  <>
                    <dt>Waiting for approval by</dt>
                    <dd class="pending">{d.pendingApprovals!.join(', ')}</dd>
                  </>
                )}
              </dl>
              <div class="scroll" tabIndex={0} aria-label={`Services of ${env.name}`}>
              <table>
                <caption class="sr-only">Services of {env.name}</caption>
                <thead>
                  <tr>
                    <th scope="col">Service</th>
                    <th scope="col">Traffic</th>
                    <th scope="col">Instances</th>
                  </tr>
                </thead>
                <tbody>
                  {env.services.map((s) => (
                    <tr key={s.name}>
                      <th scope="row">{s.name}</th>
                      <td>
                        <TrafficBar traffic={s.traffic} label={`${s.name} traffic`} />
                        {s.trafficCaveat && <p class="help">{s.trafficCaveat}</p>}
                      </td>
                      <td>{health(s)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              </div>
              <p>
                <a href={`#/history?environment=${encodeURIComponent(env.name)}`}>History of {env.name}</a>
              </p>
            </section>
          );
        })}
      </div>
    </>
  );
}
