/** Getting started: the first-run screen (no organisation exists yet) and the page where
 * a new admin chooses a password from a one-time link. Both end signed in. */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Api, type PasswordLink, type Session } from '../api';
import { FieldError, StatusLine, useFormStatus, type FormStatusApi } from './forms';

function Card(props: { title: string; sub: ComponentChildren; children: ComponentChildren; testid: string; onSubmit?: () => void; form$?: FormStatusApi }) {
  const body = (
    <>
      <div class="login-brand">
        <span class="logo-mark" aria-hidden="true">
          P
        </span>
        <span class="logo-word">Pounce</span>
      </div>
      <h1>{props.title}</h1>
      <p class="login-sub">{props.sub}</p>
      {props.children}
    </>
  );
  return (
    <main class="login">
      {props.onSubmit ? (
        <form
          class="login-card"
          data-testid={props.testid}
          {...props.form$?.formProps}
          onSubmit={(e) => {
            e.preventDefault();
            props.onSubmit?.();
          }}
        >
          {body}
        </form>
      ) : (
        <div class="login-card" data-testid={props.testid}>
          {body}
        </div>
      )}
    </main>
  );
}

function Field(props: {
  name: string;
  label: string;
  type?: 'text' | 'email' | 'password' | 'url';
  value: string;
  autocomplete?: string;
  hint?: string;
  required?: boolean;
  minLength?: number;
  maxLength?: number;
  autoFocus?: boolean;
  placeholder?: string;
  form$: FormStatusApi;
  onInput: (v: string) => void;
}) {
  const problem = props.form$.status.fields[props.name];
  // Preact types each input type's attributes apart; these four share the ones used here.
  const kind = { type: props.type ?? 'text' } as { type: 'text' };
  return (
    <label class={`field${problem ? ' has-error' : ''}`}>
      <span>{props.label}</span>
      <input
        name={props.name}
        {...kind}
        value={props.value}
        required={props.required ?? true}
        minLength={props.minLength}
        maxLength={props.maxLength ?? 200}
        autoComplete={props.autocomplete}
        autoFocus={props.autoFocus}
        placeholder={props.placeholder}
        aria-invalid={problem ? true : undefined}
        onInput={(e) => props.onInput(e.currentTarget.value)}
        data-testid={`setup-${props.name}`}
      />
      <FieldError status={props.form$.status} field={props.name} />
      {props.hint ? <small class="field-hint">{props.hint}</small> : null}
    </label>
  );
}

/** No organisation yet: create it and its first admin (only possible once per install). */
export function FirstRun({ api, onDone, onTaken }: { api: Api; onDone: (s: Session) => void; onTaken: () => void }) {
  const [f, setF] = useState({ org_name: '', name: '', email: '', password: '', website: '' });
  const [busy, setBusy] = useState(false);
  const [taken, setTaken] = useState(false);
  const form$ = useFormStatus();
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });

  const submit = async (): Promise<void> => {
    if (busy) return;
    form$.clear();
    setBusy(true);
    try {
      onDone(await api.setup({ ...f, org_name: f.org_name.trim(), name: f.name.trim(), email: f.email.trim(), website: f.website.trim() || null }));
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) setTaken(true); // an org exists now
      else form$.failed(e, 'Could not reach Pounce. Check your connection and try again.');
      setBusy(false);
    }
  };

  if (taken) {
    return (
      <Card title="Pounce is set up already" sub="Someone created the organisation a moment ago. Sign in with the account they gave you." testid="setup-taken">
        <button type="button" class="btn btn-primary btn-block" onClick={onTaken}>
          Go to sign in
        </button>
      </Card>
    );
  }
  return (
    <Card
      title="Set up Pounce"
      sub="Nobody has set up this server yet. Name your organisation and create the first admin account: you."
      testid="first-run"
      form$={form$}
      onSubmit={() => void submit()}
    >
      <Field name="org_name" label="Organisation" value={f.org_name} autoFocus autocomplete="organization" placeholder="Acme Inc." form$={form$} onInput={set('org_name')} />
      <Field name="name" label="Your name" value={f.name} autocomplete="name" form$={form$} onInput={set('name')} />
      <Field name="email" label="Work email" type="email" value={f.email} autocomplete="username" maxLength={320} form$={form$} onInput={set('email')} />
      <Field
        name="password"
        label="Password"
        type="password"
        value={f.password}
        autocomplete="new-password"
        minLength={8}
        hint="At least 8 characters."
        form$={form$}
        onInput={set('password')}
      />
      <Field
        name="website"
        label="Your website (optional)"
        type="url"
        value={f.website}
        required={false}
        maxLength={300}
        placeholder="https://www.example.com"
        hint="Its pages may show the messenger; add more under Sites later."
        form$={form$}
        onInput={set('website')}
      />
      <StatusLine status={form$.status} testid="setup-error" />
      <button type="submit" class="btn btn-primary btn-block" disabled={busy} data-testid="setup-submit">
        {busy ? 'Creating…' : 'Create organisation'}
      </button>
    </Card>
  );
}

/** A one-time link: check it, choose a password, and be signed in. */
export function SetPassword({ api, token, onDone }: { api: Api; token: string; onDone: (s: Session) => void }) {
  const [link, setLink] = useState<PasswordLink | null>(null);
  const [dead, setDead] = useState<string | null>(null);
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [busy, setBusy] = useState(false);
  const form$ = useFormStatus();

  useEffect(() => {
    document.title = 'Choose a password · Pounce';
    api.passwordLink(token).then(setLink, (e: unknown) => setDead(e instanceof ApiError ? e.detail : 'Could not reach Pounce. Check your connection, then reload.'));
  }, [api, token]);

  const submit = async (): Promise<void> => {
    if (busy) return;
    form$.clear();
    if (password !== again) return form$.invalid('The two passwords differ.', 'again');
    setBusy(true);
    try {
      const s = await api.setPassword(token, password);
      // The link is spent: keep it out of the history, and leave its page.
      history.replaceState(null, '', `${location.pathname}#/`);
      dispatchEvent(new HashChangeEvent('hashchange'));
      onDone(s);
    } catch (e) {
      if (e instanceof ApiError && e.status === 400) setDead(e.detail);
      else form$.failed(e, 'Could not reach Pounce. Check your connection and try again.');
      setBusy(false);
    }
  };

  if (dead) {
    return (
      <Card title="This link does not work" sub={dead} testid="set-password-dead">
        <a class="btn btn-primary btn-block" href="#/">
          Go to sign in
        </a>
      </Card>
    );
  }
  if (!link) return <div class="boot" aria-busy="true" />;
  return (
    <Card
      title="Choose your password"
      sub={
        <>
          For <strong data-testid="set-password-email">{link.email}</strong> at {link.org_name}.
        </>
      }
      testid="set-password"
      form$={form$}
      onSubmit={() => void submit()}
    >
      <input type="email" name="username" autoComplete="username" value={link.email} hidden readOnly />
      <Field name="password" label="New password" type="password" value={password} autoFocus autocomplete="new-password" minLength={8} hint="At least 8 characters." form$={form$} onInput={setPassword} />
      <Field name="again" label="The same again" type="password" value={again} autocomplete="new-password" minLength={8} form$={form$} onInput={setAgain} />
      <StatusLine status={form$.status} testid="set-password-error" />
      <button type="submit" class="btn btn-primary btn-block" disabled={busy} data-testid="set-password-submit">
        {busy ? 'Saving…' : 'Save password and sign in'}
      </button>
    </Card>
  );
}
