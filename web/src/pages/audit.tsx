// Audit: the verification of the event log's hash chain, and the log itself, filtered by
// subject.
import { AuditReport, EventRecord, get, query } from '../api';
import { ErrorBox, Loading, Time, useData } from '../components';
import { PageProps } from '../main';

export function AuditPage({ session, tick, params }: PageProps) {
  const subject = params.get('subject') ?? '';
  const verify = useData(() => get<AuditReport>('/api/v1/audit/verify'), tick);
  // The newest 100 events (the log is read oldest first from a starting sequence number).
  const newest = Math.max(0, session.lastEventSeq);
  const events = useData(
    async () => {
      const latest = await get<{ lastEventSeq: number }>('/api/v1/session');
      const after = subject ? 0 : Math.max(0, latest.lastEventSeq - 100);
      return get<{ events: EventRecord[] }>(`/api/v1/events${query({ stream: 'false', after, subject, limit: 1000 })}`);
    },
    tick,
    [subject, newest],
  );
  const r = verify.data;
  return (
    <>
      <h1>Audit</h1>
      <section aria-labelledby="chain-h" class="panel">
        <h2 id="chain-h">Hash chain</h2>
        <ErrorBox error={verify.error} />
        {!r && !verify.error && <Loading what="the verification" />}
        {r && (
          <p class={r.intact ? 'ok' : 'error'} data-intact={String(r.intact)}>
            <span aria-hidden="true">{r.intact ? '✔ ' : '✖ '}</span>
            {r.intact
              ? `Intact: all ${r.events} events verified`
              : `Broken at event ${r.firstBreak?.seq}: ${r.firstBreak?.reason}`}
            {r.keyId ? ` with audit key ${r.keyId}` : ' (no audit key)'}
            {r.unkeyed > 0 ? `; ${r.unkeyed} from before the key, by SHA-256 alone` : ''}.
          </p>
        )}
      </section>
      <section aria-labelledby="log-h" class="panel">
        <h2 id="log-h">Event log</h2>
        <form class="filters" onSubmit={(e) => {
          e.preventDefault();
          const v = ((e.target as HTMLFormElement).elements.namedItem('subject') as HTMLInputElement).value.trim();
          window.location.hash = `#/audit${v ? `?subject=${encodeURIComponent(v)}` : ''}`;
        }}>
          <label>
            Subject (deployment, token or incident id)
            <input name="subject" type="search" defaultValue={subject} />
          </label>
          <button type="submit">Filter</button>
        </form>
        <ErrorBox error={events.error} />
        {events.data && (
          <div class="scroll" tabIndex={0} aria-label="Audit events">
            <table class="events">
              <caption>{subject ? `Events about ${subject}` : 'The newest events'}, oldest first</caption>
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Time</th>
                  <th scope="col">Who</th>
                  <th scope="col">Event</th>
                  <th scope="col">Subject</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {events.data.events.map((e) => (
                  <tr key={e.seq}>
                    <td>{e.seq}</td>
                    <td><Time at={e.at} /></td>
                    <td>{e.actor}</td>
                    <td>{e.kind}</td>
                    <td>
                      {e.subject.startsWith('dep-') ? (
                        <a href={`#/deployments/${encodeURIComponent(e.subject)}`}>{e.subject}</a>
                      ) : (
                        e.subject
                      )}
                    </td>
                    <td>{e.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
