/** Sign-in page: email and password against POST /api/v1/session. */
import { useState } from 'preact/hooks';
import { ApiError, type Api, type Session } from '../api';

export function Login(props: { api: Api; onLogin: (s: Session) => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      props.onLogin(await props.api.login(email.trim(), password));
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError(err.detail || 'Wrong email or password.');
      else if (err instanceof ApiError && err.status === 429) setError(err.detail || 'Too many attempts. Try again in a minute.');
      else setError('Could not reach Pounce. Check your connection and try again.');
      setBusy(false);
    }
  };

  return (
    <main class="login">
      <form class="login-card" onSubmit={submit}>
        <div class="login-brand">
          <span class="logo-mark" aria-hidden="true">P</span>
          <span class="logo-word">Pounce</span>
        </div>
        <h1>Sign in to your console</h1>
        <p class="login-sub">Talk to the visitors on your website, live.</p>
        <label class="field">
          <span>Work email</span>
          <input
            type="email"
            autocomplete="username"
            required
            autoFocus
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
            data-testid="login-email"
          />
        </label>
        <label class="field">
          <span>Password</span>
          <input
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            data-testid="login-password"
          />
        </label>
        {error ? (
          <p class="form-error" role="alert" data-testid="login-error">
            {error}
          </p>
        ) : null}
        <button type="submit" class="btn btn-primary btn-block" disabled={busy} data-testid="login-submit">
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
