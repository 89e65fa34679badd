// The dashboard's one way to the server: JSON calls with the session cookie (sent by the
// browser) and, on every state-changing call, the session's CSRF token in X-CSRF-Token.

export interface SessionInfo {
  name: string;
  roles: string[];
  tokenId: string;
  csrfToken: string | null;
  expiresAt: string | null;
  lastEventSeq: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;
// Called when the server answers 401: the session ended (expired, signed out, token revoked).
let onUnauthenticated: (message: string) => void = () => {};

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export function setUnauthenticatedHandler(handler: (message: string) => void): void {
  onUnauthenticated = handler;
}

async function errorOf(response: Response): Promise<ApiError> {
  try {
    const body = await response.json();
    if (body && body.error) return new ApiError(response.status, body.error.code, body.error.message);
  } catch {
    // not JSON: fall through
  }
  return new ApiError(response.status, 'unknown', `${response.status} ${response.statusText}`);
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  if (!response.ok) {
    const error = await errorOf(response);
    if (response.status === 401 && !(method === 'POST' && path === '/api/v1/session')) onUnauthenticated(error.message);
    throw error;
  }
  return (await response.json()) as T;
}

export const get = <T>(path: string) => call<T>('GET', path);
export const post = <T>(path: string, body: unknown = {}) => call<T>('POST', path, body);

export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== '') q.set(k, String(v));
  }
  const text = q.toString();
  return text ? `?${text}` : '';
}

// ---- the API's documents (docs/api.md), as far as the dashboard reads them ----

export interface Instance {
  version: string;
  index: number;
  state: string;
  port: number;
  restarts: number;
  lastExit: string;
  diagnosis: string;
}

export interface EnvService {
  name: string;
  address: string | null;
  traffic: Record<string, number>;
  achievedTraffic: Record<string, number> | null;
  trafficCaveat: string | null;
  instances: Instance[];
}

export interface Environment {
  name: string;
  strategy: string;
  promotesFrom: string;
  runtime: string;
  application: string;
  currentRelease: string;
  activeDeployment: { id: string; version: string; phase: string } | null;
  services: EnvService[];
}

export interface Step {
  index: number;
  kind: string;
  status: string;
  weight?: number;
  durationMs?: number | null;
  templates?: string[];
  roles?: string[];
}

export interface EventRecord {
  seq: number;
  at: string;
  actor: string;
  kind: string;
  subject: string;
  reason: string;
  data: Record<string, unknown>;
  hash: string;
}

export interface Deployment {
  id: string;
  environment: string;
  application: string;
  version: string;
  phase: string;
  createdAt: string;
  updatedAt: string;
  queued?: boolean;
  rollback?: boolean;
  startedBy?: string;
  reason?: string;
  stableVersion?: string;
  strategy?: string;
  pauseReason?: string | null;
  abortReason?: string;
  stepIndex?: number;
  canaryWeight?: number;
  steps?: Step[];
  services?: {
    name: string;
    desired: number;
    newReady: number;
    newFailed: number;
    stableReady: number;
    weight: number;
    appliedWeight: number;
  }[];
  analysis?: { run: string; kind: string; step: number; status: string }[];
  checks?: { run: string; kind: string; step: number; status: string }[];
  approvals?: { gate: number; role: string; actor: string; at: string }[];
  pendingApprovals?: string[];
  deadlines?: Record<string, string | null>;
  events?: EventRecord[];
  decisions?: { actor: string; role: string; approved: boolean; comment: string; at: string }[];
}

export interface DeploymentReport {
  analysis: {
    run: number | string;
    metric: string;
    service: string;
    failureCondition: string;
    successCondition: string;
    measurements: { at: string; value: number | null; outcome: string }[];
  }[];
}

export interface Incident {
  id: string;
  title: string;
  severity: number;
  status: string;
  commander: string;
  environment: string;
  deployments: string[];
  openedAt: string;
  lastUpdateAt: string;
  resolvedAt: string | null;
  timeline?: { at: string; actor: string; kind: string; text: string }[];
}

export interface Notification {
  id: number;
  createdAt: string;
  channel: string;
  event: string;
  deployment: string;
  environment: string;
  status: string;
  attempts: number;
  lastStatus: number;
  lastError: string;
  title: string | null;
}

export interface AuditReport {
  events: number;
  intact: boolean;
  keyId: string | null;
  unkeyed: number;
  firstBreak?: { seq: number; reason: string; expectedHash: string; foundHash: string };
}
