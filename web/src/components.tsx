// Pieces every page uses: loading data that follows the live stream, phase badges that never
// rely on colour alone, times, errors and the confirmation dialog.

import { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';

// Loads with `load` when mounted, whenever `deps` change and whenever `tick` (the live
// stream's counter) moves; keeps showing the previous data while it reloads.
export function useData<T>(load: () => Promise<T>, tick: number, deps: unknown[] = []) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const generation = useRef(0);
  useEffect(() => {
    const mine = ++generation.current;
    load().then(
      (d) => {
        if (mine !== generation.current) return;
        setData(d);
        setError(null);
      },
      (e: unknown) => {
        if (mine !== generation.current) return;
        setError(e instanceof ApiError ? e.message : String(e));
      },
    );
  }, [tick, ...deps]);
  return { data, error };
}

// Phase -> [glyph, wording of its kind]. The glyph and the word carry the state; colour only
// repeats it.
const kPhases: Record<string, [string, string]> = {
  Succeeded: ['✔', 'ok'],
  RolledBack: ['↺', 'bad'],
  Failed: ['✖', 'bad'],
  Rejected: ['⊘', 'bad'],
  Degraded: ['▼', 'bad'],
  Aborting: ['↺', 'warn'],
  Paused: ['‖', 'warn'],
  AwaitingApproval: ['?', 'warn'],
  WaitingForWindow: ['…', 'warn'],
  Queued: ['…', 'idle'],
  Superseded: ['⤼', 'idle'],
  Pending: ['…', 'idle'],
  PreFlight: ['▶', 'run'],
  Progressing: ['▶', 'run'],
  Promoting: ['▶', 'run'],
};

export function PhaseBadge({ phase }: { phase: string }) {
  const [glyph, kind] = kPhases[phase] ?? ['•', 'idle'];
  return (
    <span class={`badge badge-${kind}`} data-phase={phase}>
      <span aria-hidden="true">{glyph}</span> {phase}
    </span>
  );
}

export function Status({ status }: { status: string }) {
  const lower = status.toLowerCase();
  const kind = /fail|error|rolled|reject/.test(lower)
    ? 'bad'
    : /success|passed|ready|complete|delivered|resolved/.test(lower)
      ? 'ok'
      : /running|progress|pending|starting/.test(lower)
        ? 'run'
        : 'warn';
  const glyph = { bad: '✖', ok: '✔', run: '▶', warn: '!' }[kind];
  return (
    <span class={`badge badge-${kind}`}>
      <span aria-hidden="true">{glyph}</span> {status}
    </span>
  );
}

export function Time({ at }: { at: string | null | undefined }) {
  if (!at) return <span>—</span>;
  const d = new Date(at);
  return (
    <time dateTime={at} title={at}>
      {d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' })}
    </time>
  );
}

export function ErrorBox({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      <span aria-hidden="true">✖ </span>
      {error}
    </p>
  );
}

export function Loading({ what }: { what: string }) {
  return <p aria-busy="true">Loading {what}…</p>;
}

// A modal confirmation: names what will happen, optionally asks for text, and runs `onConfirm`.
export function ConfirmDialog(props: {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  textLabel?: string;
  textRequired?: boolean;
  danger?: boolean;
  onConfirm: (text: string) => Promise<void>;
  onClose: () => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (props.textRequired && !text.trim()) {
      setError(`${props.textLabel ?? 'Text'} is required.`);
      return;
    }
    setBusy(true);
    try {
      await props.onConfirm(text.trim());
      dialog.current?.close();
      props.onClose();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
      setBusy(false);
    }
  };
  return (
    <dialog ref={dialog} aria-labelledby="confirm-title" onClose={props.onClose} onCancel={props.onClose}>
      <form onSubmit={submit} method="dialog" noValidate>
        <h2 id="confirm-title">{props.title}</h2>
        <div class="confirm-body">{props.children}</div>
        {props.textLabel && (
          <label>
            {props.textLabel}
            {props.textRequired ? ' (required)' : ' (optional)'}
            <textarea
              name="text"
              value={text}
              aria-required={props.textRequired ? 'true' : undefined}
              aria-invalid={error && props.textRequired && !text.trim() ? 'true' : undefined}
              onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
              rows={3}
            />
          </label>
        )}
        <ErrorBox error={error} />
        <div class="buttons">
          <button type="button" onClick={() => { dialog.current?.close(); props.onClose(); }}>
            Cancel
          </button>
          <button type="submit" class={props.danger ? 'danger' : 'primary'} disabled={busy}>
            {props.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

// The current time, moving every second (for countdowns).
export function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  return now;
}
