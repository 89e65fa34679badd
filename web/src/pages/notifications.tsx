// Notifications: the outbox, newest first, filtered by delivery status.
import { get, Notification, query } from '../api';
import { ErrorBox, Loading, Status, Time, useData } from '../components';
import { PageProps } from '../main';

export function NotificationsPage({ tick, params }: PageProps) {
  const status = params.get('status') ?? '';
  const { data, error } = useData(
    () => get<{ notifications: Notification[] }>(`/api/v1/notifications${query({ status, limit: 200 })}`),
    tick,
    [status],
  );
  return (
    <>
      <h1>Notifications</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <label>
          Status
          <select
            value={status}
            onChange={(e) => {
              const v = (e.target as HTMLSelectElement).value;
              window.location.hash = `#/notifications${v ? `?status=${v}` : ''}`;
            }}
          >
            <option value="">any</option>
            <option value="pending">pending</option>
            <option value="delivered">delivered</option>
            <option value="failed">failed</option>
          </select>
        </label>
      </form>
      <ErrorBox error={error} />
      {!data && !error && <Loading what="notifications" />}
      {data && data.notifications.length === 0 && <p>No notifications.</p>}
      {data && data.notifications.length > 0 && (
        <div class="scroll" tabIndex={0} aria-label="Notifications">
          <table>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Channel</th>
                <th scope="col">Message</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last error</th>
              </tr>
            </thead>
            <tbody>
              {data.notifications.map((n) => (
                <tr key={n.id}>
                  <td><Time at={n.createdAt} /></td>
                  <td>{n.channel}</td>
                  <td>
                    {n.title ?? n.event}
                    {n.deployment.startsWith('dep-') && (
                      <> (<a href={`#/deployments/${encodeURIComponent(n.deployment)}`}>deployment</a>)</>
                    )}
                  </td>
                  <td><Status status={n.status} /></td>
                  <td>{n.attempts}</td>
                  <td>{n.lastError}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
