// One analysis metric over time as plain SVG: each measurement as a point whose shape says its
// outcome, and the failure / success conditions as labelled threshold lines. The values are
// also in a table for screen readers and for reading exact numbers.

interface Measurement {
  at: string;
  value: number | null;
  outcome: string;
}

interface Threshold {
  op: string;
  value: number;
  kind: 'failure' | 'success';
}

// "result > 0.05", "result >= 0.99 && result < 2": the comparisons of `result` with a number.
export function thresholdsOf(condition: string, kind: 'failure' | 'success'): Threshold[] {
  const out: Threshold[] = [];
  const re = /result\s*(<=|>=|<|>|==)\s*(-?[0-9.]+(?:[eE][-+]?[0-9]+)?)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(condition)) !== null) out.push({ op: m[1], value: Number(m[2]), kind });
  return out;
}

const kW = 560;
const kH = 200;
const kPad = { left: 56, right: 12, top: 12, bottom: 28 };

function Marker({ x, y, outcome }: { x: number; y: number; outcome: string }) {
  switch (outcome) {
    case 'Failed':
      return <path class="m-failed" d={`M${x - 5},${y - 5}L${x + 5},${y + 5}M${x - 5},${y + 5}L${x + 5},${y - 5}`} />;
    case 'Inconclusive':
      return <path class="m-inconclusive" d={`M${x},${y - 6}L${x + 6},${y + 5}L${x - 6},${y + 5}Z`} />;
    case 'Error':
      return <rect class="m-error" x={x - 4} y={y - 4} width={8} height={8} />;
    default:
      return <circle class="m-ok" cx={x} cy={y} r={4} />;
  }
}

function format(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}

export function MetricChart(props: {
  title: string;
  measurements: Measurement[];
  failureCondition: string;
  successCondition: string;
}) {
  const points = props.measurements.filter((m) => m.value !== null && Number.isFinite(m.value));
  const thresholds = [
    ...thresholdsOf(props.failureCondition, 'failure'),
    ...thresholdsOf(props.successCondition, 'success'),
  ];
  const values = [...points.map((p) => p.value as number), ...thresholds.map((t) => t.value)];
  const maxV = Math.max(...values, 0);
  const minV = Math.min(...values, 0);
  const top = maxV === minV ? maxV + 1 : maxV + (maxV - minV) * 0.1;
  const times = points.map((p) => Date.parse(p.at));
  const t0 = times.length ? Math.min(...times) : 0;
  const t1 = times.length ? Math.max(...times) : 1;
  const x = (t: number) => kPad.left + ((t - t0) / Math.max(t1 - t0, 1)) * (kW - kPad.left - kPad.right);
  const y = (v: number) => kPad.top + (1 - (v - minV) / (top - minV)) * (kH - kPad.top - kPad.bottom);
  const id = props.title.replace(/[^a-zA-Z0-9]+/g, '-');
  const summary =
    `${props.title}: ${points.length} measurement${points.length === 1 ? '' : 's'}` +
    (points.length ? `, latest ${format(points[points.length - 1].value as number)} (${points[points.length - 1].outcome})` : '') +
    (props.failureCondition ? `; fails when ${props.failureCondition}` : '') +
    (props.successCondition ? `; succeeds when ${props.successCondition}` : '');
  return (
    <figure class="chart" data-metric={props.title}>
      <figcaption id={`chart-${id}`}>
        <strong>{props.title}</strong>
        {props.failureCondition && <span> · fails when <code>{props.failureCondition}</code></span>}
        {props.successCondition && <span> · succeeds when <code>{props.successCondition}</code></span>}
      </figcaption>
      <svg viewBox={`0 0 ${kW} ${kH}`} role="img" aria-label={summary} preserveAspectRatio="xMidYMid meet">
        <line class="axis" x1={kPad.left} y1={kH - kPad.bottom} x2={kW - kPad.right} y2={kH - kPad.bottom} />
        <line class="axis" x1={kPad.left} y1={kPad.top} x2={kPad.left} y2={kH - kPad.bottom} />
        <text class="tick" x={kPad.left - 6} y={y(top) + 4} text-anchor="end">{format(top)}</text>
        <text class="tick" x={kPad.left - 6} y={y(minV) + 4} text-anchor="end">{format(minV)}</text>
        {times.length > 0 && (
          <>
            <text class="tick" x={kPad.left} y={kH - 8} text-anchor="start">{new Date(t0).toLocaleTimeString()}</text>
            <text class="tick" x={kW - kPad.right} y={kH - 8} text-anchor="end">{new Date(t1).toLocaleTimeString()}</text>
          </>
        )}
        {thresholds.map((t, i) => (
          <g key={i} class={`threshold threshold-${t.kind}`}>
            <line x1={kPad.left} x2={kW - kPad.right} y1={y(t.value)} y2={y(t.value)} />
            <text x={kW - kPad.right - 4} y={y(t.value) - 4} text-anchor="end">
              {t.kind === 'failure' ? 'fails' : 'succeeds'} {t.op} {format(t.value)}
            </text>
          </g>
        ))}
        {points.length > 1 && (
          <polyline class="series" points={points.map((p, i) => `${x(times[i])},${y(p.value as number)}`).join(' ')} />
        )}
        {points.map((p, i) => (
          <Marker key={i} x={x(times[i])} y={y(p.value as number)} outcome={p.outcome} />
        ))}
        {points.length === 0 && (
          <text class="tick" x={kW / 2} y={kH / 2} text-anchor="middle">no measurement yet</text>
        )}
      </svg>
      <p class="legend" aria-hidden="true">
        ● successful · ✕ failed · ▲ inconclusive · ■ error · dashed line: condition
      </p>
      <details>
        <summary>Values of {props.title}</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Value</th>
              <th scope="col">Outcome</th>
            </tr>
          </thead>
          <tbody>
            {props.measurements.map((m, i) => (
              <tr key={i}>
                <td>{new Date(m.at).toLocaleTimeString()}</td>
                <td>{m.value === null ? 'no data' : format(m.value)}</td>
                <td>{m.outcome}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
