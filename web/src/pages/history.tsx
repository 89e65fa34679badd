// History: the deployments of an environment (or of all), filtered by phase and version.
import { Deployment, Environment, get, query } from '../api';
import { ErrorBox, Loading, PhaseBadge, Time, useData } from '../components';
import { PageProps } from '../main';

const kPhases = ['', 'Succeeded', 'RolledBack', 'Failed', 'Rejected', 'Superseded', 'Progressing', 'Paused',
  'AwaitingApproval', 'Queued', 'Degraded'];

function setFilter(params: URLSearchParams, key: string, value: string) {
  const next = new URLSearchParams(params);
  if (value) next.set(key, value);
  else next.delete(key);
  window.location.hash = `#/history?${next.toString()}`;
}

export function HistoryPage({ tick, params }: PageProps) {
  const environment = params.get('environment') ?? '';
  const phase = params.get('phase') ?? '';
  const version = params.get('version') ?? '';
  const limit = params.get('limit') ?? '50';
  const envs = useData(() => get<{ environments: Environment[] }>('/api/v1/environments'), 0);
  const { data, error } = useData(
    () =>
      get<{ deployments: Deployment[] }>(`/api/v1/deployments${query({ environment, phase, version, limit })}`),
    tick,
    [environment, phase, version, limit],
  );
  return (
    <>
      <h1>History</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <label>
          Environment
          <select value={environment} onChange={(e) => setFilter(params, 'environment', (e.target as HTMLSelectElement).value)}>
            <option value="">all</option>
            {envs.data?.environments.map((e) => (
              <option key={e.name} value={e.name}>{e.name}</option>
            ))}
          </select>
        </label>
        <label>
          Phase
          <select value={phase} onChange={(e) => setFilter(params, 'phase', (e.target as HTMLSelectElement).value)}>
            {kPhases.map((p) => (
              <option key={p} value={p}>{p || 'any'}</option>
            ))}
          </select>
        </label>
        <label>
          Version
          <input
            type="search"
            value={version}
            placeholder="exact version"
            onChange={(e) => setFilter(params, 'version', (e.target as HTMLInputElement).value.trim())}
          />
        </label>
        <label>
          Show
          <select value={limit} onChange={(e) => setFilter(params, 'limit', (e.target as HTMLSelectElement).value)}>
            {['20', '50', '100', '500'].map((n) => (
              <option key={n} value={n}>{n}</option>
            ))}
          </select>
        </label>
      </form>
      <ErrorBox error={error} />
      {!data && !error && <Loading what="history" />}
      {data && (
        <div class="scroll" tabIndex={0} aria-label="Deployments">
          <table class="history">
            <caption>
              {data.deployments.length} deployment{data.deployments.length === 1 ? '' : 's'}, newest first
            </caption>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Environment</th>
                <th scope="col">Phase</th>
                <th scope="col">Strategy</th>
                <th scope="col">Started</th>
                <th scope="col">By</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {data.deployments.map((d) => (
                <tr key={d.id}>
                  <td>
                    <a href={`#/deployments/${encodeURIComponent(d.id)}`}>{d.version}</a>
                    {d.rollback ? ' (rollback)' : ''}
                  </td>
                  <td>{d.environment}</td>
                  <td><PhaseBadge phase={d.phase} /></td>
                  <td>{d.strategy}</td>
                  <td><Time at={d.createdAt} /></td>
                  <td>{d.startedBy}</td>
                  <td>{d.abortReason || d.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
