/**
 * The console's calls to /console/api. The session cookie goes by itself (same origin); every
 * state-changing call adds the session's CSRF token. A 401 sends the user to the sign-in page.
 */
export interface User {
  email: string;
  name: string;
  role: 'viewer' | 'operator' | 'admin';
}

/** An RFC 9457 problem answered by the server. */
export class ApiProblem extends Error {
  readonly status: number;
  readonly type: string;
  constructor(status: number, type: string, detail: string) {
    super(detail);
    this.status = status;
    this.type = type;
  }
}

let csrfToken = '';
let currentUser: User | undefined;
let mustChangePassword = false;
let onSignedOut: () => void = () => {};

export const user = () => currentUser;
export const canOperate = () => currentUser?.role === 'operator' || currentUser?.role === 'admin';
export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

interface SessionAnswer {
  user: User;
  csrfToken: string;
  passwordChangeRequired?: boolean;
}

function remember(session: SessionAnswer | undefined): void {
  currentUser = session?.user;
  csrfToken = session?.csrfToken ?? '';
  mustChangePassword = session?.passwordChangeRequired ?? false;
}

/** True while an admin-chosen password waits to be replaced: the console shows only the change-password page. */
export const passwordChangeRequired = () => mustChangePassword;

/** Replaces the signed-in user's password; the session stays, the user's other sessions end. */
export async function changePassword(currentPassword: string, newPassword: string): Promise<void> {
  await post('/session/password', { currentPassword, newPassword });
  mustChangePassword = false;
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`/console/api${path}`, { method, headers, body: body === undefined ? null : JSON.stringify(body), credentials: 'same-origin' });
  if (response.status === 204) return undefined as T;
  const parsed = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) {
    const problem = new ApiProblem(response.status, String(parsed.type ?? ''), String(parsed.detail ?? parsed.title ?? response.statusText));
    if (response.status === 401 && path !== '/session') {
      remember(undefined);
      onSignedOut();
    }
    throw problem;
  }
  return parsed as T;
}

export const get = <T>(path: string) => call<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => call<T>('POST', path, body);

/** The current session, if the cookie still names one. */
export async function resume(): Promise<User | undefined> {
  try {
    remember(await get<SessionAnswer>('/session'));
  } catch (error) {
    if (!(error instanceof ApiProblem && error.status === 401)) throw error;
    remember(undefined);
  }
  return currentUser;
}

export async function signIn(email: string, password: string): Promise<User> {
  remember(await call<SessionAnswer>('POST', '/session', { email, password }));
  return currentUser!;
}

export async function signOut(): Promise<void> {
  await post('/sign-out');
  remember(undefined);
}

export const isAdmin = () => currentUser?.role === 'admin';
