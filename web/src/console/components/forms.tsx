/** The status line and per-field problems of a settings form, cleared as soon as the
 * input changes or a new submit starts (so an old "Saved." never sits beside a new error). */
import { useState } from 'preact/hooks';
import { ApiError } from '../api';
import { problem } from './ui';

export interface FormStatus {
  kind: 'idle' | 'saved' | 'error';
  /** The line under the form: "Saved." or what went wrong as a whole. */
  text: string;
  /** Problems by field name, shown beside their field. */
  fields: Record<string, string>;
}

const IDLE: FormStatus = { kind: 'idle', text: '', fields: {} };

export interface FormStatusApi {
  status: FormStatus;
  clear: () => void;
  saved: (text?: string) => void;
  /** A local check failed (field: beside that field; else the whole form). */
  invalid: (text: string, field?: string) => void;
  /** The API refused: its per-field problems go beside the fields, the rest under the form. */
  failed: (e: unknown, fallback: string) => void;
  /** Spread on the <form>: any input, change or browser validation failure clears the status. */
  formProps: { onInput: () => void; onChange: () => void; onInvalidCapture: () => void };
}

export function useFormStatus(): FormStatusApi {
  const [status, setStatus] = useState<FormStatus>(IDLE);
  const clear = (): void => setStatus((s) => (s === IDLE ? s : IDLE));
  return {
    status,
    clear,
    saved: (text = 'Saved.') => setStatus({ kind: 'saved', text, fields: {} }),
    invalid: (text, field) => setStatus(field ? { kind: 'error', text: '', fields: { [field]: text } } : { kind: 'error', text, fields: {} }),
    failed: (e, fallback) => {
      const fields = e instanceof ApiError ? e.fields : {};
      const text = Object.keys(fields).length ? '' : problem(e, fallback);
      setStatus({ kind: 'error', text, fields });
    },
    formProps: { onInput: clear, onChange: clear, onInvalidCapture: clear },
  };
}

/** A field's problem, beside it (tied to the input by `id` for screen readers). */
export function FieldError({ status, field, id }: { status: FormStatus; field: string; id?: string }) {
  const text = status.fields[field];
  if (!text) return null;
  return (
    <small class="field-error" role="alert" id={id} data-testid={`field-error-${field}`}>
      {text}
    </small>
  );
}

/** The form's status line: "Saved." or its overall problem. */
export function StatusLine({ status, inset = false, testid = 'form-status' }: { status: FormStatus; inset?: boolean; testid?: string }) {
  if (status.kind === 'idle' || !status.text) return null;
  const error = status.kind === 'error';
  return (
    <p class={error ? `form-error${inset ? ' form-error-inset' : ''}` : 'form-ok'} role={error ? 'alert' : 'status'} data-testid={testid}>
      {status.text}
    </p>
  );
}
