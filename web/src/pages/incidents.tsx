// Incidents: the open ones (and, on request, resolved ones), one incident's timeline, and the
// on-call actions for deployers (acknowledge, update, mitigate, resolve) with a message.
import { useState } from 'preact/hooks';
import { get, Incident, post, query } from '../api';
import { ConfirmDialog, ErrorBox, Loading, Status, Time, useData } from '../components';
import { PageProps } from '../main';
import { canOperate } from '../roles';

const kActions: { id: string; label: string; allowed: (s: string) => boolean; explain: string; required: boolean }[] = [
  { id: 'acknowledge', label: 'Acknowledge', allowed: (s) => s === 'open', explain: 'You take the incident: it is acknowledged and the paging stops escalating.', required: false },
  { id: 'update', label: 'Post update', allowed: (s) => s !== 'resolved', explain: 'Adds a status update to the timeline and notifies the incident’s channels.', required: true },
  { id: 'mitigate', label: 'Mitigated', allowed: (s) => s === 'open' || s === 'acknowledged', explain: 'Marks the impact as mitigated; the incident stays open until resolved.', required: false },
  { id: 'resolve', label: 'Resolve', allowed: (s) => s !== 'resolved', explain: 'Resolves the incident and notifies its channels; the postmortem draft becomes final input.', required: false },
];

function IncidentDetail({ id, tick, operate }: { id: string; tick: number; operate: boolean }) {
  const { data, error } = useData(() => get<Incident>(`/api/v1/incidents/${encodeURIComponent(id)}`), tick, [id]);
  const [action, setAction] = useState<(typeof kActions)[number] | null>(null);
  if (error) return <ErrorBox error={error} />;
  if (!data) return <Loading what="the incident" />;
  return (
    <section aria-labelledby="incident-h" class="panel">
      <h2 id="incident-h">
        SEV-{data.severity} {data.title} <Status status={data.status} />
      </h2>
      <dl class="facts">
        <dt>Commander</dt>
        <dd>{data.commander || 'none yet'}</dd>
        <dt>Environment</dt>
        <dd>{data.environment || '—'}</dd>
        <dt>Deployments</dt>
        <dd>
          {data.deployments.length === 0
            ? 'none'
            : data.deployments.map((d) => (
                <a key={d} href={`#/deployments/${encodeURIComponent(d)}`}>{d} </a>
              ))}
        </dd>
        <dt>Opened</dt>
        <dd><Time at={data.openedAt} /></dd>
      </dl>
      {operate && (
        <div class="buttons">
          {kActions.filter((a) => a.allowed(data.status)).map((a) => (
            <button key={a.id} type="button" onClick={() => setAction(a)}>{a.label}</button>
          ))}
        </div>
      )}
      <h3>Timeline</h3>
      <ol class="incident-timeline">
        {(data.timeline ?? []).map((t, i) => (
          <li key={i}>
            <Time at={t.at} /> <strong>{t.kind.replace(/^incident\./, '')}</strong> by {t.actor}: {t.text}
          </li>
        ))}
      </ol>
      {action && (
        <ConfirmDialog
          title={`${action.label}: ${data.title}`}
          confirmLabel={action.label}
          textLabel="Message"
          textRequired={action.required}
          onConfirm={async (message) => {
            await post(`/api/v1/incidents/${encodeURIComponent(data.id)}/${action.id}`, message ? { message } : {});
          }}
          onClose={() => setAction(null)}
        >
          <p>{action.explain}</p>
        </ConfirmDialog>
      )}
    </section>
  );
}

export function IncidentsPage({ session, tick, params, path }: PageProps) {
  const all = params.get('all') === 'true';
  const { data, error } = useData(() => get<{ incidents: Incident[] }>(`/api/v1/incidents${query({ all: all ? 'true' : undefined })}`), tick, [all]);
  const selected = path[1];
  return (
    <>
      <h1>Incidents</h1>
      <p>
        <a href={all ? '#/incidents' : '#/incidents?all=true'}>{all ? 'Show unresolved only' : 'Show resolved too'}</a>
      </p>
      <ErrorBox error={error} />
      {!data && !error && <Loading what="incidents" />}
      {data && data.incidents.length === 0 && <p>No {all ? '' : 'unresolved '}incidents.</p>}
      {data && data.incidents.length > 0 && (
        <div class="scroll" tabIndex={0} aria-label="Incidents">
          <table>
            <thead>
              <tr>
                <th scope="col">Severity</th>
                <th scope="col">Title</th>
                <th scope="col">Status</th>
                <th scope="col">Environment</th>
                <th scope="col">Opened</th>
                <th scope="col">Last update</th>
              </tr>
            </thead>
            <tbody>
              {data.incidents.map((i) => (
                <tr key={i.id}>
                  <td>SEV-{i.severity}</td>
                  <td><a href={`#/incidents/${encodeURIComponent(i.id)}${all ? '?all=true' : ''}`}>{i.title}</a></td>
                  <td><Status status={i.status} /></td>
                  <td>{i.environment}</td>
                  <td><Time at={i.openedAt} /></td>
                  <td><Time at={i.lastUpdateAt} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {selected && <IncidentDetail id={selected} tick={tick} operate={canOperate(session)} />}
    </>
  );
}
