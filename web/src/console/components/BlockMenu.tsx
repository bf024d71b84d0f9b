/** The conversation header's menu: Mark as spam, Block visitor, Block and report (each blocking one confirmed first). */
import { useState } from 'preact/hooks';
import type { ErrorFrame } from '../../shared/protocol';
import type { ConsoleClient } from '../client';

interface Props {
  client: ConsoleClient;
  conversationId: string;
  canMarkSpam: boolean;
  offline: boolean;
}

type Step = 'closed' | 'menu' | 'block' | 'report' | 'done';

export function BlockMenu({ client, conversationId, canMarkSpam, offline }: Props) {
  const [step, setStep] = useState<Step>('closed');
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const block = async (report: boolean): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await client.blockVisitor(conversationId, report, report ? reason.trim() : undefined);
      setStep('done');
    } catch (e) {
      setError((e as ErrorFrame).message ?? 'Could not block the visitor.');
    } finally {
      setBusy(false);
    }
  };

  const confirm = (report: boolean) => (
    <div class="block-dialog" role="dialog" aria-modal="true" aria-label={report ? 'Block and report visitor' : 'Block visitor'} data-testid="block-dialog">
      <h3>{report ? 'Block and report this visitor?' : 'Block this visitor?'}</h3>
      <p>
        They will no longer see the messenger on this device, on any of your sites; their chat closes now.
        {report ? ' Your admins get a report and can block their IP address.' : ''} A new device or a private window is a new visitor.
      </p>
      {report ? (
        <label class="field">
          <span>Reason</span>
          <textarea rows={3} maxLength={2000} value={reason} onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)} data-testid="block-reason" />
        </label>
      ) : null}
      {error ? (
        <p class="form-error" role="alert">
          {error}
        </p>
      ) : null}
      <div class="block-actions">
        <button type="button" class="btn btn-danger btn-sm" disabled={busy || offline} onClick={() => void block(report)} data-testid="block-confirm">
          {report ? 'Block and report' : 'Block visitor'}
        </button>
        <button type="button" class="btn btn-secondary btn-sm" onClick={() => setStep('closed')}>
          Cancel
        </button>
      </div>
    </div>
  );

  return (
    <span class="block-menu">
      <button
        type="button"
        class="btn btn-secondary btn-sm"
        aria-haspopup="menu"
        aria-expanded={step === 'menu'}
        aria-label="More actions"
        onClick={() => setStep(step === 'menu' ? 'closed' : 'menu')}
        data-testid="conversation-menu"
      >
        ⋯
      </button>
      {step === 'menu' ? (
        <div class="menu" role="menu">
          {canMarkSpam ? (
            <button
              type="button"
              role="menuitem"
              class="menu-item"
              disabled={offline}
              onClick={() => {
                setStep('closed');
                client.setOutcome(conversationId, 'spam');
              }}
              data-testid="menu-mark-spam"
            >
              Mark as spam
            </button>
          ) : null}
          <button type="button" role="menuitem" class="menu-item" onClick={() => setStep('block')} data-testid="menu-block">
            Block visitor
          </button>
          <button type="button" role="menuitem" class="menu-item" onClick={() => setStep('report')} data-testid="menu-block-report">
            Block and report visitor
          </button>
        </div>
      ) : null}
      {step === 'block' ? confirm(false) : null}
      {step === 'report' ? confirm(true) : null}
      {step === 'done' ? (
        <span class="pill" role="status" data-testid="visitor-blocked">
          Visitor blocked
        </span>
      ) : null}
    </span>
  );
}
