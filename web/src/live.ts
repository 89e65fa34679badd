// The live event stream (GET /api/v1/events, server-sent events) read with fetch, so that a
// reconnect sends the last event id it saw in Last-Event-ID itself: nothing is missed or seen
// twice across a dropped connection, and the page refreshes what it shows once it is back.

import { EventRecord } from './api';

export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'stopped';

export interface LiveCallbacks {
  // A batch of new events (in order).
  events(events: EventRecord[]): void;
  // The stream (re)connected: after a gap the page re-reads what it shows.
  connected(afterGap: boolean): void;
  state(state: LiveState): void;
  // The server refused the stream with 401: the session is over.
  unauthenticated(): void;
}

const kRetryMs = [500, 1000, 2000, 5000];

export class LiveStream {
  private lastId: number;
  private controller: AbortController | null = null;
  private stopped = false;
  private failures = 0;
  private hadConnection = false;

  constructor(
    after: number,
    private readonly callbacks: LiveCallbacks,
  ) {
    this.lastId = after;
  }

  get lastEventId(): number {
    return this.lastId;
  }

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
    this.callbacks.state('stopped');
  }

  // Drops the connection on purpose (the tests use it to show a reconnect catches up).
  drop(): void {
    this.controller?.abort();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.callbacks.state(this.hadConnection ? 'reconnecting' : 'connecting');
      this.controller = new AbortController();
      try {
        const response = await fetch('/api/v1/events', {
          headers: { Accept: 'text/event-stream', 'Last-Event-ID': String(this.lastId) },
          credentials: 'same-origin',
          cache: 'no-store',
          signal: this.controller.signal,
        });
        if (response.status === 401) {
          this.stopped = true;
          this.callbacks.state('stopped');
          this.callbacks.unauthenticated();
          return;
        }
        if (response.ok && response.body) {
          this.failures = 0;
          this.callbacks.state('live');
          this.callbacks.connected(this.hadConnection);
          this.hadConnection = true;
          await this.read(response.body);
        }
      } catch {
        // aborted or the network failed: reconnect below
      }
      if (this.stopped) return;
      const wait = kRetryMs[Math.min(this.failures, kRetryMs.length - 1)];
      this.failures++;
      this.callbacks.state('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  // Parses the text/event-stream format: blank-line-separated messages of "field: value" lines.
  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      const batch: EventRecord[] = [];
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const message = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let id = '';
        const data: string[] = [];
        for (const line of message.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'id') id = text;
          else if (field === 'data') data.push(text);
        }
        if (data.length === 0) continue;
        try {
          const event = JSON.parse(data.join('\n')) as EventRecord;
          batch.push(event);
        } catch {
          continue;
        }
        if (id) this.lastId = Number(id);
      }
      if (batch.length > 0) this.callbacks.events(batch);
    }
  }
}
